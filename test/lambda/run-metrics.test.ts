import { OUTCOMES, runMetrics, RunMetricsEvent, STAGES } from '../../lambda/run-metrics/index';
import { RUN_OUTCOMES, RUN_STAGES } from '../../lib/pipeline/run-stages';
import { emitted } from '../support/emitted';

const at = (iso: string) => ({ at: iso });

const released: RunMetricsEvent = {
  pipeline: 'cams',
  runId: 'resnet18-v3',
  outcome: 'RELEASED',
  marks: {
    started: at('2026-11-28T10:00:00.000Z'),
    compiled: at('2026-11-28T10:12:30.000Z'),
    published: at('2026-11-28T10:13:00.250Z'),
    evaluated: at('2026-11-28T10:23:00.250Z'),
    gated: at('2026-11-28T10:23:02.000Z'),
    rolledOut: at('2026-11-28T11:00:00.000Z'),
  },
};

describe('run metrics', () => {
  test('times each finished stage from the end of the one before; a stage not configured (no approval) is left out', () => {
    const lines = emitted(() => {
      expect(runMetrics(released).stages).toEqual([
        { stage: 'Compile', seconds: 750 },
        { stage: 'Publish', seconds: 30.25 },
        { stage: 'Canary', seconds: 600 },
        { stage: 'Gate', seconds: 1.75 },
        { stage: 'Rollout', seconds: 2218 },
      ]);
    });
    // One Embedded Metric Format record per stage and one for the outcome, each naming its metric's dimensions.
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Pipeline', 'Stage']], Metrics: [{ Name: 'StageDurationSeconds', Unit: 'Seconds' }] }] },
      Pipeline: 'cams', Stage: 'Compile', StageDurationSeconds: 750,
    });
    expect(lines[5]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Pipeline', 'Outcome']], Metrics: [{ Name: 'Runs', Unit: 'Count' }] }] },
      Pipeline: 'cams', Outcome: 'RELEASED', Runs: 1,
    });
    for (const line of lines) {
      const directive = (line._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];
      for (const name of [...directive.Dimensions[0], directive.Metrics[0].Name]) expect(line).toHaveProperty(name);
    }
  });

  test('a failed run reports only the stages it finished, and its outcome', () => {
    const { compiled, published, started } = released.marks;
    const lines = emitted(() => {
      expect(runMetrics({ ...released, outcome: 'GATE_FAILED', marks: { started, compiled, published } }).stages.map((s) => s.stage)).toEqual(['Compile', 'Publish']);
    });
    expect(lines.at(-1)).toMatchObject({ Outcome: 'GATE_FAILED' });
  });

  test('refuses events it cannot time, naming the field, the value and what it expects', () => {
    const refuse = (event: unknown) => {
      try {
        emitted(() => runMetrics(event as RunMetricsEvent));
      } catch (err) {
        expect((err as Error).name).toBe('RunMetricsInputInvalid');
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refuse({ ...released, outcome: 'DONE' })).toBe('outcome is "DONE": expected one of RELEASED, GATE_FAILED, APPROVAL_REJECTED, ROLLOUT_REVERTED, ROLLOUT_CANCELED, REVERT_FAILED, RUN_FAILED.');
    expect(refuse({ ...released, marks: { compiled: released.marks.compiled } })).toContain('marks.started is missing');
    expect(refuse({ ...released, marks: { ...released.marks, gated: at('yesterday') } })).toContain('marks.gated.at is "yesterday": expected an ISO 8601 time');
    expect(refuse({ ...released, marks: { ...released.marks, gated: at('2026-11-28T09:00:00.000Z') } })).toContain('marks.gated.at (2026-11-28T09:00:00.000Z) is before the end of the stage before it');
    expect(refuse({ ...released, pipeline: '' })).toContain('pipeline is ""');
    expect(refuse({ ...released, marks: [] })).toContain('marks is []');
  });

  test('names stages and outcomes as the dashboard does', () => {
    expect(STAGES.map((s) => s.stage)).toEqual([...RUN_STAGES]);
    expect([...OUTCOMES]).toEqual([...RUN_OUTCOMES]);
  });
});
