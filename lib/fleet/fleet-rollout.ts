import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, ProblemCollector } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { EdgeFleet } from './edge-fleet';
import { ReleaseLedger } from './release-ledger';
import { AbortCriteria, Rollout, RolloutFailureType } from './rollout';
import { retryTransient } from '../core/retries';
import { createDeploymentTask, deploymentArns, deploymentClientToken } from './deployment';

/**
 * How long Greengrass may take to create a deployment's IoT job. It takes seconds; a job that has
 * not appeared by then will not, and waiting on would only fill the execution's history.
 */
const JOB_WAIT_SECONDS = 600;

/** Error names the rollout fragment ends with. */
export enum FleetRolloutError {
  /** The rollout failed (abort, failures over the limit, or the time budget) and the group was put back on its last good release. */
  REVERTED = 'RolloutReverted',
  /** The first rollout to the group failed: there is no last good release, so the deployment was canceled. */
  CANCELED = 'RolloutCanceled',
}

/** Props for {@link FleetRollout}. */
export interface FleetRolloutProps {
  /** The fleet (thing group) to roll out to. */
  readonly fleet: EdgeFleet;
  /** Knows the group's last good release and records this one. */
  readonly ledger: ReleaseLedger;
  /**
   * How fast devices are notified.
   *
   * @default Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 5, maximumPerMinute: 100 })
   */
  readonly rollout?: Rollout;
  /**
   * When IoT cancels the rollout.
   *
   * @default - [{ failureType: ALL, thresholdPercentage: 10, minExecutedThings: 5 }]
   */
  readonly abortCriteria?: AbortCriteria[];
  /**
   * The failure percentage over which a rollout that ran to the end is still
   * reverted (catches small fleets that never reach `minExecutedThings`): 0 to 100.
   *
   * @default - the lowest abort threshold (10)
   */
  readonly maxFailurePercentage?: number;
  /**
   * How long one device may take to apply the deployment: 1 minute to 7 days.
   *
   * @default Duration.minutes(30)
   */
  readonly inProgressTimeout?: Duration;
  /**
   * Time between two checks of the rollout: 10 seconds to 10 minutes.
   *
   * @default Duration.minutes(1)
   */
  readonly pollInterval?: Duration;
  /**
   * How long the whole rollout may take before it is reverted: 5 minutes to 7 days.
   *
   * @default Duration.hours(6)
   */
  readonly timeBudget?: Duration;
  /**
   * Where the components to deploy are in the fragment's input: a map of
   * component name to `{ "ComponentVersion": "1.0.3" }`, every component the
   * group should run (a deployment replaces the group's previous one).
   *
   * @default '$.release.components'
   */
  readonly componentsPath?: string;
  /**
   * A prefix for the state names, so several rollouts fit in one state machine.
   *
   * @default - the thing group, such as `jetson-nano-fleet: `
   */
  readonly stateNamePrefix?: string;
  /**
   * Make a healthy rollout the group's last good release in the ledger. Turn
   * it off when a later step decides (rings: the release becomes last good
   * only when every ring is healthy).
   *
   * @default true
   */
  readonly recordHealthy?: boolean;
  /**
   * The pipeline this belongs to: its metrics are then counted by Pipeline
   * as well as by DeviceClass, so one pipeline's alarms see only its runs.
   *
   * @default - metrics by DeviceClass only
   */
  readonly pipelineName?: string;
}

/**
 * Rolls a release out to one fleet's thing group with Greengrass v2, as a
 * Step Functions fragment, and reverts it when it goes wrong.
 *
 * **Input**: `{ "runId": …, "release": { "components": { "<name>": { "ComponentVersion": "1.0.3" } } } }`.
 *
 * **Output**: the input with `rollout.<thing group>` (dashes as underscores) set to
 * `{ deploymentId, iotJobId, verdict: { healthy, executed, failed, failurePercentage, reason } }`.
 *
 * **Errors**: `RolloutReverted` (the abort fired, failures went over the
 * limit, or the time budget ran out: the group was re-deployed with its last
 * good release from the ledger), `RolloutCanceled` (the same on the first
 * rollout to the group: nothing to revert to, so the deployment was
 * canceled). The cause says what happened.
 *
 * The deployment uses `failureHandlingPolicy: ROLLBACK` (a device that fails
 * goes back to what it ran), the rollout rate and abort criteria given, and
 * an in-progress timeout; a re-run of the same run id reuses the same
 * deployment (client token). Greengrass group deployments are continuous
 * jobs that never complete: the fragment waits until no execution is queued
 * or in progress, then judges the counts.
 */
export class FleetRollout extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Where the fragment's output is: `$.rollout.<thing group>`. */
  public readonly outputPath: string;

  constructor(scope: Construct, id: string, props: FleetRolloutProps) {
    super(scope, id);
    const fleet = props.fleet;
    const abort = props.abortCriteria ?? [{ failureType: RolloutFailureType.ALL, thresholdPercentage: 10, minExecutedThings: 5 }];
    const rollout = props.rollout ?? Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 5, maximumPerMinute: 100 });
    const maxFailure = props.maxFailurePercentage ?? Math.min(...abort.map((a) => a.thresholdPercentage), 100);
    const timeoutMinutes = props.inProgressTimeout?.toMinutes() ?? 30;
    const pollSeconds = props.pollInterval?.toSeconds() ?? 60;
    const budgetSeconds = props.timeBudget?.toSeconds() ?? 6 * 3600;
    const componentsPath = props.componentsPath ?? '$.release.components';

    const problems = new ProblemCollector();
    problems.addAll('', rollout._problems('rollout'));
    abort.forEach((a, i) => {
      if (a.thresholdPercentage < 0 || a.thresholdPercentage > 100) problems.add(`abortCriteria[${i}].thresholdPercentage`, a.thresholdPercentage, 'Use a percentage from 0 to 100.');
      if (!Number.isInteger(a.minExecutedThings) || a.minExecutedThings < 1) problems.add(`abortCriteria[${i}].minExecutedThings`, a.minExecutedThings, 'Use a whole number of at least 1.');
    });
    if (abort.length === 0) problems.add('abortCriteria', [], 'Give at least one abort criterion: a rollout nothing can stop is what this library prevents.');
    if (maxFailure < 0 || maxFailure > 100) problems.add('maxFailurePercentage', maxFailure, 'Use a percentage from 0 to 100.');
    checkIntegerRange(problems, 'inProgressTimeout', timeoutMinutes, 1, 7 * 24 * 60, 'minutes');
    checkIntegerRange(problems, 'pollInterval', pollSeconds, 10, 600, 'seconds');
    checkIntegerRange(problems, 'timeBudget', budgetSeconds, 300, 7 * 24 * 3600, 'seconds');
    if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(componentsPath)) problems.add('componentsPath', componentsPath, 'Use a plain JSONPath such as "$.release.components".');
    problems.throwIfAny(this);

    const name = (state: string) => `${props.stateNamePrefix ?? `${fleet.thingGroupName}: `}${state}`;
    const out = `$.rollout.${fleet.thingGroupName.replace(/[^A-Za-z0-9_]/g, '_')}`;
    /** Where this rollout's output is. */
    this.outputPath = out;

    const ledgerFn = new BundledHandler(this, 'Ledger', {
      handlerName: 'rollout-ledger',
      description: 'cdk-edge-model-pipeline: keeps the release ledger of a fleet rollout (last good release, verdict, history)',
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { LEDGER_TABLE: props.ledger.table.tableName, ...(props.pipelineName ? { PIPELINE_NAME: props.pipelineName } : {}) },
    });
    props.ledger.grantWrite(ledgerFn.role);
    const ledgerCall = (state: string, payload: { [key: string]: unknown }, resultPath: string) =>
      ledgerFn.invoke(this, state, { stateName: name(state), payload, resultPath });

    const { deploymentsArn, jobsArn } = deploymentArns(this);
    const thingsArn = fleet.thingArnPattern();
    const createDeployment = (state: string, componentsJsonPath: string, tokenSeed: string, resultPath: string) => createDeploymentTask(this, state, {
      stateName: name(state),
      fleets: [fleet],
      parameters: {
        'TargetArn': fleet.thingGroupArn,
        'DeploymentName.$': `States.Format('${tokenSeed}{}-${fleet.deviceClass}', $.runId)`,
        'Components.$': componentsJsonPath,
        'ClientToken.$': deploymentClientToken(`${tokenSeed}{}/${fleet.thingGroupName}`, '$.runId'),
        'DeploymentPolicies': {
          FailureHandlingPolicy: 'ROLLBACK',
          ComponentUpdatePolicy: { Action: 'NOTIFY_COMPONENTS', TimeoutInSeconds: 60 },
        },
        'IotJobConfiguration': {
          JobExecutionsRolloutConfig: rollout.render(),
          AbortConfig: {
            CriteriaList: abort.map((a) => ({
              FailureType: a.failureType ?? RolloutFailureType.ALL,
              Action: 'CANCEL',
              ThresholdPercentage: a.thresholdPercentage,
              MinNumberOfExecutedThings: a.minExecutedThings,
            })),
          },
          TimeoutConfig: { InProgressTimeoutInMinutes: timeoutMinutes },
        },
      },
      resultPath,
    });

    // 1. What to revert to, and when to give up.
    const prepare = ledgerCall('PrepareRollout', {
      'op': 'prepare',
      'group': fleet.thingGroupName,
      'runId.$': '$.runId',
      'budgetSeconds': budgetSeconds,
      'jobWaitSeconds': JOB_WAIT_SECONDS,
    }, `${out}.prepare`);

    // 2. Deploy.
    const deploy = createDeployment('CreateDeployment', componentsPath, '', `${out}.deployment`);

    // 3. Find the deployment's IoT job.
    const waitForJob = new sfn.Wait(this, 'WaitForJob', { stateName: name('WaitForJob'), time: sfn.WaitTime.duration(Duration.seconds(5)) });
    const getDeployment = new tasks.CallAwsService(this, 'GetDeployment', {
      stateName: name('GetDeployment'),
      service: 'greengrassv2',
      action: 'getDeployment',
      iamAction: 'greengrass:GetDeployment',
      iamResources: [deploymentsArn],
      parameters: { 'DeploymentId.$': `${out}.deployment.DeploymentId` },
      resultSelector: { 'IotJob.$': '$', 'CheckedAt.$': '$$.State.EnteredTime' },
      resultPath: `${out}.getDeployment`,
    });
    retryTransient(getDeployment, 'greengrassv2:GetDeployment');
    const jobId = `${out}.getDeployment.IotJob.IotJobId`;

    // 4. Poll the job: Wait -> DescribeJob -> Choice.
    const wait = new sfn.Wait(this, 'WaitForRollout', { stateName: name('WaitForRollout'), time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)) });
    const describeJob = new tasks.CallAwsService(this, 'DescribeJob', {
      stateName: name('DescribeJob'),
      service: 'iot',
      action: 'describeJob',
      iamAction: 'iot:DescribeJob',
      iamResources: [jobsArn],
      parameters: { 'JobId.$': jobId },
      resultSelector: { 'Job.$': '$.Job', 'CheckedAt.$': '$$.State.EnteredTime' },
      resultPath: `${out}.job`,
    });
    retryTransient(describeJob, 'iot:DescribeJob');

    const verdict = ledgerCall('JudgeRollout', {
      'op': 'verdict',
      'counts.$': `${out}.job.Job.JobProcessDetails`,
      'maxFailurePercentage': maxFailure,
    }, `${out}.verdict`);
    const done = new sfn.Pass(this, 'RolloutHealthy', {
      stateName: name('RolloutHealthy'),
      parameters: {
        'deploymentId.$': `${out}.deployment.DeploymentId`,
        'iotJobId.$': jobId,
        'verdict.$': `${out}.verdict`,
      },
      resultPath: out,
    });

    const healthy = props.recordHealthy === false ? undefined : ledgerCall('RecordHealthyRollout', {
      'op': 'healthy',
      'group': fleet.thingGroupName,
      'deviceClass': fleet.deviceClass,
      'runId.$': '$.runId',
      'deploymentId.$': `${out}.deployment.DeploymentId`,
      'components.$': componentsPath,
      'counts.$': `${out}.job.Job.JobProcessDetails`,
    }, sfn.JsonPath.DISCARD);
    // 5. Revert.
    const reason = (state: string, cause: { [key: string]: string }) => new sfn.Pass(this, state, {
      stateName: name(state),
      parameters: cause,
      resultPath: `${out}.failure`,
    });
    const aborted = reason('RolloutAborted', {
      'cause.$': `States.Format('The abort criteria fired: IoT canceled job {} ({} of the devices failed).', ${jobId}, ${out}.job.Job.JobProcessDetails.NumberOfFailedThings)`,
    });
    const unhealthy = reason('RolloutUnhealthy', { 'cause.$': `States.Format('The rollout ran to the end unhealthy: {}.', ${out}.verdict.reason)` });
    const timedOut = reason('RolloutTimedOut', { cause: `The rollout did not settle within its time budget of ${budgetSeconds} seconds.` });
    const noJob = reason('RolloutJobMissing', {
      'cause.$': `States.Format('Greengrass deployment {} had no IoT job after ${Math.min(budgetSeconds, JOB_WAIT_SECONDS)} seconds.', ${out}.deployment.DeploymentId)`,
    });

    const revertDeploy = createDeployment('RevertDeployment', `${out}.prepare.lastGood.components`, 'revert-', `${out}.revert`);
    const recordReverted = ledgerCall('RecordRevertedRollout', {
      'op': 'reverted',
      'group': fleet.thingGroupName,
      'deviceClass': fleet.deviceClass,
      'runId.$': '$.runId',
      'deploymentId.$': `${out}.deployment.DeploymentId`,
      'revertDeploymentId.$': `${out}.revert.DeploymentId`,
      'reason.$': `${out}.failure.cause`,
    }, sfn.JsonPath.DISCARD);
    // The message is built in a Pass: intrinsic functions in CausePath are not run by every executor.
    const revertedMessage = new sfn.Pass(this, 'RevertedMessage', {
      stateName: name('RevertedMessage'),
      parameters: { 'message.$': `States.Format('{} The group ${fleet.thingGroupName} was re-deployed with its last good release (run {}).', ${out}.failure.cause, ${out}.prepare.lastGood.runId)` },
      resultPath: `${out}.outcome`,
    });
    const reverted = new sfn.Fail(this, 'Reverted', {
      stateName: name('Reverted'),
      error: FleetRolloutError.REVERTED,
      causePath: `${out}.outcome.message`,
    });
    const cancel = new tasks.CallAwsService(this, 'CancelDeployment', {
      stateName: name('CancelDeployment'),
      service: 'greengrassv2',
      action: 'cancelDeployment',
      iamAction: 'greengrass:CancelDeployment',
      iamResources: [deploymentsArn],
      parameters: { 'DeploymentId.$': `${out}.deployment.DeploymentId` },
      resultPath: sfn.JsonPath.DISCARD,
    });
    retryTransient(cancel, 'greengrassv2:CancelDeployment');
    const recordCanceled = ledgerCall('RecordCanceledRollout', {
      'op': 'reverted',
      'group': fleet.thingGroupName,
      'deviceClass': fleet.deviceClass,
      'runId.$': '$.runId',
      'deploymentId.$': `${out}.deployment.DeploymentId`,
      'revertDeploymentId': null,
      'reason.$': `${out}.failure.cause`,
    }, sfn.JsonPath.DISCARD);
    const canceledMessage = new sfn.Pass(this, 'CanceledMessage', {
      stateName: name('CanceledMessage'),
      parameters: { 'message.$': `States.Format('{} This was the first rollout to ${fleet.thingGroupName}: there is no last good release to revert to, so the deployment was canceled; devices that already updated keep this release until the next rollout.', ${out}.failure.cause)` },
      resultPath: `${out}.outcome`,
    });
    const canceled = new sfn.Fail(this, 'Canceled', {
      stateName: name('Canceled'),
      error: FleetRolloutError.CANCELED,
      causePath: `${out}.outcome.message`,
    });
    const revertChoice = new sfn.Choice(this, 'HasLastGoodRelease', { stateName: name('HasLastGoodRelease') })
      .when(sfn.Condition.booleanEquals(`${out}.prepare.hasLastGood`, true), revertDeploy)
      .otherwise(cancel);
    // A fault while the rollout is watched (finding its job, polling, judging, recording it)
    // must not leave the deployment running with nobody watching: the ring goes back (or the
    // deployment is canceled) as after an abort, and the cause says what failed.
    const faulted = reason('RolloutFaulted', { 'cause.$': `States.Format('Watching the rollout failed ({}: {}).', ${out}.fault.Error, ${out}.fault.Cause)` });
    for (const task of [getDeployment, describeJob, verdict, ...(healthy ? [healthy] : [])]) task.addCatch(faulted, { errors: [sfn.Errors.ALL], resultPath: `${out}.fault` });
    for (const r of [aborted, unhealthy, timedOut, noJob, faulted]) r.next(revertChoice);
    revertDeploy.next(recordReverted).next(revertedMessage).next(reverted);
    cancel.next(recordCanceled).next(canceledMessage).next(canceled);

    const jobs = `${out}.job.Job`;
    prepare.next(deploy).next(waitForJob).next(getDeployment).next(new sfn.Choice(this, 'HasJob', { stateName: name('HasJob') })
      .when(sfn.Condition.isPresent(jobId), wait)
      // Bounded: an endless wait for a job would fill the execution's history.
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath(`${out}.getDeployment.CheckedAt`, `${out}.prepare.jobDeadline`), noJob)
      .otherwise(waitForJob));
    wait.next(describeJob).next(new sfn.Choice(this, 'CheckRollout', { stateName: name('CheckRollout') })
      .when(sfn.Condition.stringEquals(`${jobs}.Status`, 'CANCELED'), aborted)
      .when(sfn.Condition.and(
        sfn.Condition.numberEquals(`${jobs}.JobProcessDetails.NumberOfQueuedThings`, 0),
        sfn.Condition.numberEquals(`${jobs}.JobProcessDetails.NumberOfInProgressThings`, 0),
      ), verdict)
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath(`${out}.job.CheckedAt`, `${out}.prepare.deadline`), timedOut)
      .otherwise(wait));
    verdict.next(new sfn.Choice(this, 'IsHealthy', { stateName: name('IsHealthy') })
      .when(sfn.Condition.booleanEquals(`${out}.verdict.healthy`, true), healthy ?? done)
      .otherwise(unhealthy));
    healthy?.next(done);

    acknowledge(Stack.of(this), 'IOT_JOBS', [nagResource(this, jobsArn)]);
    acknowledge(Stack.of(this), 'GREENGRASS_DEPLOYMENTS', [nagResource(this, deploymentsArn)]);
    acknowledge(Stack.of(this), 'FLEET_THINGS', [nagResource(this, thingsArn)]);
    acknowledge(Stack.of(this), 'LAMBDA_INVOKE_VERSIONS', [nagResource(this, `${ledgerFn.function.functionArn}:*`)]);

    this.startState = prepare;
    this.endStates = [done];
  }
}
