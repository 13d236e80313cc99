import * as fs from 'node:fs';
import { AgentError, AgentErrorCode } from './errors';
import { DType } from './npy';
import { ModelRuntime, OutputData, TensorData, TensorSpec } from './runtime';

type Ort = typeof import('onnxruntime-node');

/** Loads onnxruntime-node, or says plainly that it is not installed. */
function loadOrt(): Ort {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node') as Ort;
  } catch (err) {
    throw new AgentError(AgentErrorCode.RUNTIME_MISSING, `ONNX Runtime (onnxruntime-node) cannot be loaded on this device: ${(err as Error).message}`);
  }
}

const DTYPES: Record<string, DType> = { float32: 'float32', float64: 'float64', int32: 'int32', int64: 'int64', uint8: 'uint8', int8: 'int8', bool: 'bool' };

/** An ONNX model run by ONNX Runtime on the CPU. */
export class OnnxRuntimeModel implements ModelRuntime {
  public readonly runtime = 'onnxruntime';

  /** Loads `path`; a file that is not a model is an AgentError (MODEL_INVALID). */
  public static async load(path: string, options: { threads?: number } = {}): Promise<OnnxRuntimeModel> {
    const ort = loadOrt();
    if (!fs.existsSync(path)) throw new AgentError(AgentErrorCode.MODEL_INVALID, `${path} does not exist`);
    try {
      const session = await ort.InferenceSession.create(path, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
      });
      return new OnnxRuntimeModel(ort, session);
    } catch (err) {
      throw new AgentError(AgentErrorCode.MODEL_INVALID, `${path} is not a model ONNX Runtime can load: ${(err as Error).message.split('\n')[0]}`);
    }
  }

  public readonly version: string;
  public readonly inputs: TensorSpec[];
  public readonly outputs: TensorSpec[];

  private constructor(private readonly ort: Ort, private readonly session: import('onnxruntime-node').InferenceSession) {
    this.version = ort.env.versions?.node ?? 'unknown';
    const spec = (m: { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }): TensorSpec => ({
      name: m.name,
      shape: (m.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
      dtype: DTYPES[m.type ?? 'float32'] ?? 'float32',
    });
    this.inputs = session.inputMetadata.map((m) => spec(m as never));
    this.outputs = session.outputMetadata.map((m) => spec(m as never));
  }

  public async run(feeds: Record<string, TensorData>): Promise<Record<string, OutputData>> {
    const tensors: Record<string, import('onnxruntime-node').Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const type = t.data instanceof Float32Array ? 'float32' : t.data instanceof BigInt64Array ? 'int64' : t.data instanceof Int32Array ? 'int32'
        : t.data instanceof Float64Array ? 'float64' : t.data instanceof Int8Array ? 'int8' : 'uint8';
      tensors[name] = new this.ort.Tensor(type, t.data as never, t.shape);
    }
    let results: Record<string, import('onnxruntime-node').Tensor>;
    try {
      results = await this.session.run(tensors);
    } catch (err) {
      throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `ONNX Runtime refused the input: ${(err as Error).message.split('\n').join(' ')}`);
    }
    const out: Record<string, OutputData> = {};
    for (const [name, t] of Object.entries(results)) {
      const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
      out[name] = { data, shape: [...t.dims] };
    }
    return out;
  }

  public async close(): Promise<void> {
    await this.session.release();
  }
}
