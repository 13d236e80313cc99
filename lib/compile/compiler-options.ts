import { isUnresolved, PropProblem } from '../core/errors';
import { CompilationTarget, TargetDevice, TargetPlatformAccelerator, TargetPlatformArch, TargetPlatformOs } from './target';

/** The data type of the model input (`dtype`). */
export enum InputDataType {
  /** 32-bit float (Neo's default). */
  FLOAT32 = 'float32',
  /** 64-bit integer. */
  INT64 = 'int64',
}

/** Options for CPU targets. */
export interface CpuCompilerOptionsProps {
  /**
   * CPU micro-architecture, such as `skylake-avx512` or `cortex-a72`.
   *
   * @default - Neo's default for the target
   */
  readonly mcpu?: string;
  /**
   * CPU flags, such as `['+neon']` for 32-bit ARM with NEON.
   *
   * @default - none
   */
  readonly mattr?: string[];
  /**
   * Input data type.
   *
   * @default - float32
   */
  readonly dtype?: InputDataType;
}

/** Options for NVIDIA targets: all three are required on NVIDIA platforms. */
export interface NvidiaCompilerOptionsProps {
  /** The GPU architecture, such as `sm_53` (Jetson Nano) or `sm_72` (Xavier). */
  readonly gpuCode: string;
  /** The TensorRT version on the device, `x.y.z`, such as `7.1.3`. */
  readonly trtVersion: string;
  /** The CUDA version on the device, `x.y`, such as `10.2`. */
  readonly cudaVersion: string;
  /**
   * Input data type.
   *
   * @default - float32
   */
  readonly dtype?: InputDataType;
}

/** Options for Android targets. */
export interface AndroidCompilerOptionsProps {
  /** The Android API level, 21 to 29. */
  readonly platformLevel: number;
  /**
   * CPU flags, such as `['+neon']` for 32-bit ARM with NEON.
   *
   * @default - none
   */
  readonly mattr?: string[];
}

/** Options for the Core ML target. */
export interface CoreMlCompilerOptionsProps {
  /** The class labels file inside the model archive, one label a line. */
  readonly classLabelsFile: string;
}

enum Kind { NONE = 'none', CPU = 'cpu', NVIDIA = 'nvidia', ANDROID = 'android', COREML = 'coreml' }

const GPU_CODE = /^sm_[0-9]{2,3}$/;
const TRT_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;
const CUDA_VERSION = /^[0-9]+\.[0-9]+$/;
const MATTR = /^[+-][a-z0-9.-]+$/;
const COMPILER_OPTIONS_MIN = 3;
const COMPILER_OPTIONS_MAX = 1024;

/**
 * Neo compiler options for one target, rendered to the `CompilerOptions`
 * JSON string. Each factory takes the options its kind of target accepts.
 */
export class CompilerOptions {
  /** No compiler options: Neo's defaults. Not allowed on NVIDIA platforms. */
  public static none(): CompilerOptions {
    return new CompilerOptions(Kind.NONE, {});
  }

  /** Options for a CPU target. */
  public static cpu(props: CpuCompilerOptionsProps): CompilerOptions {
    return new CompilerOptions(Kind.CPU, { mcpu: props.mcpu, mattr: props.mattr, dtype: props.dtype });
  }

  /** Options for an NVIDIA GPU target (required on NVIDIA platforms). */
  public static nvidia(props: NvidiaCompilerOptionsProps): CompilerOptions {
    return new CompilerOptions(Kind.NVIDIA, {
      'gpu-code': props.gpuCode,
      'trt-ver': props.trtVersion,
      'cuda-ver': props.cudaVersion,
      'dtype': props.dtype,
    });
  }

  /** Options for an Android target. */
  public static android(props: AndroidCompilerOptionsProps): CompilerOptions {
    return new CompilerOptions(Kind.ANDROID, { ANDROID_PLATFORM: props.platformLevel, mattr: props.mattr });
  }

  /** Options for the Core ML target. */
  public static coreMl(props: CoreMlCompilerOptionsProps): CompilerOptions {
    return new CompilerOptions(Kind.COREML, { class_labels: props.classLabelsFile });
  }

  private constructor(
    private readonly kind: Kind,
    private readonly values: { [key: string]: unknown },
  ) {}

  /** A short readable name of the options, for variant names: `nvidia-sm53`. */
  public get label(): string {
    switch (this.kind) {
      case Kind.NONE: return '';
      case Kind.NVIDIA: return `${String(this.values['gpu-code']).replace('_', '')}`;
      case Kind.ANDROID: return `api${this.values.ANDROID_PLATFORM}`;
      case Kind.CPU: return [this.values.mcpu, ...(this.values.mattr as string[] | undefined ?? [])]
        .filter((x) => x).map((x) => String(x).replace(/^\+/, '')).join('-');
      case Kind.COREML: return 'labels';
    }
  }

  /** The JSON string sent as `OutputConfig.CompilerOptions`, or undefined for none. */
  public render(): string | undefined {
    const defined = Object.entries(this.values).filter(([, v]) => v !== undefined);
    if (defined.length === 0) return undefined;
    return JSON.stringify(Object.fromEntries(defined));
  }

  /** @internal */
  public _problems(target: CompilationTarget): PropProblem[] {
    const problems: PropProblem[] = [];
    const add = (prop: string, value: unknown, fix: string) =>
      problems.push({ prop, value: JSON.stringify(value), fix });
    const platform = target.targetPlatform;
    const nvidiaDevice = target.targetDevice !== undefined && target.targetDevice.startsWith('jetson_');

    if (target.isNvidiaPlatform && this.kind !== Kind.NVIDIA) {
      add('compilerOptions', this.render() ?? 'none',
        'An NVIDIA platform needs CompilerOptions.nvidia({ gpuCode, trtVersion, cudaVersion }) matching the device (for example sm_53, 7.1.3, 10.2 on a Jetson Nano).');
    }
    if (this.kind === Kind.NVIDIA && !target.isNvidiaPlatform && !nvidiaDevice) {
      add('compilerOptions', this.render(), `NVIDIA options apply only to NVIDIA platforms and Jetson devices, not to ${target.label}.`);
    }
    if (this.kind === Kind.ANDROID && platform?.os !== TargetPlatformOs.ANDROID) {
      add('compilerOptions', this.render(), `Android options apply only to an ANDROID platform, not to ${target.label}.`);
    }
    if (this.kind === Kind.COREML && target.targetDevice !== TargetDevice.COREML) {
      add('compilerOptions', this.render(), `Core ML options apply only to TargetDevice.COREML, not to ${target.label}.`);
    }
    if (this.kind === Kind.CPU && platform?.accelerator === TargetPlatformAccelerator.NVIDIA) {
      add('compilerOptions', this.render(), 'Use CompilerOptions.nvidia() on an NVIDIA platform.');
    }

    const v = this.values;
    if (this.kind === Kind.NVIDIA) {
      checkPattern(add, 'compilerOptions.gpuCode', v['gpu-code'], GPU_CODE, 'Use the GPU architecture as sm_NN, such as "sm_53".');
      checkPattern(add, 'compilerOptions.trtVersion', v['trt-ver'], TRT_VERSION, 'Use the TensorRT version as x.y.z, such as "7.1.3".');
      checkPattern(add, 'compilerOptions.cudaVersion', v['cuda-ver'], CUDA_VERSION, 'Use the CUDA version as x.y, such as "10.2".');
    }
    if (this.kind === Kind.ANDROID) {
      const level = v.ANDROID_PLATFORM as number;
      if (!isUnresolved(level) && (!Number.isInteger(level) || level < 21 || level > 29)) {
        add('compilerOptions.platformLevel', level, 'Neo supports Android API levels 21 to 29.');
      }
    }
    for (const flag of (v.mattr as string[] | undefined) ?? []) {
      checkPattern(add, 'compilerOptions.mattr', flag, MATTR, 'Each CPU flag starts with + or -, such as "+neon".');
    }
    if (this.kind === Kind.CPU && v.mattr !== undefined && (v.mattr as string[]).length === 0) {
      add('compilerOptions.mattr', [], 'Give at least one flag, or leave mattr out.');
    }
    if (this.kind === Kind.CPU && platform && v.mattr?.toString().includes('neon') &&
        platform.arch !== TargetPlatformArch.ARM_EABI && platform.arch !== TargetPlatformArch.ARM_EABIHF && platform.arch !== TargetPlatformArch.ARM64) {
      add('compilerOptions.mattr', v.mattr, `NEON is an ARM extension; ${platform.arch} has none.`);
    }
    if (this.kind === Kind.COREML) {
      const file = v.class_labels as string;
      if (!isUnresolved(file) && (!file || file.startsWith('/') || file.includes('..'))) {
        add('compilerOptions.classLabelsFile', file, 'Name a file inside the model archive, relative and without "..".');
      }
    }
    const rendered = this.render();
    if (rendered !== undefined && !isUnresolved(rendered) && (rendered.length < COMPILER_OPTIONS_MIN || rendered.length > COMPILER_OPTIONS_MAX)) {
      add('compilerOptions', `${rendered.length} characters`, `Neo accepts ${COMPILER_OPTIONS_MIN}-${COMPILER_OPTIONS_MAX} characters of compiler options.`);
    }
    return problems;
  }
}

function checkPattern(
  add: (prop: string, value: unknown, fix: string) => void,
  prop: string,
  value: unknown,
  pattern: RegExp,
  fix: string,
): void {
  if (isUnresolved(value)) return;
  if (typeof value !== 'string' || !pattern.test(value)) add(prop, value, fix);
}
