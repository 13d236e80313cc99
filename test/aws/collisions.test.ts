import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  ArtifactStore, CompilationTarget, ComponentArchitecture, ComponentOs, EdgeFleet, EdgeModelPipeline, FleetRollout, Framework, InputShape, PipelineStateMachine,
  ReleaseLedger, TargetDevice,
} from '../../lib';

/**
 * What two stacks in one account and Region can both claim: physical names, topic filters, event
 * patterns, metrics and name prefixes. The checker reads every synthesized template and reports
 * two resources of different stacks or constructs that claim the same thing. A new resource type
 * is covered by adding the property that names it to NAMES.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource { Type: string; Properties?: Record<string, Json> }
interface Claim { kind: string; value: string; owner: string }

/** The property that names each resource type in the account. */
const NAMES: Record<string, string[]> = {
  'AWS::IoT::ThingGroup': ['ThingGroupName'],
  'AWS::IoT::RoleAlias': ['RoleAlias'],
  'AWS::IoT::Policy': ['PolicyName'],
  'AWS::IoT::TopicRule': ['RuleName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::IAM::Role': ['RoleName'],
};

/** A template value as text: literals as they are, a resource's Ref or attribute as that stack's own (unique) thing. */
function render(v: Json, stack: string): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => render(x, stack)).join(',')}]`;
  if (v === null) return 'null';
  if ('Ref' in v) return v.Ref === 'AWS::StackName' ? stack : String(v.Ref).startsWith('AWS::') ? `{${String(v.Ref)}}` : `<${stack}/${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${stack}/${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, Json[]];
    return parts.map((p) => render(p, stack)).join(sep);
  }
  return `{${Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}:${render(x, stack)}`).join(',')}}`;
}

/** Everything one template claims in the account. */
function claimsOf(stack: Stack): Claim[] {
  const resources = (Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> }).Resources;
  const out: Claim[] = [];
  const claim = (kind: string, value: string, id: string) => out.push({ kind, value, owner: `${stack.stackName}/${id}` });
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    for (const prop of NAMES[r.Type] ?? []) if (p[prop] !== undefined) claim(`${r.Type} ${prop}`, render(p[prop], stack.stackName), id);
    if (r.Type === 'AWS::GreengrassV2::ComponentVersion') {
      const recipe = JSON.parse(render(p.InlineRecipe, stack.stackName)) as { ComponentName: string; ComponentVersion: string };
      claim('Greengrass component version', `${recipe.ComponentName}@${recipe.ComponentVersion}`, id);
    }
    if (r.Type === 'AWS::IoT::TopicRule') {
      const sql = render((p.TopicRulePayload as Record<string, Json>).Sql, stack.stackName);
      claim('IoT topic filter', /FROM\s+'([^']+)'/i.exec(sql)?.[1] ?? sql, id);
    }
    if (r.Type === 'AWS::IoT::Policy') {
      // Where devices may publish (their own $aws/things topics follow the thing-name prefix the user gives).
      const statements = (p.PolicyDocument as { Statement: { Action: Json; Resource: Json }[] }).Statement;
      for (const st of statements.filter((x) => ([] as Json[]).concat(x.Action).includes('iot:Publish'))) {
        for (const resource of ([] as Json[]).concat(st.Resource).map((x) => render(x, stack.stackName)).filter((x) => !x.includes(':topic/$aws/'))) claim('IoT policy publish scope', resource, id);
      }
    }
    if (r.Type === 'AWS::Events::Rule' && p.EventPattern) claim('event pattern', render(p.EventPattern, stack.stackName), id);
    if (r.Type === 'AWS::CloudWatch::Alarm' && p.MetricName) {
      claim('alarm metric (namespace, name, dimensions)', `${render(p.Namespace, stack.stackName)} ${render(p.MetricName, stack.stackName)} ${render(p.Dimensions ?? [], stack.stackName)}`, id);
    }
    if (r.Type === 'AWS::StepFunctions::StateMachine') {
      const definition = render(p.DefinitionString, stack.stackName);
      // Job names are the prefix, the run and a hash of the scope with them: the pair names the jobs.
      for (const m of definition.matchAll(/"jobNamePrefix":"([^"]+)","jobNameScope":"([^"]*)"/g)) claim('Neo job names (prefix, scope)', `${m[1]} ${m[2]}`, id);
    }
  }
  return out;
}

/** Two different owners claiming one thing. */
function collisions(stacks: Stack[]): string[] {
  const byKey = new Map<string, Set<string>>();
  for (const c of stacks.flatMap(claimsOf)) {
    const key = `${c.kind}: ${c.value}`;
    if (!byKey.has(key)) byKey.set(key, new Set());
    byKey.get(key)!.add(c.owner);
  }
  return [...byKey].filter(([, owners]) => owners.size > 1).map(([key, owners]) => `${key} (${[...owners].sort().join(', ')})`).sort();
}

/** A stack of three pipelines (two sharing a store) and a standalone FleetRollout, all on their defaults. */
class FleetStack extends Stack {
  constructor(scope: App, id: string) {
    super(scope, id, { env: { account: '111122223333', region: 'eu-west-1' } });
    const shared = new ArtifactStore(this, 'SharedStore');
    const pipeline = (name: string, store?: ArtifactStore) => {
      const s = store ?? new ArtifactStore(this, `${name}Store`);
      const fleet = (role: string) => new EdgeFleet(this, `${name}${role}`, { deviceClass: 'rasp4b', thingNamePrefix: `${name.toLowerCase()}-${role.toLowerCase()}-`, store: s });
      return new EdgeModelPipeline(this, name, {
        pipelineName: name.toLowerCase(),
        model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },
        store: s,
        thresholds: { minAccuracy: 0.9 },
        deviceClasses: [{
          name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
          variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
          canary: fleet('Canary'), rings: [fleet('Ring')], datasetPath: '/opt/data/dataset.json',
        }],
      });
    };
    pipeline('Cams', shared);
    pipeline('Gates', shared);
    pipeline('Doors');
    const fleet = new EdgeFleet(this, 'StandaloneFleet', { deviceClass: 'rasp4b', thingNamePrefix: 'solo-', store: shared });
    new PipelineStateMachine(this, 'Release', { definition: new FleetRollout(this, 'Rollout', { fleet, ledger: new ReleaseLedger(this, 'Ledger') }) });
  }
}

/**
 * Collisions still open (issue #11), each with what it breaks. The test fails when a new one
 * appears, and when one of these is fixed (then take it off the list).
 */
const OPEN: RegExp[] = [
  // None: the results and telemetry topics, their rules and the device latency metric are each pipeline's own.
];

describe('many pipelines, many stages, one account: nothing two stacks or pipelines could both claim', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const found = collisions([new FleetStack(app, 'Dev'), new FleetStack(app, 'Prod')]);

  test('the checker sees every kind of claim it knows (so a pass means something)', () => {
    const kinds = new Set(claimsOf(new FleetStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Probe')).map((c) => c.kind));
    for (const kind of ['AWS::IoT::ThingGroup ThingGroupName', 'AWS::IoT::RoleAlias RoleAlias', 'Greengrass component version', 'IoT topic filter', 'event pattern', 'alarm metric (namespace, name, dimensions)', 'Neo job names (prefix, scope)', 'IoT policy publish scope']) {
      expect(kinds).toContain(kind);
    }
  });

  test('a name the user passes to two stacks is found (the checker catches what it claims to)', () => {
    const named = (id: string) => {
      const stack = new Stack(new App(), id);
      new EdgeFleet(stack, 'Fleet', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store: new ArtifactStore(stack, 'Store'), thingGroupName: 'rasp4b-fleet' });
      return stack;
    };
    expect(collisions([named('A'), named('B')])).toEqual(expect.arrayContaining([
      expect.stringMatching(/^AWS::IoT::ThingGroup ThingGroupName: rasp4b-fleet \(A\/.*, B\//),
      expect.stringMatching(/^AWS::IoT::RoleAlias RoleAlias: rasp4b-fleet-token-exchange /),
    ]));
  });

  test('no two resources claim one name, topic, pattern, metric or prefix, and none is left open', () => {
    expect(found.filter((c) => !OPEN.some((o) => o.test(c)))).toEqual([]);
    for (const o of OPEN) expect(found.some((c) => o.test(c))).toBe(true);
  });
});
