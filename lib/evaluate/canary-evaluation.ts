import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { EdgeAgentComponent } from '../device/edge-agent-component';
import { EdgeFleet } from '../fleet/edge-fleet';
import { ReleaseLedger } from '../fleet/release-ledger';
import { CanaryResults } from './canary-results';
import { CanaryStates } from './canary-states';
import { GREENGRASS_ROOT, unarchivedArtifactsDir } from '../core/naming';

export { CanaryEvaluationError } from './canary-states';

/** Props for {@link CanaryEvaluation}. */
export interface CanaryEvaluationProps {
  /** The canary fleet: its thing group gets the candidates, one at a time. */
  readonly canary: EdgeFleet;
  /** Where the results arrive. */
  readonly results: CanaryResults;
  /** The edge agent component, run in benchmark mode on the canary devices. */
  readonly agent: EdgeAgentComponent;
  /**
   * No longer used: a canary group is put back on what it ran before the canary (its latest
   * deployment), passed or failed, instead of on a last good release it never has.
   *
   * @deprecated the canary needs no ledger; leave it out
   */
  readonly ledger?: ReleaseLedger;
  /** The model component of the device class (see `ComponentPublishing.componentNames`). */
  readonly modelComponentName: string;
  /** The data set's dataset.json on the canary devices. */
  readonly datasetPath: string;
  /**
   * Where the candidates are in the input: `[{ variant, componentVersion, sha256 }]`,
   * as `ComponentPublishing` outputs them for one class.
   *
   * @default '$.candidates'
   */
  readonly candidatesPath?: string;
  /**
   * How long to wait for every device: 5 minutes to 24 hours.
   *
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /**
   * The longest time between two accepted reports before giving up (each report is a heartbeat): 1 minute up to the timeout.
   *
   * @default - the timeout
   */
  readonly heartbeat?: Duration;
  /**
   * The share of the canary group that must have reported for a timed-out canary to go on: 1 to 100.
   *
   * @default 100
   */
  readonly quorumPercentage?: number;
  /**
   * The Greengrass root folder on the devices.
   *
   * @default '/greengrass/v2'
   */
  readonly greengrassRoot?: string;
  /**
   * A prefix for the state names.
   *
   * @default - `{deviceClass} canary: `
   */
  readonly stateNamePrefix?: string;
}

/**
 * Evaluates each candidate of one device class on a canary group of real
 * devices, as a Step Functions fragment: registers the canary (who must
 * report), deploys the candidate with the edge agent in benchmark mode
 * (configuration: run id, variant, model and data set paths), then waits with
 * `.waitForTaskToken` (heartbeat and timeout) until every device has
 * reported, or, at the timeout, goes on when the quorum did. The task token
 * is kept in the canary table only, never sent to devices.
 *
 * **Input**: `{ runId, …candidates }`.
 * **Output**: the input with `canary.<deviceClass>` set to `{ deviceClass,
 * variants: [{ variant, componentVersion, results: [device report…],
 * expected, reported, missing }] }`: the gate's input. At the end, passed or
 * failed, the canary group is put back on what it ran before (its latest
 * deployment's components, or nothing): it never keeps a candidate.
 * **Errors**: `CanaryTimedOut` (too few devices reported), `CanaryGroupEmpty`,
 * or the fault met (each after the group was put back).
 */
export class CanaryEvaluation extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Where the output is: `$.canary.<key>`. */
  public readonly outputPath: string;

  constructor(scope: Construct, id: string, props: CanaryEvaluationProps) {
    super(scope, id);
    const fleet = props.canary;
    const timeoutSeconds = props.timeout?.toSeconds() ?? 3600;
    const heartbeatSeconds = props.heartbeat?.toSeconds() ?? timeoutSeconds;
    const quorum = props.quorumPercentage ?? 100;
    const candidatesPath = props.candidatesPath ?? '$.candidates';
    const root = props.greengrassRoot ?? GREENGRASS_ROOT;
    const problems = new ProblemCollector();
    checkIntegerRange(problems, 'timeout', timeoutSeconds, 300, 86400, 'seconds');
    checkIntegerRange(problems, 'heartbeat', heartbeatSeconds, 60, timeoutSeconds, 'seconds (and at most the timeout)');
    checkIntegerRange(problems, 'quorumPercentage', quorum, 1, 100);
    if (!/^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])+$/.test(candidatesPath)) problems.add('candidatesPath', candidatesPath, 'Use a plain JSONPath such as "$.publish.classes[0].candidates".');
    if (!isUnresolved(props.datasetPath) && !props.datasetPath.startsWith('/')) problems.add('datasetPath', props.datasetPath, 'Give the absolute path of dataset.json on the devices.');
    if (props.agent.topicRoot !== props.results.topicRoot) {
      problems.add('results', props.results.topicRoot, `The agent publishes under ${props.agent.topicRoot}, but these results are read from under ${props.results.topicRoot}: give CanaryResults the agent's topicRoot, or no result would ever arrive.`);
    }
    problems.throwIfAny(this);

    const key = fleet.deviceClass.replace(/-/g, '_');
    this.outputPath = `$.canary.${key}`;
    const states = new CanaryStates(this, {
      target: {
        deviceClass: fleet.deviceClass,
        group: fleet.thingGroupName,
        groupArn: fleet.thingGroupArn,
        modelComponentName: props.modelComponentName,
        artifactsDir: unarchivedArtifactsDir(props.modelComponentName, root),
        datasetPath: props.datasetPath,
        quorumPercentage: quorum,
      },
      timeouts: { timeoutSeconds, heartbeatSeconds },
      fleets: [fleet],
      results: props.results,
      agent: props.agent,
      candidatesPath,
      stateName: (s: string) => `${props.stateNamePrefix ?? `${fleet.deviceClass} canary: `}${s}`,
      beforePath: `$.canaryBefore.${key}`,
      outputPath: this.outputPath,
    });
    this.startState = states.startState;
    this.endStates = states.endStates;
  }
}
