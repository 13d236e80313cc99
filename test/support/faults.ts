/**
 * The faults the fault-injection tests put into Task states, derived from each state's own
 * definition so a state added later is covered without editing a test.
 */

export type FaultKind = 'service error' | 'throttle' | 'crash' | 'device';

export interface Fault {
  readonly kind: FaultKind;
  /** The error the state's handler throws (name as Step Functions sees it). */
  readonly error: string;
}

/** The error-name prefix Step Functions gives a service's errors, from a Task's Resource. */
function servicePrefix(resource: string): string {
  const sdk = /:aws-sdk:([a-z0-9]+):/.exec(resource);
  const service = sdk ? sdk[1] : /^arn:[^:]+:states:::([a-z]+):/.exec(resource)?.[1] ?? 'lambda';
  return ({ sagemaker: 'SageMaker', greengrassv2: 'GreengrassV2', iot: 'Iot', sns: 'SNS', lambda: 'Lambda', states: 'StepFunctions' } as Record<string, string>)[service] ?? service;
}

/** Whether a Task invokes a Lambda function (whose code can crash). */
export function isLambdaTask(state: Record<string, unknown>): boolean {
  const resource = String(state.Resource);
  return /:states:::lambda:invoke/.test(resource) || /:lambda:[^:]+:[^:]+:function:/.test(resource);
}

/**
 * For one Task state: a service error no Retry matches; a throttle, the first error its Retry
 * names (every attempt fails, so the retries run out); and for a Lambda task, a crash of the
 * function's code (an unhandled `Error`).
 */
export function faultsFor(state: Record<string, unknown>): Fault[] {
  const prefix = servicePrefix(String(state.Resource));
  const retried = ((state.Retry as { ErrorEquals: string[] }[] | undefined) ?? []).flatMap((r) => r.ErrorEquals).find((e) => e !== 'States.ALL');
  const faults: Fault[] = [
    { kind: 'service error', error: `${prefix}.InjectedFaultException` },
    { kind: 'throttle', error: retried ?? `${prefix}.ThrottlingException` },
  ];
  if (isLambdaTask(state)) faults.push({ kind: 'crash', error: 'Error' });
  return faults;
}

/** An error as the SDK or the Lambda runtime raises it. */
export function faultError(fault: Fault, state: string): Error {
  return Object.assign(new Error(`injected ${fault.kind} in ${state}`), { name: fault.error });
}
