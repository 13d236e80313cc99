import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { DATASET_KEYS, loadDataset } from '../src/dataset';
import { FIXTURES } from '../../test/support/archives';

/**
 * device/schema/dataset.schema.json and the edge agent's own check of dataset.json say the same:
 * the fixture passes both, and each malformed description is refused by both.
 */

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'schema', 'dataset.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);
const fixture = path.join(FIXTURES, 'digits', 'validation');
const good = JSON.parse(fs.readFileSync(path.join(fixture, 'dataset.json'), 'utf8')) as Record<string, unknown>;

/** The agent's verdict on `description`, next to the fixture's .npy files: undefined, or its message. */
function agentRefuses(description: unknown): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dataset-'));
  for (const f of fs.readdirSync(fixture).filter((n) => n.endsWith('.npy'))) fs.copyFileSync(path.join(fixture, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify(description));
  try {
    loadDataset(path.join(dir, 'dataset.json'));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('the schema names exactly the keys the agent knows, and the fixture passes both', () => {
  expect(Object.keys(schema.properties).sort()).toEqual([...DATASET_KEYS].sort());
  expect(validate(good)).toBe(true);
  expect(agentRefuses(good)).toBeUndefined();
});

const BAD: [string, Record<string, unknown>, RegExp][] = [
  ['a misspelt key (reference for referenceOutputs)', { ...good, reference: 'reference.npy' }, /unknown key\(s\) "reference"; the keys are schemaVersion, name, inputs, labels, referenceOutputs/],
  ['another schema version', { ...good, schemaVersion: 2 }, /schemaVersion 2 is not 1/],
  ['no name', { ...good, name: '' }, /"name" must be a non-empty string/],
  ['no inputs', { ...good, inputs: {} }, /"inputs" must map each model input name/],
  ['an input that names no file', { ...good, inputs: { pixels: 3 } }, /input "pixels" maps to 3/],
  ['labels that are not a file name', { ...good, labels: ['labels.npy'] }, /"labels" must be a string/],
  ['label names that are not strings', { ...good, labelNames: [0, 1] }, /"labelNames" must be a list of strings/],
];

test.each(BAD)('%s: refused by the schema and by the agent, which says which key and what is known', (_what, description, message) => {
  expect(validate(description)).toBe(false);
  expect(agentRefuses(description)).toMatch(message);
});
