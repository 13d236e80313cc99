import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { retryTransient } from '../core/retries';
import { argument, field, isPath, StateValue } from '../core/state-values';
import { EdgeAgentComponent } from '../device/edge-agent-component';
import { EdgeFleet } from '../fleet/edge-fleet';
import { createDeploymentTask, deploymentArns, deploymentClientToken } from '../fleet/deployment';
import { CanaryResults } from './canary-results';

/** How a canary's candidate deployments are named (`canary-{runId}-{variant}`), so a later run knows one left behind. @internal */
export const CANDIDATE_DEPLOYMENT = 'canary-';

/** Error names the canary states end with. */
export enum CanaryEvaluationError {
  /** Too few canary devices reported before the timeout; the canary group was put back on what it ran before. */
  TIMED_OUT = 'CanaryTimedOut',
  /** The canary thing group has no devices. */
  GROUP_EMPTY = 'CanaryGroupEmpty',
}

/**
 * The canary group and the class it evaluates, as data: what a canary of a Map over classes
 * finds at `$.canaryClass`. @internal
 */
export interface CanaryClassData {
  readonly deviceClass: string;
  readonly group: string;
  readonly groupArn: string;
  /** The class's model component. */
  readonly modelComponentName: string;
  /** Where Greengrass unpacks that component's artifacts on the devices. */
  readonly artifactsDir: string;
  readonly datasetPath: string;
  readonly quorumPercentage: number;
}

/**
 * How long a canary waits, written in the definition even for a class read from the input
 * (Step Functions reads a TimeoutSecondsPath from the state's input, some executors from its
 * parameters: a literal means the same everywhere). @internal
 */
export interface CanaryTimeouts {
  readonly timeoutSeconds: number;
  readonly heartbeatSeconds: number;
}

/** Where a canary read from the input finds its class: the Map item's `canaryClass`. @internal */
export const CANARY_CLASS_PATH = '$.canaryClass';

/** Options of {@link CanaryStates}. @internal */
export interface CanaryStatesOptions {
  /** The class, written in the definition, or `'input'`: read from {@link CANARY_CLASS_PATH}. */
  readonly target: CanaryClassData | 'input';
  readonly timeouts: CanaryTimeouts;
  /** Every canary fleet the target can be: the scope of the deployments' IoT permissions. */
  readonly fleets: EdgeFleet[];
  readonly results: CanaryResults;
  readonly agent: EdgeAgentComponent;
  /** Where the candidates are: `[{ variant, componentVersion, sha256 }]`. */
  readonly candidatesPath: string;
  readonly stateName: (state: string) => string;
  /** Where what the group ran before the candidates is kept. */
  readonly beforePath: string;
  /** Where the class's `{ deviceClass, variants }` goes. */
  readonly outputPath: string;
}

type Values = { readonly [K in keyof CanaryClassData]: StateValue<CanaryClassData[K]> } & CanaryTimeouts & { readonly jobTimeoutMinutes: number };

/**
 * The states of one class's canary: what the group runs before, then each candidate in turn
 * (register who must report, deploy it with the edge agent in benchmark mode, wait for the
 * results), and the group put back on what it ran before, passed or failed. The class is written
 * in the definition (one canary, {@link CanaryEvaluation}), or read from the input (an item of a
 * Map over classes), so one copy of these states serves any number of classes.
 * @internal
 */
export class CanaryStates {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  /** The class's values as the states use them: literals, or paths into the input. */
  private readonly t: Values;

  constructor(private readonly scope: Construct, private readonly o: CanaryStatesOptions) {
    const fromInput = o.target === 'input';
    const timeouts = { ...o.timeouts, jobTimeoutMinutes: canaryJobTimeoutMinutes(o.timeouts.timeoutSeconds) };
    const t: Values = o.target === 'input'
      ? { ...Object.fromEntries(CLASS_KEYS.map((k) => [k, { path: `${CANARY_CLASS_PATH}.${k}` }])) as unknown as Values, ...timeouts }
      : { ...o.target, ...timeouts };
    this.t = t;
    o.results._control.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iot:ListThingsInThingGroup'], resources: o.fleets.map((f) => f.thingGroupArn) }));
    const register = this.evaluateCandidate();
    const perCandidate = new sfn.Map(scope, 'EvaluateCandidates', {
      stateName: o.stateName('EvaluateCandidates'),
      comment: 'One candidate at a time: a deployment holds one version of the model component',
      itemsPath: o.candidatesPath,
      itemSelector: { 'runId.$': '$.runId', ...(fromInput ? { 'canaryClass.$': CANARY_CLASS_PATH } : {}), 'candidate.$': '$$.Map.Item.Value' },
      maxConcurrency: 1,
      // A class read from the input is named by the Pass that ends the canary (a selector sees only the result).
      ...(!fromInput ? { resultSelector: { 'deviceClass': t.deviceClass, 'variants.$': '$' }, resultPath: o.outputPath } : { resultPath: `${o.outputPath}.variants` }),
    });
    perCandidate.itemProcessor(register);
    const { before, restored } = this.putBackAfterwards(perCandidate);

    const { deploymentsArn, jobsArn } = deploymentArns(scope);
    const stack = Stack.of(scope);
    acknowledge(stack, 'IOT_JOBS', [nagResource(scope, jobsArn)]);
    acknowledge(stack, 'GREENGRASS_DEPLOYMENTS', [nagResource(scope, deploymentsArn)]);
    for (const f of o.fleets) acknowledge(stack, 'FLEET_THINGS', [nagResource(scope, f.thingArnPattern())]);
    acknowledge(stack, 'LAMBDA_INVOKE_VERSIONS', [nagResource(scope, `${o.results._control.function.functionArn}:*`)]);
    this.startState = before;
    if (!fromInput) {
      this.endStates = [restored];
    } else {
      const evaluated = new sfn.Pass(scope, 'CanaryEvaluated', {
        stateName: o.stateName('CanaryEvaluated'),
        parameters: { 'deviceClass.$': (t.deviceClass as { path: string }).path, 'variants.$': `${o.outputPath}.variants` },
        resultPath: o.outputPath,
        // The output of a Map item: the class's canary alone.
        outputPath: o.outputPath,
      });
      restored.next(evaluated);
      this.endStates = [evaluated];
    }
  }

  /**
   * One candidate on the canary group: register who must report, configure the agent, deploy the
   * candidate with it, and wait for the results (at the timeout, go on when the quorum reported).
   * Returns the first state; the last is CandidateEvaluated, the candidate's outcome.
   */
  private evaluateCandidate(): sfn.State {
    const { scope, o, t } = this;
    const control = o.results._control;
    const register = control.invoke(scope, 'RegisterCanary', {
      stateName: o.stateName('RegisterCanary'),
      payload: {
        'op': 'register',
        'runId.$': '$.runId',
        ...field('deviceClass', t.deviceClass),
        'variant.$': '$.candidate.variant',
        ...field('group', t.group),
        ...field('quorumPercentage', t.quorumPercentage),
        ...field('timeoutSeconds', t.timeoutSeconds),
      },
      resultPath: '$.registered',
    });
    const configure = new sfn.Pass(scope, 'CanaryConfiguration', {
      stateName: o.stateName('CanaryConfiguration'),
      comment: 'What the edge agent runs on the canary devices',
      parameters: {
        'mode': 'benchmark',
        'runId.$': '$.runId',
        'variant.$': '$.candidate.variant',
        'modelPath.$': isPath(t.artifactsDir)
          ? `States.Format('{}/{}/{}', ${t.artifactsDir.path}, $.candidate.componentVersion, $.candidate.sha256)`
          : `States.Format('${t.artifactsDir}/{}/{}', $.candidate.componentVersion, $.candidate.sha256)`,
        ...field('datasetPath', t.datasetPath),
      },
      resultPath: '$.agentConfiguration',
    });
    const deploy = this.deployment('DeployCanary', this.candidateComponents());
    const wait = this.waitForResults();
    const close = control.invoke(scope, 'CloseCanary', {
      stateName: o.stateName('CloseCanary'),
      comment: 'The timeout passed: go on when the quorum reported',
      payload: { 'op': 'close', 'runId.$': '$.runId', ...field('deviceClass', t.deviceClass), 'variant.$': '$.candidate.variant' },
      resultPath: '$.outcome',
    });
    const done = new sfn.Pass(scope, 'CandidateEvaluated', {
      stateName: o.stateName('CandidateEvaluated'),
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
    const timedOut = new sfn.Fail(scope, 'CanaryTimedOut', { stateName: o.stateName('CanaryTimedOut'), error: CanaryEvaluationError.TIMED_OUT, causePath: '$.noQuorum.Cause' });
    wait.addCatch(close, { errors: [sfn.Errors.TIMEOUT, sfn.Errors.HEARTBEAT_TIMEOUT], resultPath: '$.waitError' });
    // A re-run whose canary closed earlier without a quorum ends as that canary did.
    wait.addCatch(timedOut, { errors: ['CanaryNoQuorum'], resultPath: '$.noQuorum' });
    close.addCatch(timedOut, { errors: ['CanaryNoQuorum'], resultPath: '$.noQuorum' });
    const components = this.agentComponents();
    register.next(configure).next(components ?? deploy);
    components?.next(deploy);
    deploy.next(wait).next(done);
    close.next(done);
    return register;
  }

  /** The candidate's components: the model component at the candidate's version, and the agent in benchmark mode. */
  private candidateComponents(): { [key: string]: unknown } {
    const { t } = this;
    const agent = this.o.agent;
    if (isPath(t.modelComponentName)) {
      // The component's name is data: its entry is built as JSON text (names and versions hold no
      // quote, brace or backslash) and merged with the agent's.
      return { 'Components.$': `States.JsonMerge(States.StringToJson(States.Format('\\{"{}":\\{"ComponentVersion":"{}"\\}\\}', ${t.modelComponentName.path}, $.candidate.componentVersion)), $.agentComponents, false)` };
    }
    return {
      Components: {
        [t.modelComponentName]: { 'ComponentVersion.$': '$.candidate.componentVersion' },
        [agent.componentName]: { ComponentVersion: agent.componentVersion, ConfigurationUpdate: { 'Merge.$': 'States.JsonToString($.agentConfiguration)' } },
      },
    };
  }

  /** For a class read from the input: the agent's entry of the components, to merge with the model's. */
  private agentComponents(): sfn.Pass | undefined {
    const { t } = this;
    const agent = this.o.agent;
    if (!isPath(t.modelComponentName)) return undefined;
    return new sfn.Pass(this.scope, 'AgentComponents', {
      stateName: this.o.stateName('AgentComponents'),
      parameters: { [agent.componentName]: { ComponentVersion: agent.componentVersion, ConfigurationUpdate: { 'Merge.$': 'States.JsonToString($.agentConfiguration)' } } },
      resultPath: '$.agentComponents',
    });
  }

  private deployment(state: string, components: { [key: string]: unknown }): tasks.CallAwsService {
    const { t } = this;
    return createDeploymentTask(this.scope, state, {
      stateName: this.o.stateName(state),
      fleets: this.o.fleets,
      parameters: {
        ...field('TargetArn', t.groupArn),
        'DeploymentName.$': `States.Format('${CANDIDATE_DEPLOYMENT}{}-{}', $.runId, $.candidate.variant)`,
        'ClientToken.$': deploymentClientToken('{}/{}/{}', '$.runId', '$.candidate.variant', argument(t.group)),
        ...components,
        'DeploymentPolicies': { FailureHandlingPolicy: 'ROLLBACK', ComponentUpdatePolicy: { Action: 'NOTIFY_COMPONENTS', TimeoutInSeconds: 60 } },
        'IotJobConfiguration': { TimeoutConfig: field('InProgressTimeoutInMinutes', t.jobTimeoutMinutes) },
      },
      resultPath: `$.${state.charAt(0).toLowerCase()}${state.slice(1)}`,
    });
  }

  /** Waits with the task token until the collector completes the task (every device reported), with a heartbeat and a timeout. */
  private waitForResults(): tasks.LambdaInvoke {
    const { t } = this;
    const results = this.o.results;
    const seconds = (v: number) => sfn.Timeout.duration(Duration.seconds(v));
    const wait = new tasks.LambdaInvoke(this.scope, 'WaitForCanaryResults', {
      stateName: this.o.stateName('WaitForCanaryResults'),
      comment: 'The collector completes this task when every canary device has reported',
      lambdaFunction: results._control.function,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ 'op': 'attach', 'token': sfn.JsonPath.taskToken, 'runId.$': '$.runId', ...field('deviceClass', t.deviceClass), 'variant.$': '$.candidate.variant' }),
      heartbeatTimeout: seconds(t.heartbeatSeconds),
      taskTimeout: seconds(t.timeoutSeconds),
      resultPath: '$.outcome',
      retryOnServiceExceptions: false,
    });
    retryTransient(wait, 'lambda:Invoke');
    return wait;
  }

  /**
   * What the canary group ran before (its latest deployment's components, or none), and the
   * deployment that puts it back after the candidates, passed or failed: the canary group never
   * keeps a candidate. A fault while the candidates ran is raised again once the group is back.
   */
  private putBackAfterwards(perCandidate: sfn.Map): { before: sfn.State; restored: sfn.INextable & sfn.State } {
    const { scope, o, t } = this;
    const before = o.beforePath;
    const hard = { errors: [sfn.Errors.ALL], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.minutes(5), jitterStrategy: sfn.JitterType.FULL };
    const find = new tasks.CallAwsService(scope, 'FindCanaryDeployment', {
      stateName: o.stateName('FindCanaryDeployment'),
      comment: 'What the canary group runs before the candidates',
      service: 'greengrassv2',
      action: 'listDeployments',
      iamAction: 'greengrass:ListDeployments',
      // The Greengrass v2 API takes no resource ARN (the Service Authorization Reference lists v1's group).
      iamResources: ['*'],
      parameters: { ...field('TargetArn', t.groupArn), HistoryFilter: 'LATEST_ONLY' },
      resultSelector: { 'deployments.$': '$.Deployments' },
      resultPath: before,
    });
    retryTransient(find, 'greengrassv2:ListDeployments');
    const get = new tasks.CallAwsService(scope, 'GetCanaryDeployment', {
      stateName: o.stateName('GetCanaryDeployment'),
      service: 'greengrassv2',
      action: 'getDeployment',
      iamAction: 'greengrass:GetDeployment',
      iamResources: [deploymentArns(scope).deploymentsArn],
      parameters: { [`DeploymentId.$`]: `${before}.deployments[0].DeploymentId` },
      resultSelector: { 'components.$': '$.Components' },
      resultPath: before,
    });
    retryTransient(get, 'greengrassv2:GetDeployment');
    // Nothing to put back: the group had no active deployment, or it still runs a candidate that an
    // earlier run could not take back (what it ran before that is not known any more): removed.
    const nothing = new sfn.Pass(scope, 'CanaryRanNothing', { stateName: o.stateName('CanaryRanNothing'), result: sfn.Result.fromObject({ components: {} }), resultPath: before });
    find.next(new sfn.Choice(scope, 'CanaryHadDeployment', { stateName: o.stateName('CanaryHadDeployment') })
      .when(sfn.Condition.and(
        sfn.Condition.isPresent(`${before}.deployments[0]`),
        sfn.Condition.stringEquals(`${before}.deployments[0].DeploymentStatus`, 'ACTIVE'),
        sfn.Condition.not(sfn.Condition.stringMatches(`${before}.deployments[0].DeploymentName`, `${CANDIDATE_DEPLOYMENT}*`)),
      ), get)
      .otherwise(nothing));

    const putBack = (state: string) => {
      const task = createDeploymentTask(scope, state, {
        stateName: o.stateName(state),
        fleets: o.fleets,
        parameters: {
          ...field('TargetArn', t.groupArn),
          'DeploymentName.$': "States.Format('restore-canary-{}', $.runId)",
          'ClientToken.$': deploymentClientToken('restore-canary/{}/{}', '$.runId', argument(t.group)),
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
    const raise = new sfn.Fail(scope, 'CanaryFailed', { stateName: o.stateName('CanaryFailed'), errorPath: '$.canaryError.Error', causePath: '$.canaryError.Cause' });
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

const CLASS_KEYS: (keyof CanaryClassData)[] = ['deviceClass', 'group', 'groupArn', 'modelComponentName', 'artifactsDir', 'datasetPath', 'quorumPercentage'];

/** The IoT job timeout of a canary's deployment: the canary's timeout, in whole minutes. @internal */
export function canaryJobTimeoutMinutes(timeoutSeconds: number): number {
  return Math.max(1, Math.ceil(timeoutSeconds / 60));
}
