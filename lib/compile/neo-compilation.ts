import { ArnFormat, Aws, Duration, Names, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { retryTransient } from '../core/retries';
import { checkIntegerRange, isUnresolved, ProblemCollector, PropProblem } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { NAME_PREFIX_MAX, NAME_PREFIX_PATTERN, VARIANT_NAME_MAX, VARIANT_NAME_PATTERN, slug } from '../core/naming';
import { ArtifactStore, grantBucketObjectsRead, grantObjectRead } from '../package/artifact-store';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { CompilerOptions } from './compiler-options';
import { inputListProblems, renderDataInputConfig } from './input-shape';
import { ModelDescription, ModelSource, ModelSourceKind } from './model-source';
import { TargetDevice } from './target';
import { CompilationVariant, VariantFailurePolicy } from './variant';

/** Error names the fragment ends with. */
export enum NeoCompilationError {
  /** The execution input is not what the fragment expects (run id, model URI). */
  INPUT_INVALID = 'CompileInputInvalid',
  /** The model archive is not one Neo would accept (checked before any job starts). */
  MODEL_ARCHIVE_INVALID = 'ModelArchiveInvalid',
  /** A compilation job ended FAILED; the cause is Neo's `FailureReason`. */
  COMPILATION_FAILED = 'NeoCompilationFailed',
  /** A compilation job ended STOPPED. */
  COMPILATION_STOPPED = 'NeoCompilationStopped',
  /** A compilation job ran past the time budget and was stopped. */
  COMPILATION_TIMED_OUT = 'NeoCompilationTimedOut',
  /** Under CONTINUE_WITH_COMPILED, no variant compiled. */
  ALL_VARIANTS_FAILED = 'NeoAllVariantsFailed',
}

/**
 * Props for {@link NeoCompilation}.
 */
export interface NeoCompilationProps {
  /** Where the model is read from (when it is in the store) and compiled artifacts are written. */
  readonly store: ArtifactStore;
  /** The model to compile. */
  readonly model: ModelSource;
  /** The variants to compile: one job each, all in one Map. */
  readonly variants: CompilationVariant[];
  /**
   * The prefix of every compilation job name; IAM policies are scoped to job
   * ARNs with this prefix. Lower-case letters, digits and single dashes, at
   * most 24 characters.
   *
   * @default 'edge-model'
   */
  readonly namePrefix?: string;
  /**
   * How many compilation jobs run at once.
   *
   * @default 4
   */
  readonly maxConcurrency?: number;
  /**
   * How long to wait between two status checks of a job: 10 seconds to 10 minutes.
   *
   * @default Duration.seconds(30)
   */
  readonly pollInterval?: Duration;
  /**
   * How long the compile stage may take, counted from its start (including
   * time a variant waits for a concurrency slot): 5 minutes to 24 hours. A
   * job still running then is stopped and its variant fails. It is also the
   * job's `MaxRuntimeInSeconds`.
   *
   * @default Duration.minutes(30)
   */
  readonly timeBudget?: Duration;
  /**
   * What one failing variant does to the run.
   *
   * @default VariantFailurePolicy.FAIL_RUN
   */
  readonly variantFailurePolicy?: VariantFailurePolicy;
  /**
   * The role SageMaker assumes to compile. It must read the model and write
   * the store's `compiled/` prefix.
   *
   * @default - a role that reads only the model, writes only `compiled/` and
   * logs only to `/aws/sagemaker/CompilationJobs`
   */
  readonly role?: iam.IRole;
}

/** A variant after validation, as the preflight receives it. */
interface ResolvedVariant {
  readonly name: string;
  readonly target: string;
  readonly outputConfig: { [key: string]: unknown };
  readonly dataInputConfig?: string;
}

const DEFAULT_PREFIX = 'edge-model';

/**
 * Compiles one model with SageMaker Neo for every variant, as a Step
 * Functions fragment.
 *
 * **Input**: `{ "runId": "…" }` — letters, digits, `.`, `_`, `-`, at most 80
 * characters; the same run id always names the same jobs, so a re-run finds
 * the jobs it started. With `ModelSource.fromExecutionInput()` the input also
 * holds the model's `s3://` URI (default `$.model.s3Uri`).
 *
 * **Output**: the input, with `compile` set to
 * `{ "compiled": [variant…], "failed": [failure…] }`. A compiled variant is
 * `{ variant, target, jobName, jobArn, artifactS3Uri, artifactDigest,
 * compileSeconds }`; a failure is `{ variant, target, jobName, error, cause }`
 * (only under `CONTINUE_WITH_COMPILED`).
 *
 * **Errors**: see {@link NeoCompilationError}: `CompileInputInvalid`,
 * `ModelArchiveInvalid` (before any job starts), `NeoCompilationFailed`,
 * `NeoCompilationStopped`, `NeoCompilationTimedOut`, `NeoAllVariantsFailed`.
 *
 * State names are fixed (`CompilePreflight`, `CompileVariants`,
 * `CreateCompilationJob`, …): use one `NeoCompilation` per state machine.
 */
export class NeoCompilation extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** The role SageMaker assumes for the jobs. */
  public readonly role: iam.IRole;
  /** The prefix of every job name. */
  public readonly namePrefix: string;
  /** The variant names, in order. */
  public readonly variantNames: string[];

  constructor(scope: Construct, id: string, props: NeoCompilationProps) {
    super(scope, id);
    const namePrefix = props.namePrefix ?? DEFAULT_PREFIX;
    const pollSeconds = props.pollInterval?.toSeconds() ?? 30;
    const budgetSeconds = props.timeBudget?.toSeconds() ?? 30 * 60;
    const policy = props.variantFailurePolicy ?? VariantFailurePolicy.FAIL_RUN;
    const variants = validate(this, props, namePrefix, pollSeconds, budgetSeconds);
    this.namePrefix = namePrefix;
    this.variantNames = variants.map((v) => v.name);

    const stack = Stack.of(this);
    const store = props.store;
    const jobArnPattern = stack.formatArn({
      service: 'sagemaker',
      resource: 'compilation-job',
      resourceName: `${namePrefix}-*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });

    this.role = props.role ?? this.createRole(props, jobArnPattern);

    // Preflight: validate the input, open the archive, name the jobs.
    const preflight = new BundledHandler(this, 'Preflight', {
      handlerName: 'compile-preflight',
      description: 'cdk-edge-model-pipeline: checks a model archive before Neo compiles it and names the compilation jobs',
      timeout: Duration.minutes(5),
      memorySize: 1024,
    });
    this.grantModelRead(props.model, store, preflight.role);

    const source = props.model;
    const description = source.description;
    const sourcePayload: { [key: string]: unknown } = { kind: source.kind };
    if (source.kind === ModelSourceKind.BUCKET) {
      sourcePayload.s3Uri = `s3://${source.bucket!.bucketName}/${source.key}`;
    } else if (source.kind === ModelSourceKind.EXECUTION_INPUT) {
      sourcePayload['s3Uri.$'] = source.s3UriPath;
      sourcePayload.allowedBucket = store.bucket.bucketName;
      sourcePayload.allowedPrefix = ArtifactStore.MODEL_PREFIX;
    } else {
      sourcePayload.modelPackageVersionArn = source.modelPackageVersionArn;
    }
    const inputConfig = description ? {
      Framework: description.framework,
      FrameworkVersion: description.frameworkVersion?.version,
    } : undefined;

    const preflightState = preflight.invoke(this, 'CompilePreflight', {
      comment: 'Checks the run input and the model archive; names one compilation job per variant',
      payload: {
        'runId.$': '$.runId',
        'source': sourcePayload,
        'inputConfig': inputConfig ? stripUndefined(inputConfig) : null,
        'inputNames': (description?.inputs ?? []).map((i) => i.name).filter((n) => n !== undefined),
        'jobNamePrefix': namePrefix,
        // Unique to this stage in the account: a dev and a prod copy with one prefix never share a job name.
        'jobNameScope': `${Stack.of(this).stackName}/${Names.uniqueId(this)}`,
        'output': {
          bucket: store.bucket.bucketName,
          prefix: ArtifactStore.COMPILED_PREFIX,
          kmsKeyId: store.encryptionKey?.keyArn ?? null,
        },
        'budgetSeconds': budgetSeconds,
        'variants': variants.map((v) => stripUndefined({ ...v })),
      },
      resultPath: '$.compile',
    });

    // Per variant: create, then Wait -> Describe -> Choice until terminal.
    const create = new tasks.CallAwsService(this, 'CreateCompilationJob', {
      stateName: 'CreateCompilationJob',
      comment: 'Starts the Neo compilation job of one variant (ResourceInUse: it exists already, go on polling it)',
      service: 'sagemaker',
      action: 'createCompilationJob',
      iamAction: 'sagemaker:CreateCompilationJob',
      iamResources: [jobArnPattern],
      parameters: {
        'CompilationJobName.$': '$.job.jobName',
        'RoleArn': this.role.roleArn,
        ...(source.kind === ModelSourceKind.MODEL_PACKAGE
          ? { ModelPackageVersionArn: source.modelPackageVersionArn }
          : { 'InputConfig.$': '$.job.inputConfig' }),
        'OutputConfig.$': '$.job.outputConfig',
        'StoppingCondition': { MaxRuntimeInSeconds: budgetSeconds },
      },
      additionalIamStatements: [
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.role.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
        }),
        ...(source.kind === ModelSourceKind.MODEL_PACKAGE ? [new iam.PolicyStatement({
          actions: ['sagemaker:DescribeModelPackage'],
          resources: [source.modelPackageVersionArn!],
        })] : []),
      ],
      resultSelector: { 'CompilationJobArn.$': '$.CompilationJobArn' },
      resultPath: '$.created',
    });
    // Too many jobs at once in the account: wait for a slot.
    create.addRetry({
      errors: ['SageMaker.ResourceLimitExceededException'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 8,
      maxDelay: Duration.minutes(5),
      jitterStrategy: sfn.JitterType.FULL,
    });
    retryTransient(create, 'sagemaker:CreateCompilationJob', { interval: Duration.seconds(5) });

    const wait = new sfn.Wait(this, 'WaitForCompilation', {
      stateName: 'WaitForCompilation',
      time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)),
    });
    const describe = new tasks.CallAwsService(this, 'DescribeCompilationJob', {
      stateName: 'DescribeCompilationJob',
      service: 'sagemaker',
      action: 'describeCompilationJob',
      iamAction: 'sagemaker:DescribeCompilationJob',
      iamResources: [jobArnPattern],
      parameters: { 'CompilationJobName.$': '$.job.jobName' },
      resultSelector: { 'Job.$': '$', 'CheckedAt.$': '$$.State.EnteredTime' },
      resultPath: '$.describe',
    });
    retryTransient(describe, 'sagemaker:DescribeCompilationJob', { interval: Duration.seconds(5) });
    const stop = this.stopJobTask('StopCompilationJob', jobArnPattern, '$.job.jobName', 'The time budget is spent: stop the job before the variant fails');

    const succeeded = new sfn.Pass(this, 'CompilationSucceeded', {
      stateName: 'CompilationSucceeded',
      parameters: {
        'variant.$': '$.job.variant',
        'target.$': '$.job.target',
        'jobName.$': '$.job.jobName',
        'status': 'COMPLETED',
        'job.$': '$.describe.Job',
      },
    });

    const timedOutCause = `The compile stage's time budget of ${budgetSeconds} seconds was spent before the job ended; the job was stopped.`;
    let failed: sfn.IChainable;
    let stopped: sfn.IChainable;
    let timedOut: sfn.IChainable;
    let unexpected: sfn.IChainable | undefined;
    if (policy === VariantFailurePolicy.FAIL_RUN) {
      failed = new sfn.Fail(this, 'CompilationFailed', {
        stateName: 'CompilationFailed',
        error: NeoCompilationError.COMPILATION_FAILED,
        causePath: '$.describe.Job.FailureReason',
      });
      stopped = new sfn.Fail(this, 'CompilationStopped', {
        stateName: 'CompilationStopped',
        error: NeoCompilationError.COMPILATION_STOPPED,
        causePath: '$.describe.Job.FailureReason',
      });
      timedOut = new sfn.Fail(this, 'CompilationTimedOut', {
        stateName: 'CompilationTimedOut',
        error: NeoCompilationError.COMPILATION_TIMED_OUT,
        cause: timedOutCause,
      });
    } else {
      const record = (name: string, error: string, cause: { [key: string]: string }) => new sfn.Pass(this, name, {
        stateName: name,
        parameters: {
          'variant.$': '$.job.variant',
          'target.$': '$.job.target',
          'jobName.$': '$.job.jobName',
          'status': 'FAILED',
          ...(error.startsWith('$') ? { 'error.$': error } : { error }),
          ...cause,
        },
      });
      failed = record('RecordCompilationFailed', NeoCompilationError.COMPILATION_FAILED, { 'cause.$': '$.describe.Job.FailureReason' });
      stopped = record('RecordCompilationStopped', NeoCompilationError.COMPILATION_STOPPED, { 'cause.$': '$.describe.Job.FailureReason' });
      timedOut = record('RecordCompilationTimedOut', NeoCompilationError.COMPILATION_TIMED_OUT, { cause: timedOutCause });
      unexpected = record('RecordVariantError', '$.error.Error', { 'cause.$': '$.error.Cause' });
    }

    create.addCatch(wait, { errors: ['SageMaker.ResourceInUseException'], resultPath: '$.created' });
    create.next(wait);
    wait.next(describe);
    stop.next(timedOut);
    if (unexpected) {
      for (const task of [create, describe]) task.addCatch(unexpected, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      stop.addCatch(timedOut, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    } else {
      // A job that cannot be stopped (it ended meanwhile) still fails the variant as timed out.
      stop.addCatch(timedOut, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
    }
    describe.next(new sfn.Choice(this, 'CheckCompilationStatus', { stateName: 'CheckCompilationStatus' })
      .when(sfn.Condition.stringEquals('$.describe.Job.CompilationJobStatus', 'COMPLETED'), succeeded)
      .when(sfn.Condition.stringEquals('$.describe.Job.CompilationJobStatus', 'FAILED'), failed)
      .when(sfn.Condition.stringEquals('$.describe.Job.CompilationJobStatus', 'STOPPED'), stopped)
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath('$.describe.CheckedAt', '$.deadline'), stop)
      .otherwise(wait));

    const map = new sfn.Map(this, 'CompileVariants', {
      stateName: 'CompileVariants',
      comment: 'One Neo compilation job per variant',
      itemsPath: '$.compile.jobs',
      itemSelector: {
        'job.$': '$$.Map.Item.Value',
        'deadline.$': '$.compile.deadline',
      },
      maxConcurrency: props.maxConcurrency ?? 4,
      resultPath: '$.compile.results',
    });
    map.itemProcessor(create);
    // A variant that ends the stage, or a fault, stops the Map while other jobs may still run:
    // stop every job of the run first, then end with the error met.
    map.addCatch(this.stopEveryJob(jobArnPattern), { errors: [sfn.Errors.ALL], resultPath: '$.compileError' });

    const summary = new BundledHandler(this, 'Summary', {
      handlerName: 'compile-summary',
      description: 'cdk-edge-model-pipeline: summarizes the Neo compilation jobs of a run (artifacts, digests, durations)',
      timeout: Duration.seconds(30),
      memorySize: 256,
    });
    const summaryState = summary.invoke(this, 'SummarizeCompilation', {
      payload: { 'runId.$': '$.runId', 'policy': policy, 'results.$': '$.compile.results' },
      resultPath: '$.compile',
    });

    // The state machine role is the user's: acknowledge, stack-wide, only the
    // findings that name this fragment's own resources.
    const stackScope = Stack.of(this);
    acknowledge(stackScope, 'COMPILATION_JOB_PREFIX', [nagResource(this, jobArnPattern)]);
    acknowledge(stackScope, 'LAMBDA_INVOKE_VERSIONS', [
      nagResource(this, `${preflight.function.functionArn}:*`),
      nagResource(this, `${summary.function.functionArn}:*`),
    ]);

    preflightState.next(map);
    map.next(summaryState);
    this.startState = preflightState;
    this.endStates = [summaryState];
  }

  /** A StopCompilationJob Task for the job named at `jobNamePath`, transient errors retried. */
  private stopJobTask(state: string, jobArnPattern: string, jobNamePath: string, comment?: string): tasks.CallAwsService {
    const task = new tasks.CallAwsService(this, state, {
      stateName: state,
      comment,
      service: 'sagemaker',
      action: 'stopCompilationJob',
      iamAction: 'sagemaker:StopCompilationJob',
      iamResources: [jobArnPattern],
      parameters: { 'CompilationJobName.$': jobNamePath },
      resultPath: sfn.JsonPath.DISCARD,
    });
    retryTransient(task, 'sagemaker:StopCompilationJob', { interval: Duration.seconds(5) });
    return task;
  }

  /** Stops every job of the run (one that ended cannot be stopped: nothing to do), then fails with `$.compileError`. */
  private stopEveryJob(jobArnPattern: string): sfn.Map {
    const stopOne = this.stopJobTask('StopRemainingJob', jobArnPattern, '$.jobName');
    stopOne.addCatch(new sfn.Pass(this, 'JobNotRunning', { stateName: 'JobNotRunning', comment: 'Ended already, or never started' }), { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
    const stopAll = new sfn.Map(this, 'StopCompilationJobs', {
      stateName: 'StopCompilationJobs',
      comment: 'The stage failed: no job of this run goes on compiling',
      itemsPath: '$.compile.jobs',
      itemSelector: { 'jobName.$': '$$.Map.Item.Value.jobName' },
      resultPath: sfn.JsonPath.DISCARD,
    });
    stopAll.itemProcessor(stopOne);
    stopAll.next(new sfn.Fail(this, 'CompileStageFailed', { stateName: 'CompileStageFailed', errorPath: '$.compileError.Error', causePath: '$.compileError.Cause' }));
    return stopAll;
  }

  private createRole(props: NeoCompilationProps, jobArnPattern: string): iam.Role {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'CompilationRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': jobArnPattern },
      }),
      description: 'cdk-edge-model-pipeline: assumed by SageMaker Neo to compile models',
    });
    this.grantModelRead(props.model, props.store, role);
    // SageMaker may upload the compiled model in parts.
    props.store.grantWrite(role, ArtifactStore.COMPILED_PREFIX, { multipart: true });
    const logGroupArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: '/aws/sagemaker/CompilationJobs',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const logStreamsArn = `${logGroupArn}:log-stream:*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [logGroupArn, logStreamsArn],
    }));
    acknowledge(role, 'NEO_LOG_STREAMS', [nagResource(role, logStreamsArn)]);
    // The CreateCompilationJob API reference lists it among what the role needs.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'] }));
    acknowledge(role, 'NEO_PUT_METRIC_DATA', ['Resource::*']);
    return role;
  }

  private grantModelRead(model: ModelSource, store: ArtifactStore, grantee: iam.IGrantable): void {
    if (model.kind === ModelSourceKind.BUCKET) {
      grantObjectRead(model.bucket!, model.key!, grantee);
    } else if (model.bucket) {
      grantBucketObjectsRead(model.bucket, grantee);
    } else {
      // Models named at run time, and package data without a bucket, live under models/ in the store.
      store.grantRead(grantee, ArtifactStore.MODEL_PREFIX);
    }
  }
}

function stripUndefined<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * The problems of one variant on its own (its target, compiler options and name), under props
 * relative to the variant: what a caller with its own path to the variant reports.
 * @internal
 */
export function variantProblems(variant: CompilationVariant): PropProblem[] {
  const problems = new ProblemCollector();
  const target = variant.target;
  if ((target.targetDevice === undefined) === (target.targetPlatform === undefined)) {
    problems.add('target', { device: target.targetDevice, platform: target.targetPlatform },
      'Give exactly one of device and platform: Neo compiles for a device or for a platform, never both.');
    return problems.all;
  }
  const options = variant.compilerOptions ?? CompilerOptions.none();
  problems.addAll('', options._problems(target));
  const name = variant.name ?? defaultVariantName(target.label, options.label);
  if (!isUnresolved(name) && (name.length > VARIANT_NAME_MAX || !VARIANT_NAME_PATTERN.test(name))) {
    problems.add('name', name, `Use 1-${VARIANT_NAME_MAX} lower-case letters, digits and single dashes.`);
  }
  return problems.all;
}

/** The problems of a model description (framework version, inputs), under props relative to it. @internal */
export function modelDescriptionProblems(d: ModelDescription): PropProblem[] {
  const problems = new ProblemCollector();
  if (d.frameworkVersion) problems.addAll('', d.frameworkVersion._problems(d.framework));
  problems.addAll('', inputListProblems(d.framework, d.inputs ?? []));
  return problems.all;
}

/** Validates every prop at once and resolves the variants. */
function validate(
  scope: Construct,
  props: NeoCompilationProps,
  namePrefix: string,
  pollSeconds: number,
  budgetSeconds: number,
): ResolvedVariant[] {
  const problems = new ProblemCollector();
  if (!isUnresolved(namePrefix) && (namePrefix.length > NAME_PREFIX_MAX || !NAME_PREFIX_PATTERN.test(namePrefix))) {
    problems.add('namePrefix', namePrefix,
      `Compilation job names must match [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} with room for the run and variant: use 1-${NAME_PREFIX_MAX} lower-case letters, digits and single dashes, starting and ending with a letter or digit (SageMaker lower-cases job ARNs, and the IAM policy matches them by this prefix).`);
  }
  checkIntegerRange(problems, 'pollInterval', pollSeconds, 10, 600, 'seconds');
  checkIntegerRange(problems, 'timeBudget', budgetSeconds, 300, 86400, 'seconds');
  if (budgetSeconds < 2 * pollSeconds) {
    problems.add('timeBudget', `${budgetSeconds} seconds`, `Give the budget at least two poll intervals (${2 * pollSeconds} seconds), or poll more often.`);
  }
  checkIntegerRange(problems, 'maxConcurrency', props.maxConcurrency, 1, 40);

  const model = props.model;
  if (model.kind === ModelSourceKind.MODEL_PACKAGE) {
    const arn = model.modelPackageVersionArn!;
    if (!isUnresolved(arn) && !/^arn:aws[a-z-]*:sagemaker:[a-z0-9-]{9,16}:[0-9]{12}:model-package\/\S{1,2048}$/.test(arn)) {
      problems.add('model', arn, 'Give a model package version ARN: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>.');
    }
  } else {
    const d = model.description!;
    problems.addAll('model', modelDescriptionProblems(d));
    if (model.kind === ModelSourceKind.BUCKET && !isUnresolved(model.key) && !/\.tar\.gz$/.test(model.key!)) {
      problems.add('model.key', model.key, 'Neo reads one gzip-compressed tar archive: name a key ending in .tar.gz.');
    }
    if (model.kind === ModelSourceKind.EXECUTION_INPUT && !/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(model.s3UriPath!)) {
      problems.add('model.s3UriPath', model.s3UriPath, 'Use a plain JSONPath such as "$.model.s3Uri".');
    }
  }

  if (props.variants.length === 0) {
    problems.add('variants', [], 'Give at least one variant, such as { target: CompilationTarget.device(TargetDevice.JETSON_NANO) }.');
  }
  const resolved: ResolvedVariant[] = [];
  const byName = new Map<string, number>();
  const byRequest = new Map<string, number>();
  props.variants.forEach((variant, i) => {
    const prop = `variants[${i}]`;
    const target = variant.target;
    const options = variant.compilerOptions ?? CompilerOptions.none();
    const own = variantProblems(variant);
    problems.addAll(prop, own);
    if (own.some((p) => p.prop === 'target')) return;
    const name = variant.name ?? defaultVariantName(target.label, options.label);
    if (byName.has(name)) {
      problems.add(`${prop}.name`, name, `variants[${byName.get(name)}] has the same name: give each variant its own name.`);
    }
    byName.set(name, i);
    const outputConfig: { [key: string]: unknown } = {};
    if (target.targetDevice) outputConfig.TargetDevice = target.targetDevice;
    if (target.targetPlatform) {
      const p = target.targetPlatform;
      outputConfig.TargetPlatform = stripUndefined({ Os: p.os, Arch: p.arch, Accelerator: p.accelerator });
    }
    const compilerOptions = options.render();
    if (compilerOptions !== undefined) outputConfig.CompilerOptions = compilerOptions;
    const requestKey = JSON.stringify(outputConfig);
    if (byRequest.has(requestKey)) {
      problems.add(prop, requestKey, `variants[${byRequest.get(requestKey)}] compiles for the same target with the same options: drop the duplicate.`);
    }
    byRequest.set(requestKey, i);
    const d = model.description;
    const dataInputConfig = d ? renderDataInputConfig(d.framework, d.inputs ?? [], target.targetDevice === TargetDevice.COREML) : undefined;
    if (dataInputConfig !== undefined && dataInputConfig.length > 16384) {
      problems.add('model.inputs', `${dataInputConfig.length} characters`, 'Neo accepts at most 16384 characters of DataInputConfig.');
    }
    resolved.push({ name, target: target.label, outputConfig, dataInputConfig });
  });
  problems.throwIfAny(scope);
  return resolved;
}

function defaultVariantName(targetLabel: string, optionsLabel: string): string {
  return slug([targetLabel, optionsLabel].filter((x) => x).join('-')).slice(0, VARIANT_NAME_MAX).replace(/-+$/, '');
}
