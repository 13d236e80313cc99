import { Annotations, ArnFormat, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { createKey } from '../core/keys';
import { retryTransient } from '../core/retries';
import { NAME_PREFIX_MAX, NAME_PREFIX_PATTERN, unarchivedArtifactsDir } from '../core/naming';
import { PipelineStateMachine } from '../core/state-machine';
import { addRegionProblems } from '../core/regions';
import { AgentTopics } from '../core/topics';
import { ModelDescription, ModelSource } from '../compile/model-source';
import { modelDescriptionProblems, NeoCompilation, variantProblems } from '../compile/neo-compilation';
import { CompilationVariant } from '../compile/variant';
import { AgentMode, EdgeAgentComponent } from '../device/edge-agent-component';
import { CanaryClassData, CanaryStates } from '../evaluate/canary-states';
import { CanaryResults } from '../evaluate/canary-results';
import { addThresholdProblems, QualityGate, QualityThresholds } from '../evaluate/quality-gate';
import { EdgeFleet } from '../fleet/edge-fleet';
import { ClassRollout, ClassRolloutOutcome } from '../fleet/class-rollout';
import { rolloutSettings } from '../fleet/fleet-rollout';
import { rolloutSettingsData } from '../fleet/rollout-states';
import { ReleaseLedger } from '../fleet/release-ledger';
import { AbortCriteria, Rollout } from '../fleet/rollout';
import { ArtifactStore } from '../package/artifact-store';
import { ArtifactKind, ComponentPublishing } from '../package/component-publishing';
import { ComponentPlatform } from '../package/recipe';
import { RUN_OUTCOMES, RUN_STAGES } from './run-stages';

/** One device class of a pipeline: what it runs on, how it is compiled, where it is tested and rolled out. */
export interface PipelineDeviceClass {
  /** The class name: lower-case letters, digits and dashes, such as `jetson-nano`. */
  readonly name: string;
  /** The platform of the class's devices (component manifest). */
  readonly platform: ComponentPlatform;
  /**
   * The Neo variants of the class. A name is one compile in the pipeline: classes that list
   * the same variant (two classes of Raspberry Pi 4) share its compile and package, and each
   * publishes its own component of it; two variants of one name with different targets or
   * options are refused. Leave out for an ONNX Runtime fleet (no compilation).
   *
   * @default - no compilation: the ONNX model itself, as variant `onnx`
   */
  readonly variants?: CompilationVariant[];
  /** The canary fleet: real devices that validate and benchmark each candidate. */
  readonly canary: EdgeFleet;
  /** The fleet groups, rolled out one after another (a 5 % ring, then the rest); each ring is gated on the previous one's health. */
  readonly rings: EdgeFleet[];
  /** The data set's dataset.json on the canary devices. */
  readonly datasetPath: string;
  /**
   * How fast each ring is rolled out.
   *
   * @default - FleetRollout's default
   */
  readonly rollout?: Rollout;
  /**
   * When IoT cancels a ring's rollout.
   *
   * @default - FleetRollout's default
   */
  readonly abortCriteria?: AbortCriteria[];
  /**
   * The share of the canary group that must report for a timed-out canary to go on.
   *
   * @default 100
   */
  readonly quorumPercentage?: number;
  /**
   * The serve-mode p90 latency above which this class's latency alarm fires (each class has its
   * own alarm, counting only its own devices).
   *
   * @default - the pipeline's latencyAlarmThreshold
   */
  readonly latencyAlarmThreshold?: Duration;
}

/** Manual approval between the gate and the fleet. */
export interface ApprovalOptions {
  /**
   * How long to wait for a decision; no decision is a rejection. At most the run's timeout.
   *
   * @default Duration.days(1)
   */
  readonly timeout?: Duration;
}

/** What starts a run. Each is optional; several can be on at once. */
export interface PipelineTriggers {
  /**
   * Start a run for each new object under the pipeline's model prefix (`modelPrefix`,
   * `models/{pipelineName}/` by default; EventBridge, S3 Object Created). Another pipeline on
   * the same store does not see it.
   *
   * @default true
   */
  readonly onModelUpload?: boolean;
  /**
   * Start a run when a package of this Model Registry group turns Approved (EventBridge).
   *
   * @default - no Model Registry trigger
   */
  readonly modelPackageGroupName?: string;
}

/** Props for {@link EdgeModelPipeline}. */
export interface EdgeModelPipelineProps {
  /** The pipeline's name: the prefix of job names and IAM scopes. Lower-case letters, digits and single dashes, at most 24 characters. */
  readonly pipelineName: string;
  /** The model's framework and inputs. The model archive itself comes with each run (trigger or manual start). */
  readonly model: ModelDescription;
  /** The device classes. */
  readonly deviceClasses: PipelineDeviceClass[];
  /** The quality gate's thresholds. */
  readonly thresholds: QualityThresholds;
  /**
   * The prefix of component names.
   *
   * @default - `com.example.{stackName}.{pipelineName}` (lower case): a dev and a prod copy of a
   * stack, or two pipelines, publish components of their own
   */
  readonly componentNamePrefix?: string;
  /**
   * Where this pipeline's models arrive in the store: an upload there starts a run (with
   * `triggers.onModelUpload`). It must lie under the store's `models/` prefix and end with `/`.
   * Pipelines that share a store each have their own by default; give two pipelines the same
   * prefix only when one upload should start both.
   *
   * @default - `models/{pipelineName}/`
   */
  readonly modelPrefix?: string;
  /**
   * Require a manual approval after the gate.
   *
   * @default - no approval
   */
  readonly approval?: ApprovalOptions;
  /**
   * What starts runs.
   *
   * @default - a new model under `models/`
   */
  readonly triggers?: PipelineTriggers;
  /**
   * The artifact store.
   *
   * @default - a new store
   */
  readonly store?: ArtifactStore;
  /**
   * The longest a run may take.
   *
   * @default Duration.days(7)
   */
  readonly timeout?: Duration;
  /**
   * The p90 latency above which a class's serve-mode latency alarm fires, for the classes that
   * set none of their own.
   *
   * @default - the gate's maxP90Latency, else 100 ms
   */
  readonly latencyAlarmThreshold?: Duration;
}

/** Error names a pipeline run ends with, besides those of its stages. */
export enum EdgeModelPipelineError {
  /** The approver rejected the release, or nobody decided in time. */
  APPROVAL_REJECTED = 'ApprovalRejected',
  /** A ring's rollout failed; every ring of the class that had a last good release was put back on it. */
  ROLLOUT_REVERTED = 'RolloutReverted',
  /** A ring's first rollout failed and no ring of the class had a release to go back to: the deployment was canceled. */
  ROLLOUT_CANCELED = 'RolloutCanceled',
  /** Putting a ring back failed even after its retries: the notification says which groups run what; a person must act. */
  REVERT_FAILED = 'RevertFailed',
}

const ONNX_VARIANT = 'onnx';

/**
 * `notify` then `next`; a notification that still fails after its retries is caught and the
 * run goes on to `next` as if it had been sent: a notification never changes an outcome.
 */
function notifyThen(notify: tasks.SnsPublish, next: sfn.IChainable): sfn.Chain {
  retryTransient(notify, 'sns:Publish');
  notify.addCatch(next, { resultPath: '$.notifyError' });
  return notify.next(next);
}

/** A stage as one state: `body` runs as the one branch of a Parallel, whose output is the branch's. */
function stageOf(scope: Construct, name: string, body: sfn.IChainable): sfn.Parallel {
  const stage = new sfn.Parallel(scope, `${name}Stage`, { stateName: `${name} stage`, outputPath: '$[0]' });
  stage.branch(body);
  return stage;
}
const key = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');
/** A class's key in the run's state (`$.gate.releases.{key}`, `$.ringResults.{key}`). */
const ck = (c: { name: string }) => key(c.name);

/** Records a run's outcome as metrics, then goes on to `then`. */
type RecordRun = (name: string, outcome: string, then: sfn.IChainable) => sfn.Chain;

/** The designed ending `name`: records the outcome, notifies `event` (the error and cause at `cause`, what was released so far, `extra`), fails with `error`. */
type FailPath = (name: string, error: string, event: string, cause: string, extra?: Record<string, unknown>) => sfn.IChainable;

/**
 * The whole path from "a new model version exists" to "it runs on every
 * device in the fleet", as one construct: artifact store, release ledger,
 * roles, and one Standard state machine that runs
 * prepare → compile → package → publish → canary → gate → (approval) →
 * rollout ring by ring → record, reverting what it rolled out when a ring
 * fails; triggers (model upload, Model Registry approval, manual start),
 * notifications, a dashboard and alarms.
 *
 * **Manual start**: `aws stepfunctions start-execution --state-machine-arn … --name <runId>
 * --input '{"runId":"<runId>","model":{"s3Uri":"s3://<store>/models/<name>/model.tar.gz"}}'`
 * (the execution name is the run id, so starting the same run twice starts one run).
 */
export class EdgeModelPipeline extends Construct {
  /** The artifact store. */
  public readonly store: ArtifactStore;
  /** The Greengrass component of each device class's model, by class name. */
  public readonly componentNames: { [deviceClass: string]: string };
  /**
   * The `Pipeline` dimension of this pipeline's metrics: `{stackName}/{pipelineName}`, so a dev
   * and a prod copy of a stack, or two pipelines, never count into each other's alarms.
   */
  public readonly metricPipeline: string;
  /** Where this pipeline's models arrive in the store (an upload there starts a run). */
  public readonly modelPrefix: string;
  /** Where the Model Registry trigger copies approved packages' model data (no upload trigger watches it). */
  public readonly registryPrefix: string;
  /** The release ledger. */
  public readonly ledger: ReleaseLedger;
  /** The state machine. */
  public readonly stateMachine: sfn.StateMachine;
  /** Notifications: run started, gate failed, approval needed, rollout reverted, released. */
  public readonly topic: sns.Topic;
  /** The dashboard. */
  public readonly dashboard: cloudwatch.Dashboard;
  /** The edge agent component. */
  public readonly agent: EdgeAgentComponent;
  /** Alarms: failed runs, reverts, and serve-mode latency per device class (in class order). */
  public readonly alarms: cloudwatch.Alarm[];
  /** The key of the notification topic and the trigger's dead-letter queue (never of models, packages or tables). */
  public readonly notificationKey: kms.Key;
  private readonly approvalHandler?: BundledHandler;
  /**
   * The state machine each class's rings roll out in (one execution per class and run, started
   * by the pipeline's state machine; its input names the class, the rings and the release).
   */
  public readonly classRolloutStateMachine: sfn.StateMachine;
  /** Every ring of every class. */
  private readonly allRings: EdgeFleet[];

  constructor(scope: Construct, id: string, props: EdgeModelPipelineProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.days(7);
    validate(this, props, timeout);
    const stack = Stack.of(this);
    this.store = props.store ?? new ArtifactStore(this, 'Store');
    this.modelPrefix = props.modelPrefix ?? `${ArtifactStore.MODEL_PREFIX}${props.pipelineName}/`;
    this.metricPipeline = `${stack.stackName}/${props.pipelineName}`;
    // A name no pipeline can take (pipeline names have no dots), so no upload rule watches it.
    this.registryPrefix = `${ArtifactStore.MODEL_PREFIX}${props.pipelineName}.registry/`;
    const key0 = this.store.encryptionKey;
    this.ledger = new ReleaseLedger(this, 'Ledger', { encryptionKey: key0 });
    const componentNamePrefix = props.componentNamePrefix ?? `com.example.${stack.stackName.toLowerCase()}.${props.pipelineName}`;
    const classes = props.deviceClasses;
    this.allRings = classes.flatMap((c) => c.rings);
    const onnxOnly = classes.every((c) => !c.variants || c.variants.length === 0);

    // Notifications and the trigger's dead letters have a key of their own: CloudWatch and
    // EventBridge must use it, and they must never reach the models, packages or tables.
    this.notificationKey = createKey(this, 'NotificationKey', { description: 'cdk-edge-model-pipeline: encrypts the pipeline notifications and the trigger dead letters' });
    const topicKey = this.notificationKey;
    this.topic = new sns.Topic(this, 'Notifications', { masterKey: topicKey, enforceSSL: true, displayName: `${props.pipelineName} edge model pipeline` });

    // Stages.
    const start = new tasks.SnsPublish(this, 'NotifyRunStarted', {
      stateName: 'NotifyRunStarted',
      topic: this.topic,
      message: sfn.TaskInput.fromObject({ 'event': 'RUN_STARTED', 'pipeline': props.pipelineName, 'runId.$': '$.runId', 'model.$': '$.model' }),
      resultPath: sfn.JsonPath.DISCARD,
    });

    const compileStage = this.compileStage(props, onnxOnly);
    const variantNames = (c: PipelineDeviceClass) => (c.variants && c.variants.length ? c.variants.map((v) => v.name!) : [ONNX_VARIANT]);
    const publishing = new ComponentPublishing(this, 'Publish', {
      store: this.store,
      ledger: this.ledger,
      model: props.model,
      componentNamePrefix,
      artifactKind: onnxOnly ? ArtifactKind.ONNX : ArtifactKind.NEO_COMPILED,
      deviceClasses: classes.map((c) => ({ name: c.name, platform: c.platform, variants: variantNames(c) })),
    });
    this.componentNames = publishing.componentNames;

    const fleets = classes.flatMap((c) => [c.canary, ...c.rings]);
    // The pipeline's own agent component: another pipeline or stack never creates the same name and version.
    // Topics of their own, too: this pipeline's rules never read another pipeline's devices.
    const topics = AgentTopics.ofPipeline(stack.stackName, props.pipelineName);
    this.agent = new EdgeAgentComponent(this, 'Agent', { fleets, componentName: `${componentNamePrefix}.EdgeAgent`, topicRoot: topics.root });
    const results = new CanaryResults(this, 'CanaryResults', { store: this.store, topicRoot: topics.root });
    const canaries = this.canaries(classes, results, publishing.componentNames);
    const gate = new QualityGate(this, 'Gate', { store: this.store, classesPath: '$.canaries', thresholds: props.thresholds, pipelineName: this.metricPipeline });

    // Stage durations and run outcomes for the dashboard: a Pass state marks the end of each
    // stage; the run-metrics handler turns the marks into metrics when the run ends.
    const mark = (name: string) => new sfn.Pass(this, `Mark${name}`, {
      stateName: `Mark ${name}`,
      parameters: { 'at.$': '$$.State.EnteredTime' },
      resultPath: `$.marks.${name}`,
    });
    const { recordRun, fail, failedIn } = this.endings(props.pipelineName);
    const gateFailed = fail('GateFailed', 'QualityGateFailed', 'GATE_FAILED', '$.failure');

    // Optional approval.
    const approval = props.approval ? this.approvalStep(props.approval, results, fail, failedIn) : undefined;
    this.approvalHandler = approval?.handler;
    const approvalState = approval?.request;

    // Rollout, class by class: each class's rings roll out in an execution of its own.
    const classRollout = this.classRollout(timeout);
    this.classRolloutStateMachine = classRollout.stateMachine;
    const rollouts = this.rollOutClasses(classes, publishing.componentNames, classRollout, fail);

    const released = new tasks.SnsPublish(this, 'NotifyReleased', {
      stateName: 'NotifyReleased',
      topic: this.topic,
      message: sfn.TaskInput.fromObject({ 'event': 'RELEASED', 'pipeline': props.pipelineName, 'runId.$': '$.runId', 'chosen.$': '$.gate.chosen', 'report.$': '$.gate.htmlReportS3Uri' }),
      resultPath: sfn.JsonPath.DISCARD,
    });

    // Each stage is one state whose every fault ends the run through RUN_FAILED, with the
    // stage, the error and the cause; the designed endings (gate, approval, rollout) keep theirs.
    const stage = (name: string, body: sfn.IChainable, designed?: { errors: string[]; then: sfn.IChainable }) => {
      const s = stageOf(this, name, body);
      if (designed) s.addCatch(designed.then, { errors: designed.errors, resultPath: '$.failure' });
      s.addCatch(failedIn(name), { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
      return s;
    };
    // The rollout's own endings were recorded and notified inside it: the run ends with them.
    const rolloutEnded = new sfn.Fail(this, 'RolloutEnded', { stateName: 'RolloutEnded', errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    const rolloutErrors = [EdgeModelPipelineError.ROLLOUT_REVERTED, EdgeModelPipelineError.ROLLOUT_CANCELED, EdgeModelPipelineError.REVERT_FAILED];

    const definition = sfn.Chain.start(mark('started'))
      .next(new sfn.Pass(this, 'InitRun', { stateName: 'InitRun', comment: 'No class released yet', result: sfn.Result.fromObject({}), resultPath: '$.ringResults' }))
      .next(notifyThen(start, stage('Compile', compileStage)))
      .next(mark('compiled'))
      .next(stage('Publish', publishing))
      .next(mark('published'))
      .next(stage('Canary', canaries))
      .next(mark('evaluated'));
    let cursor = definition.next(stage('Gate', gate, { errors: ['QualityGateFailed'], then: gateFailed })).next(mark('gated'));
    if (approvalState) cursor = cursor.next(approvalState).next(mark('approved'));
    cursor
      .next(stage('Rollout', rollouts, { errors: rolloutErrors, then: rolloutEnded }))
      .next(mark('rolledOut'))
      .next(recordRun('Released', 'RELEASED', notifyThen(released, new sfn.Succeed(this, 'Released', { stateName: 'Released' }))));

    const machine = new PipelineStateMachine(this, 'StateMachine', { definition, timeout });
    this.stateMachine = machine.stateMachine;
    results.grantTaskResponses(this.stateMachine);
    // The Notify states publish to the encrypted topic.
    topicKey.grant(this.stateMachine, 'kms:GenerateDataKey', 'kms:Decrypt');
    if (this.approvalHandler) {
      new iam.Policy(this, 'ApprovalTaskResponses', {
        roles: [this.approvalHandler.role],
        statements: [new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: [this.stateMachine.stateMachineArn] })],
      });
    }


    // Triggers.
    const triggers = props.triggers ?? {};
    this.addTriggers(props, triggers, topicKey);

    // Serve-mode telemetry becomes each class's latency metric; the alarms and dashboard watch it.
    const latency = this.addTelemetry(props, topics);
    this.alarms = this.addAlarms(props, latency);
    this.dashboard = this.addDashboard(props, latency);
    for (const alarm of this.alarms) alarm.addAlarmAction(new cwActions.SnsAction(this.topic));
    this.allowAlarmsToNotify(topicKey);
    this.addOutputs();
  }

  /** What an operator needs to run the pipeline, as stack outputs (README, "An operator's first day"). */
  private addOutputs(): void {
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('StateMachineArn', this.stateMachine.stateMachineArn, 'The pipeline\'s state machine (aws stepfunctions start-execution / describe-execution --state-machine-arn)');
    output('StoreBucketName', this.store.bucket.bucketName, 'The artifact store: models, packages, reports');
    output('ModelPrefix', this.modelPrefix, 'Upload a model under this prefix of the store to start a run');
    output('NotificationTopicArn', this.topic.topicArn, 'Run notifications (subscribe with aws sns subscribe)');
    output('DashboardName', this.dashboard.dashboardName, 'The pipeline\'s CloudWatch dashboard');
    if (this.approvalHandler) output('ApprovalFunctionName', this.approvalHandler.function.functionName, 'Approve or reject a waiting run (aws lambda invoke --function-name)');
  }

  /** The function approvers invoke to approve or reject a waiting run (see {@link grantApprove}); undefined without an approval step. */
  public get approvalFunction(): lambda.IFunction | undefined {
    return this.approvalHandler?.function;
  }

  /** The compile stage: Neo, one job per variant, or on an ONNX Runtime fleet the ONNX model itself. */
  private compileStage(props: EdgeModelPipelineProps, onnxOnly: boolean): sfn.IChainable {
    if (onnxOnly) {
      return new sfn.Pass(this, 'NoCompilation', {
        stateName: 'NoCompilation',
        comment: 'ONNX Runtime fleet: the ONNX model is the artifact',
        parameters: { compiled: [{ 'variant': ONNX_VARIANT, 'target': 'onnxruntime', 'artifactS3Uri.$': '$.model.s3Uri' }], failed: [] },
        resultPath: '$.compile',
      });
    }
    return new NeoCompilation(this, 'Compile', {
      store: this.store,
      namePrefix: props.pipelineName,
      model: ModelSource.fromExecutionInput(props.model),
      // A variant several classes share is compiled once.
      variants: [...new Map(props.deviceClasses.flatMap((c) => c.variants ?? []).map((v) => [v.name, v])).values()],
    });
  }

  /**
   * How a run ends: `recordRun` writes the outcome as metrics (never holding up the run), `fail`
   * builds a designed ending (record, notify with what was released so far, fail), `failedIn`
   * the RUN_FAILED path of a stage.
   */
  private endings(pipelineName: string): { recordRun: RecordRun; fail: FailPath; failedIn: (stage: string) => sfn.IChainable } {
    const runMetrics = new BundledHandler(this, 'RunMetrics', {
      handlerName: 'run-metrics',
      description: 'cdk-edge-model-pipeline: writes stage durations and the run outcome as metrics',
      timeout: Duration.seconds(10),
      memorySize: 128,
    });
    acknowledge(Stack.of(this), 'LAMBDA_INVOKE_VERSIONS', [nagResource(this, `${runMetrics.function.functionArn}:*`)]);
    // Metrics never hold up the run: a failed invocation goes straight on to the notification.
    const recordRun: RecordRun = (name, outcome, then) => {
      const record = runMetrics.invoke(this, `RecordRun${name}`, {
        stateName: `RecordRun${name}`,
        payload: { 'pipeline': this.metricPipeline, 'runId.$': '$.runId', 'outcome': outcome, 'marks.$': '$.marks' },
        resultPath: sfn.JsonPath.DISCARD,
      });
      record.addCatch(then, { resultPath: '$.metricsError' });
      return record.next(then);
    };

    // Every designed ending: record the outcome, notify (what was released so far included), fail.
    const fail: FailPath = (name, error, event, cause, extra = {}) => {
      const notify = new tasks.SnsPublish(this, `Notify${name}`, {
        stateName: `Notify${name}`,
        topic: this.topic,
        message: sfn.TaskInput.fromObject({
          'event': event, 'pipeline': pipelineName, 'runId.$': '$.runId', 'error.$': `${cause}.Error`, 'cause.$': `${cause}.Cause`,
          'report.$': `States.Format('s3://${this.store.bucket.bucketName}/reports/{}/report.html', $.runId)`, 'released.$': '$.ringResults', ...extra,
        }),
        resultPath: sfn.JsonPath.DISCARD,
      });
      const failState = new sfn.Fail(this, `${name}Failed`, { stateName: `${name}Failed`, error, causePath: `${cause}.Cause` });
      notifyThen(notify, failState);
      return recordRun(name, event, notify);
    };
    return { recordRun, fail, failedIn: this.runFailedPath(pipelineName, recordRun) };
  }

  /** The approval step: waits for an approver's decision (the token kept in the canary table); no decision in time is a rejection. */
  private approvalStep(approval: ApprovalOptions, results: CanaryResults, fail: FailPath, failedIn: (stage: string) => sfn.IChainable): { handler: BundledHandler; request: tasks.LambdaInvoke } {
    const approvalTimeout = approval.timeout ?? Duration.days(1);
    const handler = new BundledHandler(this, 'Approval', {
      handlerName: 'approval',
      description: 'cdk-edge-model-pipeline: keeps the approval task token and turns an approver\'s decision into the run\'s next step',
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { APPROVAL_TABLE: results.table.tableName, TOPIC_ARN: this.topic.topicArn },
    });
    results.table.grant(handler.role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    results.table.encryptionKey!.grant(handler.role, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
    handler.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.topic.topicArn] }));
    this.notificationKey.grant(handler.role, 'kms:GenerateDataKey', 'kms:Decrypt');
    acknowledge(Stack.of(this), 'LAMBDA_INVOKE_VERSIONS', [nagResource(this, `${handler.function.functionArn}:*`)]);
    const request = new tasks.LambdaInvoke(this, 'RequestApproval', {
      stateName: 'RequestApproval',
      comment: 'Waits for an approver; no decision in time is a rejection',
      lambdaFunction: handler.function,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        'op': 'request',
        'token': sfn.JsonPath.taskToken,
        'runId.$': '$.runId',
        'reportS3Uri.$': '$.gate.htmlReportS3Uri',
        'chosen.$': '$.gate.chosen',
        'timeoutSeconds': approvalTimeout.toSeconds(),
      }),
      taskTimeout: sfn.Timeout.duration(approvalTimeout),
      resultPath: '$.approval',
      retryOnServiceExceptions: false,
    });
    retryTransient(request, 'lambda:Invoke');
    request.addCatch(fail('Rejected', EdgeModelPipelineError.APPROVAL_REJECTED, 'APPROVAL_REJECTED', '$.failure'), {
      errors: [EdgeModelPipelineError.APPROVAL_REJECTED, sfn.Errors.TIMEOUT],
      resultPath: '$.failure',
    });
    request.addCatch(failedIn('Approval'), { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    return { handler, request };
  }

  /**
   * Serve-mode telemetry (`{topicRoot}/telemetry/{class}/{thing}`, this pipeline's devices only)
   * goes through a rule to a function that writes `DeviceLatencyP90` by Pipeline and DeviceClass
   * (IoT's CloudWatch metric action takes no dimensions). Returns each class's metric.
   */
  private addTelemetry(props: EdgeModelPipelineProps, topics: AgentTopics): { [deviceClass: string]: cloudwatch.Metric } {
    const stack = Stack.of(this);
    const telemetry = new BundledHandler(this, 'Telemetry', {
      handlerName: 'device-telemetry',
      description: 'cdk-edge-model-pipeline: turns serve-mode telemetry into the device latency metric of each class',
      timeout: Duration.seconds(10),
      memorySize: 128,
      environment: { PIPELINE_NAME: this.metricPipeline, DEVICE_CLASSES: props.deviceClasses.map((c) => c.name).join(',') },
    });
    const rule = new iot.CfnTopicRule(this, 'TelemetryRule', {
      topicRulePayload: {
        description: `cdk-edge-model-pipeline ${props.pipelineName}: serve-mode latency p90 by device class`,
        sql: `SELECT latencyMs.p90 AS p90, inferences, topic(${topics.level(2)}) AS deviceClass, topic(${topics.level(3)}) AS thingName FROM '${topics.telemetry}/+/+' WHERE kind = 'telemetry' AND inferences > 0`,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: telemetry.function.functionArn } }],
      },
    });
    telemetry.function.addPermission('FromTelemetryRule', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: rule.attrArn,
      sourceAccount: stack.account,
    });
    return Object.fromEntries(props.deviceClasses.map((c) => [c.name, new cloudwatch.Metric({
      namespace: 'EdgeModelPipeline',
      metricName: 'DeviceLatencyP90',
      statistic: 'Average',
      period: Duration.minutes(5),
      dimensionsMap: { Pipeline: this.metricPipeline, DeviceClass: c.name },
    })]));
  }

  /** Failed runs, reverts, and one latency alarm per class at that class's threshold. */
  private addAlarms(props: EdgeModelPipelineProps, latency: { [deviceClass: string]: cloudwatch.Metric }): cloudwatch.Alarm[] {
    const alarmOf = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number, evaluationPeriods: number, comparisonOperator: cloudwatch.ComparisonOperator) =>
      new cloudwatch.Alarm(this, id, { alarmDescription: `${props.pipelineName}: ${description}`, metric, threshold, evaluationPeriods, comparisonOperator, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING });
    const atLeastOne = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    return [
      alarmOf('FailedRuns', 'a pipeline run failed', this.stateMachine.metricFailed({ period: Duration.minutes(5) }), 1, 1, atLeastOne),
      // A plain metric: CloudWatch alarms cannot watch SEARCH expressions.
      alarmOf('Reverts', 'a rollout was reverted', this.metric('Reverts', 'Sum', { Pipeline: this.metricPipeline }), 1, 1, atLeastOne),
      ...props.deviceClasses.map((c, i) => {
        const ms = latencyAlarmMs(props, c);
        return alarmOf(i === 0 ? 'LatencyRegression' : `LatencyRegression${i}`, `${c.name} devices report a p90 latency above ${ms} ms in serve mode`,
          latency[c.name], ms, 3, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD);
      }),
    ];
  }

  private addDashboard(props: EdgeModelPipelineProps, latency: { [deviceClass: string]: cloudwatch.Metric }): cloudwatch.Dashboard {
    const m = (metricName: string, statistic: string, dimensionsMap: Record<string, string>) => this.metric(metricName, statistic, dimensionsMap);
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({ title: 'Runs', left: [this.stateMachine.metricStarted(), this.stateMachine.metricSucceeded(), this.stateMachine.metricFailed()], width: 12 }),
          new cloudwatch.GraphWidget({ title: 'Run duration', left: [this.stateMachine.metricTime({ statistic: 'Average' })], width: 12 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Stage durations (seconds, finished stages)',
            left: RUN_STAGES.filter((stage) => stage !== 'Approval' || props.approval)
              .map((stage) => m('StageDurationSeconds', 'Average', { Pipeline: this.metricPipeline, Stage: stage }).with({ label: stage })),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Run outcomes',
            left: RUN_OUTCOMES.filter((outcome) => outcome !== 'APPROVAL_REJECTED' || props.approval)
              .map((outcome) => m('Runs', 'Sum', { Pipeline: this.metricPipeline, Outcome: outcome }).with({ label: outcome })),
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Gate verdicts', left: [m('GatePassed', 'Sum', { Pipeline: this.metricPipeline }), m('GateFailed', 'Sum', { Pipeline: this.metricPipeline })], width: 8 }),
          new cloudwatch.GraphWidget({ title: 'Rollouts reverted', left: [this.alarms[1].metric], width: 8 }),
          new cloudwatch.GraphWidget({
            title: 'Device latency p90 (serve mode), by class',
            left: Object.entries(latency).map(([name, metric]) => metric.with({ label: name })),
            width: 8,
            leftAnnotations: props.deviceClasses.map((c) => ({ value: latencyAlarmMs(props, c), label: `${c.name} alarm` })),
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }

  private metric(metricName: string, statistic: string, dimensionsMap: Record<string, string>): cloudwatch.Metric {
    return new cloudwatch.Metric({ namespace: 'EdgeModelPipeline', metricName, statistic, period: Duration.minutes(5), dimensionsMap });
  }

  /**
   * What starts a run: an upload under the pipeline's model prefix, an approved Model Registry
   * package (copied into the registry prefix, which no upload rule watches: one approval, one run).
   */
  private addTriggers(props: EdgeModelPipelineProps, triggers: PipelineTriggers, topicKey: kms.Key): void {
    if (triggers.onModelUpload === false && !triggers.modelPackageGroupName) return;
    const stack = Stack.of(this);

    const trigger = new BundledHandler(this, 'Trigger', {
      handlerName: 'pipeline-trigger',
      description: 'cdk-edge-model-pipeline: starts one run per model version (upload or Model Registry approval)',
      timeout: Duration.minutes(5),
      memorySize: 256,
      environment: { STATE_MACHINE_ARN: this.stateMachine.stateMachineArn, STORE_BUCKET: this.store.bucket.bucketName, MODEL_PREFIX: this.modelPrefix, REGISTRY_PREFIX: this.registryPrefix },
    });
    this.stateMachine.grantStartExecution(trigger.role);
    // Events the trigger could not take are kept, not dropped.
    const triggerDlq = new sqs.Queue(this, 'TriggerDeadLetters', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: topicKey, enforceSSL: true, retentionPeriod: Duration.days(14) });
    acknowledge(triggerDlq, 'DEAD_LETTER_QUEUE');
    // EventBridge's KMS requests carry no aws:SourceArn or aws:SourceAccount: SQS's own
    // encryption context confines the statement to queues of this account (the queue's own
    // ARN would make the key and the queue depend on each other), and this key encrypts
    // no queue but this one.
    topicKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'EventBridgeDeadLetters',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { ArnLike: { 'kms:EncryptionContext:aws:sqs:arn': stack.formatArn({ service: 'sqs', resource: '*' }) } },
    }));
    if (triggers.onModelUpload !== false) {
      new events.Rule(this, 'OnModelUpload', {
        description: `cdk-edge-model-pipeline ${props.pipelineName}: a new model under ${this.modelPrefix} starts a run`,
        eventPattern: { source: ['aws.s3'], detailType: ['Object Created'], detail: { bucket: { name: [this.store.bucket.bucketName] }, object: { key: [{ prefix: this.modelPrefix }] } } },
        targets: [new targets.LambdaFunction(trigger.function, { retryAttempts: 3, deadLetterQueue: triggerDlq })],
      });
    }
    if (triggers.modelPackageGroupName) {
      new events.Rule(this, 'OnModelApproved', {
        description: `cdk-edge-model-pipeline ${props.pipelineName}: an approved package of ${triggers.modelPackageGroupName} starts a run`,
        eventPattern: {
          source: ['aws.sagemaker'],
          detailType: ['SageMaker Model Package State Change'],
          detail: { ModelPackageGroupName: [triggers.modelPackageGroupName], ModelApprovalStatus: ['Approved'] },
        },
        targets: [new targets.LambdaFunction(trigger.function, { retryAttempts: 3, deadLetterQueue: triggerDlq })],
      });
      const packages = stack.formatArn({ service: 'sagemaker', resource: 'model-package', resourceName: `${triggers.modelPackageGroupName.toLowerCase()}/*`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
      trigger.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeModelPackage'], resources: [packages] }));
      // The registry's model data may be in any bucket of the account: the trigger copies it into the store.
      trigger.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:' + Stack.of(this).partition + ':s3:::*/*'], conditions: { StringEquals: { 's3:ResourceAccount': stack.account } } }));
      acknowledge(trigger.role, 'REGISTRY_MODEL_DATA', ['Resource::arn:<AWS::Partition>:s3:::*/*', nagResource(trigger.role, packages)]);
      // Only a registry trigger copies the package's model data, into its own prefix.
      this.store.grantWrite(trigger.role, this.registryPrefix);
    }
  }

  /**
   * The run-level failure path: `failedIn(stage)` records the stage, then RUN_FAILED is recorded
   * and notified (stage, error, cause, and the classes released so far) and the run fails with
   * the error it met.
   */
  private runFailedPath(pipelineName: string, recordRun: (name: string, outcome: string, then: sfn.IChainable) => sfn.Chain): (stage: string) => sfn.IChainable {
    const notify = new tasks.SnsPublish(this, 'NotifyRunFailed', {
      stateName: 'NotifyRunFailed',
      topic: this.topic,
      message: sfn.TaskInput.fromObject({
        'event': 'RUN_FAILED', 'pipeline': pipelineName, 'runId.$': '$.runId', 'stage.$': '$.failedStage',
        'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause', 'released.$': '$.ringResults',
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    notifyThen(notify, new sfn.Fail(this, 'RunFailed', { stateName: 'RunFailed', errorPath: '$.failure.Error', causePath: '$.failure.Cause' }));
    const recorded = recordRun('Failed', 'RUN_FAILED', notify);
    return (stage: string) => new sfn.Pass(this, `FailedIn${stage}`, { stateName: `FailedIn${stage}`, result: sfn.Result.fromString(stage), resultPath: '$.failedStage' }).next(recorded);
  }

  /**
   * The canary stage: every class's canary, one after another, as a Map over the classes' canary
   * data (one copy of the canary states, which read their class from the item): a class more adds
   * an item, not states. The result is each class's `{ deviceClass, variants }`, in class order.
   */
  private canaries(classes: PipelineDeviceClass[], results: CanaryResults, componentNames: Record<string, string>): sfn.Chain {
    const data = classes.map((c): CanaryClassData => ({
      deviceClass: c.name,
      group: c.canary.thingGroupName,
      groupArn: c.canary.thingGroupArn,
      modelComponentName: componentNames[c.name],
      artifactsDir: unarchivedArtifactsDir(componentNames[c.name]),
      datasetPath: c.datasetPath,
      quorumPercentage: c.quorumPercentage ?? 100,
    }));
    const plan = new sfn.Pass(this, 'CanaryPlan', { stateName: 'CanaryPlan', comment: 'Each class\'s canary group and what its devices run', result: sfn.Result.fromArray(data), resultPath: '$.canaryPlan' });
    const canary = new CanaryStates(new Construct(this, 'Canary'), {
      target: 'input',
      // Every class's canary waits up to an hour for its devices, a result at least every hour.
      timeouts: { timeoutSeconds: 3600, heartbeatSeconds: 3600 },
      fleets: classes.map((c) => c.canary),
      results,
      agent: this.agent,
      candidatesPath: '$.published.candidates',
      stateName: (state) => `canary: ${state}`,
      beforePath: '$.canaryBefore',
      outputPath: '$.canary',
    });
    const map = new sfn.Map(this, 'Canaries', {
      stateName: 'Canaries',
      comment: 'Class after class: each class\'s candidates on its canary group',
      itemsPath: '$.canaryPlan',
      // ComponentPublishing lists the classes in class order.
      itemSelector: { 'runId.$': '$.runId', 'canaryClass.$': '$$.Map.Item.Value', 'published.$': 'States.ArrayGetItem($.publish.classes, $$.Map.Item.Index)' },
      maxConcurrency: 1,
      resultPath: '$.canaries',
    });
    map.itemProcessor(canary.startState);
    return sfn.Chain.start(plan).next(map);
  }

  /** The class-rollout state machine, and the one ledger function of every ring of every class (each call names its group). */
  private classRollout(timeout: Duration): ClassRollout {
    // One ledger function for every ring of every class: each call names its group.
    const ledger = new BundledHandler(this, 'RingLedger', {
      handlerName: 'rollout-ledger',
      description: 'cdk-edge-model-pipeline: keeps the release ledger of the rings (last good releases, verdicts, what to revert them to)',
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { LEDGER_TABLE: this.ledger.table.tableName, PIPELINE_NAME: this.metricPipeline },
    });
    this.ledger.grantWrite(ledger.role);
    acknowledge(Stack.of(this), 'LAMBDA_INVOKE_VERSIONS', [nagResource(this, `${ledger.function.functionArn}:*`)]);
    // Scoped to every ring of the pipeline: one statement for all rings stays one as classes grow.
    const classRollout = new ClassRollout(this, 'ClassRollout', { ledger, fleets: this.allRings, timeout });
    // The grant StepFunctionsStartExecution makes to wait for the executions it starts.
    const stack = Stack.of(this);
    const executions = stack.formatArn({
      service: 'states', resource: 'execution', arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${stack.splitArn(classRollout.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}*`,
    });
    acknowledge(stack, 'CHILD_EXECUTIONS', [nagResource(this, executions)]);
    return classRollout;
  }

  /**
   * The rollout stage: for each class, the serve configuration and the release, then an
   * execution of the pipeline's one class-rollout state machine (its rings, one after another),
   * whose outcome decides what follows: the next class, or the class's designed ending (recorded,
   * notified with its rings' outcomes, failed). One class's rollout adds four small states here,
   * and its polls fill its own execution's history, not the run's.
   */
  private rollOutClasses(classes: PipelineDeviceClass[], componentNames: Record<string, string>, classRollout: ClassRollout, fail: FailPath): sfn.IChainable {
    const ended = '$.classRollout.Output';
    const rings = { 'rings.$': `${ended}.rings`, 'ringOutcomes.$': `${ended}.ringOutcomes`, 'deviceClass.$': `${ended}.deviceClass`, 'classRollout.$': '$.classRollout.ExecutionArn' };
    const reverted = fail('Reverted', EdgeModelPipelineError.ROLLOUT_REVERTED, 'ROLLOUT_REVERTED', `${ended}.failure`, rings);
    const canceled = fail('Canceled', EdgeModelPipelineError.ROLLOUT_CANCELED, 'ROLLOUT_CANCELED', `${ended}.failure`, rings);
    const revertFailed = fail('RevertFailed', EdgeModelPipelineError.REVERT_FAILED, 'REVERT_FAILED', `${ended}.failure`, rings);
    // Nothing was deployed (the rings' releases could not be read): the run fails with that error.
    const faulted = new sfn.Fail(this, 'ClassRolloutFaulted', { stateName: 'ClassRolloutFaulted', errorPath: `${ended}.failure.Error`, causePath: `${ended}.failure.Cause` });

    let first: sfn.State | undefined;
    let previous: sfn.INextable | undefined;
    const worstHistory = { events: 0, name: '', rings: 0 };
    classes.forEach((c, i) => {
      const settings = rolloutSettings({ rollout: c.rollout, abortCriteria: c.abortCriteria });
      settings.problems.throwIfAny(new Construct(this, `Rollout${i}`));
      const events = c.rings.length * ringHistoryEvents(settings.options.settings.budgetSeconds, settings.options.settings.pollSeconds);
      if (events > worstHistory.events) Object.assign(worstHistory, { events, name: c.name, rings: c.rings.length });
      const serve = this.serveConfiguration(i, c, componentNames[c.name]);
      const start = new tasks.StepFunctionsStartExecution(this, `RollOut${i}`, {
        stateName: `${c.name}: RollOut`,
        comment: 'The class\'s rings, one after another, in an execution of the class-rollout state machine',
        stateMachine: classRollout.stateMachine,
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        associateWithParent: true,
        input: sfn.TaskInput.fromObject({
          'runId.$': '$.runId',
          'deviceClass': c.name,
          'rings': c.rings.map((r) => ({ group: r.thingGroupName, groupArn: r.thingGroupArn })),
          'settings': rolloutSettingsData(settings.options.settings),
          'release': { components: this.releaseComponents(ck(c), componentNames[c.name]) },
        }),
        resultSelector: { 'Output.$': '$.Output', 'ExecutionArn.$': '$.ExecutionArn' },
        resultPath: '$.classRollout',
      });
      retryTransient(start, 'states:StartExecution');
      const released = new sfn.Pass(this, `Released${i}`, { stateName: `${c.name}: Released`, inputPath: `${ended}.rings`, resultPath: `$.ringResults.${ck(c)}` });
      const outcome = (value: ClassRolloutOutcome) => sfn.Condition.stringEquals(`${ended}.outcome`, value);
      serve.next(start).next(new sfn.Choice(this, `RolloutOutcome${i}`, { stateName: `${c.name}: RolloutOutcome` })
        .when(outcome(ClassRolloutOutcome.RELEASED), released)
        .when(outcome(ClassRolloutOutcome.REVERTED), reverted)
        .when(outcome(ClassRolloutOutcome.CANCELED), canceled)
        .when(outcome(ClassRolloutOutcome.REVERT_FAILED), revertFailed)
        .otherwise(faulted));
      if (previous) previous.next(serve);
      else first = serve;
      previous = released;
    });
    this.warnAboutHistory(worstHistory);
    return first!;
  }

  /** The configuration the edge agent serves class `c`'s release with (the variant the gate chose), in `$.serveConfiguration`. */
  private serveConfiguration(i: number, c: PipelineDeviceClass, componentName: string): sfn.Pass {
    const release = `$.gate.releases.${ck(c)}`;
    return new sfn.Pass(this, `ServeConfiguration${i}`, {
      stateName: `${c.name}: ServeConfiguration`,
      comment: 'The edge agent serves the chosen variant and reports latency telemetry',
      parameters: {
        'mode': AgentMode.SERVE,
        'deviceClass': c.name,
        'runId.$': '$.runId',
        'variant.$': `${release}.variant`,
        'modelPath.$': `States.Format('${unarchivedArtifactsDir(componentName)}/{}/{}', ${release}.componentVersion, ${release}.sha256)`,
      },
      resultPath: '$.serveConfiguration',
    });
  }

  /** CreateDeployment's Components for a class's release: the version the gate chose, and the agent serving it. */
  private releaseComponents(classKey: string, componentName: string): Record<string, unknown> {
    return {
      [componentName]: { 'ComponentVersion.$': `$.gate.releases.${classKey}.componentVersion` },
      [this.agent.componentName]: {
        ComponentVersion: this.agent.componentVersion,
        ConfigurationUpdate: { 'Merge.$': 'States.JsonToString($.serveConfiguration)' },
      },
    };
  }

  /**
   * A Standard execution keeps at most 25,000 history events, and the rings' polls are nearly all
   * of a class rollout's: when every ring of a class polling until its time budget would pass
   * that, a rollout that slow would be failed midway with its rings half rolled out. A warning,
   * since rings settle long before their budget in most runs; `npm run bench` measures the worst
   * case by fleet shape.
   */
  private warnAboutHistory(worst: { events: number; name: string; rings: number }): void {
    if (worst.events <= HISTORY_EVENTS_FOR_RINGS) return;
    Annotations.of(this).addWarningV2('cdk-edge-model-pipeline:history-limit', `deviceClasses: the ${worst.rings} rings of ${worst.name}, each polling until its time budget, can write ${worst.events} history events in its rollout execution; Step Functions keeps 25,000 and fails an execution past them, its rings half rolled out. Use fewer rings for the class (split it into classes), or faster rollout rates so rings settle sooner.`);
  }

  /**
   * The topic policy replaces SNS's default policy, and the topic is encrypted: CloudWatch may
   * publish this pipeline's alarms to it, and use its key for them, and nothing else.
   */
  private allowAlarmsToNotify(topicKey: kms.IKey): void {
    const stack = Stack.of(this);
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.topic.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'PipelineAlarms',
      principals: [cloudwatchService],
      actions: ['sns:Publish'],
      resources: [this.topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnEquals: { 'aws:SourceArn': this.alarms.map((a) => a.alarmArn) } },
    }));
    // The key cannot name the alarms (alarm → topic → key would be a cycle): it names this
    // account's alarms, and the topic policy above decides which of them may publish.
    topicKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AccountAlarms',
      principals: [cloudwatchService],
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
  }

  /** Lets `grantee` start runs (StartExecution on the state machine). */
  public grantStartRun(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /**
   * Lets `grantee` upload models under the pipeline's model prefix (an upload starts a run), and
   * start runs by hand: what a CI role needs.
   */
  public grantUploadModel(grantee: iam.IGrantable): iam.Grant {
    // The CLI and the SDKs upload a large model in parts.
    this.store.grantWrite(grantee, this.modelPrefix, { multipart: true });
    return this.grantStartRun(grantee);
  }

  /** Lets `grantee` read run reports (the store's `reports/`). */
  public grantReadReports(grantee: iam.IGrantable): iam.Grant {
    return this.store.grantRead(grantee, ArtifactStore.REPORT_PREFIX);
  }

  /** Lets `grantee` approve or reject runs waiting for approval (invoke the approval function). */
  public grantApprove(grantee: iam.IGrantable): iam.Grant {
    if (!this.approvalHandler) throw new Error(`${this.node.path}: this pipeline has no approval step; set the approval prop`);
    return this.approvalHandler.function.grantInvoke(grantee);
  }
}

/** What Neo is asked to do for a variant: its target and compiler options (two classes' variants of one name must agree). */
function compileRequest(v: CompilationVariant): string {
  return JSON.stringify([v.target.targetDevice ?? null, v.target.targetPlatform ?? null, v.compilerOptions?.render() ?? null]);
}

/** What the rings may write of an execution's 25,000 history events; the rest is for everything else a run does. */
const HISTORY_EVENTS_FOR_RINGS = 22_000;

/**
 * The most history events one ring's rollout writes: 9 a poll (Wait 2, DescribeJob 5, Choice 2)
 * for as many polls as its budget holds, and 41 for its other states (measured in the local
 * executor: bench/history.ts).
 */
function ringHistoryEvents(budgetSeconds: number, pollSeconds: number): number {
  return 9 * Math.ceil(budgetSeconds / pollSeconds) + 41;
}

/** The p90 latency (ms) over which a class's latency alarm fires. */
function latencyAlarmMs(props: EdgeModelPipelineProps, c: PipelineDeviceClass): number {
  const threshold = c.latencyAlarmThreshold ?? props.latencyAlarmThreshold ?? props.thresholds.maxP90Latency;
  return threshold?.toMilliseconds({ integral: false }) ?? 100;
}

function validate(scope: Construct, props: EdgeModelPipelineProps, timeout: Duration): void {
  const problems = new ProblemCollector();
  const name = props.pipelineName;
  if (!isUnresolved(name) && (name.length > NAME_PREFIX_MAX || !NAME_PREFIX_PATTERN.test(name))) {
    problems.add('pipelineName', name, `Use 1-${NAME_PREFIX_MAX} lower-case letters, digits and single dashes (it prefixes job names and IAM scopes).`);
  }
  if (props.deviceClasses.length === 0) problems.add('deviceClasses', [], 'Give at least one device class with its canary and fleet groups.');
  addRegionProblems(problems, scope);
  const names = new Map<string, number>();
  const groups = new Map<string, string>();
  const variants = new Map<string, { deviceClass: string; request: string }>();
  const neo = props.deviceClasses.filter((c) => c.variants && c.variants.length > 0).length;
  if (neo > 0) problems.addAll('model', modelDescriptionProblems(props.model));
  if (neo > 0 && neo < props.deviceClasses.length) {
    problems.add('deviceClasses', props.deviceClasses.map((c) => c.name), 'Compile every class with Neo, or none (an ONNX Runtime fleet): a run carries one kind of artifact.');
  }
  props.deviceClasses.forEach((c, i) => {
    const p = `deviceClasses[${i}]`;
    if (names.has(c.name)) problems.add(`${p}.name`, c.name, `deviceClasses[${names.get(c.name)}] has the same name: each class once.`);
    names.set(c.name, i);
    if (!c.canary) problems.add(`${p}.canary`, undefined, 'Give the canary fleet: a candidate is tested on real devices before any fleet gets it.');
    if (!c.rings || c.rings.length === 0) problems.add(`${p}.rings`, [], 'Give at least one fleet group to roll out to.');
    if (c.canary && c.canary.deviceClass !== c.name) problems.add(`${p}.canary`, c.canary.deviceClass, `The canary fleet is of class ${c.canary.deviceClass}, not ${c.name}.`);
    const seen = (group: string, role: string) => {
      const other = groups.get(group);
      if (other) problems.add(p, group, `Thing group ${group} is both ${other} and ${role}: a group is a canary or a ring of one class, never both.`);
      groups.set(group, role);
    };
    if (c.canary) seen(c.canary.thingGroupName, `the canary of ${c.name}`);
    (c.rings ?? []).forEach((r, j) => {
      seen(r.thingGroupName, `ring ${j + 1} of ${c.name}`);
      if (r.deviceClass !== c.name) problems.add(`${p}.rings[${j}]`, r.deviceClass, `The ring is a fleet of class ${r.deviceClass}, not ${c.name}.`);
    });
    (c.variants ?? []).forEach((v, j) => {
      // What the compile stage would refuse, under the user's path to the variant: one error for every problem.
      problems.addAll(`${p}.variants[${j}]`, variantProblems(v));
      if (!v.name) {
        problems.add(`${p}.variants[${j}].name`, v.target.label, 'Name every variant of a pipeline (the name ties the variant to its class).');
        return;
      }
      // Classes may share a variant (one compile, one package, a component per class): the same name is the same compile.
      const earlier = variants.get(v.name);
      if (earlier && earlier.request !== compileRequest(v)) {
        problems.add(`${p}.variants`, v.name, `${earlier.deviceClass} has a variant with the same name that compiles for another target or with other options: a name is one compile in the pipeline (share the variant, or rename one).`);
      }
      if (!earlier) variants.set(v.name, { deviceClass: c.name, request: compileRequest(v) });
    });
    if (!isUnresolved(c.datasetPath) && !c.datasetPath.startsWith('/')) problems.add(`${p}.datasetPath`, c.datasetPath, 'Give the absolute path of dataset.json on the canary devices.');
    // The canary's states read it from the class's data: checked here, as CanaryEvaluation checks its own.
    checkIntegerRange(problems, `${p}.quorumPercentage`, c.quorumPercentage, 1, 100);
  });
  const prefix = props.modelPrefix;
  if (prefix !== undefined && !isUnresolved(prefix) && (!prefix.startsWith(ArtifactStore.MODEL_PREFIX) || !prefix.endsWith('/') || prefix.includes('.registry/') || /\/\//.test(prefix))) {
    problems.add('modelPrefix', prefix, `Give a prefix under the store's ${ArtifactStore.MODEL_PREFIX} (compilation reads only there) that ends with "/", such as "${ArtifactStore.MODEL_PREFIX}${name}/" (".registry/" is the Model Registry trigger's own).`);
  }
  addThresholdProblems(problems, props.thresholds);
  checkIntegerRange(problems, 'timeout', timeout.toSeconds(), 60, 365 * 86400, 'seconds');
  if (props.approval?.timeout && props.approval.timeout.toSeconds() >= timeout.toSeconds()) {
    problems.add('approval.timeout', `${props.approval.timeout.toSeconds()} seconds`, `An approval cannot wait longer than the run may take (${timeout.toSeconds()} seconds): shorten it, or raise timeout.`);
  }
  problems.throwIfAny(scope);
}
