import { authorizeCommand, currentCaller, SdkCommand } from './caller';
import { TEST_ENV } from './template';

/**
 * How S3 answers the current caller (see `caller.ts`), as far as the handlers depend on it:
 * each request is authorized against the account's policies (identity, bucket policy, key), and
 * a read (HeadObject, GetObject) of a missing key is 404 only when the caller may
 * `s3:ListBucket` the whole bucket (no `s3:prefix`), 403 otherwise. Outside a run with an
 * account every request is allowed and a missing key is 404.
 */
export async function s3Read(command: SdkCommand, exists: boolean): Promise<void> {
  await authorizeCommand(command);
  if (exists) return;
  const caller = currentCaller();
  const bucket = `arn:${TEST_ENV.partition}:s3:::${String((command.input as { Bucket?: string }).Bucket)}`;
  // S3 evaluates ListBucket to choose the status; it is not a call of the handler's own.
  const listing = caller ? (await caller.account.authorize({ principal: caller.fn.role, action: 's3:ListBucket', resource: bucket, by: `S3, answering function ${caller.fn.logicalId}` })).allowed : true;
  if (listing) throw Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
  throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
}
