/** The bucket and key of an `s3://bucket/key` URI, or undefined if it is not one. */
export function parseS3Uri(uri: unknown): { bucket: string; key: string } | undefined {
  if (typeof uri !== 'string') return undefined;
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(uri);
  if (!match) return undefined;
  return { bucket: match[1], key: match[2] };
}
