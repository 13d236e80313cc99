import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * The errors Step Functions raises for a transient fault (throttling, an internal error, the
 * service unavailable) of each API call the library's states make, under the names the
 * integration uses (`<Service>.<Error>Exception`). Every name is one the operation's service
 * model lists (a test checks them against AWS's service descriptions), except SageMaker's:
 * its model lists no throttling or internal error, and the SDK raises those under the service's
 * base exception, `SageMaker.AmazonSageMakerException`. That name also carries SageMaker's other
 * unmodeled errors (a validation failure, for one): retrying those only costs the retries' time.
 * @internal
 */
export const TRANSIENT_ERRORS: Record<string, string[]> = {
  'sagemaker:CreateCompilationJob': ['SageMaker.AmazonSageMakerException'],
  'sagemaker:DescribeCompilationJob': ['SageMaker.AmazonSageMakerException'],
  'sagemaker:StopCompilationJob': ['SageMaker.AmazonSageMakerException'],
  'greengrassv2:CreateDeployment': ['GreengrassV2.ThrottlingException', 'GreengrassV2.InternalServerException'],
  'greengrassv2:GetDeployment': ['GreengrassV2.ThrottlingException', 'GreengrassV2.InternalServerException'],
  'greengrassv2:ListDeployments': ['GreengrassV2.ThrottlingException', 'GreengrassV2.InternalServerException'],
  'greengrassv2:CancelDeployment': ['GreengrassV2.ThrottlingException', 'GreengrassV2.InternalServerException'],
  'greengrassv2:DescribeComponent': ['GreengrassV2.ThrottlingException', 'GreengrassV2.InternalServerException'],
  'iot:DescribeJob': ['Iot.ThrottlingException', 'Iot.ServiceUnavailableException'],
  // The optimized SNS integration's error names are not documented: any failure of a publish is
  // retried (a notification is worth a few seconds; nothing else waits on it).
  'sns:Publish': ['States.TaskFailed'],
  // Step Functions' documented errors of a Lambda invocation that are worth another try.
  // A start refused for a moment (too many open executions, KMS throttled): nothing started yet, so
  // another try starts the one execution. A child execution that fails is States.TaskFailed, never retried.
  'states:StartExecution': ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.KmsThrottlingException'],
  'lambda:Invoke': ['Lambda.ClientExecutionTimeoutException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
};

/** How hard {@link retryTransient} retries. @internal */
export interface TransientRetryOptions {
  readonly interval?: Duration;
  readonly maxAttempts?: number;
  readonly maxDelay?: Duration;
}

/**
 * Retries the transient errors of `operation` (a key of {@link TRANSIENT_ERRORS}) on `task`,
 * with exponential backoff and full jitter.
 * @internal
 */
export function retryTransient(task: sfn.TaskStateBase, operation: string, options: TransientRetryOptions = {}): void {
  const errors = TRANSIENT_ERRORS[operation];
  if (!errors) throw new Error(`no transient errors are known for ${operation}: add them to TRANSIENT_ERRORS`);
  task.addRetry({
    errors,
    interval: options.interval ?? Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: options.maxAttempts ?? 8,
    maxDelay: options.maxDelay ?? Duration.minutes(2),
    jitterStrategy: sfn.JitterType.FULL,
  });
}
