/**
 * What one stack's template costs per device class and per ring: template
 * bytes, resources, the state machine definition, the largest role's policy
 * and the worst-case history of one execution, for a pipeline of C classes
 * with R rings each (ONNX Runtime classes: no Neo target limits the count).
 *
 * npx tsx bench/fleet-size.ts [CxR,...]   (default: 1, 5, 10, 20, 50 classes x 1, 3, 5 rings)
 */
import '../test/support/polyfills';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Duration, NestedStack, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ArtifactStore, ComponentArchitecture, ComponentOs, EdgeFleet, EdgeModelPipeline, Framework, InputShape } from '../lib';

/** CloudFormation's limits for one template, and IAM's for one role. */
export const LIMITS = { templateBytes: 1_000_000, resources: 500, outputs: 200, definitionBytes: 1_048_576, rolePolicyBytes: 10_240, managedPoliciesPerRole: 10, historyEvents: 25_000 };

export interface Shape {
  readonly classes: number;
  readonly rings: number;
  /** The fleets (thing groups, device roles, role aliases, IoT policies) of this many classes in each nested stack; all in the pipeline's stack if unset. */
  readonly classesPerNestedStack?: number;
}

/** A shape as the table names it. */
export function shapeName(shape: Shape): string {
  return `${shape.classes} x ${shape.rings}${shape.classesPerNestedStack ? ` (fleets in nested stacks of ${shape.classesPerNestedStack} classes)` : ''}`;
}

export interface Size {
  readonly templateBytes: number;
  readonly resources: number;
  readonly definitionBytes: number;
  readonly largestRole: { readonly id: string; readonly policyBytes: number };
  readonly managedPoliciesOnOneRole: number;
  readonly outputs: number;
  readonly stacks: number;
}

/** A stack with one pipeline of `classes` classes of `rings` rings each. */
export function shapedStack(shape: Shape, app = new App()): Stack {
  const stack = new Stack(app, `Fleet${shape.classes}x${shape.rings}`, { env: { account: '111122223333', region: 'eu-west-1' } });
  addShapedPipeline(stack, shape);
  return stack;
}

/** The pipeline of `shape` in `stack`: ONNX Runtime classes, each with a canary and its rings (which share the canary's device access). */
export function addShapedPipeline(stack: Stack, shape: Shape): EdgeModelPipeline {
  const store = new ArtifactStore(stack, 'Store');
  return new EdgeModelPipeline(stack, 'Pipeline', {
    pipelineName: 'sized',
    model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 1, 8, 8])] },
    store,
    thresholds: { minAccuracy: 0.9, maxP90Latency: Duration.millis(20) },
    deviceClasses: Array.from({ length: shape.classes }, (_, c) => {
      const name = `class-${c}`;
      const group = shape.classesPerNestedStack ? Math.floor(c / shape.classesPerNestedStack) : -1;
      const scope: Construct = group < 0 ? stack : (stack.node.tryFindChild(`Fleets${group}`) as NestedStack | undefined) ?? new NestedStack(stack, `Fleets${group}`);
      const canary = new EdgeFleet(scope, `Canary${c}`, { deviceClass: name, thingNamePrefix: `c${c}-canary-`, store, thingGroupName: `${stack.stackName}-c${c}-canary` });
      return {
        name,
        platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        canary,
        rings: Array.from({ length: shape.rings }, (_r, r) => new EdgeFleet(scope, `Ring${c}x${r}`, { deviceClass: name, thingNamePrefix: `c${c}-r${r}-`, store, deviceAccess: canary, thingGroupName: `${stack.stackName}-c${c}-ring${r}` })),
        datasetPath: '/opt/edge/datasets/digits/dataset.json',
      };
    }),
  });
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>; Outputs?: Record<string, unknown> };

function bytesOf(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

/** The size of every template of an app whose first stack is `stack` (nested stacks' included): the largest of each figure. */
export function measure(stack: Stack): Size {
  const assembly = App.of(stack)!.synth();
  const templates = fs.readdirSync(assembly.directory).filter((f) => f.endsWith('.template.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(assembly.directory, f), 'utf8')) as Template);
  const sizes = templates.map(measureTemplate);
  const largest = <K extends keyof Size>(k: K, by: (s: Size) => number) => sizes.reduce((a, b) => (by(a) >= by(b) ? a : b))[k];
  return {
    templateBytes: Math.max(...sizes.map((s) => s.templateBytes)),
    resources: Math.max(...sizes.map((s) => s.resources)),
    definitionBytes: Math.max(...sizes.map((s) => s.definitionBytes)),
    largestRole: largest('largestRole', (s) => s.largestRole.policyBytes),
    managedPoliciesOnOneRole: Math.max(...sizes.map((s) => s.managedPoliciesOnOneRole)),
    outputs: Math.max(...sizes.map((s) => s.outputs)),
    stacks: templates.length,
  };
}

/** The figures of one template. */
function measureTemplate(t: Template): Size {
  const resources = Object.entries(t.Resources);
  // A role's policy bytes: its inline policies, and every AWS::IAM::Policy attached to it.
  const perRole = new Map<string, number>();
  const managed = new Map<string, number>();
  for (const [id, r] of resources) {
    if (r.Type === 'AWS::IAM::Role') perRole.set(id, (perRole.get(id) ?? 0) + bytesOf(r.Properties?.Policies ?? []));
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      for (const role of (r.Properties?.Roles ?? []) as { Ref?: string }[]) {
        if (!role.Ref) continue;
        // IAM's quotas: 10,240 characters of inline policy per role, and at most 10 managed policies attached.
        if (r.Type === 'AWS::IAM::Policy') perRole.set(role.Ref, (perRole.get(role.Ref) ?? 0) + bytesOf((r.Properties as { PolicyDocument: unknown }).PolicyDocument));
        else managed.set(role.Ref, (managed.get(role.Ref) ?? 0) + 1);
      }
    }
  }
  const [id, policyBytes] = [...perRole.entries()].reduce((a, b) => (a[1] >= b[1] ? a : b), ['', 0]);
  const definitionBytes = resources.filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .reduce((n, [, r]) => Math.max(n, bytesOf(r.Properties?.DefinitionString)), 0);
  return {
    templateBytes: bytesOf(t),
    resources: resources.length,
    definitionBytes,
    largestRole: { id, policyBytes },
    managedPoliciesOnOneRole: Math.max(0, ...managed.values()),
    outputs: Object.keys(t.Outputs ?? {}).length,
    stacks: 1,
  };
}

export function parseShapes(arg: string | undefined): Shape[] {
  if (!arg) {
    return [
      ...[1, 5, 10, 20, 50].flatMap((classes) => [1, 3, 5].map((rings) => ({ classes, rings }))),
      // The documented way past one stack's 500 resources: the fleets in nested stacks.
      ...[1, 3, 5].map((rings) => ({ classes: 50, rings, classesPerNestedStack: 10 })),
    ];
  }
  return arg.split(',').map((s) => {
    const m = /^(\d+)x(\d+)(?:\/(\d+))?$/.exec(s.trim());
    if (!m) throw new Error(`shape ${JSON.stringify(s)} is not CLASSESxRINGS[/CLASSES_PER_NESTED_STACK], such as 10x3 or 50x5/10`);
    return { classes: Number(m[1]), rings: Number(m[2]), ...(m[3] ? { classesPerNestedStack: Number(m[3]) } : {}) };
  });
}

export function sizeTable(shapes: Shape[]): string[] {
  const lines = ['classes x rings | template KB | resources | definition KB | largest inline role policy KB | most managed policies on a role | outputs | verdict'];
  for (const shape of shapes) {
    let row: string;
    try {
      const s = measure(shapedStack(shape));
      const over = [
        s.templateBytes > LIMITS.templateBytes ? 'template over 1 MB' : '',
        s.resources > LIMITS.resources ? 'over 500 resources' : '',
        s.outputs > LIMITS.outputs ? `${s.outputs} outputs (CloudFormation allows 200)` : '',
        s.definitionBytes > LIMITS.definitionBytes ? 'state machine definition over 1 MB' : '',
        s.largestRole.policyBytes > LIMITS.rolePolicyBytes ? 'a role over 10 KB of inline policy' : '',
        s.managedPoliciesOnOneRole > LIMITS.managedPoliciesPerRole ? `${s.managedPoliciesOnOneRole} managed policies on one role` : '',
      ].filter(Boolean);
      row = `${shapeName(shape)} | ${(s.templateBytes / 1024).toFixed(0)} | ${s.resources} | ${(s.definitionBytes / 1024).toFixed(0)} | ${(s.largestRole.policyBytes / 1024).toFixed(1)} | ${s.managedPoliciesOnOneRole} | ${s.outputs} | ${over.length ? over.join(', ') : 'within limits'}${s.stacks > 1 ? ` (largest of ${s.stacks} templates)` : ''}`;
    } catch (err) {
      const why = (err as Error).message.split('\n').map((l) => l.trim()).filter((l) => l && !/^Validation failed/.test(l))[0] ?? '';
      row = `${shapeName(shape)} | refused at synth: ${why.slice(0, 200)}`;
    }
    lines.push(row);
  }
  return lines;
}

if (require.main === module) {
  for (const line of sizeTable(parseShapes(process.argv[2]))) console.log(line);
}
