import { Account, Call } from './account';
import { arnOf, TEST_ENV } from './template';

/**
 * The calls AWS services make on a stack's behalf, read from its resources: alarm actions,
 * EventBridge targets and their dead-letter queues, IoT rule actions (with the roles they
 * assume), and the Greengrass nucleus downloading component artifacts with each token exchange
 * role. Each is authorized like any other call by {@link Account.authorize}.
 */

const { partition: P, region: R, account: A } = TEST_ENV;
type Props = Record<string, unknown>;
const list = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : v === undefined ? [] : [v as T]);

const queueArnOfUrl = (url: string) => {
  const [, , , account, name] = url.split('/');
  return `arn:${P}:sqs:${R}:${account}:${name}`;
};

function alarmCalls(id: string, p: Props): Call[] {
  const alarm = arnOf(id, 'AWS::CloudWatch::Alarm');
  return [...list<string>(p.AlarmActions), ...list<string>(p.OKActions), ...list<string>(p.InsufficientDataActions)]
    .filter((a) => a.includes(':sns:'))
    .map((topic) => ({ principal: 'cloudwatch.amazonaws.com', action: 'sns:Publish', resource: topic, context: { 'aws:SourceArn': alarm, 'aws:SourceAccount': A }, by: `alarm ${id}` }));
}

function eventRuleCalls(id: string, p: Props): Call[] {
  const rule = arnOf(id, 'AWS::Events::Rule');
  const context = { 'aws:SourceArn': rule, 'aws:SourceAccount': A };
  return list<{ Arn: string; DeadLetterConfig?: { Arn: string } }>(p.Targets).flatMap((t) => [
    ...(t.Arn.includes(':lambda:') ? [{ principal: 'events.amazonaws.com', action: 'lambda:InvokeFunction', resource: t.Arn, context, by: `EventBridge rule ${id}` }] : []),
    ...(t.DeadLetterConfig ? [{ principal: 'events.amazonaws.com', action: 'sqs:SendMessage', resource: t.DeadLetterConfig.Arn, context, by: `EventBridge rule ${id} (dead letters)` }] : []),
  ]);
}

function topicRuleCalls(id: string, p: Props): Call[] {
  const rule = arnOf(id, 'AWS::IoT::TopicRule');
  const context = { 'aws:SourceArn': rule, 'aws:SourceAccount': A };
  const payload = p.TopicRulePayload as { Actions?: Props[]; ErrorAction?: Props };
  const by = `IoT rule ${id}`;
  const assume = (role: string): Call => ({ principal: 'iot.amazonaws.com', action: 'sts:AssumeRole', resource: role, context, by });
  return [...(payload.Actions ?? []), ...(payload.ErrorAction ? [payload.ErrorAction] : [])].flatMap((action): Call[] => {
    const [kind, spec] = Object.entries(action)[0] as [string, Props];
    switch (kind) {
      case 'Lambda': return [{ principal: 'iot.amazonaws.com', action: 'lambda:InvokeFunction', resource: spec.FunctionArn as string, context, by }];
      case 'Sqs': return [assume(spec.RoleArn as string), { principal: spec.RoleArn as string, action: 'sqs:SendMessage', resource: queueArnOfUrl(spec.QueueUrl as string), by }];
      case 'CloudwatchMetric': return [assume(spec.RoleArn as string), { principal: spec.RoleArn as string, action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': spec.MetricNamespace as string }, by }];
      default: throw new Error(`${by}: no calls known for a ${kind} action: add them to service-calls.ts`);
    }
  });
}

/** The artifact URIs of a recipe the stack creates (the edge agent's component). */
function recipeArtifacts(p: Props): string[] {
  const recipe = JSON.parse(p.InlineRecipe as string) as { Manifests?: { Artifacts?: { URI: string }[] }[] };
  return (recipe.Manifests ?? []).flatMap((m) => (m.Artifacts ?? []).map((a) => a.URI));
}

/** The nucleus downloads an artifact: GetBucketLocation, then GetObject (and the key's Decrypt). */
export function downloadCalls(role: string, uri: string, by: string): Call[] {
  const [bucket, ...key] = uri.replace(/^s3:\/\//, '').split('/');
  return [
    { principal: role, action: 's3:GetBucketLocation', resource: `arn:${P}:s3:::${bucket}`, by },
    { principal: role, action: 's3:GetObject', resource: `arn:${P}:s3:::${bucket}/${key.join('/')}`, by },
  ];
}

/** A package the pipeline publishes: content-addressed under the store's packages/ prefix. */
export const SOME_PACKAGE_KEY = `packages/${'0'.repeat(64)}.zip`;

/** Every call a service makes for the stacks of `account`. `storeBucket` names the bucket model packages are in. */
export function serviceCalls(account: Account, storeBuckets: string[]): Call[] {
  const calls: Call[] = [];
  const artifactUris: string[] = storeBuckets.map((b) => `s3://${b}/${SOME_PACKAGE_KEY}`);
  for (const resources of account.resources) {
    for (const [id, r] of Object.entries(resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::CloudWatch::Alarm') calls.push(...alarmCalls(id, p));
      if (r.Type === 'AWS::Events::Rule') calls.push(...eventRuleCalls(id, p));
      if (r.Type === 'AWS::IoT::TopicRule') calls.push(...topicRuleCalls(id, p));
      if (r.Type === 'AWS::GreengrassV2::ComponentVersion') artifactUris.push(...recipeArtifacts(p));
    }
  }
  for (const role of account.roles.values()) {
    const trusted = JSON.stringify(role.trust).includes('credentials.iot.amazonaws.com');
    if (!trusted) continue;
    const by = `the Greengrass nucleus with ${role.logicalId}`;
    calls.push({ principal: 'credentials.iot.amazonaws.com', action: 'sts:AssumeRole', resource: role.arn, by });
    for (const uri of artifactUris) calls.push(...downloadCalls(role.arn, uri, by));
  }
  return calls;
}

/** The bucket names of the artifact stores in the account (the KMS-encrypted buckets; access logs use SSE-S3). */
export function storeBucketsOf(account: Account): string[] {
  return account.resources.flatMap((resources) => Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::S3::Bucket' && JSON.stringify(r.Properties?.BucketEncryption ?? {}).includes('aws:kms'))
    .map(([id, r]) => (r.Properties?.BucketName as string | undefined) ?? id.toLowerCase()));
}

