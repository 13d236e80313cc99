import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * The canary table: per run and variant, who is expected to report, what
 * they reported, and the task token the state machine waits on. The token is
 * kept here only, encrypted at rest, and expires with the item (TTL); it is
 * never sent to devices.
 *
 * | pk | sk | what |
 * | --- | --- | --- |
 * | `CANARY#{runId}#{variant}` | `STATE` | OPEN/CLOSED, class, group, quorum, counts, task token |
 * | `CANARY#{runId}#{variant}` | `THING#{thingName}` | one expected device, and its report summary once it came |
 */
export interface CanaryState {
  readonly runId: string;
  readonly variant: string;
  readonly deviceClass: string;
  readonly group: string;
  readonly state: 'OPEN' | 'CLOSED';
  readonly expected: number;
  readonly reported: number;
  readonly rejected: number;
  readonly quorum: number;
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

const pk = (runId: string, variant: string) => `CANARY#${runId}#${variant}`;

export class CanaryStore {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = DynamoDBDocumentClient.from(new DynamoDBClient({})),
  ) {}

  /** Opens a canary for the devices of `things`; a re-delivered registration changes nothing. */
  public async open(state: Omit<CanaryState, 'state' | 'reported' | 'rejected' | 'token'>, things: string[]): Promise<boolean> {
    try {
      await this.client.send(new PutCommand({
        TableName: this.table,
        Item: { pk: pk(state.runId, state.variant), sk: 'STATE', ...state, state: 'OPEN', reported: 0, rejected: 0 },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
    for (const thingName of things) {
      await this.client.send(new PutCommand({
        TableName: this.table,
        Item: { pk: pk(state.runId, state.variant), sk: `THING#${thingName}`, thingName, expiresAt: state.expiresAt },
      }));
    }
    return true;
  }

  public async state(runId: string, variant: string): Promise<CanaryState | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(runId, variant), sk: 'STATE' }, ConsistentRead: true }));
    return out.Item as CanaryState | undefined;
  }

  /** Whether `thingName` is one of the devices the canary waits for. */
  public async isExpected(runId: string, variant: string, thingName: string): Promise<boolean> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: pk(runId, variant), sk: `THING#${thingName}` }, ConsistentRead: true }));
    return Boolean(out.Item);
  }

  /**
   * Records a device's report once, while the canary is open. Returns the
   * state after it, or undefined when nothing changed (a duplicate, or the
   * canary closed meanwhile).
   */
  public async record(runId: string, variant: string, summary: ReportSummary): Promise<CanaryState | undefined> {
    try {
      await this.client.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(runId, variant), sk: `THING#${summary.thingName}` },
        UpdateExpression: 'SET #r = :r, #at = :at',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(#r)',
        ExpressionAttributeNames: { '#r': 'report', '#at': 'reportedAt' },
        ExpressionAttributeValues: { ':r': summary, ':at': new Date().toISOString() },
      }));
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
    const out = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: 'STATE' },
      UpdateExpression: 'ADD #n :one',
      ConditionExpression: '#s = :open',
      ExpressionAttributeNames: { '#n': 'reported', '#s': 'state' },
      ExpressionAttributeValues: { ':one': 1, ':open': 'OPEN' },
      ReturnValues: 'ALL_NEW',
    })).catch((err: Error) => {
      if (err.name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    });
    return out?.Attributes as CanaryState | undefined;
  }

  /** Counts a rejected document against the canary it claimed to be for. */
  public async reject(runId: string, variant: string): Promise<void> {
    await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: 'STATE' },
      UpdateExpression: 'ADD #n :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#n': 'rejected' },
      ExpressionAttributeValues: { ':one': 1 },
    })).catch((err: Error) => {
      if (err.name !== 'ConditionalCheckFailedException') throw err;
    });
  }

  /** Stores the task token; returns the state after it. */
  public async attachToken(runId: string, variant: string, token: string): Promise<CanaryState | undefined> {
    const out = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: pk(runId, variant), sk: 'STATE' },
      UpdateExpression: 'SET #t = :t',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#t': 'token' },
      ExpressionAttributeValues: { ':t': token },
      ReturnValues: 'ALL_NEW',
    })).catch((err: Error) => {
      if (err.name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    });
    return out?.Attributes as CanaryState | undefined;
  }

  /** Closes the canary; true for the one caller that closed it (so only one completes the task). */
  public async close(runId: string, variant: string): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand({
        TableName: this.table,
        Key: { pk: pk(runId, variant), sk: 'STATE' },
        UpdateExpression: 'SET #s = :closed REMOVE #t',
        ConditionExpression: '#s = :open',
        ExpressionAttributeNames: { '#s': 'state', '#t': 'token' },
        ExpressionAttributeValues: { ':closed': 'CLOSED', ':open': 'OPEN' },
      }));
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /** Every expected device, with its report when it came. */
  public async devices(runId: string, variant: string): Promise<{ thingName: string; report?: ReportSummary }[]> {
    const items: { thingName: string; report?: ReportSummary }[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :thing)',
        ExpressionAttributeValues: { ':pk': pk(runId, variant), ':thing': 'THING#' },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }));
      items.push(...((out.Items ?? []) as { thingName: string; report?: ReportSummary }[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

/** What the canary hands to the gate. */
export interface CanaryOutcome {
  readonly runId: string;
  readonly variant: string;
  readonly deviceClass: string;
  readonly expected: number;
  readonly reported: number;
  readonly missing: string[];
  readonly results: ReportSummary[];
}

export async function outcome(store: CanaryStore, state: CanaryState): Promise<CanaryOutcome> {
  const devices = await store.devices(state.runId, state.variant);
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
