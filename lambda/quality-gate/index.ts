import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parseS3Uri } from '../shared/s3-uri';
import { NamedError } from '../shared/errors';
import { log } from '../shared/log';
import { countsByClass } from '../shared/metrics';
import { chooseVariant, ClassDecision, DeviceResult, judgeVariant, Thresholds } from './gate';
import { renderHtml, RunReport } from './report';

export const GATE_FAILED = 'QualityGateFailed';

/** One variant's canary: its results inline, or where the canary wrote them (what the pipeline passes). */
export interface GateVariant {
  readonly variant: string;
  readonly componentVersion?: string;
  readonly sha256?: string;
  readonly sizeBytes?: number | null;
  readonly results?: DeviceResult[];
  /** A canary's results document (`{ results: [...] }`) under the store's reports prefix. */
  readonly resultsS3Uri?: string;
}

/** The event of the QualityGate state: every class's canary results, variant by variant. */
export interface GateEvent {
  readonly runId: string;
  readonly thresholds: Thresholds;
  readonly classes: { readonly deviceClass: string; readonly variants: GateVariant[] }[];
}

/** The largest results document the gate reads: about 40,000 devices' results. */
export const MAX_RESULTS_BYTES = 32 * 1024 * 1024;

export interface GateResult {
  readonly pass: boolean;
  readonly reportS3Uri: string;
  readonly htmlReportS3Uri: string;
  /** Per class, the variant that goes to the fleet. */
  readonly chosen: Record<string, string | null>;
  /**
   * Per class (dashes as underscores, for JSONPath), the chosen variant, its
   * component version and its package's SHA-256 (the artifact's folder on the devices).
   */
  readonly releases: Record<string, { variant: string; componentVersion: string | null; sha256: string | null } | null>;
  readonly classes: ClassDecision[];
}

const s3 = new S3Client({});

/** Thresholds as the state machine sends them: a threshold left out (Step Functions drops nulls) is not checked. */
export function normalizeThresholds(t: Partial<Thresholds>): Thresholds {
  return {
    minAccuracy: t.minAccuracy ?? null,
    maxAccuracyDrop: t.maxAccuracyDrop ?? null,
    baseline: t.baseline ?? null,
    baselineAccuracy: t.baselineAccuracy ?? null,
    minTop1Agreement: t.minTop1Agreement ?? null,
    maxP90LatencyMs: t.maxP90LatencyMs ?? null,
    maxP99LatencyMs: t.maxP99LatencyMs ?? null,
    maxPeakMemoryMb: t.maxPeakMemoryMb ?? null,
    requireCompatible: t.requireCompatible ?? true,
    minDevicesReporting: t.minDevicesReporting ?? 1,
    maxFailedDevices: t.maxFailedDevices ?? 0,
  };
}

export function decide(event: GateEvent, now = new Date()): RunReport {
  const thresholds = normalizeThresholds(event.thresholds);
  const classes = event.classes.map((c) => chooseVariant(c.deviceClass, c.variants.map((v) => judgeVariant(v.variant, v.results ?? [], thresholds, v.sizeBytes ?? null))));
  return { schemaVersion: 1, runId: event.runId, generatedAt: now.toISOString(), pass: classes.every((c) => c.pass), thresholds, classes };
}

/**
 * Decides, writes the report (JSON and a self-contained HTML page) to the
 * store, and fails with QualityGateFailed, naming every number that missed,
 * when a class has no variant that passes.
 */
export async function gate(event: GateEvent, bucket: string, prefix: string, client: S3Client = s3, now = new Date()): Promise<GateResult> {
  if (!event || !Array.isArray(event.classes) || event.classes.length === 0 || !event.thresholds) {
    throw new NamedError('GateInputInvalid', 'the gate needs thresholds and at least one class with its canary results');
  }
  const report = decide(await withResults(event, bucket, prefix, client), now);
  const base = `${prefix}${event.runId}/`;
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}report.json`, Body: JSON.stringify(report, null, 2), ContentType: 'application/json' }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${base}report.html`, Body: renderHtml(report), ContentType: 'text/html; charset=utf-8' }));
  const result: GateResult = {
    pass: report.pass,
    reportS3Uri: `s3://${bucket}/${base}report.json`,
    htmlReportS3Uri: `s3://${bucket}/${base}report.html`,
    chosen: Object.fromEntries(report.classes.map((c) => [c.deviceClass, c.chosen])),
    releases: Object.fromEntries(report.classes.map((c, i) => {
      const chosen = event.classes[i].variants.find((v) => v.variant === c.chosen);
      return [c.deviceClass.replace(/-/g, '_'), chosen ? { variant: chosen.variant, componentVersion: chosen.componentVersion ?? null, sha256: chosen.sha256 ?? null } : null];
    })),
    classes: report.classes,
  };
  for (const c of report.classes) {
    // CloudWatch Embedded Metric Format: gate verdicts per device class, for the dashboard.
    log('INFO', 'quality gate decided', {
      runId: event.runId, deviceClass: c.deviceClass, pass: c.pass, chosen: c.chosen,
      ...countsByClass(['GatePassed', 'GateFailed'], c.deviceClass, now),
      GatePassed: c.pass ? 1 : 0,
      GateFailed: c.pass ? 0 : 1,
    });
  }
  if (!report.pass) {
    const why = report.classes.filter((c) => !c.pass).map((c) => `${c.deviceClass}: ${c.notChosen.map((n) => `${n.variant} ${n.reason}`).join(' | ')}`).join('; ');
    throw new NamedError(GATE_FAILED, `${why}. Report: ${result.htmlReportS3Uri}`);
  }
  return result;
}

/**
 * The event with every variant's results inline: a variant that names a
 * results document has it read from the store (its own reports prefix only,
 * at most {@link MAX_RESULTS_BYTES}).
 */
export async function withResults(event: GateEvent, bucket: string, prefix: string, client: S3Client): Promise<GateEvent> {
  const classes = [];
  for (const c of event.classes) {
    const variants = [];
    for (const v of c.variants ?? []) {
      if (v.results !== undefined || v.resultsS3Uri === undefined) {
        variants.push(v);
        continue;
      }
      const where = parseS3Uri(v.resultsS3Uri);
      if (!where || where.bucket !== bucket || !where.key.startsWith(`${prefix}${event.runId}/`)) {
        throw new NamedError('GateInputInvalid', `${c.deviceClass} ${v.variant}: resultsS3Uri ${JSON.stringify(v.resultsS3Uri)} is not a results document of run ${event.runId} in s3://${bucket}/${prefix}`);
      }
      const out = await client.send(new GetObjectCommand({ Bucket: where.bucket, Key: where.key }));
      if ((out.ContentLength ?? 0) > MAX_RESULTS_BYTES) {
        throw new NamedError('GateInputInvalid', `${c.deviceClass} ${v.variant}: ${v.resultsS3Uri} holds ${out.ContentLength} bytes, more than the ${MAX_RESULTS_BYTES} the gate reads`);
      }
      const doc = JSON.parse(await out.Body!.transformToString()) as { results?: unknown };
      if (!Array.isArray(doc.results)) throw new NamedError('GateInputInvalid', `${c.deviceClass} ${v.variant}: ${v.resultsS3Uri} has no results list`);
      variants.push({ ...v, results: doc.results as DeviceResult[] });
    }
    classes.push({ ...c, variants });
  }
  return { ...event, classes };
}

export async function handler(event: GateEvent): Promise<GateResult> {
  const bucket = process.env.STORE_BUCKET;
  const prefix = process.env.REPORT_PREFIX;
  if (!bucket || prefix === undefined) throw new Error('STORE_BUCKET and REPORT_PREFIX must be set');
  return gate(event, bucket, prefix);
}
