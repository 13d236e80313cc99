import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { AccessDeniedInTest, Account, Decision } from './iam/account';
import { serviceCallsAfter, taskCalls } from './iam/task-calls';
import { invokeAs } from './iam/caller';
import { arnOf, CfnTemplate, resolve } from './iam/template';

export { TEST_ENV } from './iam/template';
import { TEST_ENV } from './iam/template';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The account and role each definition from {@link definitionsOf} runs with. */
const ACCESS = new WeakMap<object, { account: Account; role: string; arn: string }>();

/**
 * The ASL definitions of every state machine in `stack`, tokens resolved to test values.
 *
 * @param edit changes the synthesized template before the account is read from it (a test
 *   that removes a grant, to show the run then fails)
 */
export function definitionsOf(stack: Stack, edit?: (template: CfnTemplate) => void): Record<string, Json> {
  const template = Template.fromStack(stack).toJSON() as CfnTemplate;
  edit?.(template);
  const account = Account.of(template);
  const out: Record<string, Json> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = JSON.parse(resolve(resource.Properties!.DefinitionString, template.Resources) as string) as Json;
    ACCESS.set(definition as object, { account, role: resolve(resource.Properties!.RoleArn, template.Resources) as string, arn: arnOf(id, resource.Type) });
    out[id] = definition;
  }
  return out;
}

/** The test account a definition from {@link definitionsOf} runs in: every call it makes is authorized there. */
export function accountOf(definition: Json): Account | undefined {
  return ACCESS.get(definition as object)?.account;
}

/** The one state machine definition in `stack`. */
export function definitionOf(stack: Stack, edit?: (template: CfnTemplate) => void): Json {
  const all = Object.values(definitionsOf(stack, edit));
  if (all.length !== 1) throw new Error(`expected one state machine, found ${all.length}`);
  return all[0];
}

/** Names of every Task state in a definition, Map and Parallel bodies included. */
export function taskStateNames(definition: Json): string[] {
  return Object.keys(taskStates(definition));
}

/** Every Task state of a definition by name, Map and Parallel bodies included. */
export function taskStates(definition: Json): Record<string, Record<string, unknown>> {
  const names: Record<string, Record<string, unknown>> = {};
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') names[name] = state;
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) walk(processor.States);
      for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) walk(branch.States);
    }
  };
  walk((definition as { States: Record<string, Record<string, unknown>> }).States);
  return names;
}

/** The function a Lambda Task invokes, if it is one. */
function invokedFunction(resource: string, params: Record<string, unknown>): string | undefined {
  if (/^arn:[^:]+:lambda:[^:]+:[^:]+:function:/.test(resource)) return resource;
  if (/^arn:[^:]+:states:::lambda:invoke(\.waitForTaskToken)?$/.test(resource)) return params.FunctionName as string;
  return undefined;
}

/** Fails with asl-validator's errors if the definition is not valid ASL. */
export function expectValidAsl(definition: Json): void {
  const result = aslValidator(definition, { checkPaths: true, checkArn: true });
  if (!result.isValid) throw new Error(`invalid ASL: ${result.errorsText('\n')}`);
}

export type TaskHandler = (input: Json) => Json | Promise<Json>;

export interface RunOptions {
  /** One handler per Task state name; a Task without one fails the run (it would call AWS). */
  readonly handlers: Record<string, TaskHandler>;
  /** The context object ($$), e.g. `{ State: { EnteredTime } }`; getters are read at each access. */
  readonly context?: Record<string, unknown>;
}

export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Json;
  readonly error?: string;
  readonly cause?: string;
  /** Names of the states entered, in order (Map iterations included). */
  readonly entered: string[];
  /** Names of the states retried, one per retry. */
  readonly retried: string[];
  /** How many state transitions Step Functions would bill for this run. */
  readonly transitions: number;
  /**
   * How many events this run would write to its execution's history (Step Functions keeps at
   * most 25,000): a Task 5 (entered, scheduled, started, succeeded, exited) and 3 more per
   * retry, a Map or Parallel 4 and 2 per iteration or branch, any other state 2, and the
   * execution's start and end.
   */
  readonly historyEvents: number;
  /** Every call the Task states made, as the account authorized them (empty for a definition not from a stack). */
  readonly calls: Decision[];
}

let executions = 0;
/** `$$.Execution` as Step Functions gives it: every run is an execution of its own (the local executor names none). */
function executionContext(): Record<string, string> {
  const name = `run-${++executions}`;
  return { Id: `arn:${TEST_ENV.partition}:states:${TEST_ENV.region}:${TEST_ENV.account}:execution:test:${name}`, Name: name };
}

/**
 * Runs a synthesized definition with aws-local-stepfunctions: every Task is
 * answered by the test's handler, every Wait is instant.
 */
export async function runDefinition(definition: Json, input: Json, options: RunOptions): Promise<RunResult> {
  const tasks = taskStateNames(definition);
  const missing = tasks.filter((t) => !options.handlers[t]);
  if (missing.length) throw new Error(`no test handler for Task state(s) ${missing.join(', ')}: they would call AWS`);
  const waits: Record<string, number> = {};
  const retries: Record<string, number> = {};
  const collect = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Wait') waits[name] = 0;
      if (state.Retry) retries[name] = 0;
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) collect(processor.States);
      for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) collect(branch.States);
    }
  };
  collect((definition as { States: Record<string, Record<string, unknown>> }).States);

  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: false, checkArn: false } });
  // Every Task's own call is authorized against the synthesized policies before its handler
  // answers; a denied call fails the test even when a Catch would have hidden it.
  const access = ACCESS.get(definition as object);
  const states = taskStates(definition);
  const calls: Decision[] = [];
  const handlers: Record<string, TaskHandler> = {};
  for (const [name, fn] of Object.entries(options.handlers)) {
    handlers[name] = async (taskInput: Json) => {
      if (access && states[name]) {
        for (const call of taskCalls(name, states[name].Resource as string, taskInput as Record<string, unknown>, access.role)) {
          const decision = await access.account.authorize(call);
          calls.push(decision);
          if (!decision.allowed) throw new AccessDeniedInTest(decision);
        }
      }
      // A Lambda Task's code runs as its function: every SDK call it makes is authorized too.
      const fnArn = access && states[name] ? invokedFunction(states[name].Resource as string, taskInput as Record<string, unknown>) : undefined;
      const result = fnArn ? await invokeAs({ account: access!.account, fn: access!.account.lambdaFunction(fnArn), stateMachineArn: access!.arn, decisions: calls }, () => fn(taskInput)) : await fn(taskInput);
      if (access && states[name]) {
        for (const call of serviceCallsAfter(name, states[name].Resource as string, taskInput as Record<string, unknown>)) calls.push(await access.account.authorize(call));
      }
      return result;
    };
  }
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: { Execution: executionContext(), ...options.context } as never,
  });
  const entered = () => execution.eventLogs;
  let status: RunResult['status'] = 'SUCCEEDED';
  let output: Json | undefined;
  let error: string | undefined;
  let cause: string | undefined;
  try {
    output = (await execution.result) as Json;
  } catch (err) {
    if (!(err instanceof ExecutionError)) throw err;
    status = 'FAILED';
    const inner = (err as ExecutionError & { cause?: { name?: string; message?: string } }).cause ?? {};
    error = inner.name;
    cause = inner.message;
  }
  const names: string[] = [];
  const retried: string[] = [];
  const types = stateTypes(definition);
  let transitions = 0;
  let historyEvents = 2;
  for await (const event of entered()) {
    if (event.type === 'StateEntered') {
      names.push(event.state.name);
      transitions++;
      const type = types[event.state.name];
      historyEvents += type === 'Task' ? 5 : type === 'Map' || type === 'Parallel' ? 4 : 2;
    }
    if (event.type === 'StateRetried') {
      retried.push(event.state.name);
      transitions++;
      historyEvents += 3;
    }
    if (event.type === 'MapIterationStarted' || event.type === 'ParallelBranchStarted') historyEvents += 2;
  }
  const denied = calls.filter((c) => !c.allowed);
  if (denied.length) throw new Error(`AWS would refuse ${denied.length} call(s) of this run:\n  ${denied.map((d) => new AccessDeniedInTest(d).message).join('\n  ')}`);
  return { status, output, error, cause, entered: names, retried, transitions, historyEvents, calls };
}

/** The type of every state of a definition, nested ones included, by name. */
export function stateTypes(definition: Json): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      out[name] = state.Type as string;
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) walk(processor.States);
      for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) walk(branch.States);
    }
  };
  walk((definition as { States: Record<string, Record<string, unknown>> }).States);
  return out;
}
