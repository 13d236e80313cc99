import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/**
 * Whether `key` exists in `bucket`, asked so that a prefix-scoped grant can answer it.
 * S3 answers HeadObject and GetObject on a missing key with 404 only when the caller may
 * `s3:ListBucket` the whole bucket; a caller whose ListBucket is conditioned on `s3:prefix`
 * gets 403 for a missing key and for a forbidden one alike. Listing with the key as the
 * prefix is allowed by such a grant, and the key, when it exists, is the first one listed.
 */
export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
  return (out.Contents ?? []).some((o) => o.Key === key);
}

/** S3's answer to a request the caller may not make (or, without ListBucket, for a key that does not exist). */
export function isAccessDenied(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'AccessDenied' || e.name === 'Forbidden' || e.$metadata?.httpStatusCode === 403;
}

/** S3's answer for a key that does not exist (to a caller that may list the bucket). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/** S3's answer to a conditional write (`IfNoneMatch: '*'`) whose key exists (412), or to two racing for it (409). */
export function isAlreadyThere(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'PreconditionFailed' || e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 412;
}
