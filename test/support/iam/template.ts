import { createHash } from 'node:crypto';

/** Values the tests give CloudFormation's pseudo parameters. */
export const TEST_ENV = { partition: 'aws', region: 'eu-west-1', account: '111122223333' };

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
export type Resources = Record<string, CfnResource>;
export interface CfnTemplate {
  readonly Resources: Resources;
}

/** A stable KMS key id per logical id, so two keys of one stack never share an ARN. */
function keyId(logicalId: string): string {
  const h = createHash('sha256').update(logicalId).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** What `Fn::GetAtt [id, 'Arn']` resolves to in the test account. */
export function arnOf(logicalId: string, type: string): string {
  const { partition: p, region: r, account: a } = TEST_ENV;
  switch (type) {
    case 'AWS::IAM::Role': return `arn:${p}:iam::${a}:role/${logicalId}`;
    case 'AWS::IAM::ManagedPolicy': return `arn:${p}:iam::${a}:policy/${logicalId}`;
    case 'AWS::Lambda::Function': return `arn:${p}:lambda:${r}:${a}:function:${logicalId}`;
    case 'AWS::KMS::Key': return `arn:${p}:kms:${r}:${a}:key/${keyId(logicalId)}`;
    case 'AWS::S3::Bucket': return `arn:${p}:s3:::${logicalId.toLowerCase()}`;
    case 'AWS::StepFunctions::StateMachine': return `arn:${p}:states:${r}:${a}:stateMachine:${logicalId}`;
    case 'AWS::DynamoDB::Table': return `arn:${p}:dynamodb:${r}:${a}:table/${logicalId}`;
    case 'AWS::SNS::Topic': return `arn:${p}:sns:${r}:${a}:${logicalId}`;
    case 'AWS::SQS::Queue': return `arn:${p}:sqs:${r}:${a}:${logicalId}`;
    case 'AWS::Logs::LogGroup': return `arn:${p}:logs:${r}:${a}:log-group:${logicalId}:*`;
    case 'AWS::IoT::ThingGroup': return `arn:${p}:iot:${r}:${a}:thinggroup/${logicalId}`;
    case 'AWS::IoT::RoleAlias': return `arn:${p}:iot:${r}:${a}:rolealias/${logicalId}`;
    case 'AWS::IoT::TopicRule': return `arn:${p}:iot:${r}:${a}:rule/${logicalId}`;
    case 'AWS::CloudWatch::Alarm': return `arn:${p}:cloudwatch:${r}:${a}:alarm:${logicalId}`;
    case 'AWS::Events::Rule': return `arn:${p}:events:${r}:${a}:rule/${logicalId}`;
    default: return `arn:${p}:${type.split('::')[1].toLowerCase()}:${r}:${a}:${logicalId.toLowerCase()}`;
  }
}

/** What `Ref` of a resource resolves to: the value CloudFormation documents for each type. */
export function refOf(logicalId: string, resource: CfnResource): string {
  const props = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::S3::Bucket': return typeof props.BucketName === 'string' ? props.BucketName : logicalId.toLowerCase();
    case 'AWS::SNS::Topic':
    case 'AWS::StepFunctions::StateMachine':
    case 'AWS::IAM::ManagedPolicy':
    case 'AWS::CloudWatch::Alarm':
      return arnOf(logicalId, resource.Type);
    case 'AWS::SQS::Queue': return `https://sqs.${TEST_ENV.region}.amazonaws.com/${TEST_ENV.account}/${logicalId}`;
    case 'AWS::KMS::Key': return arnOf(logicalId, resource.Type).split('/')[1];
    case 'AWS::IoT::ThingGroup': return typeof props.ThingGroupName === 'string' ? props.ThingGroupName : logicalId;
    case 'AWS::IoT::RoleAlias': return typeof props.RoleAlias === 'string' ? props.RoleAlias : logicalId;
    case 'AWS::IoT::Policy': return typeof props.PolicyName === 'string' ? props.PolicyName : logicalId;
    case 'AWS::Logs::LogGroup': return typeof props.LogGroupName === 'string' ? props.LogGroupName : logicalId;
    case 'AWS::DynamoDB::Table': return typeof props.TableName === 'string' ? props.TableName : logicalId;
    case 'AWS::GreengrassV2::ComponentVersion': return `${arnOf(logicalId, resource.Type)}`;
    default: return logicalId;
  }
}

function getAtt(logicalId: string, attr: string, resource: CfnResource, resources: Resources): string {
  const type = resource.Type;
  if (attr === 'Arn') {
    if (type === 'AWS::IoT::ThingGroup' || type === 'AWS::IoT::RoleAlias') {
      const name = refOf(logicalId, resource);
      return `arn:${TEST_ENV.partition}:iot:${TEST_ENV.region}:${TEST_ENV.account}:${type === 'AWS::IoT::ThingGroup' ? 'thinggroup' : 'rolealias'}/${name}`;
    }
    if (type === 'AWS::Logs::LogGroup') return `arn:${TEST_ENV.partition}:logs:${TEST_ENV.region}:${TEST_ENV.account}:log-group:${refOf(logicalId, resource)}:*`;
    if (type === 'AWS::S3::Bucket') return `arn:${TEST_ENV.partition}:s3:::${refOf(logicalId, resource)}`;
    if (type === 'AWS::GreengrassV2::ComponentVersion') {
      const props = resource.Properties ?? {};
      const recipe = JSON.parse(resolve(props.InlineRecipe, resources) as string) as { ComponentName: string; ComponentVersion: string };
      return `arn:${TEST_ENV.partition}:greengrass:${TEST_ENV.region}:${TEST_ENV.account}:components:${recipe.ComponentName}:versions:${recipe.ComponentVersion}`;
    }
    return arnOf(logicalId, type);
  }
  if (type === 'AWS::SQS::Queue' && attr === 'QueueName') return logicalId;
  if (type === 'AWS::SQS::Queue' && attr === 'QueueUrl') return refOf(logicalId, resource);
  if (type === 'AWS::S3::Bucket' && attr === 'RegionalDomainName') return `${refOf(logicalId, resource)}.s3.${TEST_ENV.region}.amazonaws.com`;
  if (type === 'AWS::IoT::RoleAlias' && attr === 'RoleAliasArn') return getAtt(logicalId, 'Arn', resource, resources);
  if (type === 'AWS::GreengrassV2::ComponentVersion' && attr === 'ComponentVersion') return getAtt(logicalId, 'Arn', resource, resources).split(':').pop()!;
  if (type === 'AWS::GreengrassV2::ComponentVersion' && attr === 'ComponentName') return getAtt(logicalId, 'Arn', resource, resources).split(':')[6];
  if (type === 'AWS::IAM::Role' && attr === 'RoleId') return `AROA${logicalId.toUpperCase()}`;
  return `${logicalId}.${attr}`;
}

function pseudo(name: string): string | undefined {
  switch (name) {
    case 'AWS::Partition': return TEST_ENV.partition;
    case 'AWS::Region': return TEST_ENV.region;
    case 'AWS::AccountId': return TEST_ENV.account;
    case 'AWS::URLSuffix': return 'amazonaws.com';
    case 'AWS::StackName': return 'TestStack';
    case 'AWS::NoValue': return undefined;
    default: return undefined;
  }
}

/**
 * Resolves the intrinsic functions CDK writes (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
 * Fn::Split) to the values the tests give the account, recursively through objects and lists.
 */
export function resolve(value: unknown, resources: Resources): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, resources));
  if (typeof value !== 'object' || value === null) return value;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0] === 'Ref') {
    const ref = v.Ref as string;
    if (ref.startsWith('AWS::')) return pseudo(ref);
    const resource = resources[ref];
    if (!resource) throw new Error(`Ref to unknown resource ${ref}`);
    return refOf(ref, resource);
  }
  if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    const resource = resources[id];
    if (!resource) throw new Error(`GetAtt of unknown resource ${id}`);
    return getAtt(id, attr, resource, resources);
  }
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return (resolve(parts, resources) as unknown[]).join(sep);
  }
  if (keys.length === 1 && keys[0] === 'Fn::Select') {
    const [index, list] = v['Fn::Select'] as [number, unknown];
    return (resolve(list, resources) as unknown[])[Number(index)];
  }
  if (keys.length === 1 && keys[0] === 'Fn::Split') {
    const [sep, text] = v['Fn::Split'] as [string, unknown];
    return (resolve(text, resources) as string).split(sep);
  }
  if (keys.length === 1 && keys[0] === 'Fn::Sub') {
    const arg = v['Fn::Sub'];
    const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, unknown>]);
    return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
      if (name in vars) return String(resolve(vars[name], resources));
      if (name.startsWith('AWS::')) return pseudo(name) ?? '';
      const [id, attr] = name.split('.');
      const resource = resources[id];
      if (!resource) throw new Error(`Fn::Sub of unknown ${name}`);
      return attr ? getAtt(id, attr, resource, resources) : refOf(id, resource);
    });
  }
  if (keys.some((k) => k.startsWith('Fn::'))) throw new Error(`cannot resolve ${JSON.stringify(value).slice(0, 200)}`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x, resources)]));
}

/** The template with every property resolved to test values. */
export function resolveTemplate(template: CfnTemplate): Resources {
  const out: Resources = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    out[id] = { Type: r.Type, Properties: resolve(r.Properties ?? {}, template.Resources) as Record<string, unknown> };
  }
  return out;
}
