import * as path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { runBenchmark } from '../../src/benchmark';
import { BenchmarkResult } from '../../src/result';
import { collect, CollectorDeps, Outcome } from '../../../lambda/canary-collector/index';
import { Clients, control } from '../../../lambda/canary-control/index';
import { CanaryStore } from '../../../lambda/shared/canary-store';
import { FIXTURES } from '../../../test/support/archives';
import { expectValidRequest } from '../../../test/support/aws-model';
import { DYNAMODB_ITEM_THROUGHPUT, MemoryTable } from '../../../test/support/memory-table';

const DIGITS = path.join(FIXTURES, 'digits');
export const RUN = 'digits-v9';
export const VARIANT = 'onnx';
export const DEVICES = Array.from({ length: 1000 }, (_, i) => `cam-${String(i).padStart(4, '0')}`);
/** When Lambda delivers an asynchronous event again after the function failed: at once, after about 1 and 3 minutes. */
const DELIVERIES_MS = [0, 60_000, 180_000];

/** A small deterministic generator, so an interleaving that fails can be run again. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/**
 * Step Functions as the collector meets it: requests checked against the
 * service's description, heartbeats throttled past a rate, a task that
 * completes once (a second SendTaskSuccess is answered TaskTimedOut).
 */
export class FakeStepFunctions {
  public readonly completions: string[] = [];
  public heartbeats = 0;
  public throttledHeartbeats = 0;
  private readonly perSecond = new Map<number, number>();
  constructor(private readonly now: () => number, private readonly heartbeatsPerSecond: number) {}

  public client(): SFNClient {
    return { send: async (cmd: { constructor: { name: string }; input: { taskToken: string; output?: string } }) => {
      const operation = cmd.constructor.name.replace(/Command$/, '');
      expectValidRequest('stepfunctions', operation, cmd.input);
      if (operation === 'SendTaskHeartbeat') {
        const second = Math.floor(this.now() / 1000);
        const n = (this.perSecond.get(second) ?? 0) + 1;
        this.perSecond.set(second, n);
        if (n > this.heartbeatsPerSecond || this.completions.length > 0) {
          this.throttledHeartbeats++;
          throw Object.assign(new Error(this.completions.length > 0 ? 'Task Timed Out' : 'Rate exceeded'), { name: this.completions.length > 0 ? 'TaskTimedOut' : 'ThrottlingException' });
        }
        this.heartbeats++;
        return {};
      }
      if (operation !== 'SendTaskSuccess') throw new Error(`unexpected ${operation}`);
      if (this.completions.length > 0) throw Object.assign(new Error('Task Timed Out'), { name: 'TaskTimedOut' });
      this.completions.push(cmd.input.output!);
      return {};
    } } as unknown as SFNClient;
  }
}

export interface World {
  readonly table: MemoryTable;
  readonly sfn: FakeStepFunctions;
  readonly objects: Map<string, string>;
  readonly deps: CollectorDeps;
  readonly clients: Clients;
  readonly setNow: (ms: number) => void;
}

export function world(writeUnitsPerSecond: number, seed: number, yields = true): World {
  let now = 0;
  const random = seeded(seed);
  const table = new MemoryTable({ throughput: { ...DYNAMODB_ITEM_THROUGHPUT, writeUnitsPerSecond, now: () => now }, yields: yields ? () => Math.floor(random() * 4) : undefined });
  const sfn = new FakeStepFunctions(() => now, 200);
  const objects = new Map<string, string>();
  const s3 = { send: async (cmd: { input: { Bucket: string; Key: string; Body: string } }) => {
    expectValidRequest('s3', 'PutObject', { ...cmd.input, Body: undefined });
    if ((cmd.input as { IfNoneMatch?: string }).IfNoneMatch === '*' && objects.has(cmd.input.Key)) {
      throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    }
    objects.set(cmd.input.Key, cmd.input.Body);
    return {};
  } } as unknown as S3Client;
  // The canary group, a page of at most 250 things at a time.
  const iot = { send: async (cmd: { input: { thingGroupName: string; maxResults: number; nextToken?: string } }) => {
    expectValidRequest('iot', 'ListThingsInThingGroup', cmd.input);
    const start = Number(cmd.input.nextToken ?? 0);
    const end = start + cmd.input.maxResults;
    return { things: DEVICES.slice(start, end), nextToken: end < DEVICES.length ? String(end) : undefined };
  } } as unknown as IoTClient;
  const store = new CanaryStore('canary', table.client());
  const results = { s3, bucket: 'store', prefix: 'reports/' };
  return { table, sfn, objects, deps: { store, sfn: sfn.client(), ...results }, clients: { iot, sfn: sfn.client(), results }, setNow: (ms) => { now = ms; } };
}

/** A real result document of the fixture model, to send as every device's. */
export async function resultTemplate(): Promise<BenchmarkResult> {
  return runBenchmark({ modelPath: path.join(DIGITS, 'cnn.onnx'), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId: RUN, thingName: DEVICES[0], variant: VARIANT, warmup: 1, iterations: 5 });
}

/**
 * Every device reports within the first second (some twice: MQTT delivers at
 * least once); a delivery whose function failed is delivered again as Lambda
 * does, up to three times in all. Returns each delivery's outcome.
 */
export async function reportAll(w: World, template: BenchmarkResult, twice: (i: number) => boolean): Promise<{ outcomes: Outcome[]; lost: number }> {
  await control({ op: 'register', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT, group: 'gateway-canary', quorumPercentage: 100, timeoutSeconds: 3600 }, w.deps.store, w.clients);
  await control({ op: 'attach', token: 'TOKEN-1', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, w.deps.store, w.clients);
  let pending = DEVICES.flatMap((thingName, i) => {
    const message = { ...template, thingName, topicRunId: RUN, topicThing: thingName };
    return twice(i) ? [message, message] : [message];
  });
  const outcomes: Outcome[] = [];
  for (const at of DELIVERIES_MS) {
    w.setNow(at + 500);
    const settled = await Promise.allSettled(pending.map((m) => collect(m, w.deps)));
    outcomes.push(...settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
    pending = pending.filter((_m, i) => settled[i].status === 'rejected');
  }
  return { outcomes, lost: pending.length };
}

