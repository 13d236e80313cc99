import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

import { authorizeCommand } from './iam/caller';

type Item = Record<string, unknown>;

/**
 * DynamoDB's throughput limits for one item (its partition's): 1,000 write
 * units and 3,000 read units a second. A write unit is one write of up to
 * 1 KB (an update costs the larger of the item before and after it; a write
 * whose condition fails costs as much); a strongly consistent read unit is
 * one read of up to 4 KB. A request past the second's units is refused with
 * ProvisionedThroughputExceededException and changes nothing.
 */
export interface ItemThroughput {
  readonly writeUnitsPerSecond: number;
  readonly readUnitsPerSecond: number;
  /** The clock, in milliseconds: a test moves it, so the second a request falls in is never the machine's. */
  readonly now: () => number;
}

export const DYNAMODB_ITEM_THROUGHPUT = { writeUnitsPerSecond: 1000, readUnitsPerSecond: 3000 };

export interface MemoryTableOptions {
  readonly throughput?: ItemThroughput;
  /** How many times a request yields before it is served (so concurrent requests interleave); 0 by default. */
  readonly yields?: () => number;
}

/** An item's size as DynamoDB counts it, near enough: names plus values, sets and maps included. */
function itemBytes(item: Item | undefined): number {
  if (!item) return 0;
  return Buffer.byteLength(JSON.stringify(item, (_k, v: unknown) => (v instanceof Set ? [...v] : v)));
}

/**
 * An in-memory stand-in for the library's DynamoDB tables: GetItem, PutItem,
 * UpdateItem (SET, REMOVE, ADD of numbers and sets) and Query (pk,
 * begins_with on sk), with condition expressions made of attribute_exists,
 * attribute_not_exists and equality joined by AND, and DynamoDB's semantics
 * for them; with `throughput`, each item's units a second as DynamoDB
 * limits them.
 */
export class MemoryTable {
  public readonly items = new Map<string, Item>();
  public readonly calls: string[] = [];
  /** Requests refused for throughput. */
  public throttled = 0;
  /** The most write units any one item took in one second. */
  public peakItemWriteUnits = 0;
  private readonly used = new Map<string, { second: number; read: number; write: number }>();

  constructor(private readonly options: MemoryTableOptions = {}) {}

  /** Takes the units of one request on the item at `k`, or refuses it for throughput. */
  private consume(k: string, kind: 'read' | 'write', bytes: number): void {
    const limits = this.options.throughput;
    if (!limits) return;
    const second = Math.floor(limits.now() / 1000);
    let used = this.used.get(k);
    if (!used || used.second !== second) {
      used = { second, read: 0, write: 0 };
      this.used.set(k, used);
    }
    const units = kind === 'write' ? Math.max(1, Math.ceil(bytes / 1024)) : Math.max(1, Math.ceil(bytes / 4096));
    const limit = kind === 'write' ? limits.writeUnitsPerSecond : limits.readUnitsPerSecond;
    if (used[kind] + units > limit) {
      this.throttled++;
      throw Object.assign(new Error('The level of configured provisioned throughput for the table was exceeded'), { name: 'ProvisionedThroughputExceededException', $retryable: { throttling: true } });
    }
    used[kind] += units;
    if (kind === 'write') this.peakItemWriteUnits = Math.max(this.peakItemWriteUnits, used.write);
  }

  private key(k: { pk: unknown; sk: unknown }): string {
    return `${String(k.pk)}\u0000${String(k.sk)}`;
  }

  public get(pk: string, sk: string): Item | undefined {
    return this.items.get(this.key({ pk, sk }));
  }

  /** A document client whose `send` is served from memory. */
  public client(): DynamoDBDocumentClient {
    return { send: async (command: unknown) => this.send(command) } as unknown as DynamoDBDocumentClient;
  }

  private condition(expr: string | undefined, item: Item | undefined, names: Record<string, string>, values: Record<string, unknown>): boolean {
    if (!expr) return true;
    const name = (n: string) => names[n] ?? n;
    return expr.split(/\s+AND\s+/).every((clause) => {
      const c = clause.trim();
      let m = /^attribute_exists\((\S+)\)$/.exec(c);
      if (m) return item !== undefined && item[name(m[1])] !== undefined;
      m = /^attribute_not_exists\((\S+)\)$/.exec(c);
      if (m) return item === undefined || item[name(m[1])] === undefined;
      m = /^(\S+)\s*=\s*(:\w+)$/.exec(c);
      if (m) return item !== undefined && item[name(m[1])] === values[m[2]];
      throw new Error(`condition ${c} not supported`);
    });
  }

  private async send(command: unknown): Promise<unknown> {
    // In a run with an account, the calling function's role must allow the call.
    await authorizeCommand(command as never);
    for (let n = this.options.yields?.() ?? 0; n > 0; n--) await new Promise<void>((resolve) => setImmediate(resolve));
    if (command instanceof GetCommand) {
      this.calls.push('Get');
      const k = this.key(command.input.Key as { pk: string; sk: string });
      const item = this.items.get(k);
      this.consume(k, 'read', itemBytes(item));
      return { Item: item ? structuredClone(item) : undefined };
    }
    if (command instanceof PutCommand) {
      this.calls.push('Put');
      const item = command.input.Item as Item & { pk: string; sk: string };
      const k = this.key(item);
      this.consume(k, 'write', Math.max(itemBytes(this.items.get(k)), itemBytes(item)));
      if (!this.condition(command.input.ConditionExpression, this.items.get(k), command.input.ExpressionAttributeNames ?? {}, command.input.ExpressionAttributeValues ?? {})) {
        throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
      }
      this.items.set(k, structuredClone(item));
      return {};
    }
    if (command instanceof UpdateCommand) {
      this.calls.push('Update');
      const input = command.input;
      const key = input.Key as { pk: string; sk: string };
      const k = this.key(key);
      const names = input.ExpressionAttributeNames ?? {};
      const values = input.ExpressionAttributeValues ?? {};
      const before = this.items.get(k);
      const item: Item = { ...(before ?? { ...key }) };
      const expr = input.UpdateExpression!;
      for (const [, action, body] of expr.matchAll(/(SET|REMOVE|ADD)\s+(.*?)(?=\s+(?:SET|REMOVE|ADD)\s|$)/g)) {
        for (const part of body.split(',').map((p) => p.trim())) {
          if (action === 'SET') {
            const [n, v] = part.split('=').map((x) => x.trim());
            item[names[n] ?? n] = structuredClone(values[v]);
          } else if (action === 'REMOVE') {
            delete item[names[part] ?? part];
          } else {
            const [n, v] = part.split(/\s+/);
            const attr = names[n] ?? n;
            const add = values[v];
            if (add instanceof Set) {
              if (add.size === 0) throw Object.assign(new Error('ExpressionAttributeValues contains an empty set'), { name: 'ValidationException' });
              item[attr] = new Set([...((item[attr] as Set<unknown> | undefined) ?? []), ...add]);
            } else {
              item[attr] = ((item[attr] as number | undefined) ?? 0) + (add as number);
            }
          }
        }
      }
      // The larger of the item before and after is what the update costs, whether its condition holds or not.
      this.consume(k, 'write', Math.max(itemBytes(before), itemBytes(item)));
      if (!this.condition(input.ConditionExpression, before, names, values)) {
        throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
      }
      this.items.set(k, item);
      return input.ReturnValues === 'UPDATED_NEW' || input.ReturnValues === 'ALL_NEW' ? { Attributes: structuredClone(item) } : {};
    }
    if (command instanceof TransactWriteCommand) {
      // All or nothing: only Puts without conditions are used by the ledger.
      this.calls.push('TransactWrite');
      const items = (command.input.TransactItems ?? []).map((t) => {
        if (!t.Put || t.Put.ConditionExpression) throw new Error('MemoryTable serves transactions of unconditional Puts only');
        return t.Put.Item as Item & { pk: string; sk: string };
      });
      for (const item of items) this.items.set(this.key(item), structuredClone(item));
      return {};
    }
    if (command instanceof DeleteCommand) {
      this.calls.push('Delete');
      this.items.delete(this.key(command.input.Key as { pk: string; sk: string }));
      return {};
    }
    if (command instanceof QueryCommand) {
      this.calls.push('Query');
      const values = command.input.ExpressionAttributeValues ?? {};
      if (command.input.KeyConditionExpression !== 'pk = :pk AND begins_with(sk, :thing)') throw new Error(`query ${command.input.KeyConditionExpression} not supported`);
      const items = [...this.items.values()].filter((i) => i.pk === values[':pk'] && String(i.sk).startsWith(String(values[':thing'])));
      return { Items: structuredClone(items) };
    }
    throw new Error(`MemoryTable does not serve ${(command as object).constructor.name}`);
  }
}
