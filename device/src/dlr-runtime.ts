import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentError, AgentErrorCode } from './errors';
import { ModelRuntime, OutputData, TensorData, TensorSpec } from './runtime';

type Koffi = typeof import('koffi');

let typesDeclared = false;
/** koffi's named types are process-wide: declare DLR's handle type once. */
function declareTypes(koffi: Koffi): void {
  if (typesDeclared) return;
  koffi.pointer('DLRModelHandle', koffi.opaque());
  typesDeclared = true;
}

/** The DLR C API functions the agent calls (include/dlr.h). */
interface DlrApi {
  CreateDLRModel: (handle: [unknown], modelPath: string, devType: number, devId: number) => number;
  DeleteDLRModel: (handle: [unknown]) => number;
  RunDLRModel: (handle: [unknown]) => number;
  GetDLRNumInputs: (handle: [unknown], out: [number]) => number;
  GetDLRInputName: (handle: [unknown], index: number, out: [string | null]) => number;
  GetDLRInputSizeDim: (handle: [unknown], index: number, size: [number | bigint], dim: [number]) => number;
  GetDLRInputShape: (handle: [unknown], index: number, shape: BigInt64Array) => number;
  SetDLRInput: (handle: [unknown], name: string, shape: BigInt64Array, input: Float32Array, dim: number) => number;
  GetDLRNumOutputs: (handle: [unknown], out: [number]) => number;
  GetDLROutputSizeDim: (handle: [unknown], index: number, size: [number | bigint], dim: [number]) => number;
  GetDLROutputShape: (handle: [unknown], index: number, shape: BigInt64Array) => number;
  GetDLROutput: (handle: [unknown], index: number, out: Float32Array) => number;
  DLRGetLastError: () => string;
  GetDLRVersion?: (out: [string | null]) => number;
}

/** DLR device types (dlr.h): the agent runs on the CPU or the GPU. */
export enum DlrDevice {
  CPU = 1,
  GPU = 2,
}

/**
 * Where libdlr.so comes from: the artifact's own (Neo may ship one beside the
 * model), else `DLR_LIBRARY` (a path), else the loader's search path.
 */
export function findDlrLibrary(modelDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const bundled = path.join(modelDir, 'libdlr.so');
  if (fs.existsSync(bundled)) return bundled;
  return env.DLR_LIBRARY ?? 'libdlr.so';
}

/**
 * A Neo-compiled model (one `.so`, one `.params`, its graph `.json`) run by
 * DLR through its C API with koffi. The C library has no phone-home: DLR's
 * usage reporting lives in its Python package (`dlr/counter`), which the agent
 * never loads.
 */
export class DlrModel implements ModelRuntime {
  public readonly runtime = 'dlr';

  /** Loads the model in `modelDir` with the DLR library at `libraryPath`. */
  public static load(modelDir: string, options: { libraryPath?: string; device?: DlrDevice } = {}): DlrModel {
    let koffi: Koffi;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      koffi = require('koffi') as Koffi;
    } catch (err) {
      throw new AgentError(AgentErrorCode.RUNTIME_MISSING, `koffi (the FFI the DLR adapter needs) cannot be loaded: ${(err as Error).message}`);
    }
    if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) {
      throw new AgentError(AgentErrorCode.MODEL_INVALID, `${modelDir} is not a folder with a compiled model (.so, .params, .json)`);
    }
    const libraryPath = options.libraryPath ?? findDlrLibrary(modelDir);
    let lib: ReturnType<Koffi['load']>;
    try {
      lib = koffi.load(libraryPath);
    } catch (err) {
      throw new AgentError(AgentErrorCode.RUNTIME_MISSING, `the DLR library ${libraryPath} cannot be loaded: ${(err as Error).message}. Install DLR on the device, or set DLR_LIBRARY to its libdlr.so`);
    }
    declareTypes(koffi);
    const api: DlrApi = {
      CreateDLRModel: lib.func('int CreateDLRModel(_Out_ DLRModelHandle *handle, const char *model_path, int dev_type, int dev_id)'),
      DeleteDLRModel: lib.func('int DeleteDLRModel(DLRModelHandle *handle)'),
      RunDLRModel: lib.func('int RunDLRModel(DLRModelHandle *handle)'),
      GetDLRNumInputs: lib.func('int GetDLRNumInputs(DLRModelHandle *handle, _Out_ int *num_inputs)'),
      GetDLRInputName: lib.func('int GetDLRInputName(DLRModelHandle *handle, int index, _Out_ const char **input_name)'),
      GetDLRInputSizeDim: lib.func('int GetDLRInputSizeDim(DLRModelHandle *handle, int index, _Out_ int64_t *size, _Out_ int *dim)'),
      GetDLRInputShape: lib.func('int GetDLRInputShape(DLRModelHandle *handle, int index, _Out_ int64_t *shape)'),
      SetDLRInput: lib.func('int SetDLRInput(DLRModelHandle *handle, const char *name, const int64_t *shape, const float *input, int dim)'),
      GetDLRNumOutputs: lib.func('int GetDLRNumOutputs(DLRModelHandle *handle, _Out_ int *num_outputs)'),
      GetDLROutputSizeDim: lib.func('int GetDLROutputSizeDim(DLRModelHandle *handle, int index, _Out_ int64_t *size, _Out_ int *dim)'),
      GetDLROutputShape: lib.func('int GetDLROutputShape(DLRModelHandle *handle, int index, _Out_ int64_t *shape)'),
      GetDLROutput: lib.func('int GetDLROutput(DLRModelHandle *handle, int index, _Out_ float *output)'),
      DLRGetLastError: lib.func('const char *DLRGetLastError()'),
    };
    try {
      api.GetDLRVersion = lib.func('int GetDLRVersion(_Out_ const char **out)');
    } catch {
      // Older DLR builds have no version call.
    }
    const out: [unknown] = [null];
    if (api.CreateDLRModel(out, modelDir, options.device ?? DlrDevice.CPU, 0) !== 0) {
      throw new AgentError(AgentErrorCode.MODEL_INVALID, `DLR cannot load ${modelDir}: ${api.DLRGetLastError()}`);
    }
    return new DlrModel(api, out, libraryPath);
  }

  public readonly version: string;
  public readonly inputs: TensorSpec[];
  public readonly outputs: TensorSpec[];
  private readonly handleRef: [unknown];
  private readonly outputSizes: number[];

  private constructor(private readonly api: DlrApi, handle: [unknown], public readonly libraryPath: string) {
    this.handleRef = [handle[0]];
    const version: [string | null] = [null];
    this.version = api.GetDLRVersion && api.GetDLRVersion(version) === 0 && version[0] ? version[0] : 'unknown';
    const count: [number] = [0];
    this.check(api.GetDLRNumInputs(this.handleRef, count), 'GetDLRNumInputs');
    this.inputs = [];
    for (let i = 0; i < count[0]; i++) {
      const name: [string | null] = [null];
      this.check(api.GetDLRInputName(this.handleRef, i, name), 'GetDLRInputName');
      const shape = this.shapeOf(i, api.GetDLRInputSizeDim, api.GetDLRInputShape);
      this.inputs.push({ name: name[0] ?? `input${i}`, shape, dtype: 'float32' });
    }
    this.check(api.GetDLRNumOutputs(this.handleRef, count), 'GetDLRNumOutputs');
    this.outputs = [];
    this.outputSizes = [];
    for (let i = 0; i < count[0]; i++) {
      const shape = this.shapeOf(i, api.GetDLROutputSizeDim, api.GetDLROutputShape);
      this.outputs.push({ name: `output${i}`, shape, dtype: 'float32' });
      this.outputSizes.push(shape.reduce((a, b) => a * Math.max(b, 1), 1));
    }
  }

  private check(status: number, call: string): void {
    if (status !== 0) throw new AgentError(AgentErrorCode.INTERNAL, `DLR ${call} failed: ${this.api.DLRGetLastError()}`);
  }

  private shapeOf(
    index: number,
    sizeDim: (h: [unknown], i: number, size: [number | bigint], dim: [number]) => number,
    shapeFn: (h: [unknown], i: number, shape: BigInt64Array) => number,
  ): number[] {
    const size: [number | bigint] = [0];
    const dim: [number] = [0];
    this.check(sizeDim(this.handleRef, index, size, dim), 'Get…SizeDim');
    const shape = new BigInt64Array(dim[0]);
    this.check(shapeFn(this.handleRef, index, shape), 'Get…Shape');
    return Array.from(shape, (d) => Number(d));
  }

  public async run(feeds: Record<string, TensorData>): Promise<Record<string, OutputData>> {
    for (const input of this.inputs) {
      const feed = feeds[input.name];
      if (!feed) throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `no data for DLR input ${input.name}`);
      const data = feed.data instanceof Float32Array ? feed.data : Float32Array.from(feed.data as ArrayLike<number>, Number);
      const shape = BigInt64Array.from(feed.shape, (d) => BigInt(d));
      if (this.api.SetDLRInput(this.handleRef, input.name, shape, data, feed.shape.length) !== 0) {
        throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `DLR refused input ${input.name} of shape [${feed.shape.join(', ')}]: ${this.api.DLRGetLastError()}`);
      }
    }
    this.check(this.api.RunDLRModel(this.handleRef), 'RunDLRModel');
    const out: Record<string, OutputData> = {};
    this.outputs.forEach((o, i) => {
      const data = new Float32Array(this.outputSizes[i]);
      this.check(this.api.GetDLROutput(this.handleRef, i, data), 'GetDLROutput');
      out[o.name] = { data, shape: [...o.shape] };
    });
    return out;
  }

  public async close(): Promise<void> {
    this.api.DeleteDLRModel(this.handleRef);
  }
}
