import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { NamedError } from '../shared/errors';
import { log } from '../shared/log';

export const APPROVAL_REJECTED = 'ApprovalRejected';
export const APPROVAL_INPUT_INVALID = 'ApprovalInputInvalid';

/** From the state machine (`.waitForTaskToken`): keep the token, tell the approvers. */
export interface RequestEvent {
  readonly op: 'request';
  readonly token: string;
  readonly runId: string;
  readonly reportS3Uri?: string;
  readonly chosen?: Record<string, string | null>;
  readonly timeoutSeconds: number;
}

/** From an approver (an IAM principal allowed to invoke this function): the decision. */
export interface DecideEvent {
  readonly op?: 'decide';
  readonly runId: string;
  readonly approve: boolean;
  readonly comment?: string;
}

export interface ApprovalDeps {
  readonly client: DynamoDBDocumentClient;
  readonly table: string;
  readonly sfn: SFNClient;
  readonly sns: SNSClient;
  readonly topicArn: string;
  readonly functionName: string;
}

const key = (runId: string) => ({ pk: `APPROVAL#${runId}`, sk: 'TOKEN' });

/**
 * The manual approval step. The token stays in the table (encrypted, TTL);
 * approvers never see it: they invoke this function with the run id and a
 * decision, which IAM allows only to the principals granted `grantApprove`.
 */
export async function approval(event: RequestEvent | DecideEvent, deps: ApprovalDeps, caller = 'unknown', now = new Date()): Promise<unknown> {
  if (event?.op === 'request') {
    await deps.client.send(new PutCommand({
      TableName: deps.table,
      Item: { ...key(event.runId), token: event.token, requestedAt: now.toISOString(), expiresAt: Math.floor(now.getTime() / 1000) + event.timeoutSeconds + 86400 },
    }));
    const payload = JSON.stringify({ runId: event.runId, approve: true, comment: 'why' });
    await deps.sns.send(new PublishCommand({
      TopicArn: deps.topicArn,
      Subject: `Approval needed: run ${event.runId}`.slice(0, 99),
      Message: JSON.stringify({
        event: 'APPROVAL_REQUESTED',
        runId: event.runId,
        chosen: event.chosen ?? null,
        report: event.reportS3Uri ?? null,
        howToDecide: `aws lambda invoke --function-name ${deps.functionName} --cli-binary-format raw-in-base64-out --payload '${payload}' decision.json (approve false to reject)`,
      }),
    }));
    log('INFO', 'approval requested', { runId: event.runId });
    return { requested: true };
  }
  const decide = event as DecideEvent;
  if (typeof decide?.runId !== 'string' || typeof decide.approve !== 'boolean') {
    throw new NamedError(APPROVAL_INPUT_INVALID, 'give { "runId": "...", "approve": true | false, "comment": "..." }');
  }
  const item = (await deps.client.send(new GetCommand({ TableName: deps.table, Key: key(decide.runId), ConsistentRead: true }))).Item as { token?: string } | undefined;
  if (!item?.token) throw new NamedError(APPROVAL_INPUT_INVALID, `run ${decide.runId} is not waiting for an approval (decided already, timed out, or no such run)`);
  if (decide.approve) {
    await deps.sfn.send(new SendTaskSuccessCommand({ taskToken: item.token, output: JSON.stringify({ approved: true, approver: caller, comment: decide.comment ?? '', at: now.toISOString() }) }));
  } else {
    await deps.sfn.send(new SendTaskFailureCommand({ taskToken: item.token, error: APPROVAL_REJECTED, cause: `rejected by ${caller}: ${decide.comment ?? 'no comment'}`.slice(0, 32000) }));
  }
  await deps.client.send(new DeleteCommand({ TableName: deps.table, Key: key(decide.runId) }));
  log('INFO', 'approval decided', { runId: decide.runId, approve: decide.approve, approver: caller });
  return { runId: decide.runId, approved: decide.approve };
}

let deps: ApprovalDeps | undefined;

export async function handler(event: RequestEvent | DecideEvent, context: { functionName: string; identity?: { cognitoIdentityId?: string } }): Promise<unknown> {
  const { APPROVAL_TABLE: table, TOPIC_ARN: topicArn } = process.env;
  if (!table || !topicArn) throw new Error('APPROVAL_TABLE and TOPIC_ARN must be set');
  deps ??= { client: DynamoDBDocumentClient.from(new DynamoDBClient({})), table, sfn: new SFNClient({}), sns: new SNSClient({}), topicArn, functionName: context.functionName };
  return approval(event, deps, 'an approver (see CloudTrail for the caller)');
}
