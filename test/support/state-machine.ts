import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import aslValidator from 'asl-validator';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';

/** Values the tests give CloudFormation's pseudo parameters. */
export const TEST_ENV = { partition: 'aws', region: 'eu-west-1', account: '111122223333' };

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

function fakeArn(logicalId: string, type: string): string {
  const { partition: p, region: r, account: a } = TEST_ENV;
  const name = logicalId.toLowerCase();
  switch (type) {
    case 'AWS::IAM::Role': return `arn:${p}:iam::${a}:role/${logicalId}`;
    case 'AWS::Lambda::Function': return `arn:${p}:lambda:${r}:${a}:function:${logicalId}`;
    case 'AWS::KMS::Key': return `arn:${p}:kms:${r}:${a}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    case 'AWS::S3::Bucket': return `arn:${p}:s3:::${name}`;
    case 'AWS::StepFunctions::StateMachine': return `arn:${p}:states:${r}:${a}:stateMachine:${logicalId}`;
    case 'AWS::DynamoDB::Table': return `arn:${p}:dynamodb:${r}:${a}:table/${logicalId}`;
    case 'AWS::SNS::Topic': return `arn:${p}:sns:${r}:${a}:${logicalId}`;
    default: return `arn:${p}:${type.split('::')[1].toLowerCase()}:${r}:${a}:${name}`;
  }
}

/** Resolves the intrinsic functions CDK puts in a DefinitionString to test values. */
function resolve(value: unknown, resources: Resources): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) {
    const ref = v.Ref as string;
    switch (ref) {
      case 'AWS::Partition': return TEST_ENV.partition;
      case 'AWS::Region': return TEST_ENV.region;
      case 'AWS::AccountId': return TEST_ENV.account;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      default: {
        const type = resources[ref]?.Type;
        if (!type) throw new Error(`Ref to unknown resource ${ref}`);
        return type === 'AWS::S3::Bucket' ? ref.toLowerCase() : ref;
      }
    }
  }
  if ('Fn::GetAtt' in v) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    const type = resources[id]?.Type;
    if (!type) throw new Error(`GetAtt of unknown resource ${id}`);
    if (attr === 'Arn') return fakeArn(id, type);
    return `${id}.${attr}`;
  }
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => resolve(p, resources)).join(sep);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** The ASL definitions of every state machine in `stack`, tokens resolved to test values. */
export function definitionsOf(stack: Stack): Record<string, Json> {
  const template = Template.fromStack(stack).toJSON() as { Resources: Resources };
  const out: Record<string, Json> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    out[id] = JSON.parse(resolve(resource.Properties!.DefinitionString, template.Resources)) as Json;
  }
  return out;
}

/** The one state machine definition in `stack`. */
export function definitionOf(stack: Stack): Json {
  const all = Object.values(definitionsOf(stack));
  if (all.length !== 1) throw new Error(`expected one state machine, found ${all.length}`);
  return all[0];
}

/** Names of every Task state in a definition, Map and Parallel bodies included. */
export function taskStateNames(definition: Json): string[] {
  const names: string[] = [];
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') names.push(name);
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Record<string, unknown>> } | undefined;
      if (processor) walk(processor.States);
      for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[] | undefined) ?? []) walk(branch.States);
    }
  };
  walk((definition as { States: Record<string, Record<string, unknown>> }).States);
  return names;
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
  const handlers: Record<string, TaskHandler> = {};
  for (const [name, fn] of Object.entries(options.handlers)) {
    handlers[name] = async (taskInput: Json) => fn(taskInput);
  }
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: options.context as never,
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
  let transitions = 0;
  for await (const event of entered()) {
    if (event.type === 'StateEntered') {
      names.push(event.state.name);
      transitions++;
    }
    if (event.type === 'StateRetried') {
      retried.push(event.state.name);
      transitions++;
    }
  }
  return { status, output, error, cause, entered: names, retried, transitions };
}
