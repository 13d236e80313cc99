import { NamedError } from '../shared/errors';
import { log } from '../shared/log';

export const RUN_METRICS_INPUT_INVALID = 'RunMetricsInputInvalid';

/**
 * The stages of a run in order, each with the mark the state machine records
 * when the stage ends (`$$.State.EnteredTime` of the mark state).
 */
export const STAGES = [
  { stage: 'Compile', mark: 'compiled' },
  { stage: 'Publish', mark: 'published' },
  { stage: 'Canary', mark: 'evaluated' },
  { stage: 'Gate', mark: 'gated' },
  { stage: 'Approval', mark: 'approved' },
  { stage: 'Rollout', mark: 'rolledOut' },
] as const;

/** How a run ended, as the notification events name it. */
export const OUTCOMES = ['RELEASED', 'GATE_FAILED', 'APPROVAL_REJECTED', 'ROLLOUT_REVERTED', 'ROLLOUT_CANCELED', 'REVERT_FAILED', 'RUN_FAILED'] as const;
export type Outcome = typeof OUTCOMES[number];

export interface RunMetricsEvent {
  readonly pipeline: string;
  readonly runId: string;
  readonly outcome: Outcome;
  /**
   * When the run started (`started`, always) and when each stage the run
   * finished ended, each as `{ at }` with an ISO 8601 time (a Pass state's
   * `$$.State.EnteredTime`).
   */
  readonly marks: Record<string, { at: string }>;
}

export interface StageDuration {
  readonly stage: string;
  readonly seconds: number;
}

export interface RunMetricsResult {
  readonly outcome: Outcome;
  readonly stages: StageDuration[];
}

function invalid(message: string): never {
  throw new NamedError(RUN_METRICS_INPUT_INVALID, message);
}

function time(marks: Record<string, { at: string }>, name: string): number | undefined {
  if (marks[name] === undefined) return undefined;
  const value = (marks[name] as { at?: unknown } | null)?.at;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) invalid(`marks.${name}.at is ${JSON.stringify(value)}: expected an ISO 8601 time such as $$.State.EnteredTime.`);
  return ms;
}

/**
 * The duration of every stage the run finished: from the end of the stage
 * before (or the start of the run) to the stage's own mark. A stage without a
 * mark (not reached, failed, or not configured, as Approval may be) is left
 * out, so a failed run never reports a partial stage as a finished one.
 */
export function stageDurations(marks: Record<string, { at: string }>): StageDuration[] {
  let previous = time(marks, 'started') ?? invalid('marks.started is missing: the state machine records it when the run starts.');
  const out: StageDuration[] = [];
  for (const { stage, mark } of STAGES) {
    const at = time(marks, mark);
    if (at === undefined) continue;
    if (at < previous) invalid(`marks.${mark}.at (${marks[mark].at}) is before the end of the stage before it: marks must follow the stage order ${STAGES.map((s) => s.mark).join(', ')}.`);
    out.push({ stage, seconds: Math.round(at - previous) / 1000 });
    previous = at;
  }
  return out;
}

/**
 * Writes one CloudWatch Embedded Metric Format record per finished stage
 * (StageDurationSeconds by Pipeline and Stage) and one for the run's outcome
 * (Runs by Pipeline and Outcome), for the pipeline's dashboard.
 */
export function runMetrics(event: RunMetricsEvent, now: Date = new Date()): RunMetricsResult {
  if (!event || typeof event !== 'object') invalid('The event is not an object: expected { pipeline, runId, outcome, marks }.');
  if (typeof event.pipeline !== 'string' || event.pipeline === '') invalid(`pipeline is ${JSON.stringify(event.pipeline)}: expected the pipeline's name.`);
  if (typeof event.runId !== 'string' || event.runId === '') invalid(`runId is ${JSON.stringify(event.runId)}: expected the run id.`);
  if (!OUTCOMES.includes(event.outcome)) invalid(`outcome is ${JSON.stringify(event.outcome)}: expected one of ${OUTCOMES.join(', ')}.`);
  if (!event.marks || typeof event.marks !== 'object' || Array.isArray(event.marks)) invalid(`marks is ${JSON.stringify(event.marks)}: expected an object of { at } marks.`);
  const stages = stageDurations(event.marks);
  for (const s of stages) {
    log('INFO', 'stage finished', {
      runId: event.runId, outcome: event.outcome,
      _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Pipeline', 'Stage']], Metrics: [{ Name: 'StageDurationSeconds', Unit: 'Seconds' }] }] },
      Pipeline: event.pipeline,
      Stage: s.stage,
      StageDurationSeconds: s.seconds,
    });
  }
  log('INFO', 'run ended', {
    runId: event.runId,
    _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Pipeline', 'Outcome']], Metrics: [{ Name: 'Runs', Unit: 'Count' }] }] },
    Pipeline: event.pipeline,
    Outcome: event.outcome,
    Runs: 1,
  });
  return { outcome: event.outcome, stages };
}

export async function handler(event: RunMetricsEvent): Promise<RunMetricsResult> {
  return runMetrics(event);
}
