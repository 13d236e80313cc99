/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as path from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { trigger } from '../../lambda/pipeline-trigger/index';
import { FIXTURES } from '../../test/support/archives';
import { FakeFleet } from '../../test/support/fake-fleet';
import { BUCKET } from '../../test/support/fake-publishing';
import { TEST_ENV } from '../../test/support/state-machine';
import { runBenchmark } from '../src/benchmark';
import { resultCache } from './support/fake-canary';
import { CLASSES, componentsOfShape, MixedFleetWorld as World, RINGS, SHAPES } from './support/pipeline-world';

/** The components the mixed-fleet pipeline deploys: each class's model, and its own agent. */
const { models: MODELS, agent: AGENT } = componentsOfShape(SHAPES['mixed-fleet']);

const components = (fake: FakeFleet) => fake.calls('CreateDeployment').map((d) => d.Components);
const stagesOf = (w: World) => w.runMetrics.at(-1)!.stages.map((s) => s.stage);
const secondsOf = (w: World) => w.runMetrics.at(-1)!.stages.reduce((sum, s) => sum + s.seconds, 0);

describe('the mixed-fleet pipeline, run end to end by the local executor', () => {
  test('a release that passes: compiled, published, canaried on real results, gated, approved, rolled out ring by ring, recorded', async () => {
    const w = new World();
    const startedAt = w.clock.now;
    const result = await w.run('resnet18-v3');
    expect(result.cause).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    // Every stage's duration reaches the dashboard; together they are the whole run.
    expect(w.runMetrics).toHaveLength(1);
    expect(w.runMetrics[0].outcome).toBe('RELEASED');
    expect(stagesOf(w)).toEqual(['Compile', 'Publish', 'Canary', 'Gate', 'Approval', 'Rollout']);
    expect(secondsOf(w)).toBeCloseTo((w.clock.now - startedAt) / 1000, 3);
    for (const stage of ['Compile', 'Publish', 'Rollout']) expect(w.runMetrics[0].stages.find((s) => s.stage === stage)!.seconds).toBeGreaterThan(0);
    for (const c of CLASSES) {
      for (const ring of [`${c}-ring1`, `${c}-ring2`]) {
        expect(w.fleets[ring].calls('CreateDeployment')).toHaveLength(1);
        expect(w.ledger.get(`GROUP#${ring}`, 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3' });
      }
    }
    expect(w.notifications.map((n) => n.event)).toEqual(['RUN_STARTED', 'APPROVAL_REQUESTED', 'RELEASED']);
    expect(w.notifications[2]).toMatchObject({ report: `s3://${BUCKET}/reports/resnet18-v3/report.html` });
    // Every ring gets the chosen variant and the edge agent serving it (the telemetry behind the latency alarm).
    const chosen = w.notifications[2].chosen as Record<string, string>;
    for (const c of CLASSES) {
      const [deployed] = components(w.fleets[`${c}-ring1`]) as Record<string, { ComponentVersion: string; ConfigurationUpdate?: { Merge: string } }>[];
      const model = MODELS[c];
      expect(Object.keys(deployed).sort()).toEqual([AGENT, model]);
      const serve = JSON.parse(deployed[AGENT].ConfigurationUpdate!.Merge) as Record<string, string>;
      expect(serve).toEqual({ mode: 'serve', deviceClass: c, runId: 'resnet18-v3', variant: chosen[c], modelPath: expect.any(String) });
      expect(serve.modelPath).toMatch(new RegExp(`^/greengrass/v2/packages/artifacts-unarchived/${model.replace(/\./g, '\\.')}/${deployed[model].ComponentVersion.replace(/\./g, '\\.')}/[0-9a-f]{64}$`));
    }
    // Ring 2 started only after ring 1 was healthy.
    // (The class's rollout execution: its states follow the Task that started it.)
    const jetson = result.entered.slice(result.entered.indexOf('jetson-nano: RollOut'), result.entered.indexOf('jetson-nano: RolloutOutcome'));
    const order = jetson.filter((s) => /^ring: (CreateDeployment|RingRolledOut)$/.test(s));
    expect(order).toEqual(['CreateDeployment', 'RingRolledOut', 'CreateDeployment', 'RingRolledOut'].map((s) => `ring: ${s}`));
    expect(result.children.map((c) => c.status)).toEqual(CLASSES.map(() => 'SUCCEEDED'));
    expect(components(w.fleets['jetson-nano-ring1'])).toHaveLength(1);
    expect(components(w.fleets['jetson-nano-ring2'])).toHaveLength(1);
  });

  test('a run-metrics failure never holds up a release or its notification', async () => {
    const w = new World();
    w.metricsFail = true;
    const result = await w.run('resnet18-v3');
    expect(result.status).toBe('SUCCEEDED');
    expect(result.entered).toContain('RecordRunReleased');
    expect(w.notifications.map((n) => n.event)).toEqual(['RUN_STARTED', 'APPROVAL_REQUESTED', 'RELEASED']);
  });

  test('a gate failure changes no fleet', async () => {
    const w = new World();
    // Every canary device of the Pis runs the pruned model: it really scores 52 %.
    for (const device of ['rasp4b-canary-a', 'rasp4b-canary-b']) {
      resultCache.set(`${device}/rasp4b/resnet18-v5`, await runBenchmark({
        modelPath: path.join(FIXTURES, 'digits', 'cnn-pruned.onnx'), datasetPath: path.join(FIXTURES, 'digits', 'validation', 'dataset.json'),
        runId: 'resnet18-v5', thingName: device, variant: 'rasp4b', warmup: 1, iterations: 10,
      }));
    }
    const result = await w.run('resnet18-v5');
    expect(result).toMatchObject({ status: 'FAILED', error: 'QualityGateFailed' });
    expect(result.cause).toMatch(/rasp4b: rasp4b failed the gate: accuracy 0\.52/);
    for (const ring of RINGS) expect(w.fleets[ring].calls('CreateDeployment')).toHaveLength(0);
    expect(w.notifications.map((n) => n.event)).toEqual(['RUN_STARTED', 'GATE_FAILED']);
    // The gate never finished: only the stages before it are timed.
    expect(w.runMetrics.map((m) => m.outcome)).toEqual(['GATE_FAILED']);
    expect(stagesOf(w)).toEqual(['Compile', 'Publish', 'Canary']);
  });

  test('an approval rejected: no fleet changes, and the rejection is notified', async () => {
    const w = new World();
    w.decision = { approve: false, comment: 'wait for the holiday freeze to end' };
    const result = await w.run('resnet18-v6');
    expect(result).toMatchObject({ status: 'FAILED', error: 'ApprovalRejected' });
    expect(result.cause).toBe('rejected by approver@example.com: wait for the holiday freeze to end');
    for (const ring of RINGS) expect(w.fleets[ring].calls('CreateDeployment')).toHaveLength(0);
    expect(w.notifications.map((n) => n.event)).toEqual(['RUN_STARTED', 'APPROVAL_REQUESTED', 'APPROVAL_REJECTED']);
    expect(w.runMetrics.map((m) => m.outcome)).toEqual(['APPROVAL_REJECTED']);
    expect(stagesOf(w)).toEqual(['Compile', 'Publish', 'Canary', 'Gate']);
  });

  test('an abort in ring 2 puts rings 1 and 2 back on the last good release; the next classes are never touched', async () => {
    const w = new World();
    expect((await w.run('resnet18-v3')).status).toBe('SUCCEEDED');
    const before = Object.fromEntries(RINGS.map((g) => [g, w.fleets[g].calls('CreateDeployment').length]));
    const result = await w.run('resnet18-v4', { 'jetson-nano-ring2': [[{ queued: 5, inProgress: 2, succeeded: 1 }, { status: 'CANCELED', failed: 4, succeeded: 1, queued: 2 }]] });
    expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
    expect(result.cause).toContain('The abort criteria fired');
    // Ring 1 got v4, ring 2 got v4 then its own revert.
    const [v4] = components(w.fleets['jetson-nano-ring1']).slice(before['jetson-nano-ring1']) as Record<string, { ConfigurationUpdate?: { Merge: string } }>[];
    expect(JSON.parse(v4[AGENT].ConfigurationUpdate!.Merge)).toMatchObject({ mode: 'serve', runId: 'resnet18-v4' });
    const v3 = w.ledger.get('GROUP#jetson-nano-ring1', 'LAST_GOOD') as { components: Record<string, string>; configurations: Record<string, string> };
    // Every ring of the class goes back to v3, ring 1 included, with the agent serving v3 again.
    const v3Deployment = {
      [MODELS['jetson-nano']]: { ComponentVersion: v3.components[MODELS['jetson-nano']] },
      [AGENT]: { ComponentVersion: v3.components[AGENT], ConfigurationUpdate: { Merge: v3.configurations[AGENT] } },
    };
    expect(JSON.parse(v3.configurations[AGENT])).toMatchObject({ mode: 'serve', runId: 'resnet18-v3' });
    expect(w.ringReverts.map((d) => [d.TargetArn, d.Components])).toEqual([
      ['arn:aws:iot:eu-west-1:111122223333:thinggroup/jetson-nano-ring1', v3Deployment],
      ['arn:aws:iot:eu-west-1:111122223333:thinggroup/jetson-nano-ring2', v3Deployment],
    ]);
    expect(w.ledger.get('GROUP#jetson-nano-ring1', 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3' });
    expect(w.ledger.get('GROUP#jetson-nano-ring2', 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3' });
    for (const ring of ['rasp4b-ring1', 'rasp4b-ring2', 'x86-gateway-ring1', 'x86-gateway-ring2']) {
      expect(w.fleets[ring].calls('CreateDeployment').length).toBe(before[ring]);
    }
    expect(w.notifications.at(-1)).toMatchObject({ event: 'ROLLOUT_REVERTED', error: 'RolloutReverted' });
    expect(w.runMetrics.map((m) => m.outcome)).toEqual(['RELEASED', 'ROLLOUT_REVERTED']);
    expect(stagesOf(w)).toEqual(['Compile', 'Publish', 'Canary', 'Gate', 'Approval']);
  });
});

describe('triggers', () => {
  const started: Record<string, unknown>[] = [];
  const names = new Set<string>();
  const deps = () => ({
    sfn: { send: async (cmd: StartExecutionCommand) => {
      started.push(cmd.input as unknown as Record<string, unknown>);
      if (names.has(cmd.input.name!)) throw Object.assign(new Error('Execution already exists'), { name: 'ExecutionAlreadyExists' });
      names.add(cmd.input.name!);
      return {};
    } } as unknown as SFNClient,
    s3: { send: async () => ({}) } as unknown as S3Client,
    sagemaker: { send: async () => ({ ModelPackageGroupName: 'resnet-edge', ModelPackageVersion: 7, InferenceSpecification: { Containers: [{ ModelDataUrl: 's3://ml-team/resnet/model.tar.gz' }] } }) } as unknown as SageMakerClient,
  });
  const cfg = { stateMachineArn: `arn:${TEST_ENV.partition}:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:pipeline`, bucket: 'store', modelPrefix: 'models/cams/', registryPrefix: 'models/cams.registry/' };
  const upload = { 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: 'store' }, object: { 'key': 'models/cams/resnet18/model.tar.gz', 'version-id': 'v-123', 'etag': 'e' } } };

  test('a duplicate trigger starts one run: the execution is named after the model version', async () => {
    const first = await trigger(upload, cfg, deps());
    const again = await trigger(upload, cfg, deps());
    expect(first).toEqual({ started: true, runId: expect.stringMatching(/^resnet18-[0-9a-f]{10}$/) });
    expect(again).toEqual({ started: false, runId: first.runId });
    expect(started[0]).toMatchObject({ name: first.runId, input: JSON.stringify({ runId: first.runId, trigger: 's3', model: { s3Uri: 's3://store/models/cams/resnet18/model.tar.gz', version: 's3://store/models/cams/resnet18/model.tar.gz@v-123' } }) });
    // A new version of the same key is a new run.
    const next = await trigger({ ...upload, detail: { ...upload.detail, object: { ...upload.detail.object, 'version-id': 'v-124' } } }, cfg, deps());
    expect(next.started).toBe(true);
    expect(next.runId).not.toBe(first.runId);
  });

  test('an approved Model Registry package is copied into the registry prefix (outside the upload prefix) and started as <group>-v<version>', async () => {
    const out = await trigger({ 'source': 'aws.sagemaker', 'detail-type': 'SageMaker Model Package State Change', 'detail': { ModelPackageArn: 'arn:aws:sagemaker:eu-west-1:111122223333:model-package/resnet-edge/7', ModelApprovalStatus: 'Approved' } }, cfg, deps());
    expect(out).toEqual({ started: true, runId: 'resnet-edge-v7' });
    expect(JSON.parse(String(started.at(-1)!.input))).toMatchObject({ model: { s3Uri: 's3://store/models/cams.registry/resnet-edge/v7/model.tar.gz', modelPackageArn: expect.any(String) } });
  });

  test('events that are not for the pipeline are refused', async () => {
    await expect(trigger({ ...upload, detail: { ...upload.detail, object: { key: 'reports/x.json' } } }, cfg, deps())).rejects.toMatchObject({ name: 'TriggerInputInvalid' });
    await expect(trigger({ 'source': 'aws.sagemaker', 'detail-type': 'SageMaker Model Package State Change', 'detail': { ModelApprovalStatus: 'Rejected', ModelPackageArn: 'x' } }, cfg, deps())).rejects.toMatchObject({ name: 'TriggerInputInvalid' });
  });
});
