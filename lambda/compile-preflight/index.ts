import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { compilationJobName, RUN_ID_PATTERN } from '../../lib/core/naming';
import { NamedError } from '../shared/errors';
import { isAccessDenied, isNotFound, objectExists } from '../shared/s3-exists';
import { log } from '../shared/log';
import { parseS3Uri } from '../shared/s3-uri';
import { ArchiveRefusal, inspectArchive } from './archive-rules';

/** Error names this handler ends with; the state machine sees them as the Task's error. */
export const INPUT_INVALID = 'CompileInputInvalid';
export const MODEL_ARCHIVE_INVALID = 'ModelArchiveInvalid';

/** One variant as the construct renders it at synth time. */
export interface PreflightVariant {
  readonly name: string;
  readonly target: string;
  readonly outputConfig: Record<string, unknown>;
  readonly dataInputConfig?: string;
}

/** The event the CompilePreflight state sends. */
export interface PreflightEvent {
  readonly runId: unknown;
  readonly source: {
    readonly kind: 'BUCKET' | 'EXECUTION_INPUT' | 'MODEL_PACKAGE';
    readonly s3Uri?: unknown;
    readonly allowedBucket?: string;
    readonly allowedPrefix?: string;
    readonly modelPackageVersionArn?: string;
  };
  readonly inputConfig: { Framework: string; FrameworkVersion?: string } | null;
  readonly inputNames: string[];
  readonly jobNamePrefix: string;
  /** Makes job names unique to this compile stage (its stack and path), whatever the prefix. */
  readonly jobNameScope?: string;
  readonly output: { bucket: string; prefix: string; kmsKeyId: string | null };
  readonly budgetSeconds: number;
  readonly variants: PreflightVariant[];
}

/** One job to run, as the Map iterates over them. */
export interface PlannedJob {
  readonly variant: string;
  readonly target: string;
  readonly jobName: string;
  readonly inputConfig?: Record<string, unknown>;
  readonly outputConfig: Record<string, unknown>;
}

export interface PreflightResult {
  readonly runId: string;
  readonly deadline: string;
  readonly modelS3Uri: string | null;
  readonly jobs: PlannedJob[];
  readonly archive: { files: number; modelFiles: string[]; onnxInputs: string[] | null } | null;
}

const s3 = new S3Client({});

/** Reads an S3 object as a stream of bytes. */
export type ObjectReader = (bucket: string, key: string) => Promise<AsyncIterable<Uint8Array>>;

/** Reads with `client`; a missing key is told apart from a forbidden one (S3 answers both with 403 to a prefix-scoped grant). */
export function s3Reader(client: S3Client): ObjectReader {
  return async (bucket, key) => {
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return out.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      const missing = `s3://${bucket}/${key} does not exist: upload the model archive there, or fix the key`;
      if (isNotFound(err)) throw new NamedError(MODEL_ARCHIVE_INVALID, missing);
      if (isAccessDenied(err)) {
        // A model the pipeline may list (the store's models/ prefix) and that is not listed is missing.
        const listed = await objectExists(client, bucket, key).catch((e: unknown) => (isAccessDenied(e) ? undefined : Promise.reject(e)));
        if (listed === false) throw new NamedError(MODEL_ARCHIVE_INVALID, missing);
        throw new NamedError(MODEL_ARCHIVE_INVALID, `reading s3://${bucket}/${key} was denied: the pipeline may read only the model it was given (or the artifact store's models/ prefix)`);
      }
      throw err;
    }
  };
}

const readFromS3: ObjectReader = s3Reader(s3);

/**
 * Checks the run input and the model archive, then names one compilation
 * job per variant. Nothing is started here.
 */
export async function preflight(event: PreflightEvent, readObject: ObjectReader = readFromS3, now = new Date()): Promise<PreflightResult> {
  const runId = event.runId;
  if (typeof runId !== 'string' || !RUN_ID_PATTERN.test(runId)) {
    throw new NamedError(INPUT_INVALID, `runId ${JSON.stringify(runId ?? null)} is not valid: give 1-80 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  let modelS3Uri: string | null = null;
  let archive: PreflightResult['archive'] = null;
  if (event.source.kind !== 'MODEL_PACKAGE') {
    const uri = event.source.s3Uri;
    const location = parseS3Uri(uri);
    if (!location || !location.key.endsWith('.tar.gz')) {
      throw new NamedError(INPUT_INVALID, `model URI ${JSON.stringify(uri ?? null)} is not an s3:// URI of a .tar.gz object: give s3://<bucket>/<key>.tar.gz`);
    }
    if (event.source.kind === 'EXECUTION_INPUT') {
      const { allowedBucket, allowedPrefix = '' } = event.source;
      if (location.bucket !== allowedBucket || !location.key.startsWith(allowedPrefix) || location.key.includes('..')) {
        throw new NamedError(INPUT_INVALID, `model URI ${uri} is outside the artifact store: put the model under s3://${allowedBucket}/${allowedPrefix}, the only place compilation may read`);
      }
    }
    modelS3Uri = uri as string;
    const framework = event.inputConfig?.Framework ?? '';
    try {
      const report = await inspectArchive(await readObject(location.bucket, location.key), framework, event.inputNames);
      archive = { files: report.files.length, modelFiles: report.modelFiles, onnxInputs: report.onnxInputs ?? null };
    } catch (err) {
      if (err instanceof ArchiveRefusal) throw new NamedError(MODEL_ARCHIVE_INVALID, `${uri}: ${err.message}`);
      throw err;
    }
  }

  const deadline = new Date(now.getTime() + event.budgetSeconds * 1000).toISOString();
  const jobs = event.variants.map((variant): PlannedJob => {
    const outputConfig: Record<string, unknown> = {
      S3OutputLocation: `s3://${event.output.bucket}/${event.output.prefix}${runId}/${variant.name}/`,
      ...variant.outputConfig,
    };
    if (event.output.kmsKeyId) outputConfig.KmsKeyId = event.output.kmsKeyId;
    const job: PlannedJob = {
      variant: variant.name,
      target: variant.target,
      jobName: compilationJobName(event.jobNamePrefix, runId, variant.name, event.jobNameScope),
      outputConfig,
    };
    if (!event.inputConfig || !modelS3Uri) return job;
    const inputConfig: Record<string, unknown> = { S3Uri: modelS3Uri, ...event.inputConfig };
    if (variant.dataInputConfig !== undefined) inputConfig.DataInputConfig = variant.dataInputConfig;
    return { ...job, inputConfig };
  });
  log('INFO', 'compile preflight passed', { runId, modelS3Uri, jobs: jobs.map((j) => j.jobName), archive });
  return { runId, deadline, modelS3Uri, jobs, archive };
}

export async function handler(event: PreflightEvent): Promise<PreflightResult> {
  try {
    return await preflight(event);
  } catch (err) {
    log('ERROR', 'compile preflight refused the run', { error: (err as Error).name, cause: (err as Error).message });
    throw err;
  }
}
