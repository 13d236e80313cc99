/**
 * @jest-environment ./test/support/native-environment.js
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ArtifactStore, CompilationTarget, ComponentArchitecture, ComponentOs, EdgeFleet, EdgeModelPipeline, Framework, InputShape, TargetDevice } from '../../lib';
import { componentsOfShape, PipelineShape, PipelineWorld } from './support/pipeline-world';

/** Two classes of Raspberry Pi 4 (cameras and gateways) that share one Neo variant. */
class TwoPiClassesStack extends Stack {
  public readonly pipeline: EdgeModelPipeline;
  constructor(scope: Construct, id: string) {
    super(scope, id, { env: { account: '111122223333', region: 'eu-west-1' } });
    const store = new ArtifactStore(this, 'Store');
    const rasp4b = { name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) };
    const piClass = (name: string, prefix: string) => {
      const canary = new EdgeFleet(this, `${name}Canary`, { deviceClass: name, thingNamePrefix: `${prefix}canary-`, store, thingGroupName: `${name}-canary` });
      return {
        name,
        platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        variants: [rasp4b],
        canary,
        rings: [new EdgeFleet(this, `${name}Ring`, { deviceClass: name, thingNamePrefix: `${prefix}r1-`, store, thingGroupName: `${name}-ring1`, deviceAccess: canary })],
        datasetPath: '/opt/edge/datasets/holdout/dataset.json',
      };
    };
    this.pipeline = new EdgeModelPipeline(this, 'Pipeline', {
      pipelineName: 'two-pis',
      model: { framework: Framework.PYTORCH, inputs: [InputShape.named('input0', [1, 3, 224, 224])] },
      store,
      thresholds: { minAccuracy: 0.9, maxP90Latency: Duration.millis(50) },
      deviceClasses: [piClass('pi-cam', 'cam-'), piClass('pi-gw', 'gw-')],
    });
  }
}

const SHAPE: PipelineShape = {
  name: 'two Pi classes', stack: TwoPiClassesStack, model: { key: 'models/resnet18/model.tar.gz', fixture: 'digits/model.tar.gz' },
  classes: ['pi-cam', 'pi-gw'].map((name) => ({ name, variants: [{ variant: 'rasp4b', target: 'rasp4b' }], canary: `${name}-canary`, rings: [`${name}-ring1`] })),
};

test('two classes that share a variant: compiled once, a component each, canaried apart, both released', async () => {
  const w = new PipelineWorld(SHAPE);
  const result = await w.run('resnet18-v3');
  expect(result.cause).toBeUndefined();
  expect(result.status).toBe('SUCCEEDED');
  // One Neo job for the variant both classes use.
  expect(result.entered.filter((s) => /CreateCompilationJob$/.test(s))).toHaveLength(1);
  // Each class's ring runs its own component of the same compile.
  const { models } = componentsOfShape(SHAPE);
  expect(new Set(Object.values(models)).size).toBe(2);
  for (const c of ['pi-cam', 'pi-gw']) {
    const [deployed] = w.fleets[`${c}-ring1`].calls('CreateDeployment').map((d) => d.Components as Record<string, unknown>);
    expect(Object.keys(deployed)).toContain(models[c]);
    expect(w.ledger.get(`GROUP#${c}-ring1`, 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3' });
  }
  // Each class's canary counted its own devices and handed on its own results.
  for (const c of ['pi-cam', 'pi-gw']) {
    const doc = JSON.parse(w.canary.reports.get(`reports/resnet18-v3/canary-results/${c}/rasp4b.json`)!) as { deviceClass: string; results: { thingName: string }[] };
    expect(doc.deviceClass).toBe(c);
    expect(doc.results.map((r) => r.thingName).sort()).toEqual([`${c}-canary-a`, `${c}-canary-b`]);
  }
});
