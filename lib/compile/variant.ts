import { CompilerOptions } from './compiler-options';
import { CompilationTarget } from './target';

/**
 * One variant: a target and the compiler options for it.
 */
export interface CompilationVariant {
  /** What to compile for. */
  readonly target: CompilationTarget;
  /**
   * Compiler options for the target (required on NVIDIA platforms).
   *
   * @default CompilerOptions.none()
   */
  readonly compilerOptions?: CompilerOptions;
  /**
   * A name for the variant: lower-case letters, digits and single dashes,
   * at most 40 characters. It appears in job names, artifact keys and the
   * fragment output.
   *
   * @default - derived from the target and options, such as `jetson-nano` or `linux-arm64-nvidia-sm53`
   */
  readonly name?: string;
}

/** What the construct does when one variant fails to compile. */
export enum VariantFailurePolicy {
  /** The run fails with the variant's error. */
  FAIL_RUN = 'FAIL_RUN',
  /** The run goes on with the variants that compiled; it fails only when none did. */
  CONTINUE_WITH_COMPILED = 'CONTINUE_WITH_COMPILED',
}
