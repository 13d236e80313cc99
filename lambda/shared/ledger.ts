import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

/**
 * The release ledger: one DynamoDB table, keys `pk`/`sk`.
 *
 * | pk | sk | what |
 * | --- | --- | --- |
 * | `COMPONENT#{name}` | `COUNTER` | the last patch number handed out |
 * | `COMPONENT#{name}` | `CLAIM#{runId}#{variant}` | the version a run's variant got |
 * | `RELEASE#{runId}` | `CLASS#{deviceClass}` | lineage: model, jobs, digests, package, component version, deployments, status |
 * | `GROUP#{thingGroup}` | `LAST_GOOD` | the components of the last healthy rollout to the group |
 * | `GROUP#{thingGroup}` | `DEPLOYMENT#{time}#{id}` | each rollout to the group and how it ended |
 */
export class Ledger {
  constructor(
    private readonly table: string,
    private readonly client: DynamoDBDocumentClient = DynamoDBDocumentClient.from(new DynamoDBClient({})),
  ) {}

  /**
   * The version of `componentName` for one run's variant: `{base}.{n}` with n
   * from an atomic counter, claimed with a conditional write. The same run
   * and variant always get the same version; two runs never share one, and a
   * number is never handed out twice.
   */
  public async claimComponentVersion(componentName: string, runId: string, variant: string, base: string, sha256: string): Promise<{ version: string; claimed: boolean }> {
    const key = { pk: `COMPONENT#${componentName}`, sk: `CLAIM#${runId}#${variant}` };
    const existing = await this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
    if (existing.Item) return { version: existing.Item.version as string, claimed: false };
    const counter = await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: `COMPONENT#${componentName}`, sk: 'COUNTER' },
      UpdateExpression: 'ADD #n :one',
      ExpressionAttributeNames: { '#n': 'next' },
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }));
    const version = `${base}.${counter.Attributes!.next as number}`;
    try {
      await this.client.send(new PutCommand({
        TableName: this.table,
        Item: { ...key, version, sha256, runId, variant, claimedAt: new Date().toISOString() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }));
      return { version, claimed: true };
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      // Another attempt of the same run claimed first: use its version; ours is skipped, never reused.
      const winner = await this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }));
      return { version: winner.Item!.version as string, claimed: false };
    }
  }

  /** Merges `fields` into the release record of a run's device class. */
  public async recordRelease(runId: string, deviceClass: string, fields: Record<string, unknown>): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':now': new Date().toISOString() };
    const sets = ['#updatedAt = :now'];
    names['#updatedAt'] = 'updatedAt';
    Object.entries(fields).forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      sets.push(`#f${i} = :v${i}`);
    });
    await this.client.send(new UpdateCommand({
      TableName: this.table,
      Key: { pk: `RELEASE#${runId}`, sk: `CLASS#${deviceClass}` },
      UpdateExpression: `SET ${sets.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    }));
  }

  /** The last healthy release of a thing group, or null before the first one. */
  public async lastGood(group: string): Promise<LastGoodRelease | null> {
    const out = await this.client.send(new GetCommand({ TableName: this.table, Key: { pk: `GROUP#${group}`, sk: 'LAST_GOOD' }, ConsistentRead: true }));
    return (out.Item as LastGoodRelease | undefined) ?? null;
  }

  /** Makes `release` the group's last good release, and writes the rollout into the group's history. */
  public async markHealthy(group: string, release: Omit<LastGoodRelease, 'pk' | 'sk' | 'at'>): Promise<void> {
    const at = new Date().toISOString();
    await this.client.send(new PutCommand({ TableName: this.table, Item: { pk: `GROUP#${group}`, sk: 'LAST_GOOD', ...release, at } }));
    await this.history(group, release.deploymentId, {
      status: 'HEALTHY', runId: release.runId, components: release.components, ...(release.configurations ? { configurations: release.configurations } : {}), at,
    });
  }

  /**
   * Makes each release its group's last good release, all of them or none (one transaction,
   * with each rollout in its group's history): the rings of a class are recorded together.
   */
  public async markHealthyAll(releases: { group: string; release: Omit<LastGoodRelease, 'pk' | 'sk' | 'at'> }[]): Promise<void> {
    const at = new Date().toISOString();
    await this.client.send(new TransactWriteCommand({
      TransactItems: releases.flatMap(({ group, release }) => [
        { Put: { TableName: this.table, Item: { pk: `GROUP#${group}`, sk: 'LAST_GOOD', ...release, at } } },
        {
          Put: {
            TableName: this.table,
            Item: {
              pk: `GROUP#${group}`, sk: `DEPLOYMENT#${at}#${release.deploymentId}`, deploymentId: release.deploymentId,
              status: 'HEALTHY', runId: release.runId, components: release.components, ...(release.configurations ? { configurations: release.configurations } : {}), at,
            },
          },
        },
      ]),
    }));
  }

  /** Writes one rollout's end into the group's history. */
  public async history(group: string, deploymentId: string, fields: Record<string, unknown>): Promise<void> {
    const at = (fields.at as string | undefined) ?? new Date().toISOString();
    await this.client.send(new PutCommand({ TableName: this.table, Item: { pk: `GROUP#${group}`, sk: `DEPLOYMENT#${at}#${deploymentId}`, deploymentId, ...fields, at } }));
  }
}

/** What a thing group ran after its last healthy rollout. */
export interface LastGoodRelease {
  readonly runId: string;
  readonly deploymentId: string;
  /** Component name → version: the whole set the group ran. */
  readonly components: Record<string, string>;
  /**
   * Component name → the configuration merged into it (JSON text), for the
   * components deployed with one (the edge agent in serve mode), so a revert
   * puts the configuration back with the version.
   */
  readonly configurations?: Record<string, string>;
  readonly at: string;
}
