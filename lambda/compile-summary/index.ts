import { NamedError } from '../shared/errors';
import { log } from '../shared/log';

export const ALL_VARIANTS_FAILED = 'NeoAllVariantsFailed';

/** One Map iteration's output. */
export interface VariantResult {
  readonly variant: string;
  readonly target: string;
  readonly jobName: string;
  readonly status: 'COMPLETED' | 'FAILED';
  /** DescribeCompilationJob's response (COMPLETED only). */
  readonly job?: {
    CompilationJobArn: string;
    ModelArtifacts: { S3ModelArtifacts: string };
    ModelDigests?: { ArtifactDigest?: string };
    CompilationStartTime?: string | number;
    CompilationEndTime?: string | number;
  };
  readonly error?: string;
  readonly cause?: string;
}

export interface SummaryEvent {
  readonly runId: string;
  readonly policy: 'FAIL_RUN' | 'CONTINUE_WITH_COMPILED';
  readonly results: VariantResult[];
}

export interface CompiledVariant {
  readonly variant: string;
  readonly target: string;
  readonly jobName: string;
  readonly jobArn: string;
  readonly artifactS3Uri: string;
  readonly artifactDigest: string | null;
  readonly compileSeconds: number | null;
}

export interface FailedVariant {
  readonly variant: string;
  readonly target: string;
  readonly jobName: string;
  readonly error: string;
  readonly cause: string;
}

export interface SummaryResult {
  readonly compiled: CompiledVariant[];
  readonly failed: FailedVariant[];
}

/** A service timestamp (ISO text, or epoch seconds as the SDK may render it) in milliseconds. */
function toMillis(value: string | number | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Compile seconds from the job's own start and end times, or null if the service gave none. */
export function compileSeconds(start: string | number | undefined, end: string | number | undefined): number | null {
  const a = toMillis(start);
  const b = toMillis(end);
  if (a === undefined || b === undefined || b < a) return null;
  return Math.round((b - a) / 1000);
}

export function summarize(event: SummaryEvent): SummaryResult {
  if (!Array.isArray(event.results)) {
    throw new NamedError('CompileInputInvalid', 'results is not a list: the summary expects the CompileVariants Map output');
  }
  const compiled: CompiledVariant[] = [];
  const failed: FailedVariant[] = [];
  for (const r of event.results) {
    if (r.status === 'COMPLETED' && r.job) {
      compiled.push({
        variant: r.variant,
        target: r.target,
        jobName: r.jobName,
        jobArn: r.job.CompilationJobArn,
        artifactS3Uri: r.job.ModelArtifacts.S3ModelArtifacts,
        artifactDigest: r.job.ModelDigests?.ArtifactDigest ?? null,
        compileSeconds: compileSeconds(r.job.CompilationStartTime, r.job.CompilationEndTime),
      });
    } else {
      failed.push({ variant: r.variant, target: r.target, jobName: r.jobName, error: r.error ?? 'Unknown', cause: String(r.cause ?? '') });
    }
  }
  if (compiled.length === 0) {
    const reasons = failed.map((f) => `${f.variant}: ${f.error}: ${f.cause}`).join('; ');
    throw new NamedError(ALL_VARIANTS_FAILED, `no variant of run ${event.runId} compiled (${reasons})`);
  }
  return { compiled, failed };
}

export async function handler(event: SummaryEvent): Promise<SummaryResult> {
  const result = summarize(event);
  log('INFO', 'compile stage summarized', {
    runId: event.runId,
    compiled: result.compiled.map((c) => c.variant),
    failed: result.failed.map((f) => ({ variant: f.variant, error: f.error })),
  });
  return result;
}
