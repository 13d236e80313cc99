import * as fs from 'node:fs';
import * as path from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { NamedError } from '../shared/errors';
import { log } from '../shared/log';
import { isAccessDenied, isAlreadyThere, isNotFound, objectExists } from '../shared/s3-exists';
import { parseS3Uri } from '../shared/s3-uri';
import { ARTIFACT_CORRUPT, ARTIFACT_TOO_LARGE, ArtifactKind, packageArtifact, PackageDescription } from './package';

export const PACKAGE_INPUT_INVALID = 'PackageInputInvalid';

/** The event the packaging state sends, one per compiled variant. */
export interface PackageEvent {
  readonly runId: string;
  readonly variant: string;
  readonly target: string;
  readonly kind: ArtifactKind;
  readonly artifactS3Uri: string;
  readonly framework?: string;
  readonly inputShapes?: Record<string, number[]>;
}

export interface PackageResult {
  readonly variant: string;
  readonly target: string;
  readonly runtime: string;
  readonly packageS3Uri: string;
  readonly sha256: string;
  readonly size: number;
  readonly files: number;
  /** False when the same package was already in the store (nothing uploaded). */
  readonly uploaded: boolean;
}

export interface PackagerConfig {
  readonly bucket: string;
  readonly prefix: string;
  readonly maxBytes: number;
  readonly workDir: string;
}

const s3 = new S3Client({});

function config(): PackagerConfig {
  const bucket = process.env.STORE_BUCKET;
  const prefix = process.env.PACKAGE_PREFIX;
  const maxBytes = Number(process.env.MAX_ARTIFACT_BYTES);
  if (!bucket || prefix === undefined || !Number.isFinite(maxBytes)) throw new Error('STORE_BUCKET, PACKAGE_PREFIX and MAX_ARTIFACT_BYTES must be set');
  return { bucket, prefix, maxBytes, workDir: process.env.WORK_DIR ?? '/tmp/package' };
}

/**
 * Packages one variant's artifact: checks it, repacks it as a deterministic
 * ZIP with manifest.json and stores it content-addressed
 * (`{prefix}{sha256}.zip`), uploading only when that key is not there yet.
 */
export async function packageVariant(event: PackageEvent, cfg: PackagerConfig, client: S3Client = s3): Promise<PackageResult> {
  const location = parseS3Uri(event.artifactS3Uri);
  if (!location || typeof event.variant !== 'string' || !/^[a-z0-9-]{1,40}$/.test(event.variant) || (event.kind !== 'NEO_COMPILED' && event.kind !== 'ONNX')) {
    throw new NamedError(PACKAGE_INPUT_INVALID, `the packaging input is not valid: give artifactS3Uri (s3://bucket/key), variant (lower-case letters, digits, dashes) and kind (NEO_COMPILED or ONNX); got ${JSON.stringify({ artifactS3Uri: event.artifactS3Uri, variant: event.variant, kind: event.kind })}`);
  }
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }));
  } catch (err) {
    // Without ListBucket on the whole bucket, S3 answers a missing key with 403.
    if (isNotFound(err) || (isAccessDenied(err) && !(await objectExists(client, location.bucket, location.key)))) {
      throw new NamedError(ARTIFACT_CORRUPT, `${event.artifactS3Uri} does not exist`);
    }
    throw err;
  }
  if ((head.ContentLength ?? 0) > cfg.maxBytes) {
    throw new NamedError(ARTIFACT_TOO_LARGE, `${event.artifactS3Uri} is ${head.ContentLength} bytes, over the limit of ${cfg.maxBytes}: raise maxArtifactSize (and the ephemeral storage) or shrink the model`);
  }
  const object = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key, IfMatch: head.ETag }));
  // The S3 body is closed however packaging ends (a refusal stops reading it early).
  const body = object.Body as AsyncIterable<Uint8Array> & { destroy?: () => void };
  const description: PackageDescription = {
    runId: event.runId,
    variant: event.variant,
    target: event.target,
    kind: event.kind,
    framework: event.framework,
    inputShapes: event.inputShapes,
    sourceS3Uri: event.artifactS3Uri,
  };
  try {
    const { zip, manifest } = await packageArtifact(body, description, cfg.workDir, cfg.maxBytes);
    const key = `${cfg.prefix}${zip.sha256}.zip`;
    let uploaded = false;
    if (!(await objectExists(client, cfg.bucket, key))) {
      const body = fs.createReadStream(zip.path);
      // The SDK reports read errors through the request; this keeps a stream S3 never read
      // (a refused write) from failing the process when it is closed.
      body.on('error', () => undefined);
      try {
        await client.send(new PutObjectCommand({
          Bucket: cfg.bucket,
          Key: key,
          Body: body,
          ContentLength: zip.size,
          ContentType: 'application/zip',
          ChecksumSHA256: Buffer.from(zip.sha256, 'hex').toString('base64'),
          // A conditional write: when a concurrent run stored the same package first, keep that one.
          IfNoneMatch: '*',
        }));
        uploaded = true;
      } catch (err) {
        if (!isAlreadyThere(err)) throw err;
      } finally {
        body.destroy();
      }
    }
    const result: PackageResult = {
      variant: event.variant,
      target: event.target,
      runtime: manifest.runtime,
      packageS3Uri: `s3://${cfg.bucket}/${key}`,
      sha256: zip.sha256,
      size: zip.size,
      files: manifest.files.length,
      uploaded,
    };
    log('INFO', 'artifact packaged', { runId: event.runId, ...result });
    return result;
  } finally {
    body.destroy?.();
    fs.rmSync(path.join(cfg.workDir), { recursive: true, force: true });
  }
}

export async function handler(event: PackageEvent): Promise<PackageResult> {
  try {
    return await packageVariant(event, config());
  } catch (err) {
    log('ERROR', 'packaging refused the artifact', { variant: event?.variant, error: (err as Error).name, cause: (err as Error).message });
    throw err;
  }
}
