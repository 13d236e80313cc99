import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  ArtifactStore, CompilationTarget, ComponentArchitecture, ComponentOs, EdgeFleet, EdgeModelPipeline, EdgeModelPipelineProps, Framework, InputShape, TargetDevice,
} from '../../lib';
import { problems } from '../support/problems';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Whether an event matches an EventBridge pattern, for the matchers the library writes: exact
 * values and `prefix` (every field of the pattern must match; any value of a field's list may).
 * An object in a list is a matcher only when it is `{ prefix }`; otherwise it is a value.
 */
function matches(pattern: Json, event: Json): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((p) => (p !== null && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).join() === 'prefix'
      ? typeof event === 'string' && event.startsWith(String(p.prefix))
      // A value, or a token (the bucket's Ref) compared as written.
      : JSON.stringify(p) === JSON.stringify(event)));
  }
  if (pattern === null || typeof pattern !== 'object') throw new Error(`unexpected pattern ${JSON.stringify(pattern)}`);
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return false;
  return Object.entries(pattern).every(([k, p]) => k in event && matches(p, (event as Record<string, Json>)[k]));
}

/** An S3 Object Created event as EventBridge delivers it. */
const created = (bucket: string, key: string): Json => ({ 'source': 'aws.s3', 'detail-type': 'Object Created', 'detail': { bucket: { name: bucket }, object: { key } } });

function pipeline(stack: Stack, id: string, store: ArtifactStore, over: Partial<EdgeModelPipelineProps> = {}): EdgeModelPipeline {
  const fleet = (group: string) => new EdgeFleet(stack, `${id}${group}`, { deviceClass: 'rasp4b', thingNamePrefix: `${id.toLowerCase()}-`, store, thingGroupName: `${id.toLowerCase()}-${group}` });
  return new EdgeModelPipeline(stack, id, {
    pipelineName: id.toLowerCase(),
    model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] },
    store,
    thresholds: { minAccuracy: 0.9 },
    deviceClasses: [{
      name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
      variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
      canary: fleet('canary'), rings: [fleet('ring')], datasetPath: '/opt/data/dataset.json',
    }],
    ...over,
  });
}

/** Every S3 upload rule of a template, with the function it starts and that function's environment. */
function uploadRules(stack: Stack): { pattern: Json; env: Record<string, Json> }[] {
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, Json> }> };
  const resources = Object.entries(template.Resources);
  return resources.filter(([, r]) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.EventPattern).includes('aws.s3')).map(([, r]) => {
    const target = (r.Properties.Targets as { Arn: { 'Fn::GetAtt': [string, string] } }[])[0].Arn['Fn::GetAtt'][0];
    const fn = template.Resources[target].Properties as { Environment: { Variables: Record<string, Json> } };
    return { pattern: r.Properties.EventPattern, env: fn.Environment.Variables };
  });
}

describe('model intake: one pipeline\'s upload starts that pipeline only, and one approval one run', () => {
  test('two pipelines on one store each watch their own model prefix', () => {
    const stack = new Stack(new App(), 'Shared');
    const store = new ArtifactStore(stack, 'Store');
    const [a, b] = [pipeline(stack, 'Cams', store), pipeline(stack, 'Gates', store)];
    expect([a.modelPrefix, b.modelPrefix]).toEqual(['models/cams/', 'models/gates/']);
    const rules = uploadRules(stack);
    expect(rules).toHaveLength(2);
    const bucket = stack.resolve(store.bucket.bucketName) as Json;
    const started = (key: string) => rules.filter((r) => matches(r.pattern, created(bucket as never, key))).map((r) => r.env.MODEL_PREFIX);
    expect(started('models/cams/resnet/model.tar.gz')).toEqual(['models/cams/']);
    expect(started('models/gates/resnet/model.tar.gz')).toEqual(['models/gates/']);
    expect(started('models/resnet/model.tar.gz')).toEqual([]);
  });

  test('the Model Registry trigger copies into a prefix no upload rule watches: one approval starts one run', () => {
    const stack = new Stack(new App(), 'Registry');
    const store = new ArtifactStore(stack, 'Store');
    const p = pipeline(stack, 'Cams', store, { triggers: { modelPackageGroupName: 'resnet-edge' } });
    const [rule] = uploadRules(stack);
    expect(rule.env.REGISTRY_PREFIX).toBe(p.registryPrefix);
    // The key the trigger writes the package's model data to (lambda/pipeline-trigger).
    const copy = `${p.registryPrefix}resnet-edge/v7/model.tar.gz`;
    expect(matches(rule.pattern, created(stack.resolve(store.bucket.bucketName) as never, copy))).toBe(false);
    // Compilation may read it: it lies under the store's models/.
    expect(copy.startsWith(ArtifactStore.MODEL_PREFIX)).toBe(true);
  });

  test('a model prefix outside models/, without a trailing slash, or in the registry\'s namespace is refused', () => {
    for (const modelPrefix of ['uploads/cams/', 'models/cams', 'models/cams.registry/']) {
      const stack = new Stack(new App(), 'Bad');
      const message = problems(() => pipeline(stack, 'Cams', new ArtifactStore(stack, 'Store'), { modelPrefix }));
      expect(message).toContain('(1 problem)');
      expect(message).toContain(`modelPrefix: got "${modelPrefix}"`);
    }
  });
});
