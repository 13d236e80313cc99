import { DType } from './npy';

/** One input or output of a model. */
export interface TensorSpec {
  readonly name: string;
  /** Dimensions; -1 where the model leaves one open. */
  readonly shape: number[];
  readonly dtype: DType;
}

/** Data for one tensor. */
export interface TensorData {
  readonly data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
  readonly shape: number[];
}

/** Outputs are read back as float32. */
export interface OutputData {
  readonly data: Float32Array;
  readonly shape: number[];
}

/**
 * A loaded model behind one interface, whatever runs it: ONNX Runtime for
 * ONNX models, DLR for Neo-compiled ones.
 */
export interface ModelRuntime {
  /** `onnxruntime` or `dlr`. */
  readonly runtime: string;
  /** The runtime library's version. */
  readonly version: string;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** Runs the model once. */
  run(feeds: Record<string, TensorData>): Promise<Record<string, OutputData>>;
  /** Frees the model. */
  close(): Promise<void>;
}

/** Elements in a shape. */
export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
