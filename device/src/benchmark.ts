import { checkAgainstModel, Dataset, loadDataset, sampleOf } from './dataset';
import { AgentError, AgentErrorCode } from './errors';
import { DeviceFingerprint, fingerprint } from './fingerprint';
import { checkCompatibility, loadRuntime, locateModel, modelSha256 } from './model-loader';
import { BenchmarkResult, CompatibilityCheck } from './result';
import { ModelRuntime, OutputData, TensorData } from './runtime';
import { argmax, latencyStats, topK } from './stats';

export interface BenchmarkOptions {
  readonly modelPath: string;
  readonly datasetPath: string;
  readonly runId: string;
  readonly thingName: string;
  readonly variant?: string;
  /** Untimed runs first. @default 10 */
  readonly warmup?: number;
  /** Timed runs, at least 1. @default 200 */
  readonly iterations?: number;
  /**
   * The longest one inference may take, in milliseconds: past it the run ends with an
   * INFERENCE_TIMEOUT document. In process this bounds a runtime that answers asynchronously;
   * ONNX Runtime's run holds the JavaScript thread, so the agent's CLI runs the benchmark in a
   * child process whose supervisor enforces the limit (supervise.ts).
   * @default 30000
   */
  readonly inferenceTimeoutMs?: number;
  /** Called before every inference, outside the timed span (the supervisor's watchdog listens). */
  readonly onInference?: (progress: BenchmarkProgress) => void;
}

/** Where a run is: the inference about to start, and what the run knows so far. */
export interface BenchmarkProgress {
  readonly what: string;
  readonly partial: PartialResult;
}

/** The per-inference time limit when none is given. */
export const DEFAULT_INFERENCE_TIMEOUT_MS = 30_000;

/** One inference, bounded in time: a model that never returns ends the run with a named error. */
export async function bounded<T>(inference: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new AgentError(AgentErrorCode.INFERENCE_TIMEOUT, inferenceTimeoutMessage(what, limitMs))), limitMs);
  });
  try {
    return await Promise.race([inference, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const round = (v: number, digits = 4) => Math.round(v * 10 ** digits) / 10 ** digits;

function feedsFor(dataset: Dataset, index: number): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const [name, array] of Object.entries(dataset.inputs)) feeds[name] = sampleOf(array, index);
  return feeds;
}

/** The first output, checked for NaN and infinity. */
function firstOutput(outputs: Record<string, OutputData>, sample: number): Float32Array {
  const out = Object.values(outputs)[0];
  if (!out) throw new AgentError(AgentErrorCode.MODEL_INVALID, 'the model returned no output');
  for (let i = 0; i < out.data.length; i++) {
    if (!Number.isFinite(out.data[i])) {
      throw new AgentError(AgentErrorCode.NON_FINITE_OUTPUT, `output ${Object.keys(outputs)[0]} of sample ${sample} holds ${out.data[i]} at index ${i}: the model (or its compilation) is broken`);
    }
  }
  return out.data;
}

/**
 * Loads the model (timed), warms it up, times single-sample inferences, then
 * scores every sample: top-1/top-5 accuracy against the labels and parity
 * with the reference outputs. Never throws for a bad model or data set: the
 * error goes into the result document.
 */
function peakRssMb(): number {
  return round(process.resourceUsage().maxRSS / 1024, 1);
}

/** What a run knows about itself before its results: what every document carries, OK or ERROR. */
export interface PartialResult {
  readonly runId: string;
  readonly thingName: string;
  readonly variant: string | null;
  readonly startedAt: string;
  readonly model: BenchmarkResult['model'];
  readonly dataset: BenchmarkResult['dataset'];
  readonly loadMs: number | null;
  readonly device: DeviceFingerprint | null;
  readonly compatibility: BenchmarkResult['compatibility'];
}

/** The result document of a run that failed, with what it knew when it did. */
export function errorResult(p: PartialResult, error: { code: AgentErrorCode; message: string }, peakMb = peakRssMb()): BenchmarkResult {
  return {
    schemaVersion: 1, kind: 'benchmark', status: 'ERROR', runId: p.runId, thingName: p.thingName, variant: p.variant, startedAt: p.startedAt, finishedAt: new Date().toISOString(),
    model: p.model, dataset: p.dataset, loadMs: p.loadMs, firstInferenceMs: null, latencyMs: null, throughputPerSecond: null, peakRssMb: peakMb,
    accuracy: null, parity: null, device: p.device, compatibility: p.compatibility, error,
  };
}

/** The message of an INFERENCE_TIMEOUT error. */
export const inferenceTimeoutMessage = (what: string, limitMs: number) =>
  `${what} took longer than the per-inference limit of ${limitMs} ms (--inference-timeout): the model does not return`;

export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  let runtime: ModelRuntime | undefined;
  const partial: { -readonly [K in keyof PartialResult]: PartialResult[K] } = {
    runId: options.runId, thingName: options.thingName, variant: options.variant ?? null, startedAt: new Date().toISOString(),
    model: null, dataset: null, loadMs: null, device: null, compatibility: null,
  };
  // Fields every result carries, OK or ERROR, filled in as far as the run got.
  const envelope = (status: BenchmarkResult['status']) => ({
    schemaVersion: 1 as const,
    kind: 'benchmark' as const,
    status,
    runId: partial.runId,
    thingName: partial.thingName,
    variant: partial.variant,
    startedAt: partial.startedAt,
    finishedAt: new Date().toISOString(),
    model: partial.model,
    dataset: partial.dataset,
    loadMs: partial.loadMs,
  });
  const trailer = () => ({ device: partial.device, compatibility: partial.compatibility });
  try {
    const iterations = options.iterations ?? 200;
    if (!Number.isInteger(iterations) || iterations < 1) throw new AgentError(AgentErrorCode.USAGE, `iterations is ${iterations}: time at least 1 inference`);
    const limitMs = options.inferenceTimeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
    if (!(limitMs > 0)) throw new AgentError(AgentErrorCode.USAGE, `inferenceTimeoutMs is ${limitMs}: give a limit above 0`);
    const location = locateModel(options.modelPath);
    const checks: CompatibilityCheck[] = checkCompatibility(location);
    partial.compatibility = { ok: checks.every((c) => c.ok), checks };
    partial.model = { path: options.modelPath, sha256: modelSha256(location), runtime: location.runtime, runtimeVersion: null };
    const dataset = loadDataset(options.datasetPath);
    partial.dataset = { name: dataset.description.name, samples: dataset.samples };

    const loadStart = process.hrtime.bigint();
    runtime = await loadRuntime(location);
    partial.loadMs = round(ms(loadStart), 3);
    partial.model = { ...partial.model, runtimeVersion: runtime.version };
    partial.device = fingerprint({ name: runtime.runtime, version: runtime.version });
    const outputShape = runtime.outputs[0]?.shape ?? [];
    const classes = outputShape.length > 0 && outputShape[outputShape.length - 1] > 0 ? outputShape[outputShape.length - 1] : undefined;
    checkAgainstModel(dataset, runtime.inputs, classes);

    const model = runtime;
    const infer = (feeds: Record<string, TensorData>, what: string) => {
      options.onInference?.({ what, partial: { ...partial } });
      return bounded(model.run(feeds), limitMs, what);
    };
    const firstStart = process.hrtime.bigint();
    firstOutput(await infer(feedsFor(dataset, 0), 'the first inference'), 0);
    const firstInferenceMs = round(ms(firstStart), 3);
    for (let i = 0; i < (options.warmup ?? 10); i++) await infer(feedsFor(dataset, i % dataset.samples), `warm-up inference ${i + 1}`);

    const latencies: number[] = [];
    const feeds = Array.from({ length: Math.min(iterations, dataset.samples) }, (_, i) => feedsFor(dataset, i));
    const timedStart = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) {
      const start = process.hrtime.bigint();
      await infer(feeds[i % feeds.length], `timed inference ${i + 1}`);
      latencies.push(ms(start));
    }
    const totalSeconds = ms(timedStart) / 1000;

    let top1 = 0;
    let top5 = 0;
    // How many classes the model scores (its output's width), when its shape does not say.
    let width = 0;
    let referenceTop1 = 0;
    let agree = 0;
    let maxAbsDiff = 0;
    const refWidth = dataset.reference ? dataset.reference.shape.slice(1).reduce((a, b) => a * b, 1) : 0;
    for (let i = 0; i < dataset.samples; i++) {
      const out = firstOutput(await infer(feedsFor(dataset, i), `the inference of sample ${i}`), i);
      width = out.length;
      const predicted = argmax(out);
      if (dataset.labels) {
        if (predicted === dataset.labels[i]) top1++;
        if (topK(out, 5).includes(dataset.labels[i])) top5++;
      }
      if (dataset.reference) {
        const ref = Float32Array.from(dataset.reference.data.subarray(i * refWidth, (i + 1) * refWidth) as ArrayLike<number>);
        if (argmax(ref) === predicted) agree++;
        if (dataset.labels && argmax(ref) === dataset.labels[i]) referenceTop1++;
        for (let j = 0; j < Math.min(ref.length, out.length); j++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref[j] - out[j]));
      }
    }
    const n = dataset.samples;
    return {
      ...envelope('OK'),
      firstInferenceMs,
      latencyMs: latencyStats(latencies),
      throughputPerSecond: round(iterations / totalSeconds, 2),
      peakRssMb: peakRssMb(),
      accuracy: dataset.labels ? { top1: round(top1 / n), top5: (classes ?? width) <= 5 ? null : round(top5 / n), referenceTop1: dataset.reference ? round(referenceTop1 / n) : null, samples: n } : null,
      parity: dataset.reference ? { top1Agreement: round(agree / n), maxAbsDiff: round(maxAbsDiff, 6), samples: n } : null,
      ...trailer(),
      error: null,
    };
  } catch (err) {
    // An inference still running holds the session: it is left to the process's exit, not released under it.
    if (err instanceof AgentError && err.code === AgentErrorCode.INFERENCE_TIMEOUT) runtime = undefined;
    return errorResult(partial, err instanceof AgentError ? { code: err.code, message: err.message } : { code: AgentErrorCode.INTERNAL, message: (err as Error).message });
  } finally {
    await runtime?.close();
  }
}
