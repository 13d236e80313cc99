/**
 * A device Neo compiles for (the service's `OutputConfig.TargetDevice` wire values).
 */
export enum TargetDevice {
  /** AWS Lambda. */
  LAMBDA = 'lambda',
  /** ml.m4 instances. */
  ML_M4 = 'ml_m4',
  /** ml.m5 instances. */
  ML_M5 = 'ml_m5',
  /** ml.m6g instances (Graviton). */
  ML_M6G = 'ml_m6g',
  /** ml.c4 instances. */
  ML_C4 = 'ml_c4',
  /** ml.c5 instances. */
  ML_C5 = 'ml_c5',
  /** ml.c6g instances (Graviton). */
  ML_C6G = 'ml_c6g',
  /** ml.p2 instances. */
  ML_P2 = 'ml_p2',
  /** ml.p3 instances. */
  ML_P3 = 'ml_p3',
  /** ml.g4dn instances. */
  ML_G4DN = 'ml_g4dn',
  /** ml.inf1 instances (Inferentia). */
  ML_INF1 = 'ml_inf1',
  /** ml.inf2 instances (Inferentia2). */
  ML_INF2 = 'ml_inf2',
  /** ml.trn1 instances (Trainium). */
  ML_TRN1 = 'ml_trn1',
  /** Elastic Inference ml.eia2 accelerators. */
  ML_EIA2 = 'ml_eia2',
  /** NVIDIA Jetson TX1. */
  JETSON_TX1 = 'jetson_tx1',
  /** NVIDIA Jetson TX2. */
  JETSON_TX2 = 'jetson_tx2',
  /** NVIDIA Jetson Nano. */
  JETSON_NANO = 'jetson_nano',
  /** NVIDIA Jetson Xavier. */
  JETSON_XAVIER = 'jetson_xavier',
  /** Raspberry Pi 3 Model B. */
  RASP3B = 'rasp3b',
  /** Raspberry Pi 4 Model B. */
  RASP4B = 'rasp4b',
  /** NXP i.MX 8QuadMax. */
  IMX8QM = 'imx8qm',
  /** AWS DeepLens. */
  DEEPLENS = 'deeplens',
  /** Rockchip RK3399. */
  RK3399 = 'rk3399',
  /** Rockchip RK3288. */
  RK3288 = 'rk3288',
  /** Xiaomi AISage. */
  AISAGE = 'aisage',
  /** AWS Snowball Edge compute. */
  SBE_C = 'sbe_c',
  /** Qualcomm QCS605. */
  QCS605 = 'qcs605',
  /** Qualcomm QCS603. */
  QCS603 = 'qcs603',
  /** TI Sitara AM57x. */
  SITARA_AM57X = 'sitara_am57x',
  /** Ambarella CV2. */
  AMBA_CV2 = 'amba_cv2',
  /** Ambarella CV22. */
  AMBA_CV22 = 'amba_cv22',
  /** Ambarella CV25. */
  AMBA_CV25 = 'amba_cv25',
  /** Windows x86 (32-bit). */
  X86_WIN32 = 'x86_win32',
  /** Windows x86-64. */
  X86_WIN64 = 'x86_win64',
  /** Apple Core ML. */
  COREML = 'coreml',
  /** TI Jacinto TDA4VM. */
  JACINTO_TDA4VM = 'jacinto_tda4vm',
  /** NXP i.MX 8M Plus. */
  IMX8MPLUS = 'imx8mplus',
}

/** The operating system of a target platform (`TargetPlatform.Os`). */
export enum TargetPlatformOs {
  /** Android. */
  ANDROID = 'ANDROID',
  /** Linux. */
  LINUX = 'LINUX',
}

/** The CPU architecture of a target platform (`TargetPlatform.Arch`). */
export enum TargetPlatformArch {
  /** 64-bit x86. */
  X86_64 = 'X86_64',
  /** 32-bit x86. */
  X86 = 'X86',
  /** 64-bit ARM (aarch64). */
  ARM64 = 'ARM64',
  /** 32-bit ARM, soft float. */
  ARM_EABI = 'ARM_EABI',
  /** 32-bit ARM, hard float. */
  ARM_EABIHF = 'ARM_EABIHF',
}

/** The accelerator of a target platform (`TargetPlatform.Accelerator`). */
export enum TargetPlatformAccelerator {
  /** Intel integrated graphics. */
  INTEL_GRAPHICS = 'INTEL_GRAPHICS',
  /** ARM Mali GPU. */
  MALI = 'MALI',
  /** NVIDIA GPU: needs NVIDIA compiler options (gpu-code, trt-ver, cuda-ver). */
  NVIDIA = 'NVIDIA',
  /** Android NNAPI. */
  NNA = 'NNA',
}

/**
 * A target platform: OS, architecture and optional accelerator, for devices
 * that have no {@link TargetDevice} value.
 */
export interface TargetPlatform {
  /** The operating system. */
  readonly os: TargetPlatformOs;
  /** The CPU architecture. */
  readonly arch: TargetPlatformArch;
  /**
   * The accelerator.
   *
   * @default - none: compile for the CPU
   */
  readonly accelerator?: TargetPlatformAccelerator;
}

/** Either a device or a platform, for {@link CompilationTarget.of}. */
export interface CompilationTargetProps {
  /**
   * The device to compile for. Give exactly one of `device` and `platform`.
   *
   * @default - none
   */
  readonly device?: TargetDevice;
  /**
   * The platform to compile for. Give exactly one of `device` and `platform`.
   *
   * @default - none
   */
  readonly platform?: TargetPlatform;
}

/**
 * What Neo compiles a model for: one device, or one platform.
 */
export class CompilationTarget {
  /** Compile for a device Neo knows by name, such as `TargetDevice.JETSON_NANO`. */
  public static device(device: TargetDevice): CompilationTarget {
    return new CompilationTarget(device, undefined);
  }

  /** Compile for a platform: OS, architecture and optional accelerator. */
  public static platform(platform: TargetPlatform): CompilationTarget {
    return new CompilationTarget(undefined, platform);
  }

  /**
   * A target from a plain object, for targets read from configuration.
   * Exactly one of `device` and `platform` must be given; the construct that
   * uses the target reports it otherwise.
   */
  public static of(props: CompilationTargetProps): CompilationTarget {
    return new CompilationTarget(props.device, props.platform);
  }

  private constructor(
    /** The device, when the target is a device. */
    public readonly targetDevice: TargetDevice | undefined,
    /** The platform, when the target is a platform. */
    public readonly targetPlatform: TargetPlatform | undefined,
  ) {}

  /** True for an NVIDIA platform (which needs NVIDIA compiler options). */
  public get isNvidiaPlatform(): boolean {
    return this.targetPlatform?.accelerator === TargetPlatformAccelerator.NVIDIA;
  }

  /** A short readable name: `jetson_nano` or `linux-arm64-nvidia`. */
  public get label(): string {
    if (this.targetDevice) return this.targetDevice;
    const p = this.targetPlatform;
    if (!p) return 'none';
    return [p.os, p.arch, p.accelerator].filter((x) => x).join('-').toLowerCase();
  }
}
