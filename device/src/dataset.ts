import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentError, AgentErrorCode } from './errors';
import { NpyArray, readNpy } from './npy';
import { TensorSpec } from './runtime';

/**
 * dataset.json: what a validation set is. Users write it next to the `.npy`
 * files they save from Python (`numpy.save`).
 *
 * ```json
 * { "schemaVersion": 1, "name": "digits-holdout",
 *   "inputs": { "pixels": "inputs.npy" },
 *   "labels": "labels.npy", "referenceOutputs": "reference.npy",
 *   "labelNames": ["0", "1", ...], "layout": "NCHW", "preprocessing": "pixel / 16" }
 * ```
 *
 * Each input file holds every sample, the first dimension being the sample
 * count; labels are integers (N,); reference outputs are the training
 * framework's outputs (N, classes), for parity.
 */
export interface DatasetDescription {
  readonly schemaVersion: 1;
  readonly name: string;
  readonly inputs: Record<string, string>;
  readonly labels?: string;
  readonly referenceOutputs?: string;
  readonly labelNames?: string[];
  readonly layout?: string;
  readonly preprocessing?: string;
}

/** A loaded, checked validation set. */
export interface Dataset {
  readonly description: DatasetDescription;
  readonly samples: number;
  readonly inputs: Record<string, NpyArray>;
  readonly labels: number[] | null;
  readonly reference: NpyArray | null;
}

function invalid(message: string): never {
  throw new AgentError(AgentErrorCode.DATASET_INVALID, message);
}

/** The most samples a data set may hold: the agent scores every one of them. */
export const MAX_SAMPLES = 100_000;

/** dataset.json's keys (device/schema/dataset.schema.json describes each). */
export const DATASET_KEYS = ['schemaVersion', 'name', 'inputs', 'labels', 'referenceOutputs', 'labelNames', 'layout', 'preprocessing'];

/** dataset.json's own shape: an object with known keys of the right types (a misspelt key is refused, not ignored). */
function checkDescription(descriptionPath: string, d: unknown): asserts d is DatasetDescription {
  if (d === null || typeof d !== 'object' || Array.isArray(d)) invalid(`${descriptionPath} holds ${JSON.stringify(d)}; it must be an object like { "schemaVersion": 1, "name": ..., "inputs": { "<input>": "<file>.npy" } }`);
  const o = d as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !DATASET_KEYS.includes(k));
  if (unknown.length) invalid(`${descriptionPath}: unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; the keys are ${DATASET_KEYS.join(', ')}`);
  if (o.schemaVersion !== 1) invalid(`${descriptionPath}: schemaVersion ${JSON.stringify(o.schemaVersion)} is not 1`);
  if (typeof o.name !== 'string' || o.name === '') invalid(`${descriptionPath}: "name" must be a non-empty string, not ${JSON.stringify(o.name)}`);
  const inputs = o.inputs as Record<string, unknown> | undefined;
  if (!inputs || typeof inputs !== 'object' || Array.isArray(inputs) || Object.keys(inputs).length === 0) {
    invalid(`${descriptionPath}: "inputs" must map each model input name to a .npy file`);
  }
  for (const [name, f] of Object.entries(inputs)) if (typeof f !== 'string') invalid(`${descriptionPath}: input ${JSON.stringify(name)} maps to ${JSON.stringify(f)}; name its .npy file`);
  for (const k of ['labels', 'referenceOutputs', 'layout', 'preprocessing']) {
    if (o[k] !== undefined && typeof o[k] !== 'string') invalid(`${descriptionPath}: "${k}" must be a string, not ${JSON.stringify(o[k])}`);
  }
  if (o.labelNames !== undefined && (!Array.isArray(o.labelNames) || o.labelNames.some((n) => typeof n !== 'string'))) invalid(`${descriptionPath}: "labelNames" must be a list of strings`);
}

/** A file the description names, resolved with real paths (symbolic links followed) and confined to the data set's folder. */
function fileIn(descriptionPath: string, name: string): string {
  const dir = path.dirname(descriptionPath);
  const resolved = path.resolve(dir, name);
  let real: string;
  let realDir: string;
  try {
    realDir = fs.realpathSync(dir);
    real = fs.realpathSync(resolved);
  } catch (err) {
    invalid(`${descriptionPath}: ${name} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!real.startsWith(realDir + path.sep)) invalid(`${descriptionPath}: ${name} is outside the data set's folder${real !== resolved ? ` (it leads to ${real})` : ''}`);
  return real;
}

/** Reads dataset.json and the files it names, and checks they agree with each other. */
export function loadDataset(descriptionPath: string): Dataset {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(descriptionPath, 'utf8'));
  } catch (err) {
    invalid(`${descriptionPath} is not readable JSON: ${(err as Error).message}`);
  }
  checkDescription(descriptionPath, parsed);
  const description = parsed;
  const file = (name: string) => fileIn(descriptionPath, name);
  const inputs: Record<string, NpyArray> = {};
  let samples: number | undefined;
  for (const [name, f] of Object.entries(description.inputs)) {
    const array = readNpy(file(f));
    if (array.shape.length < 1 || array.shape[0] < 1) invalid(`${f}: shape (${array.shape.join(', ')}) has no samples (the first dimension counts them)`);
    if (array.shape[0] > MAX_SAMPLES) invalid(`${f}: shape (${array.shape.join(', ')}) holds ${array.shape[0]} samples; a data set holds at most ${MAX_SAMPLES} (the agent scores every one)`);
    if (array.shape.slice(1).some((d) => d === 0)) invalid(`${f}: shape (${array.shape.join(', ')}) has a dimension of 0: a sample holds no values`);
    if (samples !== undefined && array.shape[0] !== samples) invalid(`${f} holds ${array.shape[0]} samples but the other inputs hold ${samples}: every file needs one row per sample`);
    samples = array.shape[0];
    inputs[name] = array;
  }
  let labels: number[] | null = null;
  if (description.labels) {
    const array = readNpy(file(description.labels));
    if (!['int64', 'int32', 'uint8', 'int8'].includes(array.dtype)) invalid(`${description.labels}: labels are ${array.dtype}; save integer class indices (numpy int64)`);
    if (array.shape.length !== 1) invalid(`${description.labels}: labels have shape (${array.shape.join(', ')}); save one class index per sample, shape (N,)`);
    if (array.shape[0] !== samples) invalid(`${description.labels} holds ${array.shape[0]} labels for ${samples} samples: the counts must agree`);
    labels = Array.from(array.data as ArrayLike<number | bigint>, (v) => Number(v));
    const classes = description.labelNames?.length;
    const bad = labels.findIndex((l) => l < 0 || (classes !== undefined && l >= classes));
    if (bad >= 0) invalid(`${description.labels}: label ${labels[bad]} of sample ${bad} is out of range (0 to ${(classes ?? Infinity) - 1})`);
  }
  let reference: NpyArray | null = null;
  if (description.referenceOutputs) {
    reference = readNpy(file(description.referenceOutputs));
    if (reference.dtype !== 'float32' && reference.dtype !== 'float64') invalid(`${description.referenceOutputs}: reference outputs are ${reference.dtype}; save the model's float outputs`);
    if (reference.shape[0] !== samples) invalid(`${description.referenceOutputs} holds ${reference.shape[0]} rows for ${samples} samples: the counts must agree`);
    const notFinite = (reference.data as Float32Array | Float64Array).findIndex((v) => !Number.isFinite(v));
    if (notFinite >= 0) invalid(`${description.referenceOutputs}: value ${notFinite} is ${(reference.data as Float32Array)[notFinite]}; reference outputs must be finite numbers`);
  }
  return { description, samples: samples!, inputs, labels, reference };
}

/** Checks the data set's inputs against the model's: names, per-sample shapes and dtypes. */
export function checkAgainstModel(dataset: Dataset, modelInputs: TensorSpec[], outputClasses: number | undefined): void {
  const given = Object.keys(dataset.inputs).sort();
  const wanted = modelInputs.map((i) => i.name).sort();
  if (given.join('\u0000') !== wanted.join('\u0000')) {
    throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `the data set has inputs ${JSON.stringify(given)} but the model takes ${JSON.stringify(wanted)}`);
  }
  for (const spec of modelInputs) {
    const array = dataset.inputs[spec.name];
    const sampleShape = array.shape.slice(1);
    const modelSample = spec.shape.slice(1);
    const fits = sampleShape.length === modelSample.length && modelSample.every((d, i) => d === -1 || d === sampleShape[i]);
    if (!fits) {
      throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `input ${spec.name}: one sample has shape [${sampleShape.join(', ')}] but the model takes [${modelSample.map((d) => (d === -1 ? '?' : d)).join(', ')}] (after the batch dimension)`);
    }
    if (array.dtype !== spec.dtype) {
      throw new AgentError(AgentErrorCode.INPUT_MISMATCH, `input ${spec.name}: the data set holds ${array.dtype} but the model takes ${spec.dtype}; save it with .astype(numpy.${spec.dtype})`);
    }
  }
  if (dataset.labels && outputClasses !== undefined) {
    const bad = dataset.labels.findIndex((l) => l >= outputClasses);
    if (bad >= 0) throw new AgentError(AgentErrorCode.DATASET_INVALID, `label ${dataset.labels[bad]} of sample ${bad} is out of range: the model has ${outputClasses} classes`);
  }
  if (dataset.reference && outputClasses !== undefined && dataset.reference.shape[dataset.reference.shape.length - 1] !== outputClasses) {
    throw new AgentError(AgentErrorCode.DATASET_INVALID, `reference outputs have ${dataset.reference.shape[dataset.reference.shape.length - 1]} classes, the model ${outputClasses}`);
  }
}

/** One sample of an input, with a batch dimension of 1. */
export function sampleOf(array: NpyArray, index: number): { data: NpyArray['data']; shape: number[] } {
  const per = array.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: array.data.subarray(index * per, (index + 1) * per) as NpyArray['data'], shape: [1, ...array.shape.slice(1)] };
}
