import { createHash } from 'node:crypto';
import { runDefinition, TEST_ENV } from './state-machine';

/**
 * The local executor computes the intrinsic functions the definitions use; where it computes
 * one wrongly, a test would believe what Step Functions never does. aws-local-stepfunctions 3.0.0
 * hashes every 64-byte block of a message but the first at the wrong offset (patches/ fixes its
 * MD5): ClientTokens of different groups, hashed from long strings, came out equal.
 */
describe('the local executor, where the definitions rely on it', () => {
  test.each([['short', 'abc'], ['one block and more', 'x'.repeat(70)], ['three blocks', `${'execution-id/'.repeat(12)}`], ['multi-byte text', 'é'.repeat(100)]])(
    'States.Hash MD5 of a %s string is the MD5 of its UTF-8 bytes', async (_name, text) => {
      const definition = { StartAt: 'Hash', States: { Hash: { Type: 'Pass', Parameters: { 'md5.$': "States.Hash($.text, 'MD5')" }, End: true } } };
      const result = await runDefinition(definition, { text }, { handlers: {} });
      expect(result.output).toEqual({ md5: createHash('md5').update(text, 'utf8').digest('hex') });
    });

  test('every run is an execution of its own: $$.Execution.Id differs between runs', async () => {
    const definition = { StartAt: 'Id', States: { Id: { Type: 'Pass', Parameters: { 'id.$': '$$.Execution.Id' }, End: true } } };
    const [a, b] = [await runDefinition(definition, {}, { handlers: {} }), await runDefinition(definition, {}, { handlers: {} })];
    expect((a.output as { id: string }).id).toMatch(new RegExp(`^arn:${TEST_ENV.partition}:states:${TEST_ENV.region}:${TEST_ENV.account}:execution:`));
    expect(a.output).not.toEqual(b.output);
  });
});
