import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { checkIntegerRange, ProblemCollector } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { EdgeFleet } from './edge-fleet';
import { ReleaseLedger } from './release-ledger';
import { AbortCriteria, Rollout, RolloutFailureType } from './rollout';
import { RolloutSettings, RolloutStates } from './rollout-states';


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
 * `{ group, deploymentId, iotJobId, verdict: { healthy, executed, failed, failurePercentage, reason } }`.
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
    const settings = rolloutSettings(props);
    settings.problems.throwIfAny(this);
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
    const states = new RolloutStates(this, {
      target: { group: fleet.thingGroupName, groupArn: fleet.thingGroupArn, deviceClass: fleet.deviceClass, fleets: [fleet] },
      ledger: ledgerFn,
      ...settings.options,
      stateName: (state) => `${props.stateNamePrefix ?? `${fleet.thingGroupName}: `}${state}`,
      outputPath: out,
      recordHealthy: props.recordHealthy !== false,
    });
    this.startState = states.startState;
    this.endStates = states.endStates;
  }
}

/** The settings of a rollout as given, or their defaults, and what is wrong with them. @internal */
export function rolloutSettings(props: Omit<FleetRolloutProps, 'fleet' | 'ledger'>): {
  options: { settings: RolloutSettings; componentsPath: string };
  problems: ProblemCollector;
} {
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
  return {
    options: { settings: { rollout, abortCriteria: abort, maxFailurePercentage: maxFailure, inProgressTimeoutMinutes: timeoutMinutes, pollSeconds, budgetSeconds }, componentsPath },
    problems,
  };
}
