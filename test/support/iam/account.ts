import * as path from 'node:path';
import { loadPolicy } from '@cloud-copilot/iam-policy';
import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { arnOf, CfnTemplate, Resources, resolveTemplate, TEST_ENV } from './template';

/**
 * The test account as the synthesized templates describe it: every role with its trust and
 * identity policies, every resource policy (bucket, topic, queue, key, Lambda permissions) and
 * which key encrypts which resource. `authorize` evaluates one call the way AWS does, with
 * `@cloud-copilot/iam-simulate` (built on the Service Authorization Reference): the identity
 * policies of the caller, the resource policy of the target, and, for an encrypted target, the
 * KMS calls the service makes with the caller's permissions (key policy + identity policies).
 */

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: Statement[];
}
export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** A Lambda function of the templates: its execution role and its environment, resolved. */
export interface LambdaFunction {
  readonly logicalId: string;
  readonly arn: string;
  readonly role: string;
  readonly environment: Record<string, string>;
  /** The log group the Lambda runtime writes to with the execution role. */
  readonly logGroup: string;
  /** Whether the runtime sends X-Ray traces (TracingConfig Active). */
  readonly tracing: boolean;
}

export interface Role {
  readonly logicalId: string;
  readonly arn: string;
  readonly trust: PolicyDocument;
  readonly policies: { name: string; policy: PolicyDocument }[];
}

/** One API call as AWS authorizes it. */
export interface Call {
  /** A role ARN, or a service principal such as `cloudwatch.amazonaws.com`. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** Request context keys (`aws:SourceArn`, `s3:prefix`, `iam:PassedToService`, …). */
  readonly context?: Record<string, string | string[]>;
  /** Who makes the call, for messages: `state NotifyRunStarted`, `the nucleus`, … */
  readonly by?: string;
}

export interface Decision {
  readonly call: Call;
  readonly allowed: boolean;
  /** Why not: the policy that is missing a statement, or the statement that denies. */
  readonly reason?: string;
  /** The statements that allowed it, as `policy#sid-or-index`. */
  readonly grantedBy: string[];
}

/** The KMS calls a service makes with the caller's permissions for an action on an encrypted resource. */
const KMS_FOR: Record<string, string[]> = {
  's3:GetObject': ['kms:Decrypt'],
  's3:PutObject': ['kms:GenerateDataKey'],
  'sns:Publish': ['kms:GenerateDataKey', 'kms:Decrypt'],
  'sqs:SendMessage': ['kms:GenerateDataKey', 'kms:Decrypt'],
  'sqs:ReceiveMessage': ['kms:Decrypt'],
};
/** The encryption context each service sets on its KMS calls for a resource. */
const ENCRYPTION_CONTEXT: Record<string, (resource: string) => Record<string, string>> = {
  s3: (r) => ({ 'kms:EncryptionContext:aws:s3:arn': r }),
  sns: (r) => ({ 'kms:EncryptionContext:aws:sns:topicArn': r }),
  sqs: (r) => ({ 'kms:EncryptionContext:aws:sqs:arn': r }),
};
const DYNAMODB_DATA = /^dynamodb:(GetItem|PutItem|UpdateItem|DeleteItem|Query|Scan|BatchGetItem|BatchWriteItem|ConditionCheckItem)$/;

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const isServicePrincipal = (p: string) => !p.startsWith('arn:');

export class Account {
  /** Builds the account of one or more synthesized templates (stacks deployed side by side). */
  public static of(...templates: CfnTemplate[]): Account {
    return new Account(templates.map((t) => resolveTemplate(t)));
  }

  public readonly roles = new Map<string, Role>();
  public readonly functions = new Map<string, LambdaFunction>();
  private readonly resourcePolicies = new Map<string, { name: string; policy: PolicyDocument }>();
  private readonly keyOf = new Map<string, string>();
  private readonly keyArns = new Map<string, string>();
  public readonly resources: Resources[];
  /** Every call authorized so far, allowed or not. */
  public readonly decisions: Decision[] = [];

  private constructor(resolved: Resources[]) {
    this.resources = resolved;
    for (const resources of resolved) this.readKeys(resources);
    for (const resources of resolved) this.read(resources);
  }

  private readKeys(resources: Resources): void {
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::KMS::Key') continue;
      const arn = `arn:${TEST_ENV.partition}:kms:${TEST_ENV.region}:${TEST_ENV.account}:key/${arnKeyId(id)}`;
      this.keyArns.set(arnKeyId(id), arn);
      this.keyArns.set(arn, arn);
      this.resourcePolicies.set(arn, { name: `key policy of ${id}`, policy: r.Properties!.KeyPolicy as PolicyDocument });
    }
  }

  private key(ref: unknown): string | undefined {
    if (typeof ref !== 'string') return undefined;
    return this.keyArns.get(ref) ?? (ref.startsWith('alias/') ? undefined : ref);
  }

  private read(resources: Resources): void {
    const roleByName = new Map<string, Role>();
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Role') continue;
      const p = r.Properties!;
      const role: Role = {
        logicalId: id,
        arn: `arn:${TEST_ENV.partition}:iam::${TEST_ENV.account}:role/${id}`,
        trust: p.AssumeRolePolicyDocument as PolicyDocument,
        policies: asList(p.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[]).map((x) => ({ name: `${id}/${x.PolicyName}`, policy: x.PolicyDocument })),
      };
      if (asList(p.ManagedPolicyArns).length > 0) {
        // Managed policies of this stack are attached through their Roles property; an AWS
        // managed policy would need its document here.
        const external = asList(p.ManagedPolicyArns as string[]).filter((a) => !a.includes(`:iam::${TEST_ENV.account}:policy/`));
        if (external.length) throw new Error(`role ${id} has AWS managed policies ${external.join(', ')}: add their documents to the test account`);
      }
      this.roles.set(role.arn, role);
      roleByName.set(id, role);
    }
    for (const [id, r] of Object.entries(resources)) {
      const p = r.Properties!;
      switch (r.Type) {
        case 'AWS::IAM::Policy':
        case 'AWS::IAM::ManagedPolicy':
          for (const name of asList(p.Roles as string[])) {
            const role = roleByName.get(name);
            if (!role) throw new Error(`policy ${id} is attached to unknown role ${name}`);
            role.policies.push({ name: id, policy: p.PolicyDocument as PolicyDocument });
          }
          break;
        case 'AWS::S3::BucketPolicy':
          this.addResourcePolicy(`arn:${TEST_ENV.partition}:s3:::${p.Bucket as string}`, id, p.PolicyDocument as PolicyDocument);
          break;
        case 'AWS::SNS::TopicPolicy':
          for (const topic of asList(p.Topics as string[])) this.addResourcePolicy(topic, id, p.PolicyDocument as PolicyDocument);
          break;
        case 'AWS::SQS::QueuePolicy':
          for (const url of asList(p.Queues as string[])) this.addResourcePolicy(queueArn(url), id, p.PolicyDocument as PolicyDocument);
          break;
        case 'AWS::Lambda::Function': {
          const arn = arnOf(id, r.Type);
          const environment = ((p.Environment as { Variables?: Record<string, string> } | undefined)?.Variables) ?? {};
          const logGroup = (p.LoggingConfig as { LogGroup?: string } | undefined)?.LogGroup ?? `/aws/lambda/${id}`;
          const tracing = (p.TracingConfig as { Mode?: string } | undefined)?.Mode === 'Active';
          this.functions.set(arn, { logicalId: id, arn, role: p.Role as string, environment, logGroup, tracing });
          break;
        }
        case 'AWS::Lambda::Permission':
          this.addResourcePolicy(functionArn(p.FunctionName as string), id, { Version: '2012-10-17', Statement: [permissionStatement(p)] });
          break;
        case 'AWS::S3::Bucket': {
          const rule = (p.BucketEncryption as { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault?: { KMSMasterKeyID?: string } }[] } | undefined)?.ServerSideEncryptionConfiguration?.[0];
          const k = this.key(rule?.ServerSideEncryptionByDefault?.KMSMasterKeyID);
          if (k) this.keyOf.set(`arn:${TEST_ENV.partition}:s3:::${(p.BucketName as string | undefined) ?? id.toLowerCase()}`, k);
          break;
        }
        case 'AWS::SNS::Topic': {
          const k = this.key(p.KmsMasterKeyId);
          if (k) this.keyOf.set(`arn:${TEST_ENV.partition}:sns:${TEST_ENV.region}:${TEST_ENV.account}:${id}`, k);
          break;
        }
        case 'AWS::SQS::Queue': {
          const k = this.key(p.KmsMasterKeyId);
          if (k) this.keyOf.set(`arn:${TEST_ENV.partition}:sqs:${TEST_ENV.region}:${TEST_ENV.account}:${id}`, k);
          break;
        }
        case 'AWS::DynamoDB::Table': {
          const k = this.key((p.SSESpecification as { KMSMasterKeyId?: string } | undefined)?.KMSMasterKeyId);
          if (k) this.keyOf.set(`arn:${TEST_ENV.partition}:dynamodb:${TEST_ENV.region}:${TEST_ENV.account}:table/${(p.TableName as string | undefined) ?? id}`, k);
          break;
        }
      }
    }
  }

  private addResourcePolicy(arn: string, name: string, policy: PolicyDocument): void {
    const existing = this.resourcePolicies.get(arn);
    if (!existing) this.resourcePolicies.set(arn, { name, policy: { Version: '2012-10-17', Statement: [...policy.Statement] } });
    else existing.policy.Statement.push(...policy.Statement);
  }

  /** The role with this logical id (the first whose id starts with `prefix`, CDK adds a hash). */
  public role(prefix: string): Role {
    const matches = [...this.roles.values()].filter((r) => r.logicalId.startsWith(prefix));
    if (matches.length !== 1) throw new Error(`expected one role whose id starts with ${prefix}, found ${matches.map((r) => r.logicalId).join(', ') || 'none'}`);
    return matches[0];
  }

  /** The function with this ARN (a qualified ARN too), or the one whose logical id starts with (or matches) `which`. */
  public lambdaFunction(which: string | RegExp): LambdaFunction {
    const byArn = typeof which === 'string' ? this.functions.get(functionArn(which)) : undefined;
    if (typeof which === 'string' && which.startsWith('arn:') && byArn) return byArn;
    const matches = [...this.functions.values()].filter((f) => (typeof which === 'string' ? f.logicalId.startsWith(which) : which.test(f.logicalId)));
    if (matches.length !== 1) throw new Error(`expected one function whose id ${typeof which === 'string' ? 'starts with' : 'matches'} ${String(which)}, found ${matches.map((f) => f.logicalId).join(', ') || 'none'}`);
    return matches[0];
  }

  /** The key that encrypts `resource` (a bucket, object, topic, queue or table ARN), if any. */
  public encryptionKeyOf(resource: string): string | undefined {
    const bucket = resource.startsWith(`arn:${TEST_ENV.partition}:s3:::`) ? resource.split('/')[0] : resource;
    return this.keyOf.get(bucket) ?? this.keyOf.get(resource.split('/index/')[0]);
  }

  private resourcePolicyOf(resource: string): { name: string; policy: PolicyDocument } | undefined {
    if (resource.startsWith(`arn:${TEST_ENV.partition}:s3:::`)) return this.resourcePolicies.get(resource.split('/')[0]);
    if (resource.includes(':lambda:')) return this.resourcePolicies.get(functionArn(resource));
    if (resource.includes(':iam::') && resource.includes(':role/')) {
      const role = this.roles.get(resource);
      return role ? { name: `trust policy of ${role.logicalId}`, policy: role.trust } : undefined;
    }
    return this.resourcePolicies.get(resource);
  }

  /**
   * Evaluates `call` and the KMS calls it implies; records every decision. Returns the first
   * denied decision, or the allowed decision of the call itself.
   */
  public async authorize(call: Call): Promise<Decision> {
    const decision = await this.evaluate(call);
    if (!decision.allowed) return decision;
    for (const kms of this.impliedKmsCalls(call)) {
      const k = await this.evaluate(kms);
      if (!k.allowed) return { ...k, reason: `${call.action} on ${call.resource} needs ${kms.action} on its key: ${k.reason}` };
    }
    return decision;
  }

  /** Fails with principal, action, resource and the missing statement when AWS would refuse `call`. */
  public async expectAllowed(call: Call): Promise<void> {
    const d = await this.authorize(call);
    if (!d.allowed) throw new AccessDeniedInTest(d);
  }

  /** The KMS calls an action on an encrypted resource needs from the same principal. */
  public impliedKmsCalls(call: Call): Call[] {
    const key = this.encryptionKeyOf(call.resource);
    if (!key) return [];
    const service = call.action.split(':')[0];
    const actions = KMS_FOR[call.action] ?? (DYNAMODB_DATA.test(call.action) ? ['kms:Decrypt'] : []);
    const viaService: Record<string, string> = isServicePrincipal(call.principal) ? {} : { 'kms:ViaService': `${service}.${TEST_ENV.region}.amazonaws.com` };
    const encryptionContext: Record<string, string> = ENCRYPTION_CONTEXT[service]?.(call.resource) ?? {};
    // EventBridge's KMS requests carry neither aws:SourceArn nor aws:SourceAccount (SNS
    // developer guide, "compatibility with AWS services"); other services pass theirs on.
    const source = isServicePrincipal(call.principal) && call.principal !== 'events.amazonaws.com' ? sourceContext(call) : {};
    return actions.map((action) => ({
      principal: call.principal,
      action,
      resource: key,
      context: { 'kms:CallerAccount': TEST_ENV.account, ...viaService, ...encryptionContext, ...source },
      by: call.by,
    }));
  }

  /** Evaluations by call (who, what, on what, with which context): the policies do not change. */
  private readonly evaluated = new Map<string, Promise<Omit<Decision, 'call'>>>();

  private async evaluate(call: Call): Promise<Decision> {
    const key = JSON.stringify([call.principal, call.action, call.resource, call.context ?? {}]);
    let outcome = this.evaluated.get(key);
    if (!outcome) {
      outcome = this.evaluateOnce(call);
      this.evaluated.set(key, outcome);
    }
    const decision: Decision = { call, ...(await outcome) };
    this.decisions.push(decision);
    return decision;
  }

  private async evaluateOnce(call: Call): Promise<Omit<Decision, 'call'>> {
    const service = isServicePrincipal(call.principal);
    const role = service ? undefined : this.roles.get(call.principal);
    if (!service && !role) throw new Error(`${call.principal} is not a role of the synthesized templates`);
    const rp = this.resourcePolicyOf(call.resource);
    const simulation: Simulation = {
      request: {
        principal: call.principal,
        action: call.action,
        resource: { resource: call.resource, accountId: TEST_ENV.account },
        contextVariables: { 'aws:SecureTransport': 'true', ...(service ? {} : { 'aws:PrincipalAccount': TEST_ENV.account }), ...call.context },
      },
      identityPolicies: role ? role.policies : [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: rp?.policy,
    };
    const result = await simulate(simulation, call);
    const allowed = result.result === 'Allowed';
    const grantedBy = allowed ? granted(result, role, rp) : [];
    const reason = allowed ? undefined : whyDenied(result, call, role, rp);
    return { allowed, reason, grantedBy };
  }
}

/** An error naming the call AWS would refuse and why. */
export class AccessDeniedInTest extends Error {
  constructor(public readonly decision: Decision) {
    const c = decision.call;
    super(`AccessDenied${c.by ? ` (${c.by})` : ''}: ${c.principal} may not ${c.action} on ${c.resource}${c.context && Object.keys(c.context).length ? ` with ${JSON.stringify(c.context)}` : ''}: ${decision.reason}`);
    this.name = 'AccessDenied';
  }
}

const arnKeyId = (logicalId: string) => arnOf(logicalId, 'AWS::KMS::Key').split('/')[1];

function queueArn(url: string): string {
  const [, , , account, name] = url.split('/');
  return `arn:${TEST_ENV.partition}:sqs:${TEST_ENV.region}:${account}:${name}`;
}

function functionArn(nameOrArn: string): string {
  if (!nameOrArn.startsWith('arn:')) return `arn:${TEST_ENV.partition}:lambda:${TEST_ENV.region}:${TEST_ENV.account}:function:${nameOrArn}`;
  return nameOrArn.split(':').slice(0, 7).join(':');
}

function permissionStatement(p: Record<string, unknown>): Statement {
  const principal = p.Principal as string;
  const conditions: Record<string, Record<string, unknown>> = {};
  if (p.SourceArn) conditions.ArnLike = { 'aws:SourceArn': p.SourceArn };
  if (p.SourceAccount) conditions.StringEquals = { 'aws:SourceAccount': p.SourceAccount };
  return {
    Sid: 'LambdaPermission',
    Effect: 'Allow',
    Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
    Action: p.Action as string,
    Resource: functionArn(p.FunctionName as string),
    ...(Object.keys(conditions).length ? { Condition: conditions } : {}),
  };
}

/** A service principal's calls carry the source ARN and account the service acts for. */
function sourceContext(call: Call): Record<string, string> {
  const out: Record<string, string> = {};
  if (call.context?.['aws:SourceArn']) out['aws:SourceArn'] = call.context['aws:SourceArn'] as string;
  if (call.context?.['aws:SourceAccount']) out['aws:SourceAccount'] = call.context['aws:SourceAccount'] as string;
  return out;
}

type Analysis = { result: string; identityAnalysis?: { allowStatements?: Explained[]; denyStatements?: Explained[] }; resourceAnalysis?: { allowStatements?: Explained[]; denyStatements?: Explained[] } };
type Explained = { policyId?: string; statementId?: string; statement?: { sid?: () => string | undefined; index?: () => number } };

/**
 * iam-simulate's own validation refuses three cases AWS authorizes all the same; each is
 * evaluated without that validation (`runUnsafeSimulation`), and only for these cases:
 * - the Service Authorization Reference merges Greengrass v1 and v2 deployment ARNs into one
 *   pattern that matches neither (GetDeployment, CancelDeployment on `deployments:<id>`);
 * - it lists no resource type for `states:SendTask*`, which AWS authorizes against the state
 *   machine ARN (Step Functions developer guide, "IAM policies for task tokens");
 * - it drops the `kms:EncryptionContext:aws:*` keys the services set on KMS calls.
 */
async function simulate(simulation: Simulation, call: Call): Promise<Analysis> {
  const unsafe = /^greengrass:(GetDeployment|CancelDeployment|DeleteDeployment)$/.test(call.action)
    || /^states:SendTask(Success|Failure|Heartbeat)$/.test(call.action)
    || Object.keys(call.context ?? {}).some((k) => k.startsWith('kms:EncryptionContext:aws:'));
  if (unsafe) return unvalidatedSimulation(simulation);
  const r = await runSimulation(simulation, {}) as unknown as { resultType: string; errors?: unknown; overallResult?: string; result?: { analysis: Analysis } };
  if (r.resultType === 'error') throw new Error(`iam-simulate refused ${call.action} on ${call.resource}: ${JSON.stringify(r.errors)}`);
  if (r.resultType === 'wildcard') return { result: r.overallResult! };
  return r.result!.analysis;
}

function label(e: Explained, fallback: string): string {
  const sid = e.statement?.sid?.();
  return `${e.policyId ?? fallback}#${sid ?? e.statement?.index?.() ?? '?'}`;
}

function granted(a: Analysis, role: Role | undefined, rp: { name: string } | undefined): string[] {
  return [
    ...(a.identityAnalysis?.allowStatements ?? []).map((e) => label(e, role?.logicalId ?? 'identity')),
    ...(a.resourceAnalysis?.allowStatements ?? []).map((e) => label(e, rp?.name ?? 'resource policy')),
  ];
}

function whyDenied(a: Analysis, call: Call, role: Role | undefined, rp: { name: string } | undefined): string {
  const denies = [...(a.identityAnalysis?.denyStatements ?? []), ...(a.resourceAnalysis?.denyStatements ?? [])];
  if (a.result === 'ExplicitlyDenied' && denies.length) return `explicitly denied by ${denies.map((d) => label(d, 'policy')).join(', ')}`;
  if (isServicePrincipal(call.principal)) return `no statement of ${rp?.name ?? 'the resource (it has no resource policy)'} allows ${call.principal}`;
  const identityAllows = (a.identityAnalysis?.allowStatements ?? []).length > 0;
  if (call.action.startsWith('kms:')) {
    return identityAllows ? `${rp?.name ?? 'the key policy'} allows neither the role nor the account (IAM)` : `no statement of the policies of role ${role!.logicalId} allows it (the ${rp?.name ?? 'key policy'} delegates to IAM)`;
  }
  return `no statement of the policies of role ${role!.logicalId} (${role!.policies.map((p) => p.name).join(', ')}) allows it${rp ? `, nor does ${rp.name}` : ''}`;
}

/**
 * iam-simulate's `runUnsafeSimulation` (0.1.173) loads the resource policy without a name and
 * then fails reading it; this is the same evaluation (its core `authorize`) with the name given.
 */
const engineDir = path.dirname(require.resolve('@cloud-copilot/iam-simulate'));
/* eslint-disable @typescript-eslint/no-require-imports */
const { authorize } = require(path.join(engineDir, 'core_engine', 'CoreSimulatorEngine.js')) as { authorize: (args: unknown) => Analysis };
const { AwsRequestImpl } = require(path.join(engineDir, 'request', 'request.js')) as { AwsRequestImpl: new (...args: unknown[]) => unknown };
const { RequestContextImpl } = require(path.join(engineDir, 'requestContext.js')) as { RequestContextImpl: new (values: unknown) => unknown };
const { DiscoveryContextKeyConstraints } = require(path.join(engineDir, 'context_keys', 'discoveryContextKeyConstraints.js')) as { DiscoveryContextKeyConstraints: new (c: unknown[]) => unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

function unvalidatedSimulation(simulation: Simulation): Analysis {
  const { request: r } = simulation;
  return authorize({
    request: new AwsRequestImpl(r.principal, { resource: r.resource.resource, accountId: r.resource.accountId }, r.action, new RequestContextImpl(r.contextVariables)),
    sessionPolicy: undefined,
    identityPolicies: simulation.identityPolicies.map((p) => loadPolicy(p.policy, { name: p.name })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: simulation.resourcePolicy ? loadPolicy(simulation.resourcePolicy, { name: 'resource policy' }) : undefined,
    permissionBoundaries: undefined,
    vpcEndpointPolicies: undefined,
    simulationParameters: { simulationMode: 'Strict', discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]) },
    serviceSettings: { s3: {} },
  });
}
