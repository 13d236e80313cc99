import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

import { authorizeCommand } from './iam/caller';

type Item = Record<string, unknown>;

/**
 * An in-memory stand-in for the library's DynamoDB tables: GetItem, PutItem,
 * UpdateItem (SET, REMOVE, ADD) and Query (pk, begins_with on sk), with
 * condition expressions made of attribute_exists, attribute_not_exists and
 * equality joined by AND, and DynamoDB's semantics for them.
 */
export class MemoryTable {
  public readonly items = new Map<string, Item>();
  public readonly calls: string[] = [];

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
    if (command instanceof GetCommand) {
      this.calls.push('Get');
      const item = this.items.get(this.key(command.input.Key as { pk: string; sk: string }));
      return { Item: item ? structuredClone(item) : undefined };
    }
    if (command instanceof PutCommand) {
      this.calls.push('Put');
      const item = command.input.Item as Item & { pk: string; sk: string };
      const k = this.key(item);
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
      if (!this.condition(input.ConditionExpression, this.items.get(k), names, values)) {
        throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
      }
      const item: Item = { ...(this.items.get(k) ?? { ...key }) };
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
            item[attr] = ((item[attr] as number | undefined) ?? 0) + (values[v] as number);
          }
        }
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
