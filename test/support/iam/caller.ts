import { AsyncLocalStorage } from 'node:async_hooks';
import { AccessDeniedInTest, Account, Call, Decision, LambdaFunction } from './account';
import { TEST_ENV } from './template';

/**
 * Who is calling AWS right now in a local run: the Lambda function whose code runs (its
 * execution role and its synthesized environment), the run's state machine (task tokens belong
 * to it) and where each decision is recorded. `runDefinition` sets it for every Lambda Task;
 * a fake that stands for another function (the canary collector an IoT rule invokes, an approver
 * calling the approval function) switches with {@link asFunction}. Every fake that answers an
 * SDK command calls {@link authorizeCommand} first: without a caller (a unit test of a handler)
 * it does nothing.
 */
export interface Caller {
  readonly account: Account;
  readonly fn: LambdaFunction;
  readonly stateMachineArn?: string;
  /** Every decision of the run, allowed or not; the run fails at its end on any denial. */
  readonly decisions: Decision[];
}

const current = new AsyncLocalStorage<Caller>();

/** The caller of the code running now, if a run with an account set one. */
export function currentCaller(): Caller | undefined {
  return current.getStore();
}

/**
 * Runs `body` as one invocation of `caller.fn`: its SDK calls are authorized as the function,
 * then what the Lambda runtime does with the execution role (its log stream and log events,
 * X-Ray segments when tracing is active).
 */
export async function invokeAs<T>(caller: Caller, body: () => T | Promise<T>): Promise<T> {
  try {
    return await current.run(caller, body);
  } finally {
    await runtimeCalls(caller);
  }
}

/** Runs `body` as one invocation of the function of the current run's account whose logical id starts with (or matches) `which`. */
export async function asFunction<T>(which: string | RegExp, body: () => T | Promise<T>): Promise<T> {
  const caller = current.getStore();
  if (!caller) return body();
  return invokeAs({ ...caller, fn: caller.account.lambdaFunction(which) }, body);
}

async function runtimeCalls(caller: Caller): Promise<void> {
  const by = `the Lambda runtime, for ${caller.fn.logicalId}`;
  const stream = `arn:${P}:logs:${R}:${A}:log-group:${caller.fn.logGroup}:log-stream:2026/12/02/[$LATEST]0123456789abcdef`;
  const calls: Omit<Call, 'principal'>[] = [
    { action: 'logs:CreateLogStream', resource: stream, by },
    { action: 'logs:PutLogEvents', resource: stream, by },
    ...(caller.fn.tracing ? ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'].map((action) => ({ action, resource: '*', by })) : []),
  ];
  for (const call of calls) caller.decisions.push(await caller.account.authorize({ ...call, principal: caller.fn.role }));
}

/**
 * A value of the calling function's synthesized environment (a table name, a topic ARN), or
 * `fallback` outside a run with an account: fakes pass what the deployed function would read.
 */
export function env(name: string, fallback: string): string {
  const caller = current.getStore();
  if (!caller) return fallback;
  const value = caller.fn.environment[name];
  if (value === undefined) throw new Error(`function ${caller.fn.logicalId} has no environment variable ${name}: the handler would not find it either`);
  return value;
}

/** An SDK command as the fakes receive it. */
export type SdkCommand = { constructor: { name: string }; input: object };
const { partition: P, region: R, account: A } = TEST_ENV;
const table = (input: Record<string, unknown>) => `arn:${P}:dynamodb:${R}:${A}:table/${String(input.TableName)}`;
const object = (bucket: unknown, key: unknown) => `arn:${P}:s3:::${String(bucket)}/${String(key)}`;

/** The IAM calls an SDK command makes, by command class (lib-dynamodb's commands as DynamoDB's). */
const COMMAND_CALLS: Record<string, (input: Record<string, unknown>, caller: Caller) => Omit<Call, 'principal'>[]> = {
  GetCommand: (i) => [{ action: 'dynamodb:GetItem', resource: table(i) }],
  PutCommand: (i) => [{ action: 'dynamodb:PutItem', resource: table(i) }],
  UpdateCommand: (i) => [{ action: 'dynamodb:UpdateItem', resource: table(i) }],
  DeleteCommand: (i) => [{ action: 'dynamodb:DeleteItem', resource: table(i) }],
  QueryCommand: (i) => [{ action: 'dynamodb:Query', resource: table(i) }],
  // TransactWriteItems is authorized as each of its actions on its table.
  TransactWriteCommand: (i) => (i.TransactItems as Record<string, Record<string, unknown>>[]).flatMap((t) => Object.entries(t).map(([op, item]) => ({
    action: ({ Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: 'dynamodb:ConditionCheckItem' } as Record<string, string>)[op],
    resource: table(item),
  }))),
  HeadObjectCommand: (i) => [{ action: 's3:GetObject', resource: object(i.Bucket, i.Key) }],
  GetObjectCommand: (i) => [{ action: 's3:GetObject', resource: object(i.Bucket, i.Key) }],
  PutObjectCommand: (i) => [{ action: 's3:PutObject', resource: object(i.Bucket, i.Key) }],
  ListObjectsV2Command: (i) => [{ action: 's3:ListBucket', resource: `arn:${P}:s3:::${String(i.Bucket)}`, context: { 's3:prefix': String(i.Prefix ?? '') } }],
  CopyObjectCommand: (i) => [
    // S3 sets s3:ResourceAccount to the bucket owner's account: every bucket of these tests is the test account's.
    { action: 's3:GetObject', resource: `arn:${P}:s3:::${decodeURI(String(i.CopySource))}`, context: { 's3:ResourceAccount': A } },
    { action: 's3:PutObject', resource: object(i.Bucket, i.Key) },
  ],
  PublishCommand: (i) => [{ action: 'sns:Publish', resource: String(i.TopicArn) }],
  SendTaskSuccessCommand: (_i, c) => [{ action: 'states:SendTaskSuccess', resource: tokenOwner(c) }],
  SendTaskFailureCommand: (_i, c) => [{ action: 'states:SendTaskFailure', resource: tokenOwner(c) }],
  SendTaskHeartbeatCommand: (_i, c) => [{ action: 'states:SendTaskHeartbeat', resource: tokenOwner(c) }],
  StartExecutionCommand: (i) => [{ action: 'states:StartExecution', resource: String(i.stateMachineArn) }],
  ListThingsInThingGroupCommand: (i) => [{ action: 'iot:ListThingsInThingGroup', resource: `arn:${P}:iot:${R}:${A}:thinggroup/${String(i.thingGroupName)}` }],
  DescribeModelPackageCommand: (i) => [{ action: 'sagemaker:DescribeModelPackage', resource: String(i.ModelPackageName) }],
  CreateComponentVersionCommand: (i) => createComponentVersion(i),
};

function tokenOwner(caller: Caller): string {
  if (!caller.stateMachineArn) throw new Error('a task token was used outside a state machine run');
  return caller.stateMachineArn;
}

/**
 * CreateComponentVersion, and Greengrass reading each S3 artifact of the recipe with the
 * caller's permissions (Greengrass developer guide, "Upload components": the caller needs
 * s3:GetObject on the artifacts).
 */
function createComponentVersion(input: Record<string, unknown>): Omit<Call, 'principal'>[] {
  const recipe = JSON.parse(Buffer.from(input.inlineRecipe as Uint8Array).toString('utf8')) as { ComponentName: string; ComponentVersion: string; Manifests?: { Artifacts?: { URI: string }[] }[] };
  const component = `arn:${P}:greengrass:${R}:${A}:components:${recipe.ComponentName}:versions:${recipe.ComponentVersion}`;
  const artifacts = (recipe.Manifests ?? []).flatMap((m) => m.Artifacts ?? []).map((a) => a.URI).filter((u) => u.startsWith('s3://'));
  return [
    { action: 'greengrass:CreateComponentVersion', resource: component },
    ...artifacts.map((uri) => ({ action: 's3:GetObject', resource: `arn:${P}:s3:::${uri.slice('s3://'.length)}`, by: `Greengrass, reading the artifacts of ${recipe.ComponentName}` })),
  ];
}

/** The IAM calls `command` makes, as `caller`'s role. */
export function commandCalls(command: SdkCommand, caller: Caller): Call[] {
  const mapping = COMMAND_CALLS[command.constructor.name];
  if (!mapping) throw new Error(`no IAM mapping for ${command.constructor.name}: add it to test/support/iam/caller.ts`);
  const by = `function ${caller.fn.logicalId}`;
  return mapping(command.input as Record<string, unknown>, caller).map((c) => ({ by, ...c, principal: caller.fn.role }));
}

/**
 * Authorizes `command` as the current caller; throws AccessDenied as the SDK would (and the run
 * fails at its end whatever the handler does with it). Without a caller it does nothing.
 */
export async function authorizeCommand(command: SdkCommand): Promise<void> {
  const caller = current.getStore();
  if (!caller) return;
  for (const call of commandCalls(command, caller)) {
    const decision = await caller.account.authorize(call);
    caller.decisions.push(decision);
    if (!decision.allowed) throw Object.assign(new AccessDeniedInTest(decision), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
  }
}

/** Authorizes one call as the current caller's role; the decision, or undefined without a caller. */
export async function authorizeAsCaller(call: Omit<Call, 'principal'>): Promise<Decision | undefined> {
  const caller = current.getStore();
  if (!caller) return undefined;
  const decision = await caller.account.authorize({ by: `function ${caller.fn.logicalId}`, ...call, principal: caller.fn.role });
  caller.decisions.push(decision);
  return decision;
}
