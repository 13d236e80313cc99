/** What went wrong, as the result document names it. */
export enum AgentErrorCode {
  /** The file is not a model the runtime can load. */
  MODEL_INVALID = 'MODEL_INVALID',
  /** The data set's inputs do not match the model's (names, shapes, dtypes). */
  INPUT_MISMATCH = 'INPUT_MISMATCH',
  /** The data set itself is wrong (counts, labels, dtypes, truncated files). */
  DATASET_INVALID = 'DATASET_INVALID',
  /** The model produced NaN or infinite outputs. */
  NON_FINITE_OUTPUT = 'NON_FINITE_OUTPUT',
  /** One inference took longer than the per-inference time limit (a model that never returns). */
  INFERENCE_TIMEOUT = 'INFERENCE_TIMEOUT',
  /** The runtime library (ONNX Runtime or DLR) is not on the device. */
  RUNTIME_MISSING = 'RUNTIME_MISSING',
  /** The command line was wrong. */
  USAGE = 'USAGE',
  /** Anything else. */
  INTERNAL = 'INTERNAL',
}

/** An error the agent reports in its result document instead of crashing. */
export class AgentError extends Error {
  constructor(public readonly code: AgentErrorCode, message: string) {
    super(message);
    this.name = 'AgentError';
  }
}
