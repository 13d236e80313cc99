import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from '../../../test/support/archives';
import { Fault, faultError, faultsFor } from '../../../test/support/faults';
import { RunResult, taskStateNames, taskStates, TEST_ENV } from '../../../test/support/state-machine';
import { runBenchmark } from '../../src/benchmark';
import { resultCache } from './fake-canary';
import { canaryVariants, definitionOfShape, PipelineShape, PipelineWorld as World, ringsOf, SHAPES } from './pipeline-world';

/** How a run of a pipeline can end, as README "What happens when something fails" documents it. */
export const OUTCOME_ERRORS: Record<string, string | undefined> = {
  RELEASED: undefined,
  GATE_FAILED: 'QualityGateFailed',
  APPROVAL_REJECTED: 'ApprovalRejected',
  ROLLOUT_REVERTED: 'RolloutReverted',
  ROLLOUT_CANCELED: 'RolloutCanceled',
  REVERT_FAILED: 'RevertFailed',
  // RUN_FAILED ends with the error the run met, named in the notification.
  RUN_FAILED: '*',
};

/** One situation a run can be in, so that every Task state is reached by some scenario. */
export interface Scenario {
  readonly name: string;
  /** The notification the run ends with when nothing is injected (checked, so a scenario cannot drift). */
  readonly ends: string;
  /** Runs before the faulted run, in the same world (a release to revert to). */
  readonly before?: (w: World) => Promise<unknown>;
  /** The faulted run. */
  readonly run: (w: World) => Promise<RunResult>;
  readonly setup?: (w: World) => void | Promise<void>;
  /** A fault on the devices' side (listed in the matrix with its outcome), not a situation to inject into. */
  readonly device?: true;
}

const abort = [[{ queued: 5, inProgress: 2, succeeded: 1 }, { status: 'CANCELED' as const, failed: 4, succeeded: 1, queued: 2 }]];
const firstRelease = (w: World) => w.run('model-v3');
const never = () => Object.assign(new Error('injected: the revert keeps failing'), { name: 'GreengrassV2.InternalServerException' });

/** Canary devices that report the pruned model's results for a run: they fail every gate of the examples. */
async function prunedResults(devices: string[], variant: string, runId: string): Promise<void> {
  for (const device of devices) {
    resultCache.set(`${device}/${variant}/${runId}`, await runBenchmark({
      modelPath: path.join(FIXTURES, 'digits', 'cnn-pruned.onnx'), datasetPath: path.join(FIXTURES, 'digits', 'validation', 'dataset.json'),
      runId, thingName: device, variant, warmup: 1, iterations: 10,
    }));
  }
}

/** Canary devices whose agent cannot load the model: they report the agent's own error document. */
async function errorDocuments(devices: string[], variant: string, runId: string): Promise<void> {
  const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'broken-model-')), 'model.onnx');
  fs.writeFileSync(broken, 'not an ONNX model');
  for (const device of devices) {
    resultCache.set(`${device}/${variant}/${runId}`, await runBenchmark({
      modelPath: broken, datasetPath: path.join(FIXTURES, 'digits', 'validation', 'dataset.json'), runId, thingName: device, variant, warmup: 1, iterations: 10,
    }));
  }
}

/** Faults on the devices' side: each keeps its outcome. */
function deviceScenarios(shape: PipelineShape): Scenario[] {
  const first = shape.classes[0];
  return [
    { name: 'every canary device reports twice', ends: 'RELEASED', device: true, setup: (w) => { w.reportTwice = true; }, run: (w) => w.run('model-v6') },
    {
      name: `one ${first.name} canary device never reports`, ends: 'RUN_FAILED', device: true,
      setup: (w) => { w.reporting = Object.fromEntries(canaryVariants(first).map((v) => [v, [`${first.canary}-b`]])); },
      run: (w) => w.run('model-v7'),
    },
    {
      name: `one ${first.name} canary device cannot load any variant and reports the agent's error document`, ends: 'GATE_FAILED', device: true,
      setup: async () => {
        for (const v of canaryVariants(first)) await errorDocuments([`${first.canary}-a`], v, 'model-v8');
      },
      run: (w) => w.run('model-v8'),
    },
  ];
}

/** Enough situations that every Task state of a pipeline is reached by one of them. */
export function scenariosOf(shape: PipelineShape): Scenario[] {
  const variants = shape.classes.flatMap(canaryVariants);
  const first = shape.classes[0];
  const scenarios: Scenario[] = [
    { name: 'a release', ends: 'RELEASED', run: firstRelease },
    ...ringsOf(shape).map((ring): Scenario => ({ name: `${ring} aborts after a release`, ends: 'ROLLOUT_REVERTED', before: firstRelease, run: (w) => w.run('model-v4', { [ring]: abort }) })),
    ...ringsOf(shape).map((ring): Scenario => ({ name: `${ring} aborts in the first release`, ends: 'ROLLOUT_CANCELED', run: (w) => w.run('model-v3', { [ring]: abort }) })),
    ...variants.map((v): Scenario => ({ name: `nobody reports to the ${v} canary after a release`, ends: 'RUN_FAILED', before: firstRelease, setup: (w) => { w.reporting = { [v]: [] }; }, run: (w) => w.run('model-v4') })),
    ...variants.map((v): Scenario => ({ name: `nobody reports to the first ${v} canary`, ends: 'RUN_FAILED', setup: (w) => { w.reporting = { [v]: [] }; }, run: firstRelease })),
    ...shape.classes.map((c): Scenario => ({
      name: `${c.rings.at(-1)!} aborts and putting ${c.name} back keeps failing`,
      ends: 'REVERT_FAILED',
      before: firstRelease,
      setup: (w) => { w.faults = { RevertRing: never }; },
      run: (w) => w.run('model-v4', { [c.rings.at(-1)!]: abort }),
    })),
    // The ring's own cancel fails: the class's revert finds its deployment and cancels it.
    ...shape.classes.map((c): Scenario => ({
      name: `${c.rings.at(-1)!} aborts in the first release and canceling it there keeps failing`,
      ends: 'ROLLOUT_CANCELED',
      setup: (w) => { w.faults = { 'ring: CancelDeployment': never }; },
      run: (w) => w.run('model-v3', { [c.rings.at(-1)!]: abort }),
    })),
    {
      name: 'a gate failure', ends: 'GATE_FAILED',
      // Every variant of the class fails, so the gate has none to choose.
      setup: async () => {
        for (const v of canaryVariants(first)) await prunedResults([`${first.canary}-a`, `${first.canary}-b`], v, 'model-v5');
      },
      run: (w) => w.run('model-v5'),
    },
  ];
  if (first.variants.length) {
    scenarios.push({ name: 'a compile that outlasts its budget', ends: 'RUN_FAILED', setup: (w) => { w.neoScripts = { [first.variants[0].variant]: { statuses: ['INPROGRESS'] } }; }, run: firstRelease });
  }
  if (taskStateNames(definitionOfShape(shape)).includes('RequestApproval')) {
    scenarios.push({ name: 'a rejection', ends: 'APPROVAL_REJECTED', setup: (w) => { w.decision = { approve: false, comment: 'not now' }; }, run: firstRelease });
  }
  return [...scenarios, ...deviceScenarios(shape)];
}

export interface Case {
  readonly state: string;
  readonly fault: Fault;
  readonly scenario: string;
  readonly verdict: 'defined' | 'degraded' | 'wrong';
  readonly outcome: string;
  readonly problems: string[];
}

interface ScenarioRun { w: World; result: RunResult; scenarioFaults: Record<string, () => Error> }

async function runScenario(shape: PipelineShape, s: Scenario, faults: Record<string, () => Error> = {}): Promise<ScenarioRun> {
  const w = new World(shape);
  await s.before?.(w);
  await s.setup?.(w);
  const scenarioFaults = { ...w.faults };
  w.notifications.length = 0;
  w.faults = { ...scenarioFaults, ...faults };
  const result = await s.run(w);
  return { w, result, scenarioFaults };
}

/** The event of the last notification a run sent. */
const lastEvent = (w: World): string | undefined => (w.notifications.at(-1) as { event?: string } | undefined)?.event;

/** JSON with sorted keys. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

type Deployed = Record<string, { ComponentVersion: string; ConfigurationUpdate?: { Merge?: string } }>;

/** A deployment's components as the ledger records a release: versions, and configuration merges. */
function release(components: Deployed): { components: Record<string, string>; configurations: Record<string, string> } {
  const out = { components: {} as Record<string, string>, configurations: {} as Record<string, string> };
  for (const [name, c] of Object.entries(components)) {
    out.components[name] = c.ComponentVersion;
    if (c.ConfigurationUpdate?.Merge) out.configurations[name] = c.ConfigurationUpdate.Merge;
  }
  return out;
}

/** What a run must have left behind, whatever failed: the problems found (none: a defined outcome). */
export function checkRun(w: World, result: RunResult, state: string, baseline: RunResult): { outcome: string; problems: string[]; wrong: boolean } {
  const problems: string[] = [];
  const last = w.notifications.at(-1) as { event?: string; error?: string } | undefined;
  const event = last?.event;
  const outcome = `${result.status}${result.error ? ` ${result.error}` : ''} (${event ?? 'no notification'})`;
  // Notifications and metrics never change an outcome.
  if (/^(Notify|RecordRun)/.test(state)) {
    if (result.status !== baseline.status || result.error !== baseline.error) return { outcome, problems: [`a fault in ${state} changed the outcome from ${baseline.status} ${baseline.error ?? ''}`], wrong: true };
    return { outcome, problems, wrong: false };
  }
  if (!event || !(event in OUTCOME_ERRORS) || event === 'RUN_STARTED' || event === 'APPROVAL_REQUESTED') {
    problems.push(`the run ended without an outcome notification (last: ${event ?? 'none'})`);
  } else if (event === 'RELEASED' ? result.status !== 'SUCCEEDED' : result.status !== 'FAILED') {
    return { outcome, problems: [`notified ${event} but the run ${result.status}`], wrong: true };
  } else if (event !== 'RELEASED') {
    const expected = OUTCOME_ERRORS[event] === '*' ? last!.error : OUTCOME_ERRORS[event];
    if (result.error !== expected) problems.push(`notified ${event} but the run failed with ${result.error}`);
  }
  if (result.status === 'FAILED' && !result.error) problems.push('the run failed without an error name');
  // Every ring group: on its last good release, or untouched (or its deployment canceled).
  if (event !== 'REVERT_FAILED') {
    for (const g of w.rings) {
      // A group runs its latest deployment (Greengrass keeps one per target); a canceled one counts as untouched
      // (README: devices that already updated keep the candidate until the next rollout).
      const latest = [...w.fleets[g].deployments.values()].at(-1);
      const current = latest && !latest.canceled ? release(latest.request.Components as Deployed) : undefined;
      const lastGood = w.ledger.get(`GROUP#${g}`, 'LAST_GOOD') as { components: Record<string, string>; configurations?: Record<string, string> } | undefined;
      const recorded = lastGood && { components: lastGood.components, configurations: lastGood.configurations ?? {} };
      // Compared as JSON: the ledger's items come from another realm (structuredClone in the fake table).
      if (recorded && canonical(current) !== canonical(recorded)) problems.push(`${g} runs ${JSON.stringify(current?.components)}, not its last good release ${JSON.stringify(recorded.components)}`);
      if (!recorded && current) problems.push(`${g} runs ${JSON.stringify(current.components)} with no release recorded`);
    }
  }
  // Every canary group: put back (its deployment before the canary; nothing in these worlds), or never touched.
  // A fault in putting it back itself is reported by the run, and leaves the group as it was.
  if (!/RestoreCanary/.test(state)) {
    for (const c of w.shape.classes.map((k) => k.canary)) {
      const target = `arn:${TEST_ENV.partition}:iot:${TEST_ENV.region}:${TEST_ENV.account}:thinggroup/${c}`;
      const ids = w.canary.deployments.map((d, i) => ({ d, id: `d-${i + 1}` })).filter(({ d, id }) => d.TargetArn === target && !w.canary.canceled.includes(id));
      const latest = ids.at(-1)?.d;
      if (latest && !(String(latest.DeploymentName).startsWith('restore-canary-') && canonical(latest.Components) === '{}')) problems.push(`the ${c} canary group keeps ${String(latest.DeploymentName)}`);
    }
  }
  return { outcome, problems, wrong: false };
}

/**
 * Every Task state of a pipeline × every fault, each in the first scenario that reaches the
 * state, then the same run id again with the fault removed: it must end as the scenario does
 * without the fault. `shard` of `shards` takes every shards-th state (test files run in parallel).
 */
export async function faultMatrix(shape: PipelineShape, shard = 0, shards = 1): Promise<{ cases: Case[]; unreached: string[]; drifted: string[] }> {
  const baselines: { s: Scenario; result: RunResult; event?: string; problems: string[] }[] = [];
  for (const s of scenariosOf(shape)) {
    const { w, result } = await runScenario(shape, s);
    const event = lastEvent(w);
    const problems = checkRun(w, result, '', result).problems;
    if (event !== s.ends) problems.unshift(`ends ${event ?? 'without a notification'} (${result.status} ${result.error ?? ''}), not ${s.ends}`);
    baselines.push({ s, result, event, problems });
  }
  const drifted = baselines.filter((b) => b.problems.length).map((b) => `${b.s.name}: ${b.problems.join('; ')}`);
  // The devices' faults are rows of the matrix too (in the first shard).
  const deviceCases: Case[] = shard ? [] : baselines.filter((b) => b.s.device).map((b) => ({
    state: '(devices)', fault: { kind: 'device', error: b.s.name }, scenario: b.s.name, verdict: b.problems.length ? 'degraded' : 'defined',
    outcome: `${b.result.status}${b.result.error ? ` ${b.result.error}` : ''} (${b.event ?? 'no notification'})`, problems: b.problems,
  }));
  const cases: Case[] = [];
  const unreached: string[] = [];
  const states = Object.entries(taskStates(definitionOfShape(shape))).filter((_e, i) => i % shards === shard);
  for (const [state, definition] of states) {
    const where = baselines.find((b) => !b.s.device && b.result.entered.includes(state));
    if (!where) {
      unreached.push(state);
      continue;
    }
    for (const fault of faultsFor(definition)) {
      const { w, result, scenarioFaults } = await runScenario(shape, where.s, { [state]: () => faultError(fault, state) });
      const { outcome, problems, wrong } = checkRun(w, result, state, where.result);
      // The same run id again, the fault removed: it ends as the scenario does, and leaves the fleet as defined.
      w.faults = scenarioFaults;
      w.notifications.length = 0;
      const again = await where.s.run(w);
      if (again.status !== where.result.status || again.error !== where.result.error || lastEvent(w) !== where.event) {
        problems.push(`re-run without the fault ended ${again.status} ${again.error ?? ''} (${lastEvent(w) ?? 'no notification'}), not ${where.result.status} ${where.result.error ?? ''} (${where.event})`);
      }
      problems.push(...checkRun(w, again, '', where.result).problems.map((p) => `re-run: ${p}`));
      cases.push({ state, fault, scenario: where.s.name, verdict: wrong ? 'wrong' : problems.length ? 'degraded' : 'defined', outcome, problems });
    }
  }
  return { cases: [...cases, ...deviceCases], unreached, drifted };
}

/** The matrix as markdown: states × faults → outcome, with counts. */
export function renderMatrix(cases: Case[], unreached: string[]): string {
  const count = (v: Case['verdict']) => cases.filter((c) => c.verdict === v).length;
  const lines = [
    `${cases.length} injections: ${count('defined')} defined, ${count('degraded')} degraded, ${count('wrong')} wrong; ${unreached.length} Task states no scenario reaches${unreached.length ? ` (${unreached.join(', ')})` : ''}.`,
    '',
    '| state | fault | scenario | outcome | verdict |',
    '| --- | --- | --- | --- | --- |',
    ...cases.map((c) => `| ${c.state} | ${c.fault.kind === 'device' ? c.fault.error : `${c.fault.kind} (${c.fault.error})`} | ${c.scenario} | ${c.outcome} | ${c.verdict}${c.problems.length ? `: ${c.problems.join('; ')}` : ''} |`),
  ];
  return lines.join('\n');
}

/** One shard of the fault-injection test of one example pipeline (see device/test/fault-injection-*.test.ts). */
export function describeFaultShard(pipeline: keyof typeof SHAPES, shard = 0, shards = 1): void {
  const shape = SHAPES[pipeline];
  describe(`fault injection into every Task state of the ${shape.name} pipeline${shards > 1 ? ` (shard ${shard + 1} of ${shards})` : ''}`, () => {
    let cases: Case[] = [];
    let unreached: string[] = [];
    let drifted: string[] = [];

    beforeAll(async () => {
      ({ cases, unreached, drifted } = await faultMatrix(shape, shard, shards));
      if (process.env.FAULT_MATRIX) process.stdout.write(`## ${shape.name}${shards > 1 ? ` (shard ${shard + 1} of ${shards})` : ''}\n\n${renderMatrix(cases, unreached)}\n`);
    }, 1_500_000);

    test('every scenario ends as it should without a fault, every state is reached by one and tried', () => {
      expect(drifted).toEqual([]);
      expect(unreached).toEqual([]);
      expect(cases.length).toBeGreaterThan(20 / shards);
    });

    test('every fault ends in a defined state: a documented outcome, notified, every ring on its last good release or untouched; a re-run without it ends like the scenario', () => {
      expect(cases.filter((c) => c.verdict !== 'defined').map((c) => `${c.state} × ${c.fault.kind} (${c.scenario}): ${c.verdict}: ${c.outcome}: ${c.problems.join('; ')}`)).toEqual([]);
    });
  });
}
