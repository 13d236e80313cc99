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

/** Reads dataset.json and the files it names, and checks they agree with each other. */
export function loadDataset(descriptionPath: string): Dataset {
  let description: DatasetDescription;
  try {
    description = JSON.parse(fs.readFileSync(descriptionPath, 'utf8')) as DatasetDescription;
  } catch (err) {
    invalid(`${descriptionPath} is not readable JSON: ${(err as Error).message}`);
  }
  if (description.schemaVersion !== 1) invalid(`${descriptionPath}: schemaVersion ${JSON.stringify(description.schemaVersion)} is not 1`);
  if (!description.inputs || typeof description.inputs !== 'object' || Object.keys(description.inputs).length === 0) {
    invalid(`${descriptionPath}: "inputs" must map each model input name to a .npy file`);
  }
  const dir = path.dirname(descriptionPath);
  const file = (name: string) => {
    const resolved = path.resolve(dir, name);
    if (!resolved.startsWith(path.resolve(dir) + path.sep)) invalid(`${descriptionPath}: ${name} is outside the data set's folder`);
    return resolved;
  };
  const inputs: Record<string, NpyArray> = {};
  let samples: number | undefined;
  for (const [name, f] of Object.entries(description.inputs)) {
    const array = readNpy(file(f));
    if (array.shape.length < 1 || array.shape[0] < 1) invalid(`${f}: shape (${array.shape.join(', ')}) has no samples (the first dimension counts them)`);
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
