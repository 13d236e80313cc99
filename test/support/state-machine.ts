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
/** Each definition from {@link definitionsOf} by its state machine's ARN: what a `startExecution.sync:2` Task of a sibling starts. */
const BY_ARN = new WeakMap<object, Map<string, Json>>();

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
  const byArn = new Map<string, Json>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const definition = JSON.parse(resolve(resource.Properties!.DefinitionString, template.Resources) as string) as Json;
    ACCESS.set(definition as object, { account, role: resolve(resource.Properties!.RoleArn, template.Resources) as string, arn: arnOf(id, resource.Type) });
    BY_ARN.set(definition as object, byArn);
    byArn.set(arnOf(id, resource.Type), definition);
    out[id] = definition;
  }
  return out;
}

/**
 * The definition a Task state starts and waits for (`states:startExecution.sync:2`), when it is
 * a state machine of the same template as `definition`.
 */
function childDefinition(definition: Json, state: Record<string, unknown>): Json | undefined {
  if (!/^arn:[^:]+:states:::states:startExecution\.sync:2$/.test(String(state.Resource))) return undefined;
  const arn = (state.Parameters as { StateMachineArn?: unknown } | undefined)?.StateMachineArn;
  return typeof arn === 'string' ? BY_ARN.get(definition as object)?.get(arn) : undefined;
}

/**
 * The definitions in `stack` no other one starts: a pipeline's own state machine, not the
 * class rollouts it starts (see {@link runDefinition}, which runs those as child executions).
 */
export function rootDefinitionsOf(stack: Stack, edit?: (template: CfnTemplate) => void): Record<string, Json> {
  const all = definitionsOf(stack, edit);
  const started = new Set<Json>();
  for (const d of Object.values(all)) for (const state of Object.values(ownTaskStates(d))) {
    const child = childDefinition(d, state);
    if (child) started.add(child);
  }
  return Object.fromEntries(Object.entries(all).filter(([, d]) => !started.has(d)));
}

/** The test account a definition from {@link definitionsOf} runs in: every call it makes is authorized there. */
export function accountOf(definition: Json): Account | undefined {
  return ACCESS.get(definition as object)?.account;
}

/**
 * The one state machine definition in `stack` that no other one starts (the state machines it
 * starts run as its child executions in {@link runDefinition}).
 */
export function definitionOf(stack: Stack, edit?: (template: CfnTemplate) => void): Json {
  const all = Object.values(rootDefinitionsOf(stack, edit));
  if (all.length !== 1) throw new Error(`expected one state machine, found ${all.length}`);
  return all[0];
}

/** Names of every Task state in a definition, Map and Parallel bodies and the state machines it starts included. */
export function taskStateNames(definition: Json): string[] {
  return Object.keys(taskStates(definition));
}

/**
 * Every Task state of a definition by name, Map and Parallel bodies included, and those of the
 * state machines it starts and waits for (their states answer to the same handlers).
 */
export function taskStates(definition: Json): Record<string, Record<string, unknown>> {
  const own = ownTaskStates(definition);
  const out = { ...own };
  for (const state of Object.values(own)) {
    const child = childDefinition(definition, state);
    if (child) Object.assign(out, taskStates(child));
  }
  return out;
}

/** The Task states of one definition, Map and Parallel bodies included. */
function ownTaskStates(definition: Json): Record<string, Record<string, unknown>> {
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
  /** Every call the Task states made, as the account authorized them (empty for a definition not from a stack); a child execution's included. */
  readonly calls: Decision[];
  /**
   * The child executions the run started (`startExecution.sync:2`), in order. Each is an
   * execution of its own: its transitions and history events are its own, not counted above;
   * its entered states are in `entered`, after the Task that started it, and its retries in `retried`.
   */
  readonly children: RunResult[];
  /** `$$.Execution.Id` of the run. */
  readonly executionArn: string;
}

let executions = 0;
/** `$$.Execution` as Step Functions gives it: every run is an execution of its own (the local executor names none). */
function executionContext(stateMachineArn = `arn:${TEST_ENV.partition}:states:${TEST_ENV.region}:${TEST_ENV.account}:stateMachine:test`): Record<string, string> {
  const name = `run-${++executions}`;
  return { Id: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`, Name: name };
}

/**
 * Runs a synthesized definition with aws-local-stepfunctions: every Task is answered by the
 * test's handler, every Wait is instant. A Task that starts another state machine of the same
 * template and waits for it (`startExecution.sync:2`) runs that one as a child execution with
 * the same handlers, unless the test gives the Task a handler of its own.
 */
export async function runDefinition(definition: Json, input: Json, options: RunOptions): Promise<RunResult> {
  const result = await runExecution(definition, input, options);
  const denied = result.calls.filter((c) => !c.allowed);
  if (denied.length) throw new Error(`AWS would refuse ${denied.length} call(s) of this run:\n  ${denied.map((d) => new AccessDeniedInTest(d).message).join('\n  ')}`);
  return result;
}

/** One execution and its child executions; every call recorded, none refused yet. */
async function runExecution(definition: Json, input: Json, options: RunOptions): Promise<RunResult> {
  const own = ownTaskStates(definition);
  const children = Object.fromEntries(Object.entries(own).flatMap(([name, state]) => {
    const child = childDefinition(definition, state);
    return child ? [[name, child] as const] : [];
  }));
  const missing = taskStateNames(definition).filter((t) => !options.handlers[t] && !children[t]);
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
  const calls: Decision[] = [];
  /** The child executions each Task state ran, in order. */
  const childRuns: Record<string, RunResult[]> = {};
  const given: Record<string, TaskHandler> = { ...options.handlers };
  for (const [name, child] of Object.entries(children)) {
    given[name] ??= async (taskInput) => {
      const params = taskInput as { StateMachineArn: string; Input: Json };
      const run = await runExecution(child, params.Input, options);
      (childRuns[name] ??= []).push(run);
      calls.push(...run.calls);
      const described = { ExecutionArn: run.executionArn, StateMachineArn: params.StateMachineArn, Status: run.status, Input: JSON.stringify(params.Input) };
      if (run.status === 'FAILED') throw Object.assign(new Error(JSON.stringify({ ...described, Error: run.error, Cause: run.cause })), { name: 'States.TaskFailed' });
      return { ...described, Output: run.output ?? null };
    };
  }
  const handlers: Record<string, TaskHandler> = {};
  for (const [name, fn] of Object.entries(given)) {
    handlers[name] = async (taskInput: Json) => {
      if (access && own[name]) {
        for (const call of taskCalls(name, own[name].Resource as string, taskInput as Record<string, unknown>, access.role)) {
          const decision = await access.account.authorize(call);
          calls.push(decision);
          if (!decision.allowed) throw new AccessDeniedInTest(decision);
        }
      }
      // A Lambda Task's code runs as its function: every SDK call it makes is authorized too.
      const fnArn = access && own[name] ? invokedFunction(own[name].Resource as string, taskInput as Record<string, unknown>) : undefined;
      const result = fnArn ? await invokeAs({ account: access!.account, fn: access!.account.lambdaFunction(fnArn), stateMachineArn: access!.arn, decisions: calls }, () => fn(taskInput)) : await fn(taskInput);
      if (access && own[name]) {
        for (const call of serviceCallsAfter(name, own[name].Resource as string, taskInput as Record<string, unknown>, access.role)) calls.push(await access.account.authorize(call));
      }
      return result;
    };
  }
  const context = { Execution: executionContext(access?.arn), ...options.context };
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: context as never,
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
  const started = Object.fromEntries(Object.entries(childRuns).map(([name, runs]) => [name, [...runs]]));
  for await (const event of entered()) {
    if (event.type === 'StateEntered') {
      names.push(event.state.name);
      // A child execution's states, where it ran.
      const child = started[event.state.name]?.shift();
      if (child) names.push(...child.entered);
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
  const all = Object.values(childRuns).flat();
  retried.push(...all.flatMap((r) => r.retried));
  return { status, output, error, cause, entered: names, retried, transitions, historyEvents, calls, children: all, executionArn: context.Execution.Id };
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
