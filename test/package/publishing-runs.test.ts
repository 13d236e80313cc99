import { Readable } from 'node:stream';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateComponentVersionCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { packageVariant, PackageEvent } from '../../lambda/package-artifact/index';
import { publish, PublishEvent } from '../../lambda/publish-component/index';
import { Ledger } from '../../lambda/shared/ledger';
import {
  ArtifactStore,
  ComponentArchitecture,
  ComponentOs,
  ComponentPublishing,
  PipelineStateMachine,
  ReleaseLedger,
} from '../../lib';
import { chunked, makeTarGz, neoCompiledFiles } from '../support/archives';
import { expectValidRequest } from '../support/aws-model';
import { DIGITS_MODEL } from '../support/compile-stack';
import { MemoryTable } from '../support/memory-table';
import { definitionOf, expectValidAsl, runDefinition, TaskHandler } from '../support/state-machine';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

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

const BUCKET = 'storec1f82936';
const compiled = (variant: string, target: string) => ({ variant, target, artifactS3Uri: `s3://${BUCKET}/compiled/run-1/${variant}/model-${target}.tar.gz` });
const COMPILED = [compiled('jetson-nano-sm53', 'jetson_nano'), compiled('rasp4b', 'rasp4b'), compiled('linux-arm64', 'linux-arm64')];

/** S3 served from memory, Greengrass answered by a script, the handlers' own code in between. */
class World {
  public readonly objects = new Map<string, Buffer>();
  public readonly table = new MemoryTable();
  public readonly describes: Record<string, unknown>[] = [];
  public stored = 0;
  public packaged = 0;
  private readonly inFlight: Promise<unknown>[] = [];
  public states: Record<string, string[]> = {};
  public now = Date.parse('2026-11-28T10:00:00.000Z');
  private readonly s3 = mockClient(S3Client);
  private readonly gg = mockClient(GreengrassV2Client);
  private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'publish-world-'));

  constructor() {
    this.s3.on(HeadObjectCommand).callsFake(async (input: { Key: string }) => {
      const object = this.objects.get(input.Key);
      if (!object) throw Object.assign(new Error('Not Found'), { name: 'NotFound' });
      return { ContentLength: object.length, ETag: '"e"' };
    });
    this.s3.on(GetObjectCommand).callsFake(async (input: { Key: string }) => ({ Body: sdkStreamMixin(Readable.from(chunked(this.objects.get(input.Key)!))) }));
    this.s3.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: Readable; IfNoneMatch?: string }) => {
      const chunks: Buffer[] = [];
      for await (const chunk of input.Body) chunks.push(chunk as Buffer);
      // S3 conditional writes: If-None-Match: * fails when the key exists.
      if (input.IfNoneMatch === '*' && this.objects.has(input.Key)) {
        throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
      }
      this.objects.set(input.Key, Buffer.concat(chunks));
      this.stored++;
      return {};
    });
    this.gg.on(CreateComponentVersionCommand).callsFake(async (input) => {
      expectValidRequest('greengrassv2', 'CreateComponentVersion', input);
      return {};
    });
  }


  public creates(): Record<string, unknown>[] {
    return this.gg.commandCalls(CreateComponentVersionCommand).map((c) => JSON.parse(Buffer.from(c.args[0].input.inlineRecipe!).toString('utf8')));
  }

  /** Waits for handlers still running (a failed Map does not wait for its other branches), then cleans up. */
  public async done(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    this.s3.restore();
    this.gg.restore();
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  public handlers(): Record<string, TaskHandler> {
    const ledger = new Ledger('ledger', this.table.client());
    // Concurrent invocations each get a /tmp of their own in Lambda: here, a folder each.
    let invocation = 0;
    const cfg = () => ({ bucket: BUCKET, prefix: 'packages/', maxBytes: 100 * 1024 * 1024, workDir: path.join(this.work, `pkg-${invocation++}`) });
    const prefix = 'arn:aws:greengrass:eu-west-1:111122223333';
    return {
      PackageArtifact: async (input) => {
        this.packaged++;
        return this.track(packageVariant(input as unknown as PackageEvent, cfg(), new S3Client({})));
      },
      PublishComponent: async (input) => this.track(publish(input as unknown as PublishEvent, ledger, new GreengrassV2Client({}), prefix, new Date(this.now))),
      DescribeComponent: (input) => {
        expectValidRequest('greengrassv2', 'DescribeComponent', input);
        this.now += 10_000;
        const arn = (input as { Arn: string }).Arn;
        this.describes.push(input as Record<string, unknown>);
        const script = this.states[arn.split(':components:')[1].split(':versions:')[0]] ?? ['REQUESTED', 'DEPLOYABLE'];
        const seen = this.describes.filter((d) => d.Arn === arn).length;
        const state = script[Math.min(seen - 1, script.length - 1)];
        return {
          Arn: arn,
          Status: { ComponentState: state, Message: state === 'FAILED' ? 'The artifact s3://…/x.zip digest does not match' : 'NONE', Errors: {} },
        };
      },
    };
  }

  private async track<T>(promise: Promise<T>): Promise<Json> {
    this.inFlight.push(promise);
    return (await promise) as unknown as Json;
  }

  public context(): Record<string, unknown> {
    const clock = () => this.now;
    return { State: { get EnteredTime() { return new Date(clock()).toISOString(); } } };
  }
}

describe('ComponentPublishing, run by the local executor', () => {
  const definition = build();
  let world: World;
  beforeEach(() => {
    world = new World();
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
