import * as path from 'node:path';
import { FIXTURES } from '../../../test/support/archives';
import { Fault, faultError, faultsFor } from '../../../test/support/faults';
import { RunResult, taskStates, TEST_ENV } from '../../../test/support/state-machine';
import { runBenchmark } from '../../src/benchmark';
import { resultCache } from './fake-canary';
import { mixedFleetDefinition, MixedFleetWorld as World, RINGS } from './mixed-fleet-world';

/** How a run of the mixed-fleet pipeline can end, as README "What happens when something fails" documents it. */
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
  /** Runs before the faulted run, in the same world (a release to revert to). */
  readonly before?: (w: World) => Promise<unknown>;
  /** The faulted run. */
  readonly run: (w: World) => Promise<RunResult>;
  readonly setup?: (w: World) => void | Promise<void>;
}

const abort = [[{ queued: 5, inProgress: 2, succeeded: 1 }, { status: 'CANCELED' as const, failed: 4, succeeded: 1, queued: 2 }]];
const CANARY_VARIANTS = ['jetson-nano-trt', 'rasp4b', 'x86-gateway'];
const firstRelease = (w: World) => w.run('resnet18-v3');
const never = () => Object.assign(new Error('injected: the revert keeps failing'), { name: 'GreengrassV2.InternalServerException' });

/** Enough situations that every Task state of the pipeline is reached by one of them. */
export const SCENARIOS: Scenario[] = [
  { name: 'a release', run: firstRelease },
  ...RINGS.map((ring): Scenario => ({ name: `${ring} aborts after a release`, before: firstRelease, run: (w) => w.run('resnet18-v4', { [ring]: abort }) })),
  ...RINGS.map((ring): Scenario => ({ name: `${ring} aborts in the first release`, run: (w) => w.run('resnet18-v3', { [ring]: abort }) })),
  ...CANARY_VARIANTS.map((v): Scenario => ({ name: `nobody reports to the ${v} canary after a release`, before: firstRelease, setup: (w) => { w.reporting = { [v]: [] }; }, run: (w) => w.run('resnet18-v4') })),
  ...CANARY_VARIANTS.map((v): Scenario => ({ name: `nobody reports to the first ${v} canary`, setup: (w) => { w.reporting = { [v]: [] }; }, run: firstRelease })),
  ...['jetson-nano', 'rasp4b', 'x86-gateway'].map((c): Scenario => ({
    name: `${c}-ring2 aborts and putting ${c} back keeps failing`,
    before: firstRelease,
    setup: (w) => { w.faults = { [`${c}: RevertRing`]: never }; },
    run: (w) => w.run('resnet18-v4', { [`${c}-ring2`]: abort }),
  })),
  { name: 'a compile that outlasts its budget', setup: (w) => { w.neoScripts = { rasp4b: { statuses: ['INPROGRESS'] } }; }, run: firstRelease },
  { name: 'a rejection', setup: (w) => { w.decision = { approve: false, comment: 'not now' }; }, run: firstRelease },
  {
    name: 'a gate failure',
    setup: async () => {
      for (const device of ['rasp4b-canary-a', 'rasp4b-canary-b']) {
        resultCache.set(`${device}/rasp4b/resnet18-v5`, await runBenchmark({
          modelPath: path.join(FIXTURES, 'digits', 'cnn-pruned.onnx'), datasetPath: path.join(FIXTURES, 'digits', 'validation', 'dataset.json'),
          runId: 'resnet18-v5', thingName: device, variant: 'rasp4b', warmup: 1, iterations: 10,
        }));
      }
    },
    run: (w) => w.run('resnet18-v5'),
  },
];

export interface Case {
  readonly state: string;
  readonly fault: Fault;
  readonly scenario: string;
  readonly verdict: 'defined' | 'degraded' | 'wrong';
  readonly outcome: string;
  readonly problems: string[];
}

async function runScenario(s: Scenario, faults: Record<string, () => Error> = {}): Promise<{ w: World; result: RunResult }> {
  const w = new World();
  await s.before?.(w);
  await s.setup?.(w);
  w.notifications.length = 0;
  w.faults = { ...w.faults, ...faults };
  const result = await s.run(w);
  return { w, result };
}

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
    for (const g of RINGS) {
      const live = [...w.fleets[g].deployments.values()].filter((d) => !d.canceled);
      const current = live.at(-1) ? release(live.at(-1)!.request.Components as Deployed) : undefined;
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
    for (const c of ['jetson-nano', 'rasp4b', 'x86-gateway']) {
      const target = `arn:${TEST_ENV.partition}:iot:${TEST_ENV.region}:${TEST_ENV.account}:thinggroup/${c}-canary`;
      const ids = w.canary.deployments.map((d, i) => ({ d, id: `d-${i + 1}` })).filter(({ d, id }) => d.TargetArn === target && !w.canary.canceled.includes(id));
      const latest = ids.at(-1)?.d;
      if (latest && !(String(latest.DeploymentName).startsWith('restore-canary-') && canonical(latest.Components) === '{}')) problems.push(`the ${c} canary group keeps ${String(latest.DeploymentName)}`);
    }
  }
  return { outcome, problems, wrong: false };
}

/**
 * Every Task state of the mixed-fleet pipeline × every fault, each in the first scenario that
 * reaches the state; `shard` of `shards` takes every shards-th state (test files run in parallel).
 */
export async function faultMatrix(shard = 0, shards = 1): Promise<{ cases: Case[]; unreached: string[] }> {
  const baselines: { s: Scenario; result: RunResult }[] = [];
  for (const s of SCENARIOS) baselines.push({ s, result: (await runScenario(s)).result });
  const cases: Case[] = [];
  const unreached: string[] = [];
  const states = Object.entries(taskStates(mixedFleetDefinition)).filter((_e, i) => i % shards === shard);
  for (const [state, definition] of states) {
    const where = baselines.find((b) => b.result.entered.includes(state));
    if (!where) {
      unreached.push(state);
      continue;
    }
    for (const fault of faultsFor(definition)) {
      const { w, result } = await runScenario(where.s, { [state]: () => faultError(fault, state) });
      const { outcome, problems, wrong } = checkRun(w, result, state, where.result);
      cases.push({ state, fault, scenario: where.s.name, verdict: wrong ? 'wrong' : problems.length ? 'degraded' : 'defined', outcome, problems });
    }
  }
  return { cases, unreached };
}

/** The matrix as markdown: states × faults → outcome, with counts. */
export function renderMatrix(cases: Case[], unreached: string[]): string {
  const count = (v: Case['verdict']) => cases.filter((c) => c.verdict === v).length;
  const lines = [
    `${cases.length} injections: ${count('defined')} defined, ${count('degraded')} degraded, ${count('wrong')} wrong; ${unreached.length} Task states no scenario reaches${unreached.length ? ` (${unreached.join(', ')})` : ''}.`,
    '',
    '| state | fault | scenario | outcome | verdict |',
    '| --- | --- | --- | --- | --- |',
    ...cases.map((c) => `| ${c.state} | ${c.fault.kind} (${c.fault.error}) | ${c.scenario} | ${c.outcome} | ${c.verdict}${c.problems.length ? `: ${c.problems.join('; ')}` : ''} |`),
  ];
  return lines.join('\n');
}

/** One shard of the fault-injection test (see device/test/fault-injection-*.test.ts). */
export function describeFaultShard(shard: number, shards: number): void {
  describe(`fault injection into every Task state of the mixed-fleet pipeline (shard ${shard + 1} of ${shards})`, () => {
    let cases: Case[] = [];
    let unreached: string[] = [];

    beforeAll(async () => {
      ({ cases, unreached } = await faultMatrix(shard, shards));
      if (process.env.FAULT_MATRIX) process.stdout.write(`${renderMatrix(cases, unreached)}\n`);
    }, 1_500_000);

    test('every state is reached by a scenario and tried', () => {
      expect(unreached).toEqual([]);
      expect(cases.length).toBeGreaterThan(100 / shards);
    });

    test('every fault ends in a defined state: a documented outcome, notified, every ring on its last good release or untouched', () => {
      expect(cases.filter((c) => c.verdict !== 'defined').map((c) => `${c.state} × ${c.fault.kind} (${c.scenario}): ${c.verdict}: ${c.outcome}: ${c.problems.join('; ')}`)).toEqual([]);
    });
  });
}
