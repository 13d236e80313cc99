import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BundledHandler } from '../core/handler';
import { PipelineStateMachine } from '../core/state-machine';
import { createDeploymentTask, deploymentArns, deploymentClientToken } from './deployment';
import { EdgeFleet } from './edge-fleet';
import { RolloutSettingsData, RolloutStates } from './rollout-states';

/** How a class rollout ended: the `outcome` of its output. @internal */
export enum ClassRolloutOutcome {
  /** Every ring healthy, the release recorded as each ring's last good one. */
  RELEASED = 'RELEASED',
  /** A ring failed; at least one ring went back to its last good release. */
  REVERTED = 'REVERTED',
  /** A ring failed in the class's first release: the candidate's deployments were canceled. */
  CANCELED = 'CANCELED',
  /** A ring failed and putting a ring back failed too: a person must look. */
  REVERT_FAILED = 'REVERT_FAILED',
  /** The rings' last good releases could not be read: nothing was deployed. */
  FAULTED = 'FAULTED',
}

/**
 * What a class rollout execution is started with (the parent writes it in its Task's input).
 * @internal
 */
export interface ClassRolloutInput {
  readonly runId: string;
  readonly deviceClass: string;
  /** The class's rings in rollout order. */
  readonly rings: { readonly group: string; readonly groupArn: string }[];
  readonly settings: RolloutSettingsData;
  /** CreateDeployment's Components: the chosen model component and the agent serving it. */
  readonly release: { readonly components: Record<string, unknown> };
}

/** Props of {@link ClassRollout}. @internal */
export interface ClassRolloutProps {
  /** The rollout-ledger function (one per pipeline: each call names its group). */
  readonly ledger: BundledHandler;
  /** Every ring the executions can be asked to roll out to: the scope of their IoT permissions. */
  readonly fleets: EdgeFleet[];
  /** The longest one class's rollout may take. */
  readonly timeout: Duration;
}

/**
 * The rollout of one device class as a state machine of its own, one for every class of a
 * pipeline: the class, its rings, their settings and the release are the execution's input
 * ({@link ClassRolloutInput}), so a class or a ring more adds no state, and each class's polls
 * fill its own execution's history, not the pipeline run's.
 *
 * Rings go one after another (a Map over the input's rings); the first that fails stops the
 * Map, and every ring of the class is put back: re-deployed with its last good release, or,
 * with none, its candidate deployment canceled. Every designed ending succeeds with
 * `{ outcome, deviceClass, rings, ... }` (see {@link ClassRolloutOutcome}), so the pipeline
 * notifies and fails on the outcome, not on the error format of a failed child execution.
 * @internal
 */
export class ClassRollout extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, private readonly props: ClassRolloutProps) {
    super(scope, id);
    const revert = this.revertRings();
    const prepare = props.ledger.invoke(this, 'PrepareRings', {
      stateName: 'PrepareRings',
      comment: 'Each ring\'s last good release, to put every ring back if a later one fails',
      payload: { 'op': 'rings', 'rings.$': '$.rings' },
      resultPath: '$.rings',
    });
    prepare.addCatch(this.ending('PrepareFaulted', ClassRolloutOutcome.FAULTED, { 'failure.$': '$.failure' }), { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    const rings = this.ringsMap();
    rings.addCatch(revert, { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    // Every ring healthy: the release becomes each ring's last good release, all rings in one
    // transaction (a fault records none of them, and the class is put back).
    const record = props.ledger.invoke(this, 'RecordRings', {
      stateName: 'RecordRings',
      payload: { 'op': 'healthy-rings', 'deviceClass.$': '$.deviceClass', 'runId.$': '$.runId', 'components.$': '$.release.components', 'rings.$': '$.ringResults' },
      resultPath: sfn.JsonPath.DISCARD,
    });
    record.addCatch(revert, { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    const definition = sfn.Chain.start(prepare).next(rings).next(record)
      .next(this.ending('RolledOut', ClassRolloutOutcome.RELEASED, { 'rings.$': '$.ringResults' }));
    this.stateMachine = new PipelineStateMachine(this, 'StateMachine', { definition, timeout: props.timeout }).stateMachine;
  }

  /** An ending: the outcome and what the pipeline's notification says about it. */
  private ending(id: string, outcome: ClassRolloutOutcome, fields: Record<string, string>): sfn.Pass {
    return new sfn.Pass(this, id, { stateName: id, parameters: { 'outcome': outcome, 'deviceClass.$': '$.deviceClass', ...fields } });
  }

  /**
   * The rings, one after another: one copy of the rollout states reads its thing group and its
   * settings from the item. The result is each ring's `{ group, deploymentId, iotJobId, verdict }`.
   */
  private ringsMap(): sfn.Map {
    const ring = new RolloutStates(new Construct(this, 'Ring'), {
      target: { group: { path: '$.ring.group' }, groupArn: { path: '$.ring.groupArn' }, deviceClass: { path: '$.deviceClass' }, fleets: this.props.fleets },
      ledger: this.props.ledger,
      settings: { path: '$.settings' },
      componentsPath: '$.release.components',
      stateName: (state) => `ring: ${state}`,
      outputPath: '$.rollout',
      recordHealthy: false,
    });
    ring.endStates[0].next(new sfn.Pass(this, 'RingRolledOut', { stateName: 'ring: RingRolledOut', inputPath: '$.rollout' }));
    const rings = new sfn.Map(this, 'Rings', {
      stateName: 'Rings',
      comment: 'Ring after ring; each ring starts only when the previous one is healthy',
      itemsPath: '$.rings',
      itemSelector: { 'runId.$': '$.runId', 'deviceClass.$': '$.deviceClass', 'settings.$': '$.settings', 'release.$': '$.release', 'ring.$': '$$.Map.Item.Value' },
      maxConcurrency: 1,
      resultPath: '$.ringResults',
    });
    rings.itemProcessor(ring.startState);
    return rings;
  }

  /**
   * Puts every ring back: each ring with a last good release is re-deployed with it (retried
   * long: a person would otherwise have to), the others have this run's deployment canceled
   * when it is still their latest. Ends REVERT_FAILED when a ring could not be put back,
   * REVERTED when a ring went back, CANCELED when no ring had a release to go back to.
   */
  private revertRings(): sfn.Map {
    const revertEach = new sfn.Map(this, 'RevertRings', {
      stateName: 'RevertRings',
      comment: 'Each ring\'s outcome, in ring order: REVERTED, CANCELED (the candidate, with nothing to go back to), KEPT or REVERT_FAILED',
      itemsPath: '$.rings',
      // FleetRollout names a ring's deployment {runId}-{deviceClass}.
      itemSelector: { 'runId.$': '$.runId', 'ring.$': '$$.Map.Item.Value', 'candidateName.$': 'States.Format(\'{}-{}\', $.runId, $.deviceClass)' },
      resultPath: '$.reverted',
    });
    revertEach.itemProcessor(this.revertRing());
    const summary = new sfn.Pass(this, 'RevertSummary', {
      stateName: 'RevertSummary',
      parameters: { 'failed.$': 'States.ArrayContains($.reverted, \'REVERT_FAILED\')', 'reverted.$': 'States.ArrayContains($.reverted, \'REVERTED\')' },
      resultPath: '$.revertSummary',
    });
    const fields = { 'failure.$': '$.failure', 'rings.$': '$.rings', 'ringOutcomes.$': '$.reverted' };
    revertEach.next(summary).next(new sfn.Choice(this, 'RevertOutcome', { stateName: 'RevertOutcome' })
      .when(sfn.Condition.booleanEquals('$.revertSummary.failed', true), this.ending('RevertFailed', ClassRolloutOutcome.REVERT_FAILED, fields))
      .when(sfn.Condition.booleanEquals('$.revertSummary.reverted', true), this.ending('Reverted', ClassRolloutOutcome.REVERTED, fields))
      .otherwise(this.ending('Canceled', ClassRolloutOutcome.CANCELED, fields)));
    return revertEach;
  }

  /** One ring put back: its outcome (REVERTED, CANCELED, KEPT or REVERT_FAILED) is the result. */
  private revertRing(): sfn.Choice {
    const fleets = this.props.fleets;
    const revertRing = createDeploymentTask(this, 'RevertRing', {
      stateName: 'RevertRing',
      fleets,
      parameters: {
        'TargetArn.$': '$.ring.groupArn',
        'DeploymentName.$': 'States.Format(\'revert-all-{}-{}\', $.runId, $.ring.group)',
        'ClientToken.$': deploymentClientToken('revert-all/{}/{}', '$.runId', '$.ring.group'),
        'Components.$': '$.ring.lastGood.components',
        'DeploymentPolicies': { FailureHandlingPolicy: 'ROLLBACK' },
      },
    });
    // The revert's calls retry long and hard (the same client token: a retried revert is one
    // deployment); one that still fails is reported, and the other rings are put back all the same.
    const hard = { errors: [sfn.Errors.ALL], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(5), jitterStrategy: sfn.JitterType.FULL };
    revertRing.addRetry(hard);
    const outcome = (name: string, value: string) => new sfn.Pass(this, name, { stateName: name, result: sfn.Result.fromString(value) });
    const revertFailed = outcome('RingRevertFailed', 'REVERT_FAILED');
    revertRing.addCatch(revertFailed, { errors: [sfn.Errors.ALL], resultPath: '$.revertError' });
    revertRing.next(outcome('RingReverted', 'REVERTED'));

    // No release to go back to: if the group's latest deployment is this run's candidate, cancel
    // it (devices that already updated keep it until the next rollout, as FleetRollout documents).
    const latest = new tasks.CallAwsService(this, 'FindRingDeployment', {
      stateName: 'FindRingDeployment',
      service: 'greengrassv2',
      action: 'listDeployments',
      iamAction: 'greengrass:ListDeployments',
      // The Greengrass v2 API takes no resource ARN (the Service Authorization Reference lists v1's group).
      iamResources: ['*'],
      parameters: { 'TargetArn.$': '$.ring.groupArn', 'HistoryFilter': 'LATEST_ONLY' },
      resultSelector: { 'deployments.$': '$.Deployments' },
      resultPath: '$.latest',
    });
    latest.addRetry(hard);
    latest.addCatch(revertFailed, { errors: [sfn.Errors.ALL], resultPath: '$.revertError' });
    const cancel = new tasks.CallAwsService(this, 'CancelRingDeployment', {
      stateName: 'CancelRingDeployment',
      service: 'greengrassv2',
      action: 'cancelDeployment',
      iamAction: 'greengrass:CancelDeployment',
      iamResources: [deploymentArns(this).deploymentsArn],
      parameters: { 'DeploymentId.$': '$.latest.deployments[0].DeploymentId' },
      resultPath: sfn.JsonPath.DISCARD,
    });
    cancel.addRetry(hard);
    cancel.addCatch(revertFailed, { errors: [sfn.Errors.ALL], resultPath: '$.revertError' });
    cancel.next(outcome('RingCanceled', 'CANCELED'));
    latest.next(new sfn.Choice(this, 'RingRunsCandidate', { stateName: 'RingRunsCandidate' })
      .when(sfn.Condition.and(
        sfn.Condition.isPresent('$.latest.deployments[0]'),
        sfn.Condition.stringEqualsJsonPath('$.latest.deployments[0].DeploymentName', '$.candidateName'),
        sfn.Condition.stringEquals('$.latest.deployments[0].DeploymentStatus', 'ACTIVE'),
      ), cancel)
      .otherwise(outcome('RingKeepsItsRelease', 'KEPT')));
    return new sfn.Choice(this, 'RingHasLastGood', { stateName: 'RingHasLastGood' })
      .when(sfn.Condition.booleanEquals('$.ring.hasLastGood', true), revertRing)
      .otherwise(latest);
  }
}
