import { App, Duration, Stack } from 'aws-cdk-lib';
import { ArtifactStore, EdgeFleet, FleetRollout, PipelineStateMachine, ReleaseLedger, Rollout, RolloutFailureType } from '../../lib';
import { FakeFleet, JobSnapshot } from '../support/fake-fleet';
import { definitionOf, expectValidAsl, runDefinition } from '../support/state-machine';

const P = 'jetson-nano-fleet: ';

function build(budget?: Duration) {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const ledger = new ReleaseLedger(stack, 'Ledger');
  const fleet = new EdgeFleet(stack, 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-jn-', store, thingGroupName: 'jetson-nano-fleet' });
  const rollout = new FleetRollout(stack, 'Rollout', {
    fleet,
    ledger,
    rollout: Rollout.exponential({ baseRatePerMinute: 2, incrementFactor: 2, afterSucceeded: 2, maximumPerMinute: 50 }),
    abortCriteria: [{ failureType: RolloutFailureType.ALL, thresholdPercentage: 20, minExecutedThings: 3 }],
    timeBudget: budget,
  });
  new PipelineStateMachine(stack, 'Machine', { definition: rollout });
  const definition = definitionOf(stack);
  expectValidAsl(definition);
  return definition;
}

const release = (runId: string, version: string) => ({ runId, release: { components: { 'com.example.digits.jetson-nano': { ComponentVersion: version } } } });
const settled = (s: Partial<JobSnapshot>): JobSnapshot => ({ queued: 0, inProgress: 0, ...s });
const rolling: JobSnapshot = { queued: 4, inProgress: 2, succeeded: 1 };

async function run(definition: ReturnType<typeof build>, fake: FakeFleet, input: Record<string, unknown>) {
  return runDefinition(definition, input as never, { handlers: fake.handlers(), context: fake.context() });
}

describe('FleetRollout, run by the local executor', () => {
  const definition = build();

  test('a healthy rollout becomes the group\'s last good release', async () => {
    const fake = new FakeFleet(P, 60).script([rolling, rolling, settled({ succeeded: 10 })]);
    const result = await run(definition, fake, release('run-1', '1.0.1'));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { rollout: Record<string, unknown> }).rollout.jetson_nano_fleet).toEqual({
      group: 'jetson-nano-fleet',
      deploymentId: 'd-1',
      iotJobId: 'job-d-1',
      verdict: expect.objectContaining({ healthy: true, executed: 10, failed: 0 }),
    });
    const create = fake.calls('CreateDeployment')[0];
    expect(create).toMatchObject({
      TargetArn: 'arn:aws:iot:eu-west-1:111122223333:thinggroup/jetson-nano-fleet',
      DeploymentName: 'run-1-jetson-nano',
      Components: { 'com.example.digits.jetson-nano': { ComponentVersion: '1.0.1' } },
      DeploymentPolicies: { FailureHandlingPolicy: 'ROLLBACK' },
      IotJobConfiguration: {
        JobExecutionsRolloutConfig: { ExponentialRate: { BaseRatePerMinute: 2, IncrementFactor: 2, RateIncreaseCriteria: { NumberOfSucceededThings: 2 } }, MaximumPerMinute: 50 },
        AbortConfig: { CriteriaList: [{ FailureType: 'ALL', Action: 'CANCEL', ThresholdPercentage: 20, MinNumberOfExecutedThings: 3 }] },
        TimeoutConfig: { InProgressTimeoutInMinutes: 30 },
      },
    });
    expect(create.ClientToken).toMatch(/^[0-9a-f]{32}$/);
    expect(fake.table.get('GROUP#jetson-nano-fleet', 'LAST_GOOD')).toMatchObject({ runId: 'run-1', components: { 'com.example.digits.jetson-nano': '1.0.1' } });
    expect(fake.calls('DescribeJob')).toHaveLength(3);
  });

  test('an abort reverts the group to the last good release and fails with RolloutReverted', async () => {
    const fake = new FakeFleet(P, 60).script([settled({ succeeded: 5 })], [rolling, { status: 'CANCELED', failed: 3, succeeded: 2, queued: 5 }]);
    expect((await run(definition, fake, release('run-1', '1.0.1'))).status).toBe('SUCCEEDED');
    const result = await run(definition, fake, release('run-2', '1.0.2'));
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
    expect(result.cause).toBe('The abort criteria fired: IoT canceled job job-d-2 (3 of the devices failed). The group jetson-nano-fleet was re-deployed with its last good release (run run-1).');
    const [, , revert] = fake.calls('CreateDeployment');
    expect(revert).toMatchObject({ DeploymentName: 'revert-run-2-jetson-nano', Components: { 'com.example.digits.jetson-nano': { ComponentVersion: '1.0.1' } } });
    expect(fake.table.get('GROUP#jetson-nano-fleet', 'LAST_GOOD')).toMatchObject({ runId: 'run-1' });
    expect(fake.table.get('RELEASE#run-2', 'CLASS#jetson-nano')).toMatchObject({ status: 'REVERTED' });
  });

  test('failures over the limit without an abort (a small fleet) also revert', async () => {
    const fake = new FakeFleet(P, 60).script([settled({ succeeded: 2 })], [settled({ succeeded: 1, failed: 1 })]);
    await run(definition, fake, release('run-1', '1.0.1'));
    const result = await run(definition, fake, release('run-2', '1.0.2'));
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
    expect(result.cause).toContain('The rollout ran to the end unhealthy: 1 of 2 devices failed (50%), over the limit of 20%.');
  });

  test('on the first rollout there is nothing to revert to: the deployment is canceled', async () => {
    const fake = new FakeFleet(P, 60).script([{ status: 'CANCELED', failed: 3, queued: 4 }]);
    const result = await run(definition, fake, release('run-1', '1.0.1'));
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutCanceled' });
    expect(result.cause).toContain('This was the first rollout to jetson-nano-fleet: there is no last good release to revert to, so the deployment was canceled');
    expect(fake.calls('CancelDeployment')).toEqual([{ DeploymentId: 'd-1' }]);
    expect(fake.calls('CreateDeployment')).toHaveLength(1);
    expect(fake.table.get('GROUP#jetson-nano-fleet', 'LAST_GOOD')).toBeUndefined();
  });

  test('a deployment whose IoT job never appears is reverted after ten minutes, not watched until the budget ends', async () => {
    const fake = new FakeFleet(P, 60).script([settled({ succeeded: 3 })], [rolling]);
    await run(definition, fake, release('run-1', '1.0.1'));
    fake.withoutJobs = true;
    const before = fake.calls('GetDeployment').length;
    const result = await run(definition, fake, release('run-2', '1.0.2'));
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
    expect(result.cause).toContain('Greengrass deployment d-2 had no IoT job after 600 seconds.');
    // One look every 5 seconds for 10 minutes, then the group goes back.
    expect(fake.calls('GetDeployment').length - before).toBe(120);
    expect(fake.calls('CreateDeployment').at(-1)).toMatchObject({ Components: { 'com.example.digits.jetson-nano': { ComponentVersion: '1.0.1' } } });
  });

  test('a deployment that stays in progress past its budget is reverted', async () => {
    const short = build(Duration.minutes(10));
    const fake = new FakeFleet(P, 60).script([settled({ succeeded: 3 })], [rolling]);
    await run(short, fake, release('run-1', '1.0.1'));
    const result = await run(short, fake, release('run-2', '1.0.2'));
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
    expect(result.cause).toContain('did not settle within its time budget of 600 seconds');
    expect(fake.calls('DescribeJob').length).toBeGreaterThanOrEqual(10);
  });

  test('a throttled CreateDeployment is retried', async () => {
    const fake = new FakeFleet(P, 60).failCreatesWith('GreengrassV2.ThrottlingException', 'GreengrassV2.ThrottlingException').script([settled({ succeeded: 1 })]);
    const result = await run(definition, fake, release('run-1', '1.0.1'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.retried.filter((s) => s === `${P}CreateDeployment`)).toHaveLength(2);
    expect(fake.deployments.size).toBe(1);
    // A retry is the same request: had an attempt's answer been lost, Greengrass would answer it with that deployment.
    expect(new Set(fake.calls('CreateDeployment').map((c) => c.ClientToken)).size).toBe(1);
  });

  test('a re-run of the same run id (a new execution) deploys anew: Greengrass would answer a known client token with the first, maybe canceled, deployment', async () => {
    const fake = new FakeFleet(P, 60).script([settled({ succeeded: 1 })], [settled({ succeeded: 1 })]);
    await run(definition, fake, release('run-1', '1.0.1'));
    await run(definition, fake, release('run-1', '1.0.1'));
    const tokens = fake.calls('CreateDeployment').map((c) => c.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toEqual(tokens[1]);
    expect(fake.deployments.size).toBe(2);
  });
});
