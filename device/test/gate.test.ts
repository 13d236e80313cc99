/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { runBenchmark } from '../src/benchmark';
import { BenchmarkResult } from '../src/result';
import { chooseVariant, judgeVariant, Thresholds } from '../../lambda/quality-gate/gate';
import { decide, gate, MAX_RESULTS_BYTES } from '../../lambda/quality-gate/index';
import { renderHtml } from '../../lambda/quality-gate/report';
import { FIXTURES } from '../../test/support/archives';

const DIGITS = path.join(FIXTURES, 'digits');
const THRESHOLDS: Thresholds = {
  minAccuracy: 0.9,
  maxAccuracyDrop: 0.05,
  baseline: 'device',
  baselineAccuracy: null,
  minTop1Agreement: 0.95,
  maxP90LatencyMs: 50,
  maxP99LatencyMs: 250,
  maxPeakMemoryMb: 2048,
  requireCompatible: true,
  minDevicesReporting: 2,
  maxFailedDevices: 0,
};

/** Real result documents: the agent run on the fixture models, once per "device". */
async function devices(model: string, variant: string, things = ['cam-01', 'cam-02']): Promise<BenchmarkResult[]> {
  const out: BenchmarkResult[] = [];
  for (const thingName of things) {
    out.push(await runBenchmark({ modelPath: path.join(DIGITS, model), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId: 'digits-v7', thingName, variant, warmup: 2, iterations: 30 }));
  }
  return out;
}

let good: BenchmarkResult[];
let pruned: BenchmarkResult[];
beforeAll(async () => {
  good = await devices('cnn.onnx', 'onnx');
  pruned = await devices('cnn-pruned.onnx', 'onnx-pruned');
});

describe('the quality gate on real canary results', () => {
  test('the good model passes, every threshold with its figure, limit and margin', () => {
    expect(good.map((r) => r.error)).toEqual([null, null]);
    const decision = judgeVariant('onnx', good, THRESHOLDS);
    expect(decision.checks.filter((c) => !c.pass)).toEqual([]);
    expect(decision.pass).toBe(true);
    expect(decision.figures.accuracy).toBeCloseTo(0.975, 3);
    expect(decision.checks.map((c) => c.name)).toEqual(['devices reporting', 'failed devices', 'accuracy', 'accuracy drop', 'top-1 agreement with the reference', 'p90 latency', 'p99 latency', 'peak memory', 'compatibility']);
    expect(decision.checks.find((c) => c.name === 'accuracy drop')!.figure).toBeCloseTo(0, 3);
  });

  test('the pruned model really fails the accuracy gate, and says by how much', () => {
    const decision = judgeVariant('onnx-pruned', pruned, THRESHOLDS);
    expect(decision.pass).toBe(false);
    const accuracy = decision.checks.find((c) => c.name === 'accuracy')!;
    expect(accuracy).toMatchObject({ pass: false, limit: 0.9 });
    expect(accuracy.figure).toBeCloseTo(0.5222, 3);
    expect(accuracy.detail).toBe(`accuracy ${accuracy.figure} misses the limit >= 0.9 by ${Math.abs(accuracy.margin!)}`);
    expect(decision.checks.find((c) => c.name === 'accuracy drop')!.pass).toBe(false);
    expect(decision.checks.find((c) => c.name === 'top-1 agreement with the reference')!.pass).toBe(false);
    // Latency and memory are fine: the gate names only the numbers that failed.
    expect(decision.checks.find((c) => c.name === 'p90 latency')!.pass).toBe(true);
  });

  test.each<[string, Partial<Thresholds>, string]>([
    ['p90 latency', { maxP90LatencyMs: 0.000001 }, 'p90 latency'],
    ['p99 latency', { maxP99LatencyMs: 0.000001 }, 'p99 latency'],
    ['peak memory', { maxPeakMemoryMb: 1 }, 'peak memory'],
    ['agreement', { minTop1Agreement: 1.01 }, 'top-1 agreement with the reference'],
    ['devices reporting', { minDevicesReporting: 3 }, 'devices reporting'],
    ['a fixed baseline', { baseline: 'fixed', baselineAccuracy: 0.99, maxAccuracyDrop: 0.01 }, 'accuracy drop'],
  ])('fails on %s alone', (_label, overrides, failing) => {
    const decision = judgeVariant('onnx', good, { ...THRESHOLDS, ...overrides });
    expect(decision.checks.filter((c) => !c.pass).map((c) => c.name)).toEqual([failing]);
  });

  test('a device error document counts as a failed device, its reason carried to the gate', () => {
    const errored: BenchmarkResult = { ...good[0], thingName: 'cam-03', status: 'ERROR', latencyMs: null, accuracy: null, parity: null, error: { code: 'RUNTIME_MISSING', message: 'libdlr.so cannot be loaded' } };
    const decision = judgeVariant('onnx', [...good, errored], THRESHOLDS);
    expect(decision.pass).toBe(false);
    expect(decision.checks.find((c) => c.name === 'failed devices')!.detail).toBe('failed devices: 1 device(s) failed: cam-03 (RUNTIME_MISSING: libdlr.so cannot be loaded)');
  });

  test('an incompatible device fails compatibility with the reason', () => {
    const incompatible = { ...good[1], compatibility: { ok: false, checks: [{ name: 'architecture', ok: false, detail: 'jetson_nano needs arm64; this device is x64' }] } };
    const decision = judgeVariant('onnx', [good[0], incompatible], THRESHOLDS);
    expect(decision.checks.find((c) => c.name === 'compatibility')).toMatchObject({ pass: false, detail: 'compatibility: cam-02: architecture jetson_nano needs arm64; this device is x64' });
  });

  test('among passing variants the fastest p90 wins, ties go to the smaller package, and the losers are told why', () => {
    const fast = judgeVariant('fast', good.map((r) => ({ ...r, latencyMs: { ...r.latencyMs!, p90: 1 } })), THRESHOLDS, 5000);
    const tie = judgeVariant('tie-bigger', good.map((r) => ({ ...r, latencyMs: { ...r.latencyMs!, p90: 1 } })), THRESHOLDS, 9000);
    const slow = judgeVariant('slow', good.map((r) => ({ ...r, latencyMs: { ...r.latencyMs!, p90: 3 } })), THRESHOLDS, 100);
    const bad = judgeVariant('pruned', pruned, THRESHOLDS);
    const decision = chooseVariant('jetson-nano', [slow, bad, tie, fast]);
    expect(decision.chosen).toBe('fast');
    expect(Object.fromEntries(decision.notChosen.map((n) => [n.variant, n.reason]))).toEqual({
      'slow': 'slower than fast: p90 3 ms vs 1 ms',
      'pruned': expect.stringMatching(/^failed the gate: accuracy 0\.52\d* misses the limit >= 0\.9/),
      'tie-bigger': 'as fast as fast (p90 1 ms) but its package is larger (9000 vs 5000 bytes)',
    });
  });

  test('writes the JSON and HTML report, and a class with no passing variant stops the run with the numbers', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const event = { runId: 'digits-v7', thresholds: THRESHOLDS, classes: [
      { deviceClass: 'x86-gateway', variants: [{ variant: 'onnx', results: good }] },
      { deviceClass: 'rasp4b', variants: [{ variant: 'onnx-pruned', results: pruned }] },
    ] };
    await expect(gate(event, 'store', 'reports/', new S3Client({}))).rejects.toMatchObject({
      name: 'QualityGateFailed',
      message: expect.stringMatching(/^rasp4b: onnx-pruned failed the gate: accuracy 0\.52\d* misses the limit >= 0\.9 by 0\.37\d*; .*Report: s3:\/\/store\/reports\/digits-v7\/report\.html$/),
    });
    const keys = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual(['reports/digits-v7/report.json', 'reports/digits-v7/report.html']);
    const passing = await gate({ ...event, classes: [event.classes[0]] }, 'store', 'reports/', new S3Client({}));
    expect(passing).toMatchObject({ pass: true, chosen: { 'x86-gateway': 'onnx' }, htmlReportS3Uri: 's3://store/reports/digits-v7/report.html' });
    s3.restore();
  });

  test('reads each canary\'s results from the store, its own run\'s documents only, within bounds', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const documents: Record<string, string> = {
      'reports/digits-v7/canary-results/onnx.json': JSON.stringify({ results: good }),
      'reports/digits-v7/canary-results/huge.json': 'x',
      'reports/digits-v7/canary-results/empty.json': JSON.stringify({ reported: 0 }),
    };
    s3.on(GetObjectCommand).callsFake((input: { Key: string }) => ({
      ContentLength: input.Key.endsWith('huge.json') ? MAX_RESULTS_BYTES + 1 : Buffer.byteLength(documents[input.Key]),
      Body: { transformToString: async () => documents[input.Key] },
    }));
    const event = (uri: string) => ({ runId: 'digits-v7', thresholds: THRESHOLDS, classes: [{ deviceClass: 'x86-gateway', variants: [{ variant: 'onnx', resultsS3Uri: uri }] }] });
    const passing = await gate(event('s3://store/reports/digits-v7/canary-results/onnx.json'), 'store', 'reports/', new S3Client({}));
    expect(passing).toMatchObject({ pass: true, classes: [{ variants: [{ variant: "onnx", devices: good.length }] }] });
    for (const [uri, why] of [
      ['s3://store/reports/another-run/canary-results/onnx.json', /is not a results document of run digits-v7/],
      ['s3://elsewhere/reports/digits-v7/canary-results/onnx.json', /is not a results document of run digits-v7 in s3:\/\/store\/reports\//],
      ['s3://store/reports/digits-v7/canary-results/huge.json', /holds 33554433 bytes, more than the 33554432 the gate reads/],
      ['s3://store/reports/digits-v7/canary-results/empty.json', /has no results list/],
    ] as const) {
      await expect(gate(event(uri), 'store', 'reports/', new S3Client({}))).rejects.toMatchObject({ name: 'GateInputInvalid', message: expect.stringMatching(why) });
    }
    s3.restore();
  });

  test('the HTML report is self-contained: one plot point per variant, thresholds drawn, no script', () => {
    const html = renderHtml(decide({ runId: 'r<1>', thresholds: THRESHOLDS, classes: [
      { deviceClass: 'x86-gateway', variants: [{ variant: 'onnx', results: good }, { variant: 'onnx-pruned', results: pruned }] },
    ] }));
    expect(html.match(/class="variant-point"/g)).toHaveLength(2);
    expect(html.match(/class="threshold"/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain('Run r&lt;1&gt;');
  });
});
