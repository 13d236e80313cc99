/**
 * npm run bench: figures the issues ask for, as ratios measured in one run.
 *
 * 1. `cdk synth` of the example app (both example stacks), as a ratio to `cdk synth` of an app with
 *    one empty stack (same CLI, same machine, interleaved runs, medians).
 * 2. Step Functions state transitions per compile-minute of the Neo poll loop,
 *    from a run of the synthesized definition in the local executor.
 * 3. Packaging throughput and peak RSS for a 200 MB and a 1 GB artifact, and
 *    the ZIP's size as a ratio to the input (each in a process of its own).
 * 4. The size of each bundled handler, and its cold `require` time in a fresh process.
 * 5. State transitions for one full run of the mixed-fleet example (three classes,
 *    four variants, a canary and two rings per class, approval), in the local executor.
 */
import '../test/support/polyfills';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompilationTarget, TargetDevice } from '../lib';
import { compileStack, POLL_LOOP_STATES } from '../test/support/compile-stack';
import { fixture, makeTarGz } from '../test/support/archives';
import { FakeNeo } from '../test/support/fake-neo';
import { definitionOf, runDefinition } from '../test/support/state-machine';

const ROOT = path.join(__dirname, '..');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeSynth(app: string, out: string): number {
  const start = process.hrtime.bigint();
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '--quiet', '--app', app, '--output', out], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
  });
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function benchSynth(rounds: number): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-synth-'));
  const apps = { empty: 'npx tsx bench/apps/empty.ts', mixed: 'npx tsx bench/apps/mixed.ts', all: 'npx tsx bin/app.ts' };
  const times: Record<string, number[]> = { empty: [], mixed: [], all: [] };
  try {
    for (let i = 0; i < rounds; i++) {
      for (const [name, app] of Object.entries(apps)) times[name].push(timeSynth(app, path.join(out, `${name}-${i}`)));
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  const e = median(times.empty);
  console.log(`cdk synth (${rounds} rounds, medians): empty-stack app ${e.toFixed(2)} s; largest example (mixed fleet) ${median(times.mixed).toFixed(2)} s = ratio ${(median(times.mixed) / e).toFixed(2)}; all six example stacks ${median(times.all).toFixed(2)} s = ratio ${(median(times.all) / e).toFixed(2)}`);
}

async function benchTransitions(): Promise<void> {
  const { stack } = compileStack({ variants: [{ target: CompilationTarget.device(TargetDevice.RASP4B) }] });
  const definition = definitionOf(stack);
  const archive = makeTarGz({ 'model.onnx': fixture('onnx/mlp.onnx') });
  for (const compileMinutes of [5, 20]) {
    const polls = compileMinutes * 2; // default interval: 30 s
    const fake = new FakeNeo({ rasp4b: { statuses: [...Array(polls - 1).fill('INPROGRESS'), 'COMPLETED'] } }, 30, archive);
    const result = await runDefinition(definition, { runId: 'bench' }, { handlers: fake.handlers(), context: fake.context() });
    if (result.status !== 'SUCCEEDED') throw new Error(`bench run failed: ${result.error} ${result.cause}`);
    const loop = result.entered.filter((s) => POLL_LOOP_STATES.includes(s)).length;
    console.log(`poll loop, ${compileMinutes}-minute compile, 30 s interval: ${loop} transitions in the loop = ${(loop / compileMinutes).toFixed(2)} per compile-minute (target <= 6); ${result.transitions} for the whole one-variant run`);
  }
}

function benchPackaging(sizesMb: number[]): void {
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const script = path.join(ROOT, 'bench', 'package-memory.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-package-'));
  try {
    for (const mb of sizesMb) {
      const file = path.join(dir, `artifact-${mb}.tar.gz`);
      execFileSync(tsx, [script, 'make', String(mb), file]);
      const out = JSON.parse(execFileSync(tsx, [script, 'package', file], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
        inputBytes: number; zipBytes: number; zipToInput: number; mbPerSecond: number; peakRssMB: number;
      };
      fs.rmSync(file);
      console.log(`packaging a ${mb} MB artifact: ${out.mbPerSecond.toFixed(1)} MB/s, peak RSS ${out.peakRssMB.toFixed(0)} MB (target < 256), ZIP/input size ratio ${out.zipToInput.toFixed(4)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function benchBundles(): void {
  const dir = path.join(ROOT, 'dist', 'lambda');
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name, 'index.js');
    const size = fs.statSync(file).size;
    // Cold require in a fresh process, as a Lambda init would (the AWS SDK it leaves out comes from node_modules here).
    const cold: number[] = [];
    for (let i = 0; i < 3; i++) {
      const out = execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`], { encoding: 'utf8', env: { ...process.env, AWS_REGION: 'eu-west-1' } });
      cold.push(Number(out));
    }
    console.log(`handler ${name}: ${(size / 1024).toFixed(1)} KiB (target <= 300 KiB), cold require ${median(cold).toFixed(1)} ms`);
  }
}

async function benchFullRun(): Promise<void> {
  // The mixed-fleet world runs the edge agent for real on the canary devices.
  const { MixedFleetWorld } = await import('../device/test/support/pipeline-world');
  const world = new MixedFleetWorld();
  const result = await world.run('bench-run');
  if (result.status !== 'SUCCEEDED') throw new Error(`bench run failed: ${result.error} ${result.cause}`);
  console.log(`one full run of the mixed-fleet example: ${result.transitions} state transitions (${result.entered.length} states entered), about $${(result.transitions * 0.025 / 1000).toFixed(4)} at $0.025 per 1,000`);
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'OFF';
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  benchSynth(rounds);
  await benchTransitions();
  benchPackaging((process.env.BENCH_PACKAGE_MB ?? '200,1024').split(',').map(Number));
  benchBundles();
  await benchFullRun();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
