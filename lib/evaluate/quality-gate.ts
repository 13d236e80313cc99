import { Duration, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';
import { BundledHandler } from '../core/handler';
import { ArtifactStore } from '../package/artifact-store';
import { CanaryEvaluation } from './canary-evaluation';

/** Where the accuracy baseline comes from, for `maxAccuracyDrop`. */
export class AccuracyBaseline {
  /** A fixed accuracy, such as the training run's validation accuracy. */
  public static fixed(accuracy: number): AccuracyBaseline {
    return new AccuracyBaseline('fixed', accuracy);
  }

  /**
   * The reference outputs' own accuracy, measured on each device from the
   * data set's reference outputs (what the uncompiled model scores).
   */
  public static measuredOnDevice(): AccuracyBaseline {
    return new AccuracyBaseline('device', undefined);
  }

  private constructor(
    /** `fixed` or `device`. */
    public readonly kind: string,
    /** The fixed accuracy. */
    public readonly accuracy: number | undefined,
  ) {}
}

/** The thresholds a candidate must meet on the canary devices. */
export interface QualityThresholds {
  /**
   * Lowest top-1 accuracy (0 to 1) on the worst device.
   *
   * @default - not checked
   */
  readonly minAccuracy?: number;
  /**
   * Largest accuracy drop (0 to 1) against the baseline.
   *
   * @default - not checked
   */
  readonly maxAccuracyDrop?: number;
  /**
   * Where the baseline comes from.
   *
   * @default AccuracyBaseline.measuredOnDevice()
   */
  readonly baseline?: AccuracyBaseline;
  /**
   * Lowest top-1 agreement (0 to 1) with the reference outputs.
   *
   * @default - not checked
   */
  readonly minTop1Agreement?: number;
  /**
   * Highest p90 latency, on the slowest device.
   *
   * @default - not checked
   */
  readonly maxP90Latency?: Duration;
  /**
   * Highest p99 latency, on the slowest device.
   *
   * @default - not checked
   */
  readonly maxP99Latency?: Duration;
  /**
   * Highest peak memory in MB, on the hungriest device.
   *
   * @default - not checked
   */
  readonly maxPeakMemoryMb?: number;
  /**
   * Every device must have what the package needs (architecture, files).
   *
   * @default true
   */
  readonly requireCompatible?: boolean;
  /**
   * Fewest devices that must report results.
   *
   * @default 1
   */
  readonly minDevicesReporting?: number;
  /**
   * Most devices that may report an error document.
   *
   * @default 0
   */
  readonly maxFailedDevices?: number;
}

/** Props for {@link QualityGate}. */
export interface QualityGateProps {
  /** Where the run report goes (`reports/{runId}/report.json` and `.html`). */
  readonly store: ArtifactStore;
  /**
   * The canary evaluations whose results the gate decides on, one per device class.
   *
   * @default - give `classesPath`
   */
  readonly canaries?: CanaryEvaluation[];
  /**
   * Where every class's canary output (`{ deviceClass, variants }`) is, as one array: the
   * result of a Map over classes. Give this or `canaries`.
   *
   * @default - the outputs of `canaries`
   */
  readonly classesPath?: string;
  /** The thresholds. */
  readonly thresholds: QualityThresholds;
  /**
   * The pipeline this belongs to: its metrics are then counted by Pipeline
   * as well as by DeviceClass, so one pipeline's alarms see only its runs.
   *
   * @default - metrics by DeviceClass only
   */
  readonly pipelineName?: string;
}

/**
 * Decides per device class from the canary results: every threshold's
 * figure, limit and verdict, the chosen variant (the fastest p90 that
 * passes, ties to the smaller package) and why the others lost; writes the
 * run report (JSON and a self-contained HTML page with an accuracy-vs-latency
 * plot) to the store.
 *
 * **Output**: the input with `gate` set to `{ pass, chosen: { class: variant },
 * reportS3Uri, htmlReportS3Uri, classes }`.
 * **Errors**: `QualityGateFailed` (a class with no passing variant; the cause
 * names each number that failed, by how much, and the report's location).
 */
export class QualityGate extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: QualityGateProps) {
    super(scope, id);
    const t = props.thresholds;
    const problems = new ProblemCollector();
    addThresholdProblems(problems, t);
    if (props.canaries && props.classesPath) problems.add('classesPath', props.classesPath, 'Give canaries or classesPath, not both.');
    else if (!props.classesPath && (props.canaries ?? []).length === 0) problems.add('canaries', [], 'Give the canary evaluation of every device class.');
    problems.throwIfAny(this);

    const fn = new BundledHandler(this, 'Gate', {
      handlerName: 'quality-gate',
      description: 'cdk-edge-model-pipeline: decides from canary results which variant of each device class may go to the fleet, and writes the run report',
      timeout: Duration.minutes(1),
      memorySize: 512,
      environment: { STORE_BUCKET: props.store.bucket.bucketName, REPORT_PREFIX: ArtifactStore.REPORT_PREFIX, ...(props.pipelineName ? { PIPELINE_NAME: props.pipelineName } : {}) },
    });
    props.store.grantWrite(fn.role, ArtifactStore.REPORT_PREFIX);
    // The canaries' results documents: the gate reads the keys it is handed.
    props.store.grantObjectsRead(fn.role, ArtifactStore.REPORT_PREFIX);
    const baseline = t.baseline ?? AccuracyBaseline.measuredOnDevice();
    const gate = fn.invoke(this, 'QualityGate', {
      comment: 'Accuracy, parity, latency, memory and compatibility, per device class',
      payload: {
        'runId.$': '$.runId',
        'thresholds': {
          minAccuracy: t.minAccuracy ?? null,
          maxAccuracyDrop: t.maxAccuracyDrop ?? null,
          baseline: t.maxAccuracyDrop !== undefined ? baseline.kind : null,
          baselineAccuracy: baseline.accuracy ?? null,
          minTop1Agreement: t.minTop1Agreement ?? null,
          maxP90LatencyMs: t.maxP90Latency?.toMilliseconds({ integral: false }) ?? null,
          maxP99LatencyMs: t.maxP99Latency?.toMilliseconds({ integral: false }) ?? null,
          maxPeakMemoryMb: t.maxPeakMemoryMb ?? null,
          requireCompatible: t.requireCompatible ?? true,
          minDevicesReporting: t.minDevicesReporting ?? 1,
          maxFailedDevices: t.maxFailedDevices ?? 0,
        },
        'classes.$': props.classesPath ?? `States.Array(${(props.canaries ?? []).map((c) => c.outputPath).join(', ')})`,
      },
      resultPath: '$.gate',
    });
    acknowledge(Stack.of(this), 'LAMBDA_INVOKE_VERSIONS', [nagResource(this, `${fn.function.functionArn}:*`)]);
    this.startState = gate;
    this.endStates = [gate];
  }
}

/**
 * Every problem with a set of thresholds, under `thresholds.…`.
 * @internal
 */
export function addThresholdProblems(problems: ProblemCollector, t: QualityThresholds): void {
  const fraction = (prop: string, v: number | undefined) => {
    if (v !== undefined && !isUnresolved(v) && (v < 0 || v > 1)) problems.add(`thresholds.${prop}`, v, 'Use a fraction from 0 to 1 (0.9 is 90 %).');
  };
  fraction('minAccuracy', t.minAccuracy);
  fraction('maxAccuracyDrop', t.maxAccuracyDrop);
  fraction('minTop1Agreement', t.minTop1Agreement);
  if (t.baseline?.kind === 'fixed') fraction('baseline', t.baseline.accuracy);
  for (const [prop, d] of [['maxP90Latency', t.maxP90Latency], ['maxP99Latency', t.maxP99Latency]] as const) {
    if (d && d.toMilliseconds({ integral: false }) <= 0) problems.add(`thresholds.${prop}`, `${d.toMilliseconds({ integral: false })} ms`, 'Give a latency above zero.');
  }
  if (t.maxPeakMemoryMb !== undefined && t.maxPeakMemoryMb <= 0) problems.add('thresholds.maxPeakMemoryMb', t.maxPeakMemoryMb, 'Give a memory limit above zero.');
  checkIntegerRange(problems, 'thresholds.minDevicesReporting', t.minDevicesReporting, 1, 10000);
  checkIntegerRange(problems, 'thresholds.maxFailedDevices', t.maxFailedDevices, 0, 10000);
  const checked = [t.minAccuracy, t.maxAccuracyDrop, t.minTop1Agreement, t.maxP90Latency, t.maxP99Latency, t.maxPeakMemoryMb].filter((v) => v !== undefined);
  if (checked.length === 0) problems.add('thresholds', t, 'Set at least one of minAccuracy, maxAccuracyDrop, minTop1Agreement, maxP90Latency, maxP99Latency, maxPeakMemoryMb: a gate that checks nothing lets everything through.');
}
