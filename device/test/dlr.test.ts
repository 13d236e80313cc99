/**
 * @jest-environment ./test/support/native-environment.js
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBenchmark } from '../src/benchmark';
import { DlrModel, findDlrLibrary } from '../src/dlr-runtime';
import { readNpy } from '../src/npy';
import { argmax } from '../src/stats';
import { FIXTURES } from '../../test/support/archives';

// DLR cannot be installed here: these tests build a library with the same C
// functions (test/fixtures/fake-dlr/fake_dlr.c) and run the real binding on it.
const VALIDATION = path.join(FIXTURES, 'digits', 'validation');
let dir: string;
let library: string;
let pkg: string;
let expectedTop1: number;

/** A nearest-centroid classifier over the validation set, as weights and biases. */
function centroidWeights(): { weights: Float32Array; bias: Float32Array } {
  const x = readNpy(path.join(VALIDATION, 'inputs.npy')).data as Float32Array;
  const y = Array.from(readNpy(path.join(VALIDATION, 'labels.npy')).data as BigInt64Array, Number);
  const weights = new Float32Array(10 * 64);
  const counts = new Array(10).fill(0);
  y.forEach((label, i) => {
    counts[label]++;
    for (let f = 0; f < 64; f++) weights[label * 64 + f] += x[i * 64 + f];
  });
  const bias = new Float32Array(10);
  for (let c = 0; c < 10; c++) {
    let norm = 0;
    for (let f = 0; f < 64; f++) {
      weights[c * 64 + f] /= counts[c];
      norm += weights[c * 64 + f] ** 2;
    }
    bias[c] = -norm / 2;
  }
  // What the classifier scores, worked out here without DLR.
  let right = 0;
  y.forEach((label, i) => {
    const scores = new Float32Array(10);
    for (let c = 0; c < 10; c++) {
      let acc = bias[c];
      for (let f = 0; f < 64; f++) acc += weights[c * 64 + f] * x[i * 64 + f];
      scores[c] = acc;
    }
    if (argmax(scores) === label) right++;
  });
  expectedTop1 = right / y.length;
  return { weights, bias };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-dlr-'));
  library = path.join(dir, 'libdlr.so');
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, path.join(FIXTURES, 'fake-dlr', 'fake_dlr.c')]);
  pkg = path.join(dir, 'package');
  fs.mkdirSync(pkg);
  const { weights, bias } = centroidWeights();
  fs.writeFileSync(path.join(pkg, 'model.meta'), 'pixels 4 1 1 8 8 10\n');
  fs.writeFileSync(path.join(pkg, 'model.params'), Buffer.concat([Buffer.from(weights.buffer), Buffer.from(bias.buffer)]));
  fs.writeFileSync(path.join(pkg, 'manifest.json'), JSON.stringify({
    schemaVersion: 1, variant: 'x86-cpu', target: 'linux-x86_64', runtime: 'dlr',
    model: { library: 'compiled.so', params: 'model.params', graph: null, onnx: null }, files: [],
  }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the DLR adapter, through its C API', () => {
  test('reads the input names and shapes through the C API', () => {
    const model = DlrModel.load(pkg, { libraryPath: library });
    expect(model.inputs).toEqual([{ name: 'pixels', shape: [1, 1, 8, 8], dtype: 'float32' }]);
    expect(model.outputs).toEqual([{ name: 'output0', shape: [1, 10], dtype: 'float32' }]);
    expect(model.version).toBe('fake-dlr-1.10.0');
  });

  test('runs inference: the outputs are the classifier\'s scores', async () => {
    const model = DlrModel.load(pkg, { libraryPath: library });
    const x = new Float32Array(64).fill(0.5);
    const out = await model.run({ pixels: { data: x, shape: [1, 1, 8, 8] } });
    const params = fs.readFileSync(path.join(pkg, 'model.params'));
    const w = new Float32Array(params.buffer.slice(params.byteOffset, params.byteOffset + params.length));
    const expected = Array.from({ length: 10 }, (_, c) => w[640 + c] + Array.from({ length: 64 }, (_, f) => w[c * 64 + f] * 0.5).reduce((a, b) => a + b, 0));
    Array.from(out.output0.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 4));
    await model.close();
  });

  test('the library\'s refusal of a wrong shape is an INPUT_MISMATCH with its own message', async () => {
    const model = DlrModel.load(pkg, { libraryPath: library });
    await expect(model.run({ pixels: { data: new Float32Array(64), shape: [1, 64] } })).rejects.toMatchObject({
      code: 'INPUT_MISMATCH', message: expect.stringContaining('input has the wrong number of dimensions'),
    });
  });

  test('a folder without the model files is MODEL_INVALID with DLR\'s reason', () => {
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    expect(() => DlrModel.load(empty, { libraryPath: library })).toThrow(/DLR cannot load .*model.meta not found/);
  });

  test('uses the artifact\'s own libdlr.so when the package has one, the device\'s otherwise', () => {
    expect(findDlrLibrary(pkg, {})).toBe('libdlr.so');
    expect(findDlrLibrary(pkg, { DLR_LIBRARY: '/opt/dlr/libdlr.so' })).toBe('/opt/dlr/libdlr.so');
    const withLib = path.join(dir, 'with-lib');
    fs.mkdirSync(withLib, { recursive: true });
    fs.copyFileSync(library, path.join(withLib, 'libdlr.so'));
    expect(findDlrLibrary(withLib, { DLR_LIBRARY: '/opt/dlr/libdlr.so' })).toBe(path.join(withLib, 'libdlr.so'));
  });

  test('a benchmark of a DLR package scores what the classifier really scores', async () => {
    const previous = process.env.DLR_LIBRARY;
    process.env.DLR_LIBRARY = library;
    try {
      const result = await runBenchmark({ modelPath: pkg, datasetPath: path.join(VALIDATION, 'dataset.json'), runId: 'r', thingName: 't', warmup: 2, iterations: 20 });
      expect(result.error).toBeNull();
      expect(result.accuracy!.top1).toBeCloseTo(expectedTop1, 4);
      expect(result.device!.runtime).toEqual({ name: 'dlr', version: 'fake-dlr-1.10.0' });
      expect(result.compatibility!.checks.find((c) => c.name === 'architecture')).toMatchObject({ ok: os.arch() === 'x64' });
    } finally {
      if (previous === undefined) delete process.env.DLR_LIBRARY;
      else process.env.DLR_LIBRARY = previous;
    }
  });
});
