/**
 * npm run bench (in device/): the edge agent's figures, as ratios in one run.
 *
 * 1. Overhead per inference: the agent's runtime adapter against a bare
 *    onnxruntime-node session.run loop on the same model and inputs
 *    (interleaved rounds, median of per-round ratios). Target <= 1.02.
 * 2. Bundle size of dist/component/edge-agent.js (native runtimes excluded). Target <= 1 MB.
 * 3. Time from process start to the first inference: the CLI run on a one-sample
 *    data set with one timed inference, start to exit (an upper bound).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeNpy, readNpy } from './src/npy';
import { OnnxRuntimeModel } from './src/onnx-runtime';

const FIXTURES = path.join(__dirname, '..', 'test', 'fixtures', 'digits');
const MODELS = ['cnn.onnx'];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const N = Number(process.env.BENCH_INFERENCES ?? 5000);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function overhead(model: string): Promise<void> {
  const file = path.join(FIXTURES, model);
  const inputs = readNpy(path.join(FIXTURES, 'validation', 'inputs.npy'));
  const samples = Array.from({ length: 64 }, (_, i) => (inputs.data as Float32Array).slice(i * 64, (i + 1) * 64));
  const bare = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const agent = await OnnxRuntimeModel.load(file);
  const bareTensors = samples.map((s) => new ort.Tensor('float32', s, [1, 1, 8, 8]));
  const time = async (fn: (i: number) => Promise<unknown>) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await fn(i);
    return Number(process.hrtime.bigint() - start) / N / 1000;
  };
  const ratios: number[] = [];
  const bareUs: number[] = [];
  const agentUs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await time((i) => bare.run({ pixels: bareTensors[i % 64] }));
    const a = await time((i) => agent.run({ pixels: { data: samples[i % 64], shape: [1, 1, 8, 8] } }));
    bareUs.push(b);
    agentUs.push(a);
    ratios.push(a / b);
  }
  console.log(`overhead per inference (${model}, ${ROUNDS} rounds × ${N}): agent ${median(agentUs).toFixed(2)} µs vs bare session.run ${median(bareUs).toFixed(2)} µs = ratio ${median(ratios).toFixed(3)} (target <= 1.02)`);
  await bare.release();
  await agent.close();
}

function bundleSize(): void {
  const size = fs.statSync(path.join(__dirname, 'dist', 'component', 'edge-agent.js')).size;
  console.log(`bundle size: ${(size / 1024).toFixed(1)} KiB without the native runtimes (target <= 1024 KiB)`);
}

function startToFirstInference(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-start-'));
  try {
    const inputs = readNpy(path.join(FIXTURES, 'validation', 'inputs.npy'));
    fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy({ dtype: 'float32', shape: [1, 1, 8, 8], data: (inputs.data as Float32Array).slice(0, 64) }));
    fs.writeFileSync(path.join(dir, 'dataset.json'), JSON.stringify({ schemaVersion: 1, name: 'one', inputs: { pixels: 'x.npy' } }));
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const start = process.hrtime.bigint();
      execFileSync(process.execPath, [path.join(__dirname, 'dist', 'component', 'edge-agent.js'), 'benchmark', '--model', path.join(FIXTURES, 'cnn.onnx'),
        '--dataset', path.join(dir, 'dataset.json'), '--iterations', '1', '--warmup', '0', '--no-publish'], { stdio: 'ignore' });
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    console.log(`process start to first inference (upper bound: start to exit after one inference, median of 5): ${median(times).toFixed(0)} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  for (const m of MODELS) await overhead(m);
  bundleSize();
  startToFirstInference();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
