import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { BundledHandler } from '../core/handler';
import { retryTransient } from '../core/retries';
import { argument, field, isPath, StateValue } from '../core/state-values';
import { createDeploymentTask, deploymentArns, deploymentClientToken } from './deployment';
import { EdgeFleet } from './edge-fleet';
import { AbortCriteria, FleetRolloutError, Rollout, RolloutFailureType } from './rollout';

/**
 * How long Greengrass may take to create a deployment's IoT job. It takes seconds; a job that has
 * not appeared by then will not, and waiting on would only fill the execution's history.
 */
const JOB_WAIT_SECONDS = 600;

/** A value of the rollout's target: written in the definition, or read from the state's input. @internal */
export type GroupValue = StateValue<string>;

/** The thing group a rollout deploys to. @internal */
export interface RolloutTarget {
  /** The group's name: one fleet's, or a JSONPath to a ring's (a rollout that is a Map's item processor). */
  readonly group: GroupValue;
  readonly groupArn: GroupValue;
  readonly deviceClass: GroupValue;
  /** Every fleet the target can be: the scope of the deployment's IoT permissions. */
  readonly fleets: EdgeFleet[];
}

/** How one rollout goes: its rate, when it stops, how it is watched. Checked by the caller. @internal */
export interface RolloutSettings {
  readonly rollout: Rollout;
  readonly abortCriteria: AbortCriteria[];
  readonly maxFailurePercentage: number;
  readonly inProgressTimeoutMinutes: number;
  readonly pollSeconds: number;
  readonly budgetSeconds: number;
}

/**
 * The settings of a rollout as data, for a rollout whose states read them from their input
 * (one copy of the states for rollouts of different settings). @internal
 */
export interface RolloutSettingsData {
  readonly budgetSeconds: number;
  readonly jobWaitSeconds: number;
  readonly pollSeconds: number;
  readonly maxFailurePercentage: number;
  /** CreateDeployment's IotJobConfiguration. */
  readonly iotJobConfiguration: Record<string, unknown>;
}

/** `settings` as the data a rollout reads from its input. @internal */
export function rolloutSettingsData(s: RolloutSettings): RolloutSettingsData {
  return {
    budgetSeconds: s.budgetSeconds,
    jobWaitSeconds: Math.min(s.budgetSeconds, JOB_WAIT_SECONDS),
    pollSeconds: s.pollSeconds,
    maxFailurePercentage: s.maxFailurePercentage,
    iotJobConfiguration: {
      JobExecutionsRolloutConfig: s.rollout.render(),
      AbortConfig: {
        CriteriaList: s.abortCriteria.map((a) => ({
          FailureType: a.failureType ?? RolloutFailureType.ALL,
          Action: 'CANCEL',
          ThresholdPercentage: a.thresholdPercentage,
          MinNumberOfExecutedThings: a.minExecutedThings,
        })),
      },
      TimeoutConfig: { InProgressTimeoutInMinutes: s.inProgressTimeoutMinutes },
    },
  };
}

/** The states of one rollout, built by the caller. @internal */
export interface RolloutStatesOptions {
  readonly target: RolloutTarget;
  /** The rollout-ledger function its ledger states invoke. */
  readonly ledger: BundledHandler;
  /** The settings, written in the definition, or a JSONPath to {@link RolloutSettingsData} in the input. */
  readonly settings: RolloutSettings | { readonly path: string };
  readonly componentsPath: string;
  /** The state names: a prefix and the state. */
  readonly stateName: (state: string) => string;
  /** Where the rollout keeps what it learns, and its output. */
  readonly outputPath: string;
  readonly recordHealthy: boolean;
}


/**
 * The states of one rollout to one thing group: prepare (the last good release, the deadlines),
 * deploy, find the IoT job, poll it until nothing is queued or in progress, judge it, and on an
 * abort, an unhealthy end, the time budget or a fault while watching, re-deploy the last good
 * release (or cancel the deployment on the first rollout) and fail with RolloutReverted or
 * RolloutCanceled. The thing group is written in the definition (one fleet), or read from the
 * input (a ring of a Map), so one copy of these states serves any number of rings.
 * @internal
 */
export class RolloutStates {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  /** The settings as the states use them: literals, or paths into the input. */
  private readonly s: { [K in keyof RolloutSettingsData]: RolloutSettingsData[K] | { readonly path: string } };

  constructor(private readonly scope: Construct, private readonly o: RolloutStatesOptions) {
    const out = o.outputPath;
    const settings = o.settings;
    this.s = 'path' in settings
      ? { budgetSeconds: { path: `${settings.path}.budgetSeconds` }, jobWaitSeconds: { path: `${settings.path}.jobWaitSeconds` }, pollSeconds: { path: `${settings.path}.pollSeconds` }, maxFailurePercentage: { path: `${settings.path}.maxFailurePercentage` }, iotJobConfiguration: { path: `${settings.path}.iotJobConfiguration` } }
      : rolloutSettingsData(settings);
    const s = this.s;
    const { deploymentsArn, jobsArn } = deploymentArns(scope);
    const prepare = this.ledgerCall('PrepareRollout', {
      'op': 'prepare',
      ...field('group', o.target.group),
      'runId.$': '$.runId',
      ...field('budgetSeconds', s.budgetSeconds),
      ...field('jobWaitSeconds', s.jobWaitSeconds),
    }, `${out}.prepare`);
    const deploy = this.createDeployment('CreateDeployment', o.componentsPath, '', `${out}.deployment`);

    // Find the deployment's IoT job.
    const waitForJob = new sfn.Wait(scope, 'WaitForJob', { stateName: o.stateName('WaitForJob'), time: sfn.WaitTime.duration(Duration.seconds(5)) });
    const getDeployment = new tasks.CallAwsService(scope, 'GetDeployment', {
      stateName: o.stateName('GetDeployment'),
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

    // Poll the job: Wait -> DescribeJob -> Choice.
    const wait = new sfn.Wait(scope, 'WaitForRollout', { stateName: o.stateName('WaitForRollout'), time: isPath(s.pollSeconds) ? sfn.WaitTime.secondsPath(s.pollSeconds.path) : sfn.WaitTime.duration(Duration.seconds(s.pollSeconds)) });
    const describeJob = new tasks.CallAwsService(scope, 'DescribeJob', {
      stateName: o.stateName('DescribeJob'),
      service: 'iot',
      action: 'describeJob',
      iamAction: 'iot:DescribeJob',
      iamResources: [jobsArn],
      parameters: { 'JobId.$': jobId },
      resultSelector: { 'Job.$': '$.Job', 'CheckedAt.$': '$$.State.EnteredTime' },
      resultPath: `${out}.job`,
    });
    retryTransient(describeJob, 'iot:DescribeJob');

    const verdict = this.ledgerCall('JudgeRollout', {
      'op': 'verdict',
      'counts.$': `${out}.job.Job.JobProcessDetails`,
      ...field('maxFailurePercentage', s.maxFailurePercentage),
    }, `${out}.verdict`);
    const done = new sfn.Pass(scope, 'RolloutHealthy', {
      stateName: o.stateName('RolloutHealthy'),
      parameters: {
        ...field('group', o.target.group),
        'deploymentId.$': `${out}.deployment.DeploymentId`,
        'iotJobId.$': jobId,
        'verdict.$': `${out}.verdict`,
      },
      resultPath: out,
    });
    const healthy = o.recordHealthy ? this.ledgerCall('RecordHealthyRollout', {
      'op': 'healthy',
      ...field('group', o.target.group),
      ...field('deviceClass', o.target.deviceClass),
      'runId.$': '$.runId',
      'deploymentId.$': `${out}.deployment.DeploymentId`,
      'components.$': o.componentsPath,
      'counts.$': `${out}.job.Job.JobProcessDetails`,
    }, sfn.JsonPath.DISCARD) : undefined;

    const revertChoice = this.revert();
    const reason = (state: string, cause: { [key: string]: string }) => new sfn.Pass(scope, state, { stateName: o.stateName(state), parameters: cause, resultPath: `${out}.failure` });
    const aborted = reason('RolloutAborted', {
      'cause.$': `States.Format('The abort criteria fired: IoT canceled job {} ({} of the devices failed).', ${jobId}, ${out}.job.Job.JobProcessDetails.NumberOfFailedThings)`,
    });
    const unhealthy = reason('RolloutUnhealthy', { 'cause.$': `States.Format('The rollout ran to the end unhealthy: {}.', ${out}.verdict.reason)` });
    const timedOut = reason('RolloutTimedOut', isPath(s.budgetSeconds)
      ? { 'cause.$': `States.Format('The rollout did not settle within its time budget of {} seconds.', ${s.budgetSeconds.path})` }
      : { cause: `The rollout did not settle within its time budget of ${s.budgetSeconds} seconds.` });
    const noJob = reason('RolloutJobMissing', {
      'cause.$': isPath(s.jobWaitSeconds)
        ? `States.Format('Greengrass deployment {} had no IoT job after {} seconds.', ${out}.deployment.DeploymentId, ${s.jobWaitSeconds.path})`
        : `States.Format('Greengrass deployment {} had no IoT job after ${s.jobWaitSeconds} seconds.', ${out}.deployment.DeploymentId)`,
    });
    // A fault while the rollout is watched (finding its job, polling, judging, recording it)
    // must not leave the deployment running with nobody watching: the ring goes back (or the
    // deployment is canceled) as after an abort, and the cause says what failed.
    const faulted = reason('RolloutFaulted', { 'cause.$': `States.Format('Watching the rollout failed ({}: {}).', ${out}.fault.Error, ${out}.fault.Cause)` });
    for (const task of [getDeployment, describeJob, verdict, ...(healthy ? [healthy] : [])]) task.addCatch(faulted, { errors: [sfn.Errors.ALL], resultPath: `${out}.fault` });
    for (const r of [aborted, unhealthy, timedOut, noJob, faulted]) r.next(revertChoice);

    const jobs = `${out}.job.Job`;
    prepare.next(deploy).next(waitForJob).next(getDeployment).next(new sfn.Choice(scope, 'HasJob', { stateName: o.stateName('HasJob') })
      .when(sfn.Condition.isPresent(jobId), wait)
      // Bounded: an endless wait for a job would fill the execution's history.
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath(`${out}.getDeployment.CheckedAt`, `${out}.prepare.jobDeadline`), noJob)
      .otherwise(waitForJob));
    wait.next(describeJob).next(new sfn.Choice(scope, 'CheckRollout', { stateName: o.stateName('CheckRollout') })
      .when(sfn.Condition.stringEquals(`${jobs}.Status`, 'CANCELED'), aborted)
      .when(sfn.Condition.and(
        sfn.Condition.numberEquals(`${jobs}.JobProcessDetails.NumberOfQueuedThings`, 0),
        sfn.Condition.numberEquals(`${jobs}.JobProcessDetails.NumberOfInProgressThings`, 0),
      ), verdict)
      .when(sfn.Condition.timestampGreaterThanEqualsJsonPath(`${out}.job.CheckedAt`, `${out}.prepare.deadline`), timedOut)
      .otherwise(wait));
    verdict.next(new sfn.Choice(scope, 'IsHealthy', { stateName: o.stateName('IsHealthy') })
      .when(sfn.Condition.booleanEquals(`${out}.verdict.healthy`, true), healthy ?? done)
      .otherwise(unhealthy));
    healthy?.next(done);

    const stack = Stack.of(scope);
    acknowledge(stack, 'IOT_JOBS', [nagResource(scope, jobsArn)]);
    acknowledge(stack, 'GREENGRASS_DEPLOYMENTS', [nagResource(scope, deploymentsArn)]);
    for (const f of o.target.fleets) acknowledge(stack, 'FLEET_THINGS', [nagResource(scope, f.thingArnPattern())]);
    acknowledge(stack, 'LAMBDA_INVOKE_VERSIONS', [nagResource(scope, `${o.ledger.function.functionArn}:*`)]);
    this.startState = prepare;
    this.endStates = [done];
  }

  private ledgerCall(state: string, payload: { [key: string]: unknown }, resultPath: string): tasks.LambdaInvoke {
    return this.o.ledger.invoke(this.scope, state, { stateName: this.o.stateName(state), payload, resultPath });
  }

  private createDeployment(state: string, componentsJsonPath: string, tokenSeed: string, resultPath: string): tasks.CallAwsService {
    const o = this.o;
    return createDeploymentTask(this.scope, state, {
      stateName: o.stateName(state),
      fleets: o.target.fleets,
      parameters: {
        ...field('TargetArn', o.target.groupArn),
        'DeploymentName.$': typeof o.target.deviceClass === 'string'
          ? `States.Format('${tokenSeed}{}-${o.target.deviceClass}', $.runId)`
          : `States.Format('${tokenSeed}{}-{}', $.runId, ${o.target.deviceClass.path})`,
        'Components.$': componentsJsonPath,
        'ClientToken.$': deploymentClientToken(`${tokenSeed}{}/{}`, '$.runId', argument(o.target.group)),
        'DeploymentPolicies': {
          FailureHandlingPolicy: 'ROLLBACK',
          ComponentUpdatePolicy: { Action: 'NOTIFY_COMPONENTS', TimeoutInSeconds: 60 },
        },
        ...field('IotJobConfiguration', this.s.iotJobConfiguration),
      },
      resultPath,
    });
  }

  /** Re-deploy the last good release and fail RolloutReverted, or cancel the deployment and fail RolloutCanceled. */
  private revert(): sfn.Choice {
    const { scope, o } = this;
    const out = o.outputPath;
    const group = argument(o.target.group);
    const { deploymentsArn } = deploymentArns(scope);
    const revertDeploy = this.createDeployment('RevertDeployment', `${out}.prepare.lastGood.components`, 'revert-', `${out}.revert`);
    // The ledger records a revert and a cancel alike: the cancel has no revert deployment.
    const recordRevert = (state: string, revertDeploymentId: { [key: string]: string | null }) => this.ledgerCall(state, {
      'op': 'reverted',
      ...field('group', o.target.group),
      ...field('deviceClass', o.target.deviceClass),
      'runId.$': '$.runId',
      'deploymentId.$': `${out}.deployment.DeploymentId`,
      ...revertDeploymentId,
      'reason.$': `${out}.failure.cause`,
    }, sfn.JsonPath.DISCARD);
    const recordReverted = recordRevert('RecordRevertedRollout', { 'revertDeploymentId.$': `${out}.revert.DeploymentId` });
    // The message is built in a Pass: intrinsic functions in CausePath are not run by every executor.
    const revertedMessage = new sfn.Pass(scope, 'RevertedMessage', {
      stateName: o.stateName('RevertedMessage'),
      parameters: { 'message.$': `States.Format('{} The group {} was re-deployed with its last good release (run {}).', ${out}.failure.cause, ${group}, ${out}.prepare.lastGood.runId)` },
      resultPath: `${out}.outcome`,
    });
    const reverted = new sfn.Fail(scope, 'Reverted', { stateName: o.stateName('Reverted'), error: FleetRolloutError.REVERTED, causePath: `${out}.outcome.message` });
    const cancel = new tasks.CallAwsService(scope, 'CancelDeployment', {
      stateName: o.stateName('CancelDeployment'),
      service: 'greengrassv2',
      action: 'cancelDeployment',
      iamAction: 'greengrass:CancelDeployment',
      iamResources: [deploymentsArn],
      parameters: { 'DeploymentId.$': `${out}.deployment.DeploymentId` },
      resultPath: sfn.JsonPath.DISCARD,
    });
    retryTransient(cancel, 'greengrassv2:CancelDeployment');
    const recordCanceled = recordRevert('RecordCanceledRollout', { revertDeploymentId: null });
    const canceledMessage = new sfn.Pass(scope, 'CanceledMessage', {
      stateName: o.stateName('CanceledMessage'),
      parameters: { 'message.$': `States.Format('{} This was the first rollout to {}: there is no last good release to revert to, so the deployment was canceled; devices that already updated keep this release until the next rollout.', ${out}.failure.cause, ${group})` },
      resultPath: `${out}.outcome`,
    });
    const canceled = new sfn.Fail(scope, 'Canceled', { stateName: o.stateName('Canceled'), error: FleetRolloutError.CANCELED, causePath: `${out}.outcome.message` });
    revertDeploy.next(recordReverted).next(revertedMessage).next(reverted);
    cancel.next(recordCanceled).next(canceledMessage).next(canceled);
    return new sfn.Choice(scope, 'HasLastGoodRelease', { stateName: o.stateName('HasLastGoodRelease') })
      .when(sfn.Condition.booleanEquals(`${out}.prepare.hasLastGood`, true), revertDeploy)
      .otherwise(cancel);
  }
}
