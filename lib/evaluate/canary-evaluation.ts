import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { retryTransient } from '../core/retries';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { EdgeAgentComponent } from '../device/edge-agent-component';
import { EdgeFleet } from '../fleet/edge-fleet';
import { createDeploymentTask, deploymentArns, deploymentClientToken } from '../fleet/deployment';
import { ReleaseLedger } from '../fleet/release-ledger';
import { CanaryResults } from './canary-results';
import { GREENGRASS_ROOT, unarchivedArtifactsDir } from '../core/naming';

/** How a canary's candidate deployments are named (`canary-{runId}-{variant}`), so a later run knows one left behind. */
const CANDIDATE_DEPLOYMENT = 'canary-';

/** Error names the canary fragment ends with. */
export enum CanaryEvaluationError {
  /** Too few canary devices reported before the timeout; the canary group was put back on what it ran before. */
  TIMED_OUT = 'CanaryTimedOut',
  /** The canary thing group has no devices. */
  GROUP_EMPTY = 'CanaryGroupEmpty',
}

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
    const name = (s: string) => `${props.stateNamePrefix ?? `${fleet.deviceClass} canary: `}${s}`;
    const control = props.results._control;
    control.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iot:ListThingsInThingGroup'], resources: [fleet.thingGroupArn] }));

    const register = control.invoke(this, 'RegisterCanary', {
      stateName: name('RegisterCanary'),
      payload: {
        'op': 'register',
        'runId.$': '$.runId',
        'deviceClass': fleet.deviceClass,
        'variant.$': '$.candidate.variant',
        'group': fleet.thingGroupName,
        'quorumPercentage': quorum,
        'timeoutSeconds': timeoutSeconds,
      },
      resultPath: '$.registered',
    });
    const configure = new sfn.Pass(this, 'CanaryConfiguration', {
      stateName: name('CanaryConfiguration'),
      comment: 'What the edge agent runs on the canary devices',
      parameters: {
        'mode': 'benchmark',
        'runId.$': '$.runId',
        'variant.$': '$.candidate.variant',
        'modelPath.$': `States.Format('${unarchivedArtifactsDir(props.modelComponentName, root)}/{}/{}', $.candidate.componentVersion, $.candidate.sha256)`,
        'datasetPath': props.datasetPath,
      },
      resultPath: '$.agentConfiguration',
    });

    const { deploymentsArn, jobsArn } = deploymentArns(this);
    const deployment = (state: string, components: { [key: string]: unknown }) => createDeploymentTask(this, state, {
      stateName: name(state),
      fleets: [fleet],
      parameters: {
        'TargetArn': fleet.thingGroupArn,
        'DeploymentName.$': `States.Format('${CANDIDATE_DEPLOYMENT}{}-{}', $.runId, $.candidate.variant)`,
        'ClientToken.$': deploymentClientToken(`{}/{}/${fleet.thingGroupName}`, '$.runId', '$.candidate.variant'),
        ...components,
        'DeploymentPolicies': { FailureHandlingPolicy: 'ROLLBACK', ComponentUpdatePolicy: { Action: 'NOTIFY_COMPONENTS', TimeoutInSeconds: 60 } },
        'IotJobConfiguration': { TimeoutConfig: { InProgressTimeoutInMinutes: Math.max(1, Math.ceil(timeoutSeconds / 60)) } },
      },
      resultPath: `$.${state.charAt(0).toLowerCase()}${state.slice(1)}`,
    });
    const deploy = deployment('DeployCanary', {
      Components: {
        [props.modelComponentName]: { 'ComponentVersion.$': '$.candidate.componentVersion' },
        [props.agent.componentName]: {
          ComponentVersion: props.agent.componentVersion,
          ConfigurationUpdate: { 'Merge.$': 'States.JsonToString($.agentConfiguration)' },
        },
      },
    });

    const wait = new tasks.LambdaInvoke(this, 'WaitForCanaryResults', {
      stateName: name('WaitForCanaryResults'),
      comment: 'The collector completes this task when every canary device has reported',
      lambdaFunction: control.function,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        'op': 'attach',
        'token': sfn.JsonPath.taskToken,
        'runId.$': '$.runId',
        'deviceClass': fleet.deviceClass,
        'variant.$': '$.candidate.variant',
      }),
      heartbeatTimeout: sfn.Timeout.duration(Duration.seconds(heartbeatSeconds)),
      taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds)),
      resultPath: '$.outcome',
      retryOnServiceExceptions: false,
    });
    retryTransient(wait, 'lambda:Invoke');
    const close = control.invoke(this, 'CloseCanary', {
      stateName: name('CloseCanary'),
      comment: 'The timeout passed: go on when the quorum reported',
      payload: { 'op': 'close', 'runId.$': '$.runId', 'deviceClass': fleet.deviceClass, 'variant.$': '$.candidate.variant' },
      resultPath: '$.outcome',
    });
    const done = new sfn.Pass(this, 'CandidateEvaluated', {
      stateName: name('CandidateEvaluated'),
      parameters: {
        'variant.$': '$.candidate.variant',
        'componentVersion.$': '$.candidate.componentVersion',
        'sha256.$': '$.candidate.sha256',
        'resultsS3Uri.$': '$.outcome.resultsS3Uri',
        'expected.$': '$.outcome.expected',
        'reported.$': '$.outcome.reported',
        'missing.$': '$.outcome.missing',
        'missingCount.$': '$.outcome.missingCount',
      },
    });

    // Too few devices: fail; the group is put back as every canary ends (putBackAfterwards).
    const timedOut = new sfn.Fail(this, 'CanaryTimedOut', {
      stateName: name('CanaryTimedOut'),
      error: CanaryEvaluationError.TIMED_OUT,
      causePath: '$.noQuorum.Cause',
    });

    wait.addCatch(close, { errors: [sfn.Errors.TIMEOUT, sfn.Errors.HEARTBEAT_TIMEOUT], resultPath: '$.waitError' });
    // A re-run whose canary closed earlier without a quorum ends as that canary did.
    wait.addCatch(timedOut, { errors: ['CanaryNoQuorum'], resultPath: '$.noQuorum' });
    close.addCatch(timedOut, { errors: ['CanaryNoQuorum'], resultPath: '$.noQuorum' });
    register.next(configure).next(deploy).next(wait).next(done);
    close.next(done);

    const perCandidate = new sfn.Map(this, 'EvaluateCandidates', {
      stateName: name('EvaluateCandidates'),
      comment: 'One candidate at a time: a deployment holds one version of the model component',
      itemsPath: candidatesPath,
      itemSelector: { 'runId.$': '$.runId', 'candidate.$': '$$.Map.Item.Value' },
      maxConcurrency: 1,
      resultSelector: { 'deviceClass': fleet.deviceClass, 'variants.$': '$' },
      resultPath: this.outputPath,
    });
    perCandidate.itemProcessor(register);
    const { before, restored } = this.putBackAfterwards(name, fleet, perCandidate, deploymentsArn);

    const stackScope = Stack.of(this);
    acknowledge(stackScope, 'IOT_JOBS', [nagResource(this, jobsArn)]);
    acknowledge(stackScope, 'GREENGRASS_DEPLOYMENTS', [nagResource(this, deploymentsArn)]);
    acknowledge(stackScope, 'FLEET_THINGS', [nagResource(this, fleet.thingArnPattern())]);
    acknowledge(stackScope, 'LAMBDA_INVOKE_VERSIONS', [
      nagResource(this, `${control.function.functionArn}:*`),
    ]);
    this.startState = before;
    this.endStates = [restored];
  }

  /**
   * What the canary group ran before (its latest deployment's components, or none), and the
   * deployment that puts it back after the candidates, passed or failed: the canary group never
   * keeps a candidate. A fault while the candidates ran is raised again once the group is back.
   */
  private putBackAfterwards(name: (s: string) => string, fleet: EdgeFleet, perCandidate: sfn.Map, deploymentsArn: string): { before: sfn.State; restored: sfn.INextable } {
    const before = `$.canaryBefore.${fleet.deviceClass.replace(/-/g, '_')}`;
    const hard = { errors: [sfn.Errors.ALL], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(5), jitterStrategy: sfn.JitterType.FULL };
    const find = new tasks.CallAwsService(this, 'FindCanaryDeployment', {
      stateName: name('FindCanaryDeployment'),
      comment: 'What the canary group runs before the candidates',
      service: 'greengrassv2',
      action: 'listDeployments',
      iamAction: 'greengrass:ListDeployments',
      // The Greengrass v2 API takes no resource ARN (the Service Authorization Reference lists v1's group).
      iamResources: ['*'],
      parameters: { TargetArn: fleet.thingGroupArn, HistoryFilter: 'LATEST_ONLY' },
      resultSelector: { 'deployments.$': '$.Deployments' },
      resultPath: before,
    });
    retryTransient(find, 'greengrassv2:ListDeployments');
    const get = new tasks.CallAwsService(this, 'GetCanaryDeployment', {
      stateName: name('GetCanaryDeployment'),
      service: 'greengrassv2',
      action: 'getDeployment',
      iamAction: 'greengrass:GetDeployment',
      iamResources: [deploymentsArn],
      parameters: { [`DeploymentId.$`]: `${before}.deployments[0].DeploymentId` },
      resultSelector: { 'components.$': '$.Components' },
      resultPath: before,
    });
    retryTransient(get, 'greengrassv2:GetDeployment');
    // Nothing to put back: the group had no active deployment, or it still runs a candidate that an
    // earlier run could not take back (what it ran before that is not known any more): removed.
    const nothing = new sfn.Pass(this, 'CanaryRanNothing', { stateName: name('CanaryRanNothing'), result: sfn.Result.fromObject({ components: {} }), resultPath: before });
    find.next(new sfn.Choice(this, 'CanaryHadDeployment', { stateName: name('CanaryHadDeployment') })
      .when(sfn.Condition.and(
        sfn.Condition.isPresent(`${before}.deployments[0]`),
        sfn.Condition.stringEquals(`${before}.deployments[0].DeploymentStatus`, 'ACTIVE'),
        sfn.Condition.not(sfn.Condition.stringMatches(`${before}.deployments[0].DeploymentName`, `${CANDIDATE_DEPLOYMENT}*`)),
      ), get)
      .otherwise(nothing));

    const putBack = (state: string) => {
      const task = createDeploymentTask(this, state, {
        stateName: name(state),
        fleets: [fleet],
        parameters: {
          'TargetArn': fleet.thingGroupArn,
          'DeploymentName.$': "States.Format('restore-canary-{}', $.runId)",
          'ClientToken.$': deploymentClientToken(`restore-canary/{}/${fleet.thingGroupName}`, '$.runId'),
          'Components.$': `${before}.components`,
          'DeploymentPolicies': { FailureHandlingPolicy: 'ROLLBACK' },
        },
        resultPath: sfn.JsonPath.DISCARD,
      });
      task.addRetry(hard);
      return task;
    };
    const restored = putBack('RestoreCanary');
    const restoredAfterFault = putBack('RestoreCanaryAfterFault');
    const raise = new sfn.Fail(this, 'CanaryFailed', { stateName: name('CanaryFailed'), errorPath: '$.canaryError.Error', causePath: '$.canaryError.Cause' });
    // Putting the group back is best effort after a fault: the fault is what the run ends with.
    restoredAfterFault.addCatch(raise, { errors: [sfn.Errors.ALL], resultPath: sfn.JsonPath.DISCARD });
    restoredAfterFault.next(raise);
    perCandidate.addCatch(restoredAfterFault, { errors: [sfn.Errors.ALL], resultPath: '$.canaryError' });
    nothing.next(perCandidate);
    get.next(perCandidate);
    perCandidate.next(restored);
    return { before: find, restored };
  }
}
