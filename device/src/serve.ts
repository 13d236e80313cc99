import * as fs from 'node:fs';
import * as path from 'node:path';
import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { AgentError, AgentErrorCode } from './errors';
import { loadRuntime, locateModel } from './model-loader';
import { readNpy } from './npy';
import { DEFAULT_TOPIC_ROOT, IpcClient, publishDocument, telemetryTopic } from './publish';
import { ModelRuntime } from './runtime';
import { argmax, latencyStats, softmax } from './stats';

export interface ServeOptions {
  readonly modelPath: string;
  /** The folder new inputs arrive in, one `.npy` sample each. */
  readonly inbox: string;
  readonly thingName: string;
  /** The topic root of the pipeline: predictions and telemetry go under `{topicRoot}/telemetry/`. @default DEFAULT_TOPIC_ROOT */
  readonly topicRoot?: string;
  /** The device class, the telemetry topic's level that tells the pipeline which latency metric a device counts in. @default UNCLASSIFIED */
  readonly deviceClass?: string;
  /** Where predictions and telemetry go; without it they are only logged. */
  readonly client?: IpcClient;
  /** Failing inferences in a row before the component reports ERRORED. @default 5 */
  readonly maxConsecutiveFailures?: number;
  /** Where lines of log go. @default stdout */
  readonly log?: (line: string) => void;
}

/** Confidence buckets of the drift histogram: [0, 0.1), …, [0.9, 1]. */
const BUCKETS = 10;

/**
 * Long-running inference on inputs that arrive as files. Publishes each
 * prediction, and on `telemetry()` the latency percentiles and the
 * class/confidence histograms since the last call (drift telemetry). A model
 * that does not load, or a run of failing inferences, reports ERRORED to
 * Greengrass (which rolls the deployment back) and stops: it never keeps
 * running silently broken.
 */
export class Server {
  private runtime: ModelRuntime | undefined;
  private failures = 0;
  private latencies: number[] = [];
  private classes: number[] = [];
  private confidence: number[] = new Array(BUCKETS).fill(0);
  private processed = 0;
  public errored = false;

  /** Where this device's telemetry goes (its predictions one level below). */
  private readonly telemetryTopic: string;

  constructor(private readonly options: ServeOptions) {
    this.telemetryTopic = telemetryTopic(options.topicRoot ?? DEFAULT_TOPIC_ROOT, options.deviceClass ?? '', options.thingName);
  }

  private log(line: string): void {
    (this.options.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
  }

  /** Loads the model; on failure reports ERRORED and throws. */
  public async start(): Promise<void> {
    try {
      this.runtime = await loadRuntime(locateModel(this.options.modelPath));
      if (this.runtime.inputs.length !== 1) throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `serve mode takes models with one input; this one has ${this.runtime.inputs.length}`);
      fs.mkdirSync(this.options.inbox, { recursive: true });
      await this.options.client?.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.RUNNING });
      this.log(JSON.stringify({ level: 'INFO', message: 'model loaded', runtime: this.runtime.runtime, inputs: this.runtime.inputs }));
    } catch (err) {
      await this.fail(`the model cannot be loaded: ${(err as Error).message}`);
      throw err;
    }
  }

  private async fail(reason: string): Promise<void> {
    this.errored = true;
    this.log(JSON.stringify({ level: 'ERROR', message: 'reporting ERRORED', reason }));
    await this.options.client?.updateState({ state: greengrasscoreipc.model.ReportedLifecycleState.ERRORED });
  }

  /** Runs every `.npy` waiting in the inbox (oldest name first); each is removed once handled. */
  public async processInbox(): Promise<number> {
    if (!this.runtime || this.errored) throw new Error('the server is not running');
    const files = fs.readdirSync(this.options.inbox).filter((f) => f.endsWith('.npy')).sort();
    const input = this.runtime.inputs[0];
    for (const file of files) {
      const full = path.join(this.options.inbox, file);
      try {
        const array = readNpy(full);
        const shape = array.shape.length === input.shape.length ? array.shape : [1, ...array.shape];
        const start = process.hrtime.bigint();
        const outputs = await this.runtime.run({ [input.name]: { data: array.data, shape } });
        const latencyMs = Number(process.hrtime.bigint() - start) / 1e6;
        const logits = Object.values(outputs)[0].data;
        if (logits.some((v) => !Number.isFinite(v))) throw new AgentError(AgentErrorCode.NON_FINITE_OUTPUT, 'the model returned NaN or infinity');
        const probabilities = softmax(logits);
        const predicted = argmax(probabilities);
        const confidence = probabilities[predicted];
        this.latencies.push(latencyMs);
        this.classes[predicted] = (this.classes[predicted] ?? 0) + 1;
        this.confidence[Math.min(BUCKETS - 1, Math.floor(confidence * BUCKETS))]++;
        this.processed++;
        this.failures = 0;
        const prediction = { kind: 'prediction', thingName: this.options.thingName, input: file, class: predicted, confidence: Math.round(confidence * 10000) / 10000, latencyMs: Math.round(latencyMs * 1000) / 1000 };
        if (this.options.client) await publishDocument(this.options.client, `${this.telemetryTopic}/predictions`, prediction, `${file}`);
        else this.log(JSON.stringify(prediction));
      } catch (err) {
        this.failures++;
        this.log(JSON.stringify({ level: 'WARN', message: 'inference failed', input: file, error: (err as Error).message, consecutiveFailures: this.failures }));
        if (this.failures >= (this.options.maxConsecutiveFailures ?? 5)) {
          await this.fail(`${this.failures} inferences failed in a row; the last: ${(err as Error).message}`);
          fs.rmSync(full, { force: true });
          return this.processed;
        }
      }
      fs.rmSync(full, { force: true });
    }
    return this.processed;
  }

  /** The telemetry since the last call: latency percentiles, class and confidence histograms. Publishes it when it can. */
  public async telemetry(): Promise<Record<string, unknown>> {
    const doc = {
      kind: 'telemetry',
      thingName: this.options.thingName,
      at: new Date().toISOString(),
      inferences: this.latencies.length,
      latencyMs: this.latencies.length ? latencyStats(this.latencies) : null,
      classHistogram: Array.from({ length: this.classes.length }, (_, i) => this.classes[i] ?? 0),
      confidenceHistogram: { buckets: BUCKETS, counts: [...this.confidence] },
    };
    this.latencies = [];
    this.classes = [];
    this.confidence = new Array(BUCKETS).fill(0);
    if (this.options.client) await publishDocument(this.options.client, this.telemetryTopic, doc, doc.at);
    else this.log(JSON.stringify(doc));
    return doc;
  }

  public async stop(): Promise<void> {
    await this.runtime?.close();
  }
}
