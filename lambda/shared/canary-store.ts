import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { log } from './log';

/**
 * The canary table: per run and variant, who is expected to report, what
 * they reported, and the task token the state machine waits on. The token is
 * kept here only, encrypted at rest, and expires with the item (TTL); it is
 * never sent to devices.
 *
 * | pk | sk | what |
 * | --- | --- | --- |
 * | `CANARY#{runId}#{variant}` | `STATE#{deviceClass}` | OPEN/CLOSED, group, quorum, shard count, the shards complete, task token |
 * | `CANARY#{runId}#{variant}` | `SHARD#{deviceClass}#{n}` | how many devices the shard holds, and the set of those that reported |
 * | `CANARY#{runId}#{variant}` | `THING#{thingName}` | one expected device, its class and shard, and its report summary once it came |
 * | `CANARY#{runId}#{variant}` | `REJECTED` | how many documents claiming this run and variant were rejected (created when a canary opens) |
 *
 * Two classes may canary the same variant (two ONNX Runtime classes run the same model): each
 * has its own state and shards, and a device's document finds its class through its THING item
 * (a device is in one canary group), so neither counts or completes the other's canary.
 *
 * A large canary group reports within seconds, so no item takes a write per
 * report: each report writes its own THING item and adds its thing name to
 * one of the shards (a set, so a retried add counts once). Only a shard's
 * completion writes the STATE item, once per shard. Each write is idempotent,
 * so a report whose delivery failed half-way (a throttled write, a timed-out
 * function) counts exactly once when it is delivered again.
 */
export interface CanaryState {
  readonly runId: string;
  readonly variant: string;
  readonly deviceClass: string;
  readonly group: string;
  readonly state: 'OPEN' | 'CLOSED';
  readonly expected: number;
  readonly quorum: number;
  /** How many shards the expected devices are spread over. */
  readonly shards: number;
  /** The shards whose every device has reported. */
  readonly complete?: Set<string>;
  readonly token?: string;
  readonly expiresAt: number;
}

/** What the gate needs from one device's result document. */
export interface ReportSummary {
  readonly thingName: string;
  readonly status: 'OK' | 'ERROR';
  readonly variant: string | null;
  readonly latencyMs: { p50: number; p90: number; p99: number } | null;
  readonly peakRssMb: number;
  readonly accuracy: { top1: number; top5: number | null; referenceTop1?: number | null } | null;
  readonly parity: { top1Agreement: number; maxAbsDiff: number } | null;
  readonly compatibility: { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] } | null;
  readonly error: { code: string; message: string } | null;
  readonly reportS3Uri: string;
}

/** Which canary expects a device: its class, and the shard it counts in. */
export interface Expected {
  readonly deviceClass: string;
  readonly shard: string;
}

/** What recording a report did. */
export interface Recorded {
  /** False when this device's report was already stored (a duplicate, or a retried delivery). */
  readonly first: boolean;
  /** The state after it, when the report completed its shard (every shard's completion reads it). */
  readonly state?: CanaryState;
}

/** Devices per shard: at 1,000 reports a second, each shard item takes about 40 small writes a second. */
export const SHARD_SIZE = 40;
/** How many table writes the canary's registration keeps in flight. */
const OPEN_CONCURRENCY = 16;

const pk = (runId: string, variant: string) => `CANARY#${runId}#${variant}`;
const stateKey = (deviceClass: string) => `STATE#${deviceClass}`;
const shardKey = (deviceClass: string, shard: string) => `SHARD#${deviceClass}#${shard}`;
const conditionFailed = (err: unknown) => (err as Error).name === 'ConditionalCheckFailedException';

/** Whether every shard of the canary is complete: every expected device has reported. */
export function allReported(state: CanaryState): boolean {
  return (state.complete?.size ?? 0) >= state.shards;
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class CanaryStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = DynamoDBDocumentClient.from(new DynamoDBClient({})),
  ) {}

  /**
   * Opens a canary for the devices of `things`. The STATE item is written last
   * and only when it is not there yet, so a registration that failed half-way
   * completes when it runs again, and one that completed changes nothing
   * (returns false): a report already stored is never overwritten.
   */
  public async open(state: Omit<CanaryState, 'state' | 'token' | 'shards' | 'complete'>, things: string[]): Promise<boolean> {
    if (await this.state(state.runId, state.deviceClass, state.variant)) return false;
    const key = pk(state.runId, state.variant);
    const shards = Math.ceil(things.length / SHARD_SIZE);
    const putNew = async (item: Record<string, unknown>) => {
      await this.client.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }))
        .catch((err) => { if (!conditionFailed(err)) throw err; });
    };
    // Round robin over the sorted names: shards differ in size by one at most.
    const sorted = [...things].sort();
    const sizes = Array.from({ length: shards }, (_, n) => Math.floor(sorted.length / shards) + (n < sorted.length % shards ? 1 : 0));
    // The rejection counter exists only for canaries that do: forged run ids add no items.
    await putNew({ pk: key, sk: 'REJECTED', rejected: 0, expiresAt: state.expiresAt });
    await eachLimited(sizes.map((size, n) => ({ n, size })), OPEN_CONCURRENCY, ({ n, size }) =>
      putNew({ pk: key, sk: shardKey(state.deviceClass, String(n)), expected: size, expiresAt: state.expiresAt }));
    await eachLimited(sorted.map((thingName, i) => ({ thingName, shard: String(i % shards) })), OPEN_CONCURRENCY, ({ thingName, shard }) =>
      putNew({ pk: key, sk: `THING#${thingName}`, thingName, deviceClass: state.deviceClass, shard, expiresAt: state.expiresAt }));
    try {
      await this.client.send(new PutCommand({
        TableName: this.table,
        Item: { pk: key, sk: stateKey(state.deviceClass), ...state, state: 'OPEN', shards },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
    return true;
  }

  public async state(runId: string, deviceClass: string, variant: string): Promise<CanaryState | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(runId, variant), sk: stateKey(deviceClass) }, ConsistentRead: true }));
    return out.Item as CanaryState | undefined;
  }

  /** The canary that expects `thingName` for this run and variant (its class and shard), if any does. */
  public async expecting(runId: string, variant: string, thingName: string): Promise<Expected | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(runId, variant), sk: `THING#${thingName}` }, ConsistentRead: true }));
    return out.Item ? { deviceClass: out.Item.deviceClass as string, shard: out.Item.shard as string } : undefined;
  }

  /**
   * Records a device's report once. Every step is idempotent, so calling it
   * again for a report whose first attempt failed part-way counts it exactly
   * once: the report is stored unless one is (the first one stands), its name
   * is added to its shard's set, and a shard that is complete is added to the
   * STATE's set of complete shards while the canary is open.
   */
  public async record(runId: string, variant: string, expected: Expected, summary: ReportSummary): Promise<Recorded> {
    const key = pk(runId, variant);
    let first = true;
    await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: key, sk: `THING#${summary.thingName}` },
      UpdateExpression: 'SET #r = :r, #at = :at',
      ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#r)',
      ExpressionAttributeNames: { '#r': 'report', '#at': 'reportedAt' },
      ExpressionAttributeValues: { ':r': summary, ':at': new Date().toISOString() },
    })).catch((err) => {
      if (!conditionFailed(err)) throw err;
      first = false;
    });
    const counted = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: key, sk: shardKey(expected.deviceClass, expected.shard) },
      UpdateExpression: 'ADD #r :thing',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#r': 'reported' },
      ExpressionAttributeValues: { ':thing': new Set([summary.thingName]) },
      ReturnValues: 'ALL_NEW',
    }));
    const shardItem = counted.Attributes as { expected: number; reported: Set<string> };
    if (shardItem.reported.size < shardItem.expected) return { first };
    const out = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: key, sk: stateKey(expected.deviceClass) },
      UpdateExpression: 'ADD #c :shard',
      ConditionExpression: '#s = :open',
      ExpressionAttributeNames: { '#c': 'complete', '#s': 'state' },
      ExpressionAttributeValues: { ':shard': new Set([expected.shard]), ':open': 'OPEN' },
      ReturnValues: 'ALL_NEW',
    })).catch((err) => {
      if (conditionFailed(err)) return undefined;
      throw err;
    });
    return { first, state: out?.Attributes as CanaryState | undefined };
  }

  /**
   * Counts a rejected document against the run and variant it claimed (each rejection is also a
   * metric). Best effort: a flood of forged documents must not fail the deliveries of real ones.
   */
  public async reject(runId: string, variant: string): Promise<void> {
    await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: 'REJECTED' },
      UpdateExpression: 'ADD #n :one',
      // Only for a canary that was opened: a forged run id must not add items to the table.
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#n': 'rejected' },
      ExpressionAttributeValues: { ':one': 1 },
    })).catch((err: Error) => {
      if (!conditionFailed(err)) log('WARN', 'rejection not counted', { runId, variant, error: err.name });
    });
  }

  /** Stores the task token; returns the state after it. */
  public async attachToken(runId: string, deviceClass: string, variant: string, token: string): Promise<CanaryState | undefined> {
    const out = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: stateKey(deviceClass) },
      UpdateExpression: 'SET #t = :t',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#t': 'token' },
      ExpressionAttributeValues: { ':t': token },
      ReturnValues: 'ALL_NEW',
    })).catch((err: Error) => {
      if (conditionFailed(err)) return undefined;
      throw err;
    });
    return out?.Attributes as CanaryState | undefined;
  }

  /**
   * Closes the canary; true for the one caller that closed it (so only one
   * completes the task). The token stays until `forgetToken`, so a caller
   * that closed it and then failed to complete the task can complete it on
   * a retry.
   */
  public async close(runId: string, deviceClass: string, variant: string): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(runId, variant), sk: stateKey(deviceClass) },
        UpdateExpression: 'SET #s = :closed',
        ConditionExpression: '#s = :open',
        ExpressionAttributeNames: { '#s': 'state' },
        ExpressionAttributeValues: { ':closed': 'CLOSED', ':open': 'OPEN' },
      }));
      return true;
    } catch (err) {
      if (conditionFailed(err)) return false;
      throw err;
    }
  }

  /** Removes the task token once the task it belongs to is complete (or no longer waits). */
  public async forgetToken(runId: string, deviceClass: string, variant: string, token: string): Promise<void> {
    await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: stateKey(deviceClass) },
      UpdateExpression: 'REMOVE #t',
      ConditionExpression: '#t = :t',
      ExpressionAttributeNames: { '#t': 'token' },
      ExpressionAttributeValues: { ':t': token },
    })).catch((err: Error) => {
      if (!conditionFailed(err)) throw err;
    });
  }

  /** Every device the class's canary expects, with its report when it came. */
  public async devices(runId: string, deviceClass: string, variant: string): Promise<{ thingName: string; report?: ReportSummary }[]> {
    const items: { thingName: string; deviceClass: string; report?: ReportSummary }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :thing)',
        ExpressionAttributeValues: { ':pk': pk(runId, variant), ':thing': 'THING#' },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }));
      items.push(...((out.Items ?? []) as { thingName: string; deviceClass: string; report?: ReportSummary }[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.filter((i) => i.deviceClass === deviceClass);
  }
}

/** Which canary, and how many of its devices reported. */
export interface CanaryCounts {
  readonly runId: string;
  readonly variant: string;
  readonly deviceClass: string;
  readonly expected: number;
  readonly reported: number;
}

/** Every device's result: what the gate reads, from the store. */
export interface CanaryOutcome extends CanaryCounts {
  readonly missing: string[];
  readonly results: ReportSummary[];
}

/**
 * What the canary hands to the state machine. A state's data holds at most
 * 256 KB, and a thousand devices' results are several times that, so the
 * results go to the store and this carries where they are, the counts, and
 * the first missing devices by name.
 */
export interface CanaryHandOff extends CanaryCounts {
  /** The first {@link MISSING_LISTED} missing devices, by name. */
  readonly missing: string[];
  readonly missingCount: number;
  /** The {@link CanaryOutcome}, as JSON. */
  readonly resultsS3Uri: string;
}

/** Where canary results are written: the store's bucket and its reports prefix. */
export interface ResultsStore {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
}

/** How many missing devices a hand-off and an error name. */
export const MISSING_LISTED = 20;

/** `a, b, c` or, past `limit` names, `a, b, … and 980 more`. */
export function someNames(names: string[], limit = MISSING_LISTED): string {
  if (names.length === 0) return 'none';
  const listed = names.slice(0, limit).join(', ');
  return names.length > limit ? `${listed} and ${names.length - limit} more` : listed;
}

/** The key of a canary's results (beside the devices' own documents, under a name no thing can take). */
export const resultsKey = (prefix: string, runId: string, deviceClass: string, variant: string) => `${prefix}${runId}/canary-results/${deviceClass}/${variant}.json`;

export async function outcome(store: CanaryStore, state: CanaryState): Promise<CanaryOutcome> {
  const devices = await store.devices(state.runId, state.deviceClass, state.variant);
  return {
    runId: state.runId,
    variant: state.variant,
    deviceClass: state.deviceClass,
    expected: devices.length,
    reported: devices.filter((d) => d.report).length,
    missing: devices.filter((d) => !d.report).map((d) => d.thingName).sort(),
    results: devices.filter((d) => d.report).map((d) => d.report!),
  };
}

/** Writes the canary's results to the store and returns what the state machine carries. */
export async function handOff(result: CanaryOutcome, results: ResultsStore): Promise<CanaryHandOff> {
  const key = resultsKey(results.prefix, result.runId, result.deviceClass, result.variant);
  await results.s3.send(new PutObjectCommand({ Bucket: results.bucket, Key: key, Body: JSON.stringify(result), ContentType: 'application/json' }));
  return {
    runId: result.runId,
    variant: result.variant,
    deviceClass: result.deviceClass,
    expected: result.expected,
    reported: result.reported,
    missing: result.missing.slice(0, MISSING_LISTED),
    missingCount: result.missing.length,
    resultsS3Uri: `s3://${results.bucket}/${key}`,
  };
}

/** Step Functions' answers for a token whose task no longer waits: it completed, failed or timed out. */
const TASK_GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist']);

/**
 * Completes the waiting task when every device has reported and a token is
 * attached. Only the caller that closes the canary completes it, and so does
 * a later caller that finds it closed with the token still there (the closer
 * failed before it could complete the task). Step Functions completes a task
 * once: a second SendTaskSuccess for it is answered TaskTimedOut, taken as
 * done. Returns whether this call completed the task.
 */
export async function completeWhenReported(store: CanaryStore, sfn: SFNClient, results: ResultsStore, state: CanaryState): Promise<boolean> {
  if (!state.token || !allReported(state)) return false;
  if (state.state === 'OPEN' && !(await store.close(state.runId, state.deviceClass, state.variant))) return false;
  try {
    const output = await handOff(await outcome(store, state), results);
    await sfn.send(new SendTaskSuccessCommand({ taskToken: state.token, output: JSON.stringify(output) }));
  } catch (err) {
    if (!TASK_GONE.has((err as Error).name)) throw err;
    log('INFO', 'the canary task no longer waits: it completed, failed or timed out', { runId: state.runId, variant: state.variant, error: (err as Error).name });
  }
  await store.forgetToken(state.runId, state.deviceClass, state.variant, state.token);
  return true;
}
