import { App, Stack } from 'aws-cdk-lib';
import {
  ArtifactStore,
  ComponentArchitecture,
  ComponentOs,
  ComponentPublishing,
  PipelineStateMachine,
  ReleaseLedger,
} from '../../lib';
import { makeTarGz, neoCompiledFiles } from '../support/archives';
import { DIGITS_MODEL } from '../support/compile-stack';
import { BUCKET, FakePublishing } from '../support/fake-publishing';
import { definitionOf, expectValidAsl, runDefinition } from '../support/state-machine';

function build() {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const ledger = new ReleaseLedger(stack, 'Ledger');
  const publishing = new ComponentPublishing(stack, 'Publish', {
    store,
    ledger,
    componentNamePrefix: 'com.example.digits',
    model: DIGITS_MODEL,
    deviceClasses: [
      { name: 'jetson-nano', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: ['jetson-nano-sm53'] },
      // A Raspberry Pi is linux/aarch64 too: its own component keeps the Jetson build off it.
      { name: 'rasp4b', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: ['rasp4b', 'linux-arm64'] },
      { name: 'gateway', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: ['linux-arm64'] },
    ],
  });
  new PipelineStateMachine(stack, 'Machine', { definition: publishing });
  const definition = definitionOf(stack);
  expectValidAsl(definition);
  return definition;
}

const compiled = (variant: string, target: string) => ({ variant, target, artifactS3Uri: `s3://${BUCKET}/compiled/run-1/${variant}/model-${target}.tar.gz` });
const COMPILED = [compiled('jetson-nano-sm53', 'jetson_nano'), compiled('rasp4b', 'rasp4b'), compiled('linux-arm64', 'linux-arm64')];

describe('ComponentPublishing, run by the local executor', () => {
  const definition = build();
  let world: FakePublishing;
  beforeEach(() => {
    world = new FakePublishing();
    for (const c of COMPILED) world.objects.set(c.artifactS3Uri.replace(`s3://${BUCKET}/`, ''), makeTarGz(neoCompiledFiles()));
  });
  afterEach(async () => world.done());

  const run = (input: Record<string, unknown> = { runId: 'run-1', compile: { compiled: COMPILED } }) =>
    runDefinition(definition, input as never, { handlers: world.handlers(), context: world.context() });

  test('publishes one component per device class, one version per variant that serves it, all DEPLOYABLE', async () => {
    const result = await run();
    expect(result.error).toBeUndefined();
    const classes = (result.output as { publish: { classes: { deviceClass: string; candidates: Record<string, string>[] }[] } }).publish.classes;
    expect(classes.map((c) => [c.deviceClass, c.candidates.map((x) => `${x.componentName} (${x.variant})`)])).toEqual([
      ['jetson-nano', ['com.example.digits.jetson-nano (jetson-nano-sm53)']],
      ['rasp4b', ['com.example.digits.rasp4b (rasp4b)', 'com.example.digits.rasp4b (linux-arm64)']],
      ['gateway', ['com.example.digits.gateway (linux-arm64)']],
    ]);
    // The variants are published in parallel: which gets which patch number is up to the race, never a collision.
    expect(classes[1].candidates.map((x) => x.componentVersion).sort()).toEqual(['1.0.1', '1.0.2']);
    const recipes = world.creates();
    expect(recipes).toHaveLength(4);
    for (const recipe of recipes as { Manifests: { Artifacts: { URI: string }[] }[] }[]) {
      const uri = recipe.Manifests[0].Artifacts[0].URI;
      expect(world.objects.has(uri.replace(`s3://${BUCKET}/`, ''))).toBe(true);
    }
  });

  test('a variant that serves two classes is packaged for each but stored once: packages are content-addressed', async () => {
    await run();
    expect(world.packaged).toBe(4);
    expect(world.stored).toBe(3);
  });

  test('the same run delivered twice publishes no new version and uploads nothing new', async () => {
    await run();
    const stored = world.stored;
    const second = await run();
    expect(second.status).toBe('SUCCEEDED');
    expect(world.stored).toBe(stored);
    const versions = world.creates().map((r) => `${(r as { ComponentName: string }).ComponentName}@${(r as { ComponentVersion: string }).ComponentVersion}`);
    expect(new Set(versions).size).toBe(4);
  });

  test('a component that goes FAILED ends the run with ComponentPublishFailed and the service\'s message', async () => {
    world.states['com.example.digits.rasp4b'] = ['REQUESTED', 'FAILED'];
    const result = await run();
    expect(result).toMatchObject({ status: 'FAILED', error: 'ComponentPublishFailed' });
    expect(result.cause).toContain('digest does not match');
  });

  test('a component stuck in REQUESTED past its budget ends with ComponentPublishTimedOut', async () => {
    world.states['com.example.digits.jetson-nano'] = ['REQUESTED'];
    const result = await run();
    expect(result).toMatchObject({ status: 'FAILED', error: 'ComponentPublishTimedOut' });
  });

  test('an artifact that is not really compiled stops the run before anything is published', async () => {
    world.objects.set('compiled/run-1/rasp4b/model-rasp4b.tar.gz', makeTarGz({ 'model.pth': Buffer.alloc(100, 1) }));
    const result = await run();
    expect(result).toMatchObject({ status: 'FAILED', error: 'ArtifactNotCompiled' });
    expect(world.creates().filter((r) => (r as { ComponentName: string }).ComponentName.endsWith('rasp4b'))).toHaveLength(0);
  });
});
