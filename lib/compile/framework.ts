import { isUnresolved, PropProblem } from '../core/errors';

/**
 * The machine learning framework a model was trained with (the service's
 * `InputConfig.Framework` wire values).
 */
export enum Framework {
  /** TensorFlow (SavedModel or frozen graph); inputs are NHWC. */
  TENSORFLOW = 'TENSORFLOW',
  /** Keras (`.h5`); inputs are given NCHW although the model is NHWC. */
  KERAS = 'KERAS',
  /** Apache MXNet; inputs are NCHW. */
  MXNET = 'MXNET',
  /** ONNX; inputs are NCHW and named as in the graph. */
  ONNX = 'ONNX',
  /** PyTorch (traced `.pth`/`.pt`); inputs are NCHW, by name or by position. */
  PYTORCH = 'PYTORCH',
  /** XGBoost; no input shapes. */
  XGBOOST = 'XGBOOST',
  /** TensorFlow Lite; inputs are NHWC. */
  TFLITE = 'TFLITE',
  /** Darknet (YOLO); inputs are NCHW images. */
  DARKNET = 'DARKNET',
  /** scikit-learn. */
  SKLEARN = 'SKLEARN',
}

/** The service pattern and lengths of `InputConfig.FrameworkVersion`. */
const FRAMEWORK_VERSION_PATTERN = /^[0-9]\.[A-Za-z0-9.]+$/;
const FRAMEWORK_VERSION_MIN = 3;
const FRAMEWORK_VERSION_MAX = 10;

/** Frameworks for which Neo reads `FrameworkVersion`. */
const VERSIONED_FRAMEWORKS = new Set<Framework>([Framework.MXNET, Framework.PYTORCH, Framework.TENSORFLOW, Framework.TFLITE]);

/**
 * The version of the framework a model was trained with, as Neo expects it
 * (`1.13`, `2.9`). Used for MXNet, PyTorch, TensorFlow and TFLite.
 */
export class FrameworkVersion {
  /** A framework version such as `1.13`. Checked against the service pattern when the construct validates its props. */
  public static of(version: string): FrameworkVersion {
    return new FrameworkVersion(version);
  }

  private constructor(
    /** The version string sent to the service. */
    public readonly version: string,
  ) {}

  /** @internal */
  public _problems(framework: Framework): PropProblem[] {
    const v = this.version;
    if (isUnresolved(v)) return [];
    const problems: PropProblem[] = [];
    if (v.length < FRAMEWORK_VERSION_MIN || v.length > FRAMEWORK_VERSION_MAX || !FRAMEWORK_VERSION_PATTERN.test(v)) {
      problems.push({
        prop: 'frameworkVersion',
        value: JSON.stringify(v),
        fix: `Neo accepts ${FRAMEWORK_VERSION_MIN}-${FRAMEWORK_VERSION_MAX} characters matching ${FRAMEWORK_VERSION_PATTERN.source}, such as "1.13" or "2.9".`,
      });
    }
    if (!VERSIONED_FRAMEWORKS.has(framework)) {
      problems.push({
        prop: 'frameworkVersion',
        value: JSON.stringify(v),
        fix: `Neo reads a framework version only for ${[...VERSIONED_FRAMEWORKS].join(', ')}; drop it for ${framework}.`,
      });
    }
    return problems;
  }
}
