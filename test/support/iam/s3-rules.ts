import { Account, AccessDeniedInTest } from './account';
import { TEST_ENV } from './template';

/**
 * How S3 answers a caller, as far as the handlers depend on it: each request is authorized
 * against the account's policies (identity, bucket policy, key), and a read of a missing key
 * is 404 only when the caller may `s3:ListBucket` the whole bucket (no `s3:prefix` in a
 * HeadObject or GetObject request), 403 otherwise.
 */
export class S3Rules {
  constructor(private readonly account: Account, private readonly principal: string, private readonly by: string) {}

  private arn(bucket: string, key?: string): string {
    return `arn:${TEST_ENV.partition}:s3:::${bucket}${key === undefined ? '' : `/${key}`}`;
  }

  private async allow(action: string, resource: string, context?: Record<string, string>): Promise<boolean> {
    return (await this.account.authorize({ principal: this.principal, action, resource, context, by: this.by })).allowed;
  }

  /** Throws S3's error for a read (HeadObject, GetObject) of `key`, given whether it exists. */
  public async read(bucket: string, key: string, exists: boolean): Promise<void> {
    if (!(await this.allow('s3:GetObject', this.arn(bucket, key)))) throw accessDenied(this.account, this.principal, 's3:GetObject', this.arn(bucket, key));
    if (!exists) {
      if (await this.allow('s3:ListBucket', this.arn(bucket))) throw Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
      throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    }
  }

  public async list(bucket: string, prefix: string): Promise<void> {
    if (!(await this.allow('s3:ListBucket', this.arn(bucket), { 's3:prefix': prefix }))) throw accessDenied(this.account, this.principal, 's3:ListBucket', this.arn(bucket));
  }

  public async write(bucket: string, key: string): Promise<void> {
    if (!(await this.allow('s3:PutObject', this.arn(bucket, key)))) throw accessDenied(this.account, this.principal, 's3:PutObject', this.arn(bucket, key));
  }
}

function accessDenied(account: Account, principal: string, action: string, resource: string): Error {
  const last = [...account.decisions].reverse().find((d) => !d.allowed);
  const message = last ? new AccessDeniedInTest(last).message : `${principal} may not ${action} on ${resource}`;
  return Object.assign(new Error(message), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
}
