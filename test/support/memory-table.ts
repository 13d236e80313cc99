import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

type Item = Record<string, unknown>;

/**
 * An in-memory stand-in for the ledger's DynamoDB table: the three calls the
 * ledger makes (GetItem, PutItem with attribute_not_exists, UpdateItem with
 * SET or ADD), with DynamoDB's semantics for them.
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

  private async send(command: unknown): Promise<unknown> {
    if (command instanceof GetCommand) {
      this.calls.push('Get');
      const item = this.items.get(this.key(command.input.Key as { pk: string; sk: string }));
      return { Item: item ? structuredClone(item) : undefined };
    }
    if (command instanceof PutCommand) {
      this.calls.push('Put');
      const item = command.input.Item as Item & { pk: string; sk: string };
      const k = this.key(item);
      if (command.input.ConditionExpression) {
        if (command.input.ConditionExpression !== 'attribute_not_exists(pk)') throw new Error(`condition ${command.input.ConditionExpression} not supported`);
        if (this.items.has(k)) throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
      }
      this.items.set(k, structuredClone(item));
      return {};
    }
    if (command instanceof UpdateCommand) {
      this.calls.push('Update');
      const input = command.input;
      const key = input.Key as { pk: string; sk: string };
      const k = this.key(key);
      const item: Item = { ...(this.items.get(k) ?? { ...key }) };
      const names = input.ExpressionAttributeNames ?? {};
      const values = input.ExpressionAttributeValues ?? {};
      const expr = input.UpdateExpression!;
      const add = /^ADD (#\w+) (:\w+)$/.exec(expr);
      if (add) {
        const attr = names[add[1]];
        item[attr] = ((item[attr] as number | undefined) ?? 0) + (values[add[2]] as number);
      } else if (expr.startsWith('SET ')) {
        for (const part of expr.slice(4).split(',').map((p) => p.trim())) {
          const [n, v] = part.split('=').map((x) => x.trim());
          item[names[n]] = structuredClone(values[v]);
        }
      } else {
        throw new Error(`update ${expr} not supported`);
      }
      this.items.set(k, item);
      return input.ReturnValues === 'UPDATED_NEW' ? { Attributes: structuredClone(item) } : {};
    }
    throw new Error(`MemoryTable does not serve ${(command as object).constructor.name}`);
  }
}
