import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskHeartbeatCommand, SFNClient } from '@aws-sdk/client-sfn';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import schema from '../../device/schema/benchmark-result.schema.json';
import { CanaryStore, completeWhenReported, ReportSummary, ResultsStore } from '../shared/canary-store';
import { log } from '../shared/log';
import { isAlreadyThere } from '../shared/s3-exists';

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** What the IoT rule passes: the message, plus the run and thing from the topic. */
export interface ResultMessage extends Record<string, unknown> {
  readonly topicRunId?: string;
  readonly topicThing?: string;
}

export type Outcome = 'accepted' | 'completed' | 'duplicate' | 'late' | 'rejected';

export interface CollectorDeps extends ResultsStore {
  readonly store: CanaryStore;
  readonly sfn: SFNClient;
}

/** One line of CloudWatch Embedded Metric Format: a rejected result, by reason. */
function countRejected(reason: string, fields: Record<string, unknown>): void {
  log('WARN', `result rejected: ${reason}`, {
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Reason']], Metrics: [{ Name: 'RejectedResults', Unit: 'Count' }] }] },
    Reason: reason,
    RejectedResults: 1,
    ...fields,
  });
}

function summarize(doc: Record<string, unknown>, reportS3Uri: string): ReportSummary {
  const d = doc as unknown as ReportSummary;
  return {
    thingName: d.thingName,
    status: d.status,
    variant: d.variant,
    latencyMs: d.latencyMs ? { p50: d.latencyMs.p50, p90: d.latencyMs.p90, p99: d.latencyMs.p99 } : null,
    peakRssMb: d.peakRssMb,
    accuracy: d.accuracy,
    parity: d.parity ? { top1Agreement: d.parity.top1Agreement, maxAbsDiff: d.parity.maxAbsDiff } : null,
    compatibility: d.compatibility,
    error: d.error,
    reportS3Uri,
  };
}

/**
 * Takes one result document from the IoT rule. Accepts it only when it is
 * valid against the agent's schema, comes from the thing its topic names, for
 * a run that is open, from a device in that canary group; stores it (S3 and
 * a summary in the table) once; completes the waiting task when every
 * expected device has reported. Duplicates and late documents change nothing;
 * rejected ones are counted.
 */
export async function collect(message: ResultMessage, deps: CollectorDeps): Promise<Outcome> {
  const { topicRunId, topicThing, ...doc } = message;
  if (!validate(doc)) {
    countRejected('malformed', { topicRunId, topicThing, problems: ajv.errorsText(validate.errors) });
    if (typeof doc.runId === 'string' && typeof doc.variant === 'string') await deps.store.reject(doc.runId, doc.variant);
    return 'rejected';
  }
  const runId = doc.runId as string;
  const variant = (doc.variant as string | null) ?? '';
  const thingName = doc.thingName as string;
  if (topicThing !== undefined && topicThing !== thingName) {
    countRejected('thing name does not match the topic', { runId, variant, thingName, topicThing });
    await deps.store.reject(runId, variant);
    return 'rejected';
  }
  if (topicRunId !== undefined && topicRunId !== runId) {
    countRejected('run id does not match the topic', { runId, topicRunId, thingName });
    await deps.store.reject(runId, variant);
    return 'rejected';
  }
  // The device's THING item names the canary that expects it (a device is in one canary group).
  const expected = await deps.store.expecting(runId, variant, thingName);
  if (!expected) {
    countRejected('no canary of this run and variant expects the device (a forged or unknown run id, or a device outside the canary groups)', { runId, variant, thingName });
    await deps.store.reject(runId, variant);
    return 'rejected';
  }
  const state = await deps.store.state(runId, expected.deviceClass, variant);
  if (!state) {
    // Registration writes the state last: the canary is not open yet.
    countRejected('the canary expecting the device is not open yet', { runId, variant, thingName, deviceClass: expected.deviceClass });
    return 'rejected';
  }
  if (state.state !== 'OPEN') {
    // Closed: by the timeout, or by a completion whose task may still be waiting (this is its retry).
    if (await completeWhenReported(deps.store, deps.sfn, deps, state)) return 'completed';
    log('INFO', 'late result ignored: the canary is closed', { runId, variant, thingName });
    return 'late';
  }
  const key = `${deps.prefix}${runId}/canary/${variant}/${thingName}.json`;
  // The device's first document stands, in the store as in the table: a second one (or a retried
  // delivery of the first) finds the key taken.
  await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: JSON.stringify(doc), ContentType: 'application/json', IfNoneMatch: '*' }))
    .catch((err: unknown) => {
      if (!isAlreadyThere(err)) throw err;
    });
  const recorded = await deps.store.record(runId, variant, expected, summarize(doc, `s3://${deps.bucket}/${key}`));
  // A duplicate still completes the task: it may be the retry of a delivery that failed after storing.
  if (recorded.state && (await completeWhenReported(deps.store, deps.sfn, deps, recorded.state))) return 'completed';
  if (!recorded.first) {
    log('INFO', 'duplicate result ignored', { runId, variant, thingName });
    return 'duplicate';
  }
  log('INFO', 'result accepted', { runId, variant, thingName, status: doc.status, deviceClass: expected.deviceClass, shard: expected.shard, expected: state.expected });
  if (state.token) await heartbeat(deps.sfn, state.token, { runId, variant, thingName });
  return 'accepted';
}

/**
 * Tells the waiting task that a device reported. Best effort: with a large
 * group reporting at once, Step Functions throttles heartbeats, and the
 * report is stored either way; the next report heartbeats again.
 */
async function heartbeat(sfn: SFNClient, token: string, fields: Record<string, unknown>): Promise<void> {
  try {
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
  } catch (err) {
    log('WARN', 'heartbeat not sent; the report is stored', { ...fields, error: (err as Error).name });
  }
}

let deps: CollectorDeps | undefined;

export async function handler(message: ResultMessage): Promise<Outcome> {
  if (!deps) {
    const { CANARY_TABLE: table, STORE_BUCKET: bucket, REPORT_PREFIX: prefix } = process.env;
    if (!table || !bucket || prefix === undefined) throw new Error('CANARY_TABLE, STORE_BUCKET and REPORT_PREFIX must be set');
    deps = { store: new CanaryStore(table), s3: new S3Client({}), sfn: new SFNClient({}), bucket, prefix };
  }
  return collect(message, deps);
}
