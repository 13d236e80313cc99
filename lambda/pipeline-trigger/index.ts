import { createHash } from 'node:crypto';
import { CopyObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeModelPackageCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { slug } from '../../lib/core/naming';
import { NamedError } from '../shared/errors';
import { log } from '../shared/log';
import { parseS3Uri } from '../shared/s3-uri';

export const TRIGGER_INPUT_INVALID = 'TriggerInputInvalid';

/** An EventBridge event, as the trigger receives it. */
export interface TriggerEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown>;
}

export interface TriggerConfig {
  readonly stateMachineArn: string;
  readonly bucket: string;
  /** Uploads here start runs (the pipeline's model prefix). */
  readonly modelPrefix: string;
  /** Model Registry packages are copied here: outside modelPrefix, so the copy starts no run of its own. */
  readonly registryPrefix: string;
}

export interface TriggerDeps {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly sagemaker: SageMakerClient;
}

/** What a run starts with. */
export interface RunInput {
  readonly runId: string;
  readonly trigger: 's3' | 'model-registry';
  readonly model: { s3Uri: string; version: string; modelPackageArn?: string };
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);

/** The run id of a model version: readable, deterministic, 1-80 characters, a valid execution name. */
export function runIdFor(name: string, version: string): string {
  const base = slug(name).slice(0, 60).replace(/-+$/, '') || 'model';
  return `${base}-${hash(version)}`;
}

/**
 * Starts one pipeline run per model version: a new object under the store's
 * `models/` prefix, or a Model Registry package turning Approved (its model
 * data is copied into the store first, so a run compiles only what its store
 * holds). The execution is named after the model version, so an event
 * delivered twice starts one run.
 */
export async function trigger(event: TriggerEvent, cfg: TriggerConfig, deps: TriggerDeps): Promise<{ started: boolean; runId: string }> {
  let input: RunInput;
  if (event?.source === 'aws.s3' && event['detail-type'] === 'Object Created') {
    const bucket = (event.detail.bucket as { name?: string } | undefined)?.name;
    const object = event.detail.object as { key?: string; 'version-id'?: string; etag?: string } | undefined;
    if (bucket !== cfg.bucket || !object?.key || !object.key.startsWith(cfg.modelPrefix)) {
      throw new NamedError(TRIGGER_INPUT_INVALID, `the S3 event is not for s3://${cfg.bucket}/${cfg.modelPrefix}: ${JSON.stringify({ bucket, key: object?.key })}`);
    }
    const version = `s3://${bucket}/${object.key}@${object['version-id'] ?? object.etag ?? ''}`;
    input = { runId: runIdFor(object.key.slice(cfg.modelPrefix.length).replace(/(\/model)?\.(tar\.gz|onnx)$/, ''), version), trigger: 's3', model: { s3Uri: `s3://${bucket}/${object.key}`, version } };
  } else if (event?.source === 'aws.sagemaker' && event['detail-type'] === 'SageMaker Model Package State Change') {
    const arn = event.detail.ModelPackageArn as string | undefined;
    if (event.detail.ModelApprovalStatus !== 'Approved' || !arn) {
      throw new NamedError(TRIGGER_INPUT_INVALID, `the Model Registry event is not an approved package: ${JSON.stringify({ status: event.detail.ModelApprovalStatus, arn })}`);
    }
    const pkg = await deps.sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
    const data = parseS3Uri(pkg.InferenceSpecification?.Containers?.[0]?.ModelDataUrl);
    if (!data) throw new NamedError(TRIGGER_INPUT_INVALID, `model package ${arn} has no model data in S3 to compile`);
    const group = pkg.ModelPackageGroupName ?? 'model';
    const version = String(pkg.ModelPackageVersion ?? arn);
    const runId = `${slug(group).slice(0, 60).replace(/-+$/, '')}-v${version}`;
    // The registry prefix: no upload rule watches it, so the copy starts no second run.
    const key = `${cfg.registryPrefix}${slug(group)}/v${version}/model.tar.gz`;
    await deps.s3.send(new CopyObjectCommand({ Bucket: cfg.bucket, Key: key, CopySource: encodeURI(`${data.bucket}/${data.key}`) }));
    input = { runId, trigger: 'model-registry', model: { s3Uri: `s3://${cfg.bucket}/${key}`, version: arn, modelPackageArn: arn } };
  } else {
    throw new NamedError(TRIGGER_INPUT_INVALID, `events from ${JSON.stringify(event?.source)} (${JSON.stringify(event?.['detail-type'])}) do not start runs`);
  }
  try {
    await deps.sfn.send(new StartExecutionCommand({ stateMachineArn: cfg.stateMachineArn, name: input.runId, input: JSON.stringify(input) }));
  } catch (err) {
    // The same model version already started a run (a re-delivered event): one run only.
    if ((err as Error).name === 'ExecutionAlreadyExists') {
      log('INFO', 'the run for this model version exists already', { runId: input.runId });
      return { started: false, runId: input.runId };
    }
    throw err;
  }
  log('INFO', 'run started', { runId: input.runId, trigger: input.trigger, model: input.model });
  return { started: true, runId: input.runId };
}

let deps: TriggerDeps | undefined;

export async function handler(event: TriggerEvent): Promise<{ started: boolean; runId: string }> {
  const { STATE_MACHINE_ARN: stateMachineArn, STORE_BUCKET: bucket, MODEL_PREFIX: modelPrefix, REGISTRY_PREFIX: registryPrefix } = process.env;
  if (!stateMachineArn || !bucket || modelPrefix === undefined || registryPrefix === undefined) throw new Error('STATE_MACHINE_ARN, STORE_BUCKET, MODEL_PREFIX and REGISTRY_PREFIX must be set');
  deps ??= { sfn: new SFNClient({}), s3: new S3Client({}), sagemaker: new SageMakerClient({}) };
  return trigger(event, { stateMachineArn, bucket, modelPrefix, registryPrefix }, deps);
}
