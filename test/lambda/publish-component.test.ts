import { CreateComponentVersionCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { mockClient } from 'aws-sdk-client-mock';
import { completeRecipe, greengrassArnPrefix, publish, PublishEvent } from '../../lambda/publish-component/index';
import { Ledger } from '../../lambda/shared/ledger';
import { ComponentArchitecture, ComponentOs, ComponentRecipe } from '../../lib';
import { expectValidRequest } from '../support/aws-model';
import { MemoryTable } from '../support/memory-table';

const SHA = 'ab'.repeat(32);
const template = (() => {
  const recipe = new ComponentRecipe({
    componentName: 'com.example.digits.jetson-nano',
    componentVersion: '0.0.0',
    manifests: [{ platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, lifecycle: {} }],
  }).render();
  delete recipe.ComponentVersion;
  return recipe;
})();

const event = (overrides: Partial<PublishEvent> = {}): PublishEvent => ({
  runId: 'digits-v7',
  deviceClass: 'jetson-nano',
  componentName: 'com.example.digits.jetson-nano',
  baseVersion: '1.0',
  recipe: template,
  budgetSeconds: 600,
  package: { variant: 'jetson-nano-sm53', target: 'jetson_nano', runtime: 'dlr', packageS3Uri: `s3://store-bucket/packages/${SHA}.zip`, sha256: SHA },
  ...overrides,
});

const PREFIX = 'arn:aws:greengrass:eu-west-1:111122223333';

describe('publish-component', () => {
  const gg = mockClient(GreengrassV2Client);
  beforeEach(() => gg.reset());

  test('publishes version 1.0.1 with the package as a ZIP artifact and a request the service accepts', async () => {
    gg.on(CreateComponentVersionCommand).resolves({ arn: `${PREFIX}:components:com.example.digits.jetson-nano:versions:1.0.1` } as never);
    const table = new MemoryTable();
    const result = await publish(event(), new Ledger('t', table.client()), new GreengrassV2Client({}), PREFIX, new Date('2026-11-28T10:00:00Z'));
    expect(result).toMatchObject({
      componentVersion: '1.0.1',
      componentArn: `${PREFIX}:components:com.example.digits.jetson-nano:versions:1.0.1`,
      deadline: '2026-11-28T10:10:00.000Z',
    });
    const input = gg.commandCalls(CreateComponentVersionCommand)[0].args[0].input;
    expectValidRequest('greengrassv2', 'CreateComponentVersion', input);
    const recipe = JSON.parse(Buffer.from(input.inlineRecipe!).toString('utf8'));
    expect(recipe).toMatchObject({
      RecipeFormatVersion: '2020-01-25',
      ComponentName: 'com.example.digits.jetson-nano',
      ComponentVersion: '1.0.1',
      ComponentConfiguration: { DefaultConfiguration: { variant: 'jetson-nano-sm53', runtime: 'dlr', packageSha256: SHA, runId: 'digits-v7' } },
      Manifests: [{
        Platform: { os: 'linux', architecture: 'aarch64' },
        Lifecycle: { Install: { Script: `test -f "{artifacts:decompressedPath}/${SHA}/manifest.json"` } },
        Artifacts: [{ URI: `s3://store-bucket/packages/${SHA}.zip`, Unarchive: 'ZIP', Permission: { Read: 'OWNER', Execute: 'NONE' } }],
      }],
    });
    expect(input.clientToken).toMatch(/^[0-9a-f]{64}$/);
    expect(table.get('RELEASE#digits-v7', 'CLASS#jetson-nano')).toMatchObject({ componentVersion: '1.0.1', status: 'PUBLISHED', packageSha256: SHA });
  });

  test('the same event twice publishes one version (the second call meets ConflictException)', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('t', table.client());
    gg.on(CreateComponentVersionCommand).resolvesOnce({} as never).rejects(Object.assign(new Error('exists'), { name: 'ConflictException' }));
    const first = await publish(event(), ledger, new GreengrassV2Client({}), PREFIX);
    const second = await publish(event(), ledger, new GreengrassV2Client({}), PREFIX);
    expect(second.componentVersion).toBe(first.componentVersion);
    const tokens = gg.commandCalls(CreateComponentVersionCommand).map((c) => c.args[0].input.clientToken);
    expect(new Set(tokens).size).toBe(1);
  });

  test('other errors are not swallowed', async () => {
    gg.on(CreateComponentVersionCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(publish(event(), new Ledger('t', new MemoryTable().client()), new GreengrassV2Client({}), PREFIX)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  test('a malformed event is refused before anything is claimed', async () => {
    const table = new MemoryTable();
    await expect(publish(event({ baseVersion: '1', package: { ...event().package, sha256: 'nope' } }), new Ledger('t', table.client()), new GreengrassV2Client({}), PREFIX))
      .rejects.toMatchObject({ name: 'PublishInputInvalid', message: expect.stringContaining('baseVersion "1" (major.minor); package') });
    expect(table.calls).toEqual([]);
  });

  test('windows manifests get no POSIX install check', () => {
    const recipe = completeRecipe(event({ recipe: { ...template, Manifests: [{ Platform: { os: 'windows' }, Lifecycle: {} }] } }), '1.0.1') as { Manifests: { Lifecycle: Record<string, unknown> }[] };
    expect(recipe.Manifests[0].Lifecycle).toEqual({});
  });

  test('the ARN prefix comes from the function\'s own ARN', () => {
    expect(greengrassArnPrefix('arn:aws-cn:lambda:cn-north-1:111122223333:function:publisher')).toBe('arn:aws-cn:greengrass:cn-north-1:111122223333');
  });
});
