import { EdgePipelineValidationError } from '../../lib/core/errors';

/** The EdgePipelineValidationError `fn` throws; fails when it throws nothing or something else. */
export function validationError(fn: () => unknown): EdgePipelineValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EdgePipelineValidationError) return err;
    throw err;
  }
  throw new Error('expected an EdgePipelineValidationError, nothing was thrown');
}

/** The message of the EdgePipelineValidationError `fn` throws. */
export function problems(fn: () => unknown): string {
  return validationError(fn).message;
}
