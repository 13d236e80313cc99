/**
 * What watching a ring's rollout costs as the ring grows: a FleetRollout (the library's default
 * rate: 5 a minute, doubling after every 5 successes, at most 100 a minute) run in the local
 * executor against a fake IoT job whose counts follow that rate, each device taking a minute to
 * update. Every poll is one DescribeJob, whose aggregate counts cost the same for 10 devices or
 * 100,000: what grows is the number of polls, with the time the rate needs.
 *
 * npx tsx bench/rollout-polling.ts [devices,...]
 */
import '../test/support/polyfills';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { ArtifactStore, EdgeFleet, FleetRollout, PipelineStateMachine, ReleaseLedger } from '../lib';
import { FakeFleet, JobSnapshot } from '../test/support/fake-fleet';
import { definitionOf, runDefinition } from '../test/support/state-machine';

/** The job's counts at each one-minute poll for `devices` devices at the default exponential rate. */
export function jobSnapshots(devices: number): JobSnapshot[] {
  const snapshots: JobSnapshot[] = [];
  let rate = 5;
  let notified = 0;
  let succeeded = 0;
  let sinceIncrease = 0;
  while (succeeded < devices) {
    const previous = notified;
    notified = Math.min(devices, notified + rate);
    // Those notified a minute ago have updated by this poll.
    const done = previous - succeeded;
    succeeded += done;
    sinceIncrease += done;
    while (sinceIncrease >= 5 && rate < 100) {
      rate = Math.min(100, rate * 2);
      sinceIncrease -= 5;
    }
    snapshots.push({ queued: devices - notified, inProgress: notified - succeeded, succeeded });
    if (notified === devices && succeeded < devices && notified - succeeded === 0) break;
  }
  snapshots.push({ queued: 0, inProgress: 0, succeeded: devices });
  return snapshots;
}

export async function ringCost(devices: number): Promise<{ polls: number; transitions: number; historyEvents: number; describeJobCalls: number }> {
  const stack = new Stack(new App(), 'Polling');
  const store = new ArtifactStore(stack, 'Store');
  const fleet = new EdgeFleet(stack, 'Fleet', { deviceClass: 'cams', thingNamePrefix: 'cam-', store, thingGroupName: 'cams' });
  const rollout = new FleetRollout(stack, 'Rollout', { fleet, ledger: new ReleaseLedger(stack, 'Ledger'), timeBudget: Duration.days(7) });
  new PipelineStateMachine(stack, 'Machine', { definition: rollout });
  const fake = new FakeFleet('cams: ', 60).script(jobSnapshots(devices));
  const result = await runDefinition(definitionOf(stack), { runId: 'r1', release: { components: { 'com.example.cams': { ComponentVersion: '1.0.0' } } } } as never, { handlers: fake.handlers(), context: fake.context() });
  if (result.status !== 'SUCCEEDED') throw new Error(`the ${devices}-device rollout ${result.status}: ${result.error} ${result.cause}`);
  const describeJobCalls = fake.calls('DescribeJob').length;
  return { polls: describeJobCalls, transitions: result.transitions, historyEvents: result.historyEvents, describeJobCalls };
}

if (require.main === module) {
  void (async () => {
    for (const n of (process.argv[2] ?? '10,1000,100000').split(',').map(Number)) console.log(n, JSON.stringify(await ringCost(n)));
  })();
}
