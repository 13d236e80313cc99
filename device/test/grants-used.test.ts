/**
 * @jest-environment ./test/support/native-environment.js
 */
import { recordTelemetry } from '../../lambda/device-telemetry/index';
import { trigger } from '../../lambda/pipeline-trigger/index';
import { Account, Decision } from '../../test/support/iam/account';
import { authorizeCommand, env, invokeAs, SdkCommand } from '../../test/support/iam/caller';
import { Grant, unusedGrants } from '../../test/support/iam/grants';
import { serviceCalls, storeBucketsOf } from '../../test/support/iam/service-calls';
import { deliveredEvent } from '../../test/support/iot-rules';
import { accountOf } from '../../test/support/state-machine';
import { telemetryTopic } from '../src/publish';
import { MixedFleetWorld as World, mixedFleetDefinition } from './support/pipeline-world';

/**
 * Least privilege, shown: every statement of every role of the mixed-fleet pipeline (the
 * example with every stage: compile, publish, canary, gate, approval, rings) must be used by
 * some call of its local runs (a release, a ring that aborts and is reverted, a first rollout
 * that is canceled, a canary nobody reports to, a re-run of a released run id, a rejection) or of the services acting for it
 * (alarms, rules, the nucleus, the Lambda runtime), and a released device's telemetry. A grant nothing uses fails this test unless
 * it is listed here with the reason it must stay.
 */
const TABLE_KEY = 'DynamoDB documents these key actions for principals of a table under a customer managed key without saying which data call needs which; the harness models kms:Decrypt only. Kept until measured in an account.';
const DEPENDENT = 'a dependent action of greengrass:CreateDeployment (Service Authorization Reference): Greengrass makes it with the caller\'s permissions on the things of the target group, which a local run has none of';
const ACKNOWLEDGED: { role: RegExp; action: string; reason: string }[] = [
  ...['kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'].map((action) => ({ role: /^Pipeline(PublishPublisher|CanaryResultsCollector|CanaryResultsControl|Canary\dLedger|Approval|RingLedger|Rollout\dRing\dLedger)Role/, action, reason: TABLE_KEY })),
  ...['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'].map((action) => ({
    role: /TokenExchangeRole/, action, reason: 'the Greengrass log manager (aws.greengrass.LogManager) uploads device logs under /aws/greengrass/ with the token exchange role once a user deploys it; the Greengrass developer guide\'s token exchange policy grants these',
  })),
  // The pipeline's role deploys to the canaries, the class rollout's to the rings.
  ...['iot:DescribeThing', 'iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow', 'iot:UpdateJob', 'iot:DescribeJob'].map((action) => ({ role: /^Pipeline(ClassRollout)?StateMachineRole/, action, reason: DEPENDENT })),
  ...['s3:ListBucket', 's3:AbortMultipartUpload', 'logs:CreateLogGroup', 'logs:DescribeLogStreams'].map((action) => ({
    role: /^PipelineCompileCompilationRole/, action, reason: 'the CreateCompilationJob role requirements (SageMaker developer guide) list it; SageMaker may list the input, upload output in parts and create its log group on first use',
  })),
  { role: /^Pipeline(CompilePreflight|PublishPackager)Role/, action: 's3:ListBucket', reason: 'used only when the object is missing: S3 answers a missing key with 403 without it, and the handler lists to tell missing from forbidden (test/lambda/package-artifact, compile-preflight)' },
  { role: /^PipelinePublishPackagerRole/, action: 's3:GetObject', reason: 'models/: ONNX variants are packaged straight from the model (the ONNX Runtime pipeline); a mixed fleet has none' },
  { role: /^PipelineStateMachineRole/, action: 'sagemaker:StopCompilationJob', reason: 'used when a compile fails or passes its budget (test/compile/compile-runs.test.ts runs that with this harness)' },
  ...['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'].map((action) => ({ role: /^Pipeline(ClassRollout)?StateMachineRole/, action, reason: 'Step Functions sends the X-Ray traces of a traced state machine with its role (the local executor does not trace)' })),
  ...['logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups'].map((action) => ({
    role: /^Pipeline(ClassRollout)?StateMachineRole/, action, reason: 'the Step Functions developer guide requires these on the role of a state machine that logs to CloudWatch Logs (vended log delivery, set up at deployment)',
  })),
];

/** The upload trigger as its function runs it: its S3 and Step Functions calls authorized. */
async function startRunFromAnUpload(account: Account): Promise<void> {
  const fn = account.lambdaFunction('PipelineTrigger');
  const client = { send: async (command: SdkCommand) => {
    await authorizeCommand(command);
    return {};
  } };
  await invokeAs({ account, fn, decisions: account.decisions }, async () => {
    const cfg = { stateMachineArn: env('STATE_MACHINE_ARN', ''), bucket: env('STORE_BUCKET', ''), modelPrefix: env('MODEL_PREFIX', ''), registryPrefix: env('REGISTRY_PREFIX', '') };
    const upload = { 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: cfg.bucket }, object: { 'key': `${cfg.modelPrefix}resnet18/model.tar.gz`, 'version-id': 'v-1', 'etag': 'e' } } };
    expect(await trigger(upload, cfg, { s3: client, sfn: client, sagemaker: client } as never)).toMatchObject({ started: true });
  });
}

/** A released device's serve-mode telemetry, delivered by the pipeline's rule to the telemetry function as it runs. */
async function serveTelemetry(account: Account): Promise<void> {
  const fn = account.lambdaFunction('PipelineTelemetry');
  await invokeAs({ account, fn, decisions: account.decisions }, () => {
    const root = agentTopicRoot(account);
    const event = deliveredEvent(/PipelineTelemetry/, telemetryTopic(root, 'rasp4b', 'cam-pi-01'), { kind: 'telemetry', inferences: 60, latencyMs: { p50: 8, p90: 11, p99: 14, mean: 9 } });
    expect(recordTelemetry(event as never, env('PIPELINE_NAME', ''), env('DEVICE_CLASSES', '').split(','))).toEqual({ counted: true });
  });
}

/** The topic root in the pipeline's agent recipe. */
function agentTopicRoot(account: Account): string {
  const recipes = account.resources.flatMap((r) => Object.values(r)).filter((r) => r.Type === 'AWS::GreengrassV2::ComponentVersion')
    .map((r) => JSON.parse((r.Properties as { InlineRecipe: string }).InlineRecipe) as { ComponentConfiguration?: { DefaultConfiguration?: { topicRoot?: string } } });
  return recipes.map((r) => r.ComponentConfiguration?.DefaultConfiguration?.topicRoot).find((root) => root !== undefined)!;
}

describe('every grant of the mixed-fleet pipeline is used, or acknowledged with its reason', () => {
  let unused: Grant[] = [];
  let decisions: Decision[] = [];

  beforeAll(async () => {
    const account = accountOf(mixedFleetDefinition)!;
    const released = new World();
    expect((await released.run('resnet18-v3')).status).toBe('SUCCEEDED');
    // The same run again, its canaries' table kept: each closed in the first run, so the control
    // function hands their results on and completes the task itself.
    released.keepCanaries = true;
    expect((await released.run('resnet18-v3')).status).toBe('SUCCEEDED');
    released.keepCanaries = false;
    const reverted = await released.run('resnet18-v4', { 'jetson-nano-ring2': [[{ queued: 5, inProgress: 2, succeeded: 1 }, { status: 'CANCELED', failed: 4, succeeded: 1, queued: 2 }]] });
    expect(reverted.error).toBe('RolloutReverted');
    // A canary nobody reports to, in each class (each class has a canary ledger of its own).
    for (const variant of ['jetson-nano-trt', 'rasp4b', 'x86-gateway']) {
      const silent = new World();
      silent.reporting = { [variant]: [] };
      expect((await silent.run('resnet18-v3')).error).toMatch(/CanaryTimedOut/);
    }
    // A ring that aborts, in every ring (each has a ring ledger function of its own).
    // (A first rollout that aborts is canceled and recorded.)
    for (const ring of ['jetson-nano-ring1', 'rasp4b-ring2', 'x86-gateway-ring1', 'x86-gateway-ring2']) {
      expect((await new World().run('resnet18-v3', { [ring]: [[{ status: 'CANCELED', failed: 5 }]] })).status).toBe('FAILED');
    }
    await startRunFromAnUpload(account);
    await serveTelemetry(account);
    expect((await new World().run('resnet18-v3', { 'rasp4b-ring1': [[{ status: 'CANCELED', failed: 5 }]] })).status).toBe('FAILED');
    const rejected = new World();
    rejected.decision = { approve: false, comment: 'not now' };
    expect((await rejected.run('resnet18-v3')).error).toBe('ApprovalRejected');
    for (const call of serviceCalls(account, storeBucketsOf(account))) await account.authorize(call);
    decisions = account.decisions;
    unused = unusedGrants(account, decisions);
  }, 600_000);

  test('no grant is unused without a reason', () => {
    const unexplained = unused.filter((g) => !ACKNOWLEDGED.some((a) => a.role.test(g.role.logicalId) && a.action === g.action));
    expect(unexplained.map((g) => `${g.role.logicalId}: ${g.action} on ${g.resources.join(', ')} (${g.statement})`)).toEqual([]);
  });

  test('every acknowledgement is still needed: it names a grant that no call used', () => {
    const stale = ACKNOWLEDGED.filter((a) => !unused.some((g) => a.role.test(g.role.logicalId) && a.action === g.action));
    expect(stale.map((a) => `${a.role} ${a.action}`)).toEqual([]);
  });

  test('nothing any run or service made was denied', () => {
    expect(decisions.filter((d) => !d.allowed && !d.call.by?.startsWith('S3, answering')).map((d) => `${d.call.principal} ${d.call.action} ${d.call.resource}: ${d.reason}`)).toEqual([]);
  });
});
