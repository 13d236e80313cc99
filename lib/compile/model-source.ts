import * as s3 from 'aws-cdk-lib/aws-s3';
import { Framework, FrameworkVersion } from './framework';
import { InputShape } from './input-shape';

/** What Neo needs to know about a model archive. */
export interface ModelDescription {
  /** The framework the model was trained with. */
  readonly framework: Framework;
  /**
   * The framework version (MXNet, PyTorch, TensorFlow, TFLite).
   *
   * @default - Neo's default for the framework
   */
  readonly frameworkVersion?: FrameworkVersion;
  /**
   * The model inputs, in order.
   *
   * @default - none (XGBoost only)
   */
  readonly inputs?: InputShape[];
}

/** Options for {@link ModelSource.fromModelPackage}. */
export interface ModelPackageSourceOptions {
  /**
   * The bucket that holds the model package's model data, so the SageMaker
   * role can read it.
   *
   * @default - the model data is in the artifact store's `models/` prefix
   */
  readonly modelDataBucket?: s3.IBucket;
}

/** Options for {@link ModelSource.fromExecutionInput}. */
export interface ExecutionInputModelSourceOptions extends ModelDescription {
  /**
   * Where the `s3://` URI of the model archive is in the fragment's input.
   *
   * @default '$.model.s3Uri'
   */
  readonly s3UriPath?: string;
}

/** How a model source is given. */
export enum ModelSourceKind {
  /** A `.tar.gz` archive in a bucket, known at synth time. */
  BUCKET = 'BUCKET',
  /** A SageMaker Model Registry package version. */
  MODEL_PACKAGE = 'MODEL_PACKAGE',
  /** A `.tar.gz` archive in the artifact store, named in the execution input. */
  EXECUTION_INPUT = 'EXECUTION_INPUT',
}

/**
 * Where the model to compile comes from.
 */
export class ModelSource {
  /** A `model.tar.gz` at `key` in `bucket`. */
  public static fromBucket(bucket: s3.IBucket, key: string, description: ModelDescription): ModelSource {
    return new ModelSource(ModelSourceKind.BUCKET, description, bucket, key, undefined, undefined);
  }

  /**
   * A Model Registry package version: Neo reads the framework, shapes and
   * model data from the package (`ModelPackageVersionArn`). There is no
   * CloudFormation type that names a package version, so this takes its ARN.
   */
  public static fromModelPackage(modelPackageVersionArn: string, options: ModelPackageSourceOptions = {}): ModelSource {
    return new ModelSource(ModelSourceKind.MODEL_PACKAGE, undefined, options.modelDataBucket, undefined, modelPackageVersionArn, undefined);
  }

  /**
   * A `model.tar.gz` named at run time by an `s3://` URI in the execution
   * input. The preflight refuses a URI outside the artifact store's
   * `models/` prefix, the only place the SageMaker role may read.
   */
  public static fromExecutionInput(options: ExecutionInputModelSourceOptions): ModelSource {
    return new ModelSource(ModelSourceKind.EXECUTION_INPUT, options, undefined, undefined, undefined, options.s3UriPath ?? '$.model.s3Uri');
  }

  private constructor(
    /** How the source is given. */
    public readonly kind: ModelSourceKind,
    /** The model's framework, version and inputs (not for model packages). */
    public readonly description: ModelDescription | undefined,
    /** The bucket of a BUCKET source, or the model data bucket of a package. */
    public readonly bucket: s3.IBucket | undefined,
    /** The object key of a BUCKET source. */
    public readonly key: string | undefined,
    /** The package version ARN of a MODEL_PACKAGE source. */
    public readonly modelPackageVersionArn: string | undefined,
    /** The JSONPath of the URI of an EXECUTION_INPUT source. */
    public readonly s3UriPath: string | undefined,
  ) {}
}
