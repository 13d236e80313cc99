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
   * INFERENCE_TIMEOUT document (the runtime's own thread is left to the process's exit).
   * @default 30000
   */
  readonly inferenceTimeoutMs?: number;
}

/** The per-inference time limit when none is given. */
export const DEFAULT_INFERENCE_TIMEOUT_MS = 30_000;

/** One inference, bounded in time: a model that never returns ends the run with a named error. */
export async function bounded<T>(inference: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new AgentError(AgentErrorCode.INFERENCE_TIMEOUT, `${what} took longer than the per-inference limit of ${limitMs} ms (--inference-timeout): the model does not return`)), limitMs);
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

export async function runBenchmark(options: BenchmarkOptions): Promise<BenchmarkResult> {
  const startedAt = new Date().toISOString();
  let runtime: ModelRuntime | undefined;
  let device: DeviceFingerprint | null = null;
  const partial: { model: BenchmarkResult['model']; dataset: BenchmarkResult['dataset']; loadMs: number | null; compatibility: BenchmarkResult['compatibility'] } = {
    model: null, dataset: null, loadMs: null, compatibility: null,
  };
  // Fields every result carries, OK or ERROR, filled in as far as the run got.
  const envelope = (status: BenchmarkResult['status']) => ({
    schemaVersion: 1 as const,
    kind: 'benchmark' as const,
    status,
    runId: options.runId,
    thingName: options.thingName,
    variant: options.variant ?? null,
    startedAt,
    finishedAt: new Date().toISOString(),
    model: partial.model,
    dataset: partial.dataset,
    loadMs: partial.loadMs,
  });
  const trailer = () => ({ device, compatibility: partial.compatibility });
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
    device = fingerprint({ name: runtime.runtime, version: runtime.version });
    const outputShape = runtime.outputs[0]?.shape ?? [];
    const classes = outputShape.length > 0 && outputShape[outputShape.length - 1] > 0 ? outputShape[outputShape.length - 1] : undefined;
    checkAgainstModel(dataset, runtime.inputs, classes);

    const model = runtime;
    const infer = (feeds: Record<string, TensorData>, what: string) => bounded(model.run(feeds), limitMs, what);
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
    let referenceTop1 = 0;
    let agree = 0;
    let maxAbsDiff = 0;
    const refWidth = dataset.reference ? dataset.reference.shape.slice(1).reduce((a, b) => a * b, 1) : 0;
    for (let i = 0; i < dataset.samples; i++) {
      const out = firstOutput(await infer(feedsFor(dataset, i), `the inference of sample ${i}`), i);
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
      accuracy: dataset.labels ? { top1: round(top1 / n), top5: round(top5 / n), referenceTop1: dataset.reference ? round(referenceTop1 / n) : null, samples: n } : null,
      parity: dataset.reference ? { top1Agreement: round(agree / n), maxAbsDiff: round(maxAbsDiff, 6), samples: n } : null,
      ...trailer(),
      error: null,
    };
  } catch (err) {
    const error = err instanceof AgentError ? { code: err.code, message: err.message } : { code: AgentErrorCode.INTERNAL, message: (err as Error).message };
    return {
      ...envelope('ERROR'),
      firstInferenceMs: null,
      latencyMs: null,
      throughputPerSecond: null,
      peakRssMb: peakRssMb(),
      accuracy: null,
      parity: null,
      ...trailer(),
      error,
    };
  } finally {
    await runtime?.close();
  }
}
