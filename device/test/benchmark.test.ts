/**
 * @jest-environment ./test/support/native-environment.js
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { bounded, errorResult, runBenchmark } from '../src/benchmark';
import { AgentErrorCode } from '../src/errors';
import { encodeNpy } from '../src/npy';
import { BenchmarkResult } from '../src/result';
import { FIXTURES } from '../../test/support/archives';
import { endlessModel, identityClassifier } from './support/onnx-models';

const DIGITS = path.join(FIXTURES, 'digits');
const DATASET = path.join(DIGITS, 'validation', 'dataset.json');
const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'schema', 'benchmark-result.schema.json'), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

function expectSchemaValid(result: BenchmarkResult): void {
  if (!validate(result)) throw new Error(`the result breaks its schema: ${ajv.errorsText(validate.errors)}`);
}

const bench = (model: string, dataset = DATASET, extra: Record<string, unknown> = {}) =>
  runBenchmark({ modelPath: model, datasetPath: dataset, runId: 'digits-v7', thingName: 'cam-jn-0001', warmup: 5, iterations: 50, ...extra });

let scratch: string;
beforeEach(() => { scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-test-')); });
afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A copy of the data set with one file replaced, or dataset.json rewritten. */
function datasetWith(files: Record<string, Buffer | string>, description?: Record<string, unknown>): string {
  for (const f of ['inputs.npy', 'labels.npy', 'reference.npy', 'dataset.json']) fs.copyFileSync(path.join(DIGITS, 'validation', f), path.join(scratch, f));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(scratch, name), content);
  if (description) {
    const d = JSON.parse(fs.readFileSync(path.join(scratch, 'dataset.json'), 'utf8'));
    fs.writeFileSync(path.join(scratch, 'dataset.json'), JSON.stringify({ ...d, ...description }));
  }
  return path.join(scratch, 'dataset.json');
}

/** A data set of one-hot samples (input `pixels` (N, classes)): sample i scores labels[i] highest. */
function smallDataset(classes: number, labels: number[]): string {
  const dir = fs.mkdtempSync(path.join(scratch, 'small-'));
  const inputs = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => { inputs[i * classes + l] = 1; });
  fs.writeFileSync(path.join(dir, 'inputs.npy'), encodeNpy({ dtype: 'float32', shape: [labels.length, classes], data: inputs }));
  fs.writeFileSync(path.join(dir, 'labels.npy'), encodeNpy({ dtype: 'int64', shape: [labels.length], data: BigInt64Array.from(labels.map(BigInt)) }));
  fs.writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify({ schemaVersion: 1, name: `one-hot-${classes}`, inputs: { pixels: 'inputs.npy' }, labels: 'labels.npy' }));
  return path.join(dir, 'dataset.json');
}

describe('every error the agent can name gives a document valid against its schema', () => {
  test('the schema lists exactly the agent\'s error codes', () => {
    expect([...schema.properties.error.properties.code.enum].sort()).toEqual(Object.values(AgentErrorCode).sort());
  });

  test.each(Object.values(AgentErrorCode))('%s', (code) => {
    const partial = { runId: 'r', thingName: 't', variant: null, startedAt: new Date().toISOString(), model: null, dataset: null, loadMs: null, device: null, compatibility: null };
    expectSchemaValid(errorResult(partial, { code, message: 'why' }));
  });
});

describe('benchmark on the real fixture model and data', () => {
  test('measures accuracy, parity and latency by running the model', async () => {
    const result = await bench(path.join(DIGITS, 'cnn.onnx'));
    expect(result.error).toBeNull();
    expect(result.status).toBe('OK');
    expectSchemaValid(result);
    // PyTorch scored 0.975 on these 360 samples; ONNX Runtime runs the same graph.
    expect(result.accuracy!.top1).toBeGreaterThan(0.95);
    expect(result.accuracy!.top5).toBeGreaterThanOrEqual(result.accuracy!.top1);
    expect(result.parity!.top1Agreement).toBeGreaterThan(0.99);
    expect(result.parity!.maxAbsDiff).toBeLessThan(1e-3);
    expect(result.latencyMs!.count).toBe(50);
    expect(result.latencyMs!.p50).toBeLessThanOrEqual(result.latencyMs!.p90);
    expect(result.latencyMs!.p90).toBeLessThanOrEqual(result.latencyMs!.p99);
    expect(result.model!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.device!.runtime.name).toBe('onnxruntime');
    expect(result.dataset).toEqual({ name: 'sklearn-digits-holdout', samples: 360 });
  });

  test('the pruned variant really scores lower, and drifts from the reference', async () => {
    const good = await bench(path.join(DIGITS, 'cnn.onnx'));
    const pruned = await bench(path.join(DIGITS, 'cnn-pruned.onnx'));
    expect(pruned.status).toBe('OK');
    expect(pruned.accuracy!.top1).toBeLessThan(good.accuracy!.top1 - 0.2);
    expect(pruned.parity!.top1Agreement).toBeLessThan(0.8);
    expect(pruned.parity!.maxAbsDiff).toBeGreaterThan(good.parity!.maxAbsDiff);
  });

  const error = async (model: string, dataset: string, code: string, message: RegExp) => {
    const result = await bench(model, dataset);
    expect(result.status).toBe('ERROR');
    expect(result.error).toEqual({ code, message: expect.stringMatching(message) });
    expectSchemaValid(result);
    return result;
  };

  test('a file that is not a model is an error document, not a crash', async () => {
    fs.writeFileSync(path.join(scratch, 'model.onnx'), 'this is not a model');
    await error(path.join(scratch, 'model.onnx'), DATASET, 'MODEL_INVALID', /is not a model ONNX Runtime can load/);
  });

  test('an input shape that does not match the model', async () => {
    const wrong = encodeNpy({ dtype: 'float32', shape: [360, 64], data: new Float32Array(360 * 64) });
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': wrong }), 'INPUT_MISMATCH', /one sample has shape \[64\] but the model takes \[1, 8, 8\]/);
  });

  test('an input dtype that does not match the model', async () => {
    const bytes = encodeNpy({ dtype: 'uint8', shape: [360, 1, 8, 8], data: new Uint8Array(360 * 64) });
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': bytes }), 'INPUT_MISMATCH', /holds uint8 but the model takes float32/);
  });

  test('an input name the model does not have', async () => {
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({}, { inputs: { image: 'inputs.npy' } }), 'INPUT_MISMATCH', /has inputs \["image"\] but the model takes \["pixels"\]/);
  });

  test('counts that disagree', async () => {
    const labels = encodeNpy({ dtype: 'int64', shape: [359], data: new BigInt64Array(359) });
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'labels.npy': labels }), 'DATASET_INVALID', /holds 359 labels for 360 samples/);
  });

  test('labels out of range', async () => {
    const data = new BigInt64Array(360);
    data[7] = 12n;
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'labels.npy': encodeNpy({ dtype: 'int64', shape: [360], data }) }), 'DATASET_INVALID', /label 12 of sample 7 is out of range/);
  });

  test('labels of the wrong dtype', async () => {
    const labels = encodeNpy({ dtype: 'float32', shape: [360], data: new Float32Array(360) });
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'labels.npy': labels }), 'DATASET_INVALID', /labels are float32; save integer class indices/);
  });

  test('a truncated .npy', async () => {
    const bytes = fs.readFileSync(path.join(DIGITS, 'validation', 'inputs.npy'));
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': bytes.subarray(0, bytes.length - 1000) }), 'DATASET_INVALID', /the data is truncated/);
  });

  test('NaN outputs', async () => {
    const nan = new Float32Array(360 * 64).fill(Number.NaN);
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': encodeNpy({ dtype: 'float32', shape: [360, 1, 8, 8], data: nan }) }), 'NON_FINITE_OUTPUT', /holds NaN/);
  });

  test('non-finite reference outputs are refused before anything runs (their parity could not be written)', async () => {
    const ref = new Float32Array(360 * 10);
    ref[42] = Number.NaN;
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'reference.npy': encodeNpy({ dtype: 'float32', shape: [360, 10], data: ref }) }), 'DATASET_INVALID', /value 42 is NaN; reference outputs must be finite/);
  });

  test('dataset.json that is not an object, maps an input to a number, or misspells a key', async () => {
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'dataset.json': 'null' }), 'DATASET_INVALID', /holds null; it must be an object/);
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({}, { inputs: { pixels: 7 } }), 'DATASET_INVALID', /input "pixels" maps to 7; name its .npy file/);
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({}, { reference: 'reference.npy' }), 'DATASET_INVALID', /unknown key\(s\) "reference"; the keys are .*referenceOutputs/);
  });

  test('a symbolic link inside the data set that leads outside it is refused', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    try {
      fs.copyFileSync(path.join(DIGITS, 'validation', 'labels.npy'), path.join(outside, 'labels.npy'));
      const dataset = datasetWith({});
      fs.rmSync(path.join(scratch, 'labels.npy'));
      fs.symlinkSync(path.join(outside, 'labels.npy'), path.join(scratch, 'labels.npy'));
      await error(path.join(DIGITS, 'cnn.onnx'), dataset, 'DATASET_INVALID', /labels.npy is outside the data set's folder \(it leads to .*outside-/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test('a shape with a dimension of 0 or more samples than the bound is refused, however few bytes it takes', async () => {
    const empty = (shape: number[]) => encodeNpy({ dtype: 'float32', shape, data: new Float32Array(0) });
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': empty([1e12, 0]) }), 'DATASET_INVALID', /holds 1000000000000 samples; a data set holds at most 100000/);
    await error(path.join(DIGITS, 'cnn.onnx'), datasetWith({ 'inputs.npy': empty([360, 1, 0, 8]) }), 'DATASET_INVALID', /has a dimension of 0: a sample holds no values/);
  });

  test('no timed inference is a usage error in the document, not a document that breaks its schema', async () => {
    const result = await bench(path.join(DIGITS, 'cnn.onnx'), DATASET, { iterations: 0 });
    expect(result.error).toEqual({ code: 'USAGE', message: expect.stringMatching(/iterations is 0: time at least 1 inference/) });
    expectSchemaValid(result);
  });

  test('an inference past the per-inference limit ends with INFERENCE_TIMEOUT; one within it answers', async () => {
    await expect(bounded(new Promise(() => undefined), 20, 'timed inference 3')).rejects.toMatchObject({ code: 'INFERENCE_TIMEOUT', message: expect.stringMatching(/timed inference 3 took longer than the per-inference limit of 20 ms/) });
    await expect(bounded(Promise.resolve('out'), 1000, 'x')).resolves.toBe('out');
  });

  test('top-5 accuracy is not reported for a model of 5 classes or fewer (every label is in its top 5)', async () => {
    fs.writeFileSync(path.join(scratch, 'three.onnx'), identityClassifier(3));
    const dataset = smallDataset(3, [0, 2, 1, 2]);
    const result = await bench(path.join(scratch, 'three.onnx'), dataset, { iterations: 4, warmup: 1 });
    expect(result.error).toBeNull();
    expect(result.accuracy).toMatchObject({ top1: 1, top5: null });
    expectSchemaValid(result);
    fs.writeFileSync(path.join(scratch, 'six.onnx'), identityClassifier(6));
    expect((await bench(path.join(scratch, 'six.onnx'), smallDataset(6, [5, 0, 1, 2]), { iterations: 4, warmup: 1 })).accuracy).toMatchObject({ top1: 1, top5: 1 });
  });

  const agent = path.join(__dirname, '..', 'dist', 'component', 'edge-agent.js'); // built by npm run build (device/build.mjs)

  test('the agent as shipped runs the benchmark in its watched child process: an OK document, exit status 0', () => {
    const out = path.join(scratch, 'ok.json');
    const run = spawnSync(process.execPath, [agent, 'benchmark', '--model', path.join(DIGITS, 'cnn.onnx'), '--dataset', DATASET, '--iterations', '20', '--warmup', '2', '--out', out, '--no-publish'],
      { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchmarkResult;
    expect(result).toMatchObject({ status: 'OK', latencyMs: { count: 20 }, dataset: { samples: 360 } });
    expect(result.peakRssMb).toBeGreaterThan(0);
    expectSchemaValid(result);
  });

  test('a model that never returns: the agent ends with an INFERENCE_TIMEOUT document and exit status 1', () => {
    fs.writeFileSync(path.join(scratch, 'endless.onnx'), endlessModel(3));
    const out = path.join(scratch, 'result.json');
    const run = spawnSync(process.execPath, [agent, 'benchmark', '--model', path.join(scratch, 'endless.onnx'), '--dataset', smallDataset(3, [0, 1, 2, 0]),
      '--inference-timeout', '1', '--out', out, '--no-publish'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.signal).toBeNull(); // it ended by itself, not by the test's timeout
    expect(run.status).toBe(1);
    const result = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchmarkResult;
    expect(result.error).toEqual({ code: 'INFERENCE_TIMEOUT', message: expect.stringMatching(/the first inference took longer than the per-inference limit of 1000 ms/) });
    expectSchemaValid(result);
  });

  test('a missing runtime library (DLR) is RUNTIME_MISSING', async () => {
    const pkg = path.join(scratch, 'pkg');
    fs.mkdirSync(pkg);
    fs.writeFileSync(path.join(pkg, 'manifest.json'), JSON.stringify({ schemaVersion: 1, variant: 'rasp4b', target: 'rasp4b', runtime: 'dlr', model: { library: 'compiled.so', params: 'compiled.params', graph: null, onnx: null }, files: [] }));
    const previous = process.env.DLR_LIBRARY;
    process.env.DLR_LIBRARY = path.join(scratch, 'no-such-libdlr.so');
    try {
      await error(pkg, DATASET, 'RUNTIME_MISSING', /the DLR library .*no-such-libdlr.so cannot be loaded/);
    } finally {
      if (previous === undefined) delete process.env.DLR_LIBRARY;
      else process.env.DLR_LIBRARY = previous;
    }
  });

  test('an unpacked ONNX package is checked against its manifest', async () => {
    const pkg = path.join(scratch, 'pkg');
    fs.mkdirSync(pkg);
    fs.copyFileSync(path.join(DIGITS, 'cnn.onnx'), path.join(pkg, 'model.onnx'));
    const sha = createHash('sha256').update(fs.readFileSync(path.join(pkg, 'model.onnx'))).digest('hex');
    const manifest = { schemaVersion: 1, variant: 'onnx', target: 'onnx', runtime: 'onnxruntime', model: { library: null, params: null, graph: null, onnx: 'model.onnx' }, files: [{ path: 'model.onnx', size: 9150, sha256: sha }] };
    fs.writeFileSync(path.join(pkg, 'manifest.json'), JSON.stringify(manifest));
    const ok = await bench(pkg);
    expect(ok.compatibility).toEqual({ ok: true, checks: expect.arrayContaining([{ name: 'file model.onnx', ok: true, detail: 'sha256 matches the manifest' }]) });
    fs.writeFileSync(path.join(pkg, 'manifest.json'), JSON.stringify({ ...manifest, files: [{ ...manifest.files[0], sha256: '0'.repeat(64) }] }));
    const tampered = await bench(pkg);
    expect(tampered.compatibility!.ok).toBe(false);
  });
});
