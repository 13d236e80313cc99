import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateComponentVersionCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { packageVariant, PackageEvent } from '../../lambda/package-artifact/index';
import { publish, PublishEvent } from '../../lambda/publish-component/index';
import { Ledger } from '../../lambda/shared/ledger';
import { chunked } from './archives';
import { expectValidRequest } from './aws-model';
import { Clock } from './clock';
import { authorizeCommand, env } from './iam/caller';
import { s3Read } from './iam/s3-rules';
import { MemoryTable } from './memory-table';
import { TaskHandler } from './state-machine';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The test bucket name of a store with construct id `Store` (see TEST_ENV resolution). */
export const BUCKET = 'storec1f82936';

/** S3 served from memory, Greengrass answered by a script, the packaging and publishing handlers' own code in between (ledger in memory). */
export class FakePublishing {
  public readonly objects = new Map<string, Buffer>();
  public readonly describes: Record<string, unknown>[] = [];
  public stored = 0;
  public packaged = 0;
  private readonly inFlight: Promise<unknown>[] = [];
  public states: Record<string, string[]> = {};
  private readonly s3 = mockClient(S3Client);
  private readonly gg = mockClient(GreengrassV2Client);
  private readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'publish-world-'));

  /**
   * S3 answers as it would the calling function (see `iam/caller.ts`): in a run with an
   * account, 403 for a missing key without ListBucket on the whole bucket, and a denied call
   * fails the run.
   */
  constructor(public readonly table: MemoryTable = new MemoryTable(), public readonly clock: Clock = new Clock()) {
    this.s3.on(HeadObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      const object = this.objects.get(input.Key);
      await s3Read(new HeadObjectCommand(input), object !== undefined);
      if (!object) throw Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
      return { ContentLength: object.length, ETag: '"e"' };
    });
    this.s3.on(ListObjectsV2Command).callsFake(async (input: { Bucket: string; Prefix: string; MaxKeys?: number }) => {
      await authorizeCommand(new ListObjectsV2Command(input));
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(input.Prefix)).sort().slice(0, input.MaxKeys ?? 1000);
      return { Contents: keys.map((Key) => ({ Key })) };
    });
    this.s3.on(GetObjectCommand).callsFake(async (input: { Bucket: string; Key: string }) => {
      await s3Read(new GetObjectCommand(input), this.objects.has(input.Key));
      return { Body: sdkStreamMixin(Readable.from(chunked(this.objects.get(input.Key)!))) };
    });
    this.s3.on(PutObjectCommand).callsFake(async (input: { Bucket: string; Key: string; Body: Readable; IfNoneMatch?: string }) => {
      await authorizeCommand(new PutObjectCommand(input));
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
      await authorizeCommand(new CreateComponentVersionCommand(input));
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
    // Concurrent invocations each get a /tmp of their own in Lambda: here, a folder each.
    let invocation = 0;
    const cfg = () => ({ bucket: env('STORE_BUCKET', BUCKET), prefix: env('PACKAGE_PREFIX', 'packages/'), maxBytes: 100 * 1024 * 1024, workDir: path.join(this.work, `pkg-${invocation++}`) });
    const prefix = 'arn:aws:greengrass:eu-west-1:111122223333';
    return {
      PackageArtifact: async (input) => {
        this.packaged++;
        return this.track(packageVariant(input as unknown as PackageEvent, cfg(), new S3Client({})));
      },
      PublishComponent: async (input) => this.track(publish(input as unknown as PublishEvent, new Ledger(env('LEDGER_TABLE', 'ledger'), this.table.client()), new GreengrassV2Client({}), prefix, new Date(this.clock.now))),
      DescribeComponent: (input) => {
        expectValidRequest('greengrassv2', 'DescribeComponent', input);
        this.clock.now += 10_000;
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
    return this.clock.context();
  }
}

