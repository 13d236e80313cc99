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
 * 6. Size by fleet shape (bench/fleet-size.ts): template bytes, resources, the state machine
 *    definition, the largest role's policy and outputs for 1-50 classes x 1, 3 and 5 rings (and
 *    50 classes with their fleets in nested stacks), against CloudFormation's and IAM's limits,
 *    and the worst-case history of the run's execution and of a class rollout's
 *    (bench/history.ts: measured per class and per ring, checked on a 2 x 2 run).
 * 7. A 1,000-device canary reporting at once: results per second through the collector, and
 *    each ring's polling cost at 10, 1,000 and 100,000 devices (bench/rollout-polling.ts).
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
  // Step Functions bills every execution's transitions: the run's and its class rollouts'.
  const transitions = result.transitions + result.children.reduce((n, c) => n + c.transitions, 0);
  console.log(`one full run of the mixed-fleet example: ${transitions} state transitions (${result.transitions} in the run, the rest in its ${result.children.length} class rollouts; ${result.entered.length} states entered), about $${(transitions * 0.025 / 1000).toFixed(4)} at $0.025 per 1,000`);
}

async function benchFleetSize(): Promise<void> {
  const { parseShapes, shapeName, sizeTable } = await import('./fleet-size');
  const { HISTORY_LIMIT, historyModel, predictHistory } = await import('./history');
  const shapes = parseShapes(process.env.BENCH_SHAPES);
  const model = await historyModel();
  const { measured, predicted } = model.check;
  console.log(`history of one execution, slowest run that still releases (every ring settling at its last poll of 6 h at 1-minute polls): the pipeline's ${model.base} events for 1 class, ${model.perClass} more per class; a class rollout's ${model.classBase} for 1 ring, ${model.perRing} more per ring; 2 x 2 measured ${measured.run} / ${measured.classRollout}, predicted ${predicted.run} / ${predicted.classRollout} (limit ${HISTORY_LIMIT} for each execution)`);
  const history = new Map(shapes.map((sh) => [shapeName(sh), predictHistory(model, sh)]));
  const [header, ...rows] = sizeTable(shapes);
  console.log(`${header} | worst-case history events (run / class rollout)`);
  for (const line of rows) {
    const h = history.get(line.split(' | ')[0])!;
    const worst = Math.max(h.run, h.classRollout);
    console.log(`${line} | ${h.run} / ${h.classRollout}${worst > HISTORY_LIMIT ? ` (over ${HISTORY_LIMIT})` : ''}`);
  }
}

async function benchCanaryAndPolling(): Promise<void> {
  const { DEVICES, reportAll, resultTemplate, world } = await import('../device/test/support/canary-scale');
  const template = await resultTemplate();
  const w = world(1000, 1, false);
  const start = process.hrtime.bigint();
  const { outcomes, lost } = await reportAll(w, template, () => false);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const completed = outcomes.filter((o) => o === 'completed').length;
  console.log(`canary of ${DEVICES.length} devices reporting at once: ${(DEVICES.length / seconds).toFixed(0)} results/s through the collector (in memory, one process), ${completed} completion, ${lost} lost, ${w.table.throttled} throttled, busiest item ${w.table.peakItemWriteUnits} write units in its second (DynamoDB allows 1,000)`);
  const { ringCost } = await import('./rollout-polling');
  for (const devices of [10, 1000, 100_000]) {
    const c = await ringCost(devices);
    console.log(`a ring of ${devices} devices at the default rate: ${c.polls} polls (${(c.polls / 60).toFixed(1)} h), ${c.transitions} transitions, ${c.historyEvents} history events, ${(c.transitions / c.polls).toFixed(1)} transitions per poll (one DescribeJob each, whatever the devices)`);
  }
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'OFF';
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  benchSynth(rounds);
  await benchTransitions();
  benchPackaging((process.env.BENCH_PACKAGE_MB ?? '200,1024').split(',').map(Number));
  benchBundles();
  await benchFullRun();
  await benchFleetSize();
  await benchCanaryAndPolling();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
