import { operationErrors, ServiceName } from '../support/aws-model';
import { EXAMPLE_STACKS, exampleStack } from '../support/example-stacks';
import { TEST_ENV } from '../support/iam/template';
import { definitionsOf, taskStates } from '../support/state-machine';

/**
 * Every error name a Retry or Catch of a synthesized definition waits for must be one the
 * Task's operation can raise, and each operation's transient errors must be retried with
 * jitter. The names come from AWS's service descriptions (test/fixtures/aws-models) and from
 * the errors Step Functions documents; a name that can never arrive is a retry that never runs.
 */

/** Errors Step Functions itself raises (Amazon States Language, "Error names"). */
const STATES_ERRORS = new Set(['States.ALL', 'States.Timeout', 'States.HeartbeatTimeout', 'States.TaskFailed', 'States.Permissions',
  'States.ResultPathMatchFailure', 'States.ParameterPathFailure', 'States.QueryEvaluationError', 'States.IntrinsicFailure', 'States.Runtime']);
/** Errors of a Lambda invocation from Step Functions (developer guide, "Handling Lambda errors"). */
const LAMBDA_ERRORS = new Set(['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException', 'Lambda.Unknown']);
const LAMBDA_TRANSIENT = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

/** How the aws-sdk integration names each service in its errors, and its SDK's base exception (unmodeled errors such as throttling). */
const SDK_SERVICES: Record<string, { model: ServiceName; prefix: string; baseException?: string }> = {
  sagemaker: { model: 'sagemaker', prefix: 'SageMaker', baseException: 'AmazonSageMakerException' },
  greengrassv2: { model: 'greengrassv2', prefix: 'GreengrassV2' },
  iot: { model: 'iot', prefix: 'Iot' },
};
const TRANSIENT_SHAPE = /^(Throttl|InternalServer|InternalFailure|InternalError|ServiceUnavailable|KMSThrottling|KmsThrottling)/;

interface Rule { ErrorEquals: string[]; JitterStrategy?: string }
interface TaskState { Resource: string; Retry?: Rule[]; Catch?: Rule[] }

/** The names this Task can raise (undefined: any name the function throws), and those that must be retried. */
function errorsOf(state: TaskState): { raised?: Set<string>; prefix?: string; transient: string[] } {
  const sdk = /^arn:[^:]+:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)/.exec(state.Resource);
  if (sdk) {
    const service = SDK_SERVICES[sdk[1]];
    if (!service) throw new Error(`no error naming known for aws-sdk:${sdk[1]}: add it to SDK_SERVICES`);
    const operation = sdk[2].charAt(0).toUpperCase() + sdk[2].slice(1);
    const shapes = operationErrors(service.model, operation);
    const name = (shape: string) => `${service.prefix}.${shape.endsWith('Exception') ? shape : `${shape}Exception`}`;
    const raised = new Set(shapes.map(name));
    if (service.baseException) raised.add(`${service.prefix}.${service.baseException}`);
    const transient = shapes.filter((s) => TRANSIENT_SHAPE.test(s)).map(name);
    if (service.baseException) transient.push(`${service.prefix}.${service.baseException}`);
    return { raised, prefix: service.prefix, transient };
  }
  if (/^arn:[^:]+:lambda:/.test(state.Resource) || /^arn:[^:]+:states:::lambda:invoke/.test(state.Resource)) {
    // Besides Lambda's own, a function raises the error names its code throws.
    return { raised: LAMBDA_ERRORS, prefix: 'Lambda', transient: LAMBDA_TRANSIENT };
  }
  if (/^arn:[^:]+:states:::sns:publish$/.test(state.Resource)) {
    // The optimized SNS integration documents no error names: States.TaskFailed covers every failure.
    return { raised: new Set(), prefix: 'SNS', transient: ['States.TaskFailed'] };
  }
  if (/^arn:[^:]+:states:::states:startExecution(\.sync(:2)?)?$/.test(state.Resource)) {
    // The optimized integration raises StartExecution's errors as StepFunctions.{Error}Exception; a
    // child execution that fails arrives as States.TaskFailed.
    const shapes = operationErrors('stepfunctions', 'StartExecution');
    const name = (shape: string) => `StepFunctions.${shape.endsWith('Exception') ? shape : `${shape}Exception`}`;
    return { raised: new Set(shapes.map(name)), prefix: 'StepFunctions', transient: shapes.filter((s) => TRANSIENT_SHAPE.test(s)).map(name) };
  }
  throw new Error(`no error names known for ${state.Resource}: add the integration to this test`);
}

const everyTask = EXAMPLE_STACKS.flatMap(([label, Example]) => Object.values(definitionsOf(exampleStack(Example)))
  .flatMap((definition) => Object.entries(taskStates(definition)).map(([name, state]) => [label, name, state as unknown as TaskState] as const)));

test.each(everyTask)('%s: every error name %s waits for is one its operation can raise', (_label, _name, state) => {
  const { raised, prefix } = errorsOf(state);
  const names = [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((r) => r.ErrorEquals);
  const impossible = names.filter((n) => {
    if (n.startsWith('States.')) return !STATES_ERRORS.has(n);
    if (prefix && n.startsWith(`${prefix}.`)) return !raised!.has(n);
    // A service-prefixed name of another service never reaches this Task.
    if (/^[A-Z][A-Za-z0-9]*\.[A-Z]/.test(n)) return true;
    // A bare name is a function's own error (a Lambda task), never an AWS service's.
    return !/^arn:[^:]+:(lambda:|states:::lambda:)/.test(state.Resource);
  });
  expect(impossible).toEqual([]);
});

test.each(everyTask)('%s: %s retries its operation\'s transient errors with full jitter', (_label, _name, state) => {
  const { transient } = errorsOf(state);
  const jittered = new Set((state.Retry ?? []).filter((r) => r.JitterStrategy === 'FULL').flatMap((r) => r.ErrorEquals));
  const retriedAll = jittered.has('States.ALL') || jittered.has('States.TaskFailed');
  expect(transient.filter((e) => !jittered.has(e) && !retriedAll)).toEqual([]);
});

test('the checks know an error no model lists: SageMaker.ThrottlingException would be refused', () => {
  const { raised, prefix } = errorsOf({ Resource: `arn:${TEST_ENV.partition}:states:::aws-sdk:sagemaker:describeCompilationJob` });
  expect(prefix).toBe('SageMaker');
  expect(raised!.has('SageMaker.ThrottlingException')).toBe(false);
  expect(raised!.has('SageMaker.ResourceNotFoundException')).toBe(true);
  const iot = errorsOf({ Resource: `arn:${TEST_ENV.partition}:states:::aws-sdk:iot:describeJob` });
  expect(iot.transient).toEqual(['Iot.ThrottlingException', 'Iot.ServiceUnavailableException']);
});
