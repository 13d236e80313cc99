/**
 * @jest-environment ./test/support/native-environment.js
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import {
  AccuracyBaseline,
  ArtifactStore,
  CanaryEvaluation,
  CanaryResults,
  EdgeAgentComponent,
  EdgeFleet,
  PipelineStateMachine,
  QualityGate,
  QualityThresholds,
} from '../../lib';
import { definitionOf, expectValidAsl, runDefinition, TEST_ENV } from '../../test/support/state-machine';

const P = 'x86-gateway canary: ';

function build(thresholds: QualityThresholds, options: { quorumPercentage?: number } = {}) {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const canaryFleet = new EdgeFleet(stack, 'CanaryFleet', { deviceClass: 'x86-gateway', thingNamePrefix: 'gw-', store, thingGroupName: 'x86-gateway-canary' });
  const agent = new EdgeAgentComponent(stack, 'Agent', { fleets: [canaryFleet] });
  const results = new CanaryResults(stack, 'Results', { store });
  const canary = new CanaryEvaluation(stack, 'Canary', {
    canary: canaryFleet, results, agent,
    modelComponentName: 'com.example.digits.x86-gateway',
    datasetPath: '/opt/datasets/digits/dataset.json',
    candidatesPath: '$.publish.classes[0].candidates',
    timeout: Duration.minutes(30),
    quorumPercentage: options.quorumPercentage,
  });
  const qualityGate = new QualityGate(stack, 'Gate', { store, canaries: [canary], thresholds });
  const machine = new PipelineStateMachine(stack, 'Machine', { definition: canary.next(qualityGate) });
  results.grantTaskResponses(machine.stateMachine);
  const definition = definitionOf(stack);
  expectValidAsl(definition);
  return { definition, agent };
}

import { deviceResult, resultCache as cache, FakeCanary as World } from './support/fake-canary';

const candidates = (variants: string[], runId = 'digits-v7') => ({
  runId,
  publish: { classes: [{ deviceClass: 'x86-gateway', candidates: variants.map((v, i) => ({ variant: v, componentVersion: `1.0.${i + 1}`, sha256: `${i}`.repeat(64) })) }] },
});

const THRESHOLDS: QualityThresholds = { minAccuracy: 0.9, maxAccuracyDrop: 0.05, minTop1Agreement: 0.95, maxP90Latency: Duration.millis(100), maxPeakMemoryMb: 4096 };

describe('CanaryEvaluation and QualityGate, run by the local executor', () => {
  let world: World;
  beforeEach(() => { world = new World(); });
  afterEach(() => world.done());
  const run = (definition: ReturnType<typeof build>['definition'], input: Record<string, unknown>) =>
    runDefinition(definition, input as never, { handlers: world.handlers(), context: { Task: { Token: 'TASK-TOKEN' } } });

  test('a good candidate passes: deployed with the agent in benchmark mode, every device reports, figures recorded', async () => {
    const { definition, agent } = build(THRESHOLDS);
    const result = await run(definition, candidates(['onnx']));
    expect(result.cause).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    const deployment = world.deployments[0] as { TargetArn: string; Components: Record<string, { ComponentVersion: string; ConfigurationUpdate?: { Merge: string } }> };
    expect(deployment.TargetArn).toBe('arn:aws:iot:eu-west-1:111122223333:thinggroup/x86-gateway-canary');
    expect(deployment.Components['com.example.digits.x86-gateway']).toEqual({ ComponentVersion: '1.0.1' });
    expect(JSON.parse(deployment.Components[agent.componentName].ConfigurationUpdate!.Merge)).toEqual({
      mode: 'benchmark', runId: 'digits-v7', variant: 'onnx', datasetPath: '/opt/datasets/digits/dataset.json',
      modelPath: `/greengrass/v2/packages/artifacts-unarchived/com.example.digits.x86-gateway/1.0.1/${'0'.repeat(64)}`,
    });
    const gateOut = (result.output as { gate: { pass: boolean; chosen: Record<string, string>; htmlReportS3Uri: string; classes: { variants: { figures: { accuracy: number } }[] }[] } }).gate;
    expect(gateOut).toMatchObject({ pass: true, chosen: { 'x86-gateway': 'onnx' }, htmlReportS3Uri: 's3://storec1f82936/reports/digits-v7/report.html' });
    expect(gateOut.classes[0].variants[0].figures.accuracy).toBeCloseTo(0.975, 3);
    expect([...world.reports.keys()].filter((k) => k.includes('/canary/'))).toHaveLength(3);
    // The token stayed in the table; devices never saw it.
    expect(JSON.stringify(world.deployments)).not.toContain('TASK-TOKEN');
  });

  test('a candidate that really degrades is stopped at the gate with a report that shows why', async () => {
    const { definition } = build(THRESHOLDS);
    const result = await run(definition, candidates(['pruned']));
    expect(result).toMatchObject({ status: 'FAILED', error: 'QualityGateFailed' });
    expect(result.cause).toMatch(/^x86-gateway: pruned failed the gate: accuracy 0\.52\d* misses the limit >= 0\.9 by 0\.37\d*; accuracy drop 0\.45\d* misses the limit <= 0\.05/);
    const html = world.reports.get('reports/digits-v7/report.html')!;
    expect(html).toContain('stopped at the quality gate');
    expect(html.match(/class="variant-point"/g)).toHaveLength(1);
  });

  test('of two candidates the good one is chosen, and the report records why the other lost', async () => {
    const { definition } = build(THRESHOLDS);
    const result = await run(definition, candidates(['pruned', 'onnx']));
    expect(result.status).toBe('SUCCEEDED');
    const gateOut = (result.output as { gate: { chosen: Record<string, string>; classes: { notChosen: { variant: string; reason: string }[] }[] } }).gate;
    expect(gateOut.chosen).toEqual({ 'x86-gateway': 'onnx' });
    expect(gateOut.classes[0].notChosen[0]).toMatchObject({ variant: 'pruned', reason: expect.stringContaining('failed the gate: accuracy') });
    // One candidate after the other, then the group is put back as it was (it ran nothing).
    expect(world.deployments.map((d) => d.DeploymentName)).toEqual(['canary-digits-v7-pruned', 'canary-digits-v7-onnx', 'restore-canary-digits-v7']);
    expect(world.deployments[2]).toMatchObject({ Components: {} });
  });

  test('a canary group that ran a release before gets it back after the canary, passed or failed', async () => {
    const { definition } = build(THRESHOLDS);
    const before = { 'com.example.digits.x86-gateway': { ComponentVersion: '1.0.0' } };
    world.deployments.push({ TargetArn: `arn:${TEST_ENV.partition}:iot:${TEST_ENV.region}:${TEST_ENV.account}:thinggroup/x86-gateway-canary`, DeploymentName: 'earlier', Components: before });
    expect((await run(definition, candidates(['onnx']))).status).toBe('SUCCEEDED');
    expect(world.deployments.at(-1)).toMatchObject({ DeploymentName: 'restore-canary-digits-v7', Components: before });
    world.reporting = { onnx: ['gw-01'] };
    const failed = await run(definition, candidates(['onnx'], 'digits-v8'));
    expect(failed.error).toBe('CanaryTimedOut');
    expect(world.deployments.at(-1)).toMatchObject({ DeploymentName: 'restore-canary-digits-v8', Components: before });
  });

  // Each kind of threshold, set just past what the good model measures, stops the run and is named.
  test.each<[string, QualityThresholds, string]>([
    ['accuracy', { minAccuracy: 0.99 }, 'onnx'],
    ['accuracy drop', { maxAccuracyDrop: 0.01, baseline: AccuracyBaseline.fixed(0.999) }, 'onnx'],
    // The good model agrees with its reference on every sample; the pruned one does not.
    ['top-1 agreement with the reference', { minTop1Agreement: 0.9 }, 'pruned'],
    ['p90 latency', { maxP90Latency: Duration.millis(0.0001) }, 'onnx'],
    ['p99 latency', { maxP99Latency: Duration.millis(0.0001) }, 'onnx'],
    ['peak memory', { maxPeakMemoryMb: 1 }, 'onnx'],
    ['devices reporting', { minAccuracy: 0.5, minDevicesReporting: 4 }, 'onnx'],
  ])('fails on %s, and the cause names it', async (name, thresholds, variant) => {
    const { definition } = build(thresholds);
    const result = await run(definition, candidates([variant]));
    expect(result).toMatchObject({ status: 'FAILED', error: 'QualityGateFailed' });
    expect(result.cause).toMatch(new RegExp(`failed the gate: ${name}[ :]`));
  });

  test('at the timeout, two of three devices with a 60 % quorum: the canary goes on and the gate decides on what came', async () => {
    const { definition } = build(THRESHOLDS, { quorumPercentage: 60 });
    world.reporting = { onnx: ['gw-01', 'gw-02'] };
    const result = await run(definition, candidates(['onnx']));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.entered).toContain(`${P}CloseCanary`);
    const variant = (result.output as { canary: { x86_gateway: { variants: { reported: number; missing: string[] }[] } } }).canary.x86_gateway.variants[0];
    expect(variant).toMatchObject({ reported: 2, missing: ['gw-03'] });
  });

  test('half the devices without a quorum: CanaryTimedOut, and the canary group is put back as it was (it ran nothing)', async () => {
    const { definition } = build(THRESHOLDS);
    world.reporting = { onnx: ['gw-01'] };
    const result = await run(definition, candidates(['onnx']));
    expect(result).toMatchObject({ status: 'FAILED', error: 'CanaryTimedOut' });
    expect(result.cause).toBe('1 of 3 canary devices of x86-gateway reported before the timeout, 3 needed; missing: gw-02, gw-03');
    expect(world.deployments.map((d) => d.DeploymentName)).toEqual(['canary-digits-v7-onnx', 'restore-canary-digits-v7']);
    expect(world.deployments[1]).toMatchObject({ Components: {} });
  });

  test('a re-run of the run id reuses the closed canary\'s results: it does not wait for the devices again', async () => {
    const { definition } = build(THRESHOLDS);
    expect((await run(definition, candidates(['onnx']))).status).toBe('SUCCEEDED');
    // The devices reported in the first attempt; none reports again.
    world.reporting = { onnx: [] };
    const again = await run(definition, candidates(['onnx']));
    expect(again.error).toBeUndefined();
    expect(again.status).toBe('SUCCEEDED');
    expect(again.entered).not.toContain(`${P}CloseCanary`);
    const variant = (again.output as { canary: { x86_gateway: { variants: { reported: number }[] } } }).canary.x86_gateway.variants[0];
    expect(variant.reported).toBe(3);
  });

  test('a re-run whose canary closed without a quorum ends as that canary did, at once', async () => {
    const { definition } = build(THRESHOLDS);
    world.reporting = { onnx: ['gw-01'] };
    expect((await run(definition, candidates(['onnx']))).error).toBe('CanaryTimedOut');
    const again = await run(definition, candidates(['onnx']));
    expect(again).toMatchObject({ status: 'FAILED', error: 'CanaryTimedOut' });
    expect(again.cause).toMatch(/closed in an earlier attempt with 1 of 3 devices reported/);
    expect(again.entered).not.toContain(`${P}CloseCanary`);
    // The re-run's token is not kept: nothing will complete its task.
    const states = [...world.canaryTable.items.values()].filter((i) => String(i.sk).startsWith('STATE#'));
    expect(states.map((i) => i.token)).toEqual([undefined]);
  });

  test('a device that reports an error document fails the gate with its reason', async () => {
    const { definition } = build(THRESHOLDS);
    const broken = { ...(await deviceResult('gw-02', 'onnx', 'digits-v7')), status: 'ERROR' as const, latencyMs: null, accuracy: null, parity: null, firstInferenceMs: null, throughputPerSecond: null, error: { code: 'RUNTIME_MISSING', message: 'onnxruntime-node cannot be loaded on this device' } };
    cache.set('gw-02/onnx/digits-v7', broken);
    try {
      const result = await run(definition, candidates(['onnx']));
      expect(result).toMatchObject({ status: 'FAILED', error: 'QualityGateFailed' });
      expect(result.cause).toContain('gw-02 (RUNTIME_MISSING: onnxruntime-node cannot be loaded on this device)');
    } finally {
      cache.delete('gw-02/onnx/digits-v7');
    }
  });
});
