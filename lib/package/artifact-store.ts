import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from '../core/acknowledgements';
import { createKey } from '../core/keys';
import { checkIntegerRange, isUnresolved, ProblemCollector } from '../core/errors';

const ACCESS_LOG_PREFIX = 'artifact-store/';

/**
 * Props for {@link ArtifactStore}.
 */
export interface ArtifactStoreProps {
  /**
   * An existing bucket to use instead of creating one. Its name must not
   * contain dots (Greengrass refuses artifact buckets with dots in the name).
   * Nothing is created when it is given: versioning, logging and encryption
   * are the bucket owner's job.
   *
   * @default - a new bucket is created
   */
  readonly bucket?: s3.IBucket;

  /**
   * The KMS key that encrypts objects in the store. With an existing bucket,
   * give the key it is encrypted with so grants include it.
   *
   * @default - with a new bucket, a new customer managed key with rotation;
   * with an existing bucket, `bucket.encryptionKey`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Bucket that receives the server access logs of a new store.
   *
   * @default - a new bucket, encrypted with S3 managed keys (access log
   * delivery cannot use a customer managed key)
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * How long old (noncurrent) versions of objects are kept.
   *
   * @default Duration.days(90)
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * What happens to a new bucket and key when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The S3 bucket that holds models, compiled artifacts, packages and reports.
 *
 * A new store has a customer managed KMS key with rotation, versioning, block
 * public access, TLS-only access, server access logs, a lifecycle rule for
 * old versions and EventBridge notifications on. Access is granted by key
 * prefix with {@link ArtifactStore.grantRead} and {@link ArtifactStore.grantWrite}.
 */
/** Options of {@link ArtifactStore.grantWrite}. */
export interface WriteGrantOptions {
  /**
   * The writer uploads in parts (SageMaker's output): adds `s3:AbortMultipartUpload` and
   * `kms:Decrypt`, which multipart uploads with SSE-KMS need.
   *
   * @default false
   */
  readonly multipart?: boolean;
}

export class ArtifactStore extends Construct {
  /** Prefix of the source models (the inputs of compilation). */
  public static readonly MODEL_PREFIX = 'models/';
  /** Prefix of compiled artifacts written by SageMaker Neo. */
  public static readonly COMPILED_PREFIX = 'compiled/';
  /** Prefix of packaged Greengrass artifacts. */
  public static readonly PACKAGE_PREFIX = 'packages/';
  /** Prefix of run reports. */
  public static readonly REPORT_PREFIX = 'reports/';

  /** The bucket. */
  public readonly bucket: s3.IBucket;
  /** The key objects are encrypted with, when there is one. */
  public readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ArtifactStoreProps = {}) {
    super(scope, id);
    const problems = new ProblemCollector();
    checkIntegerRange(problems, 'noncurrentVersionExpiration', props.noncurrentVersionExpiration?.toDays({ integral: false }), 1, 3650, 'days');
    if (props.bucket) {
      const name = props.bucket.bucketName;
      if (!isUnresolved(name) && name.includes('.')) {
        problems.add('bucket', name, 'Greengrass v2 cannot read artifacts from a bucket whose name has dots: use a bucket without dots.');
      }
      if (props.serverAccessLogsBucket || props.noncurrentVersionExpiration || props.removalPolicy) {
        problems.add('bucket', name,
          'serverAccessLogsBucket, noncurrentVersionExpiration and removalPolicy apply only to a new bucket: drop them or drop bucket.');
      }
    }
    problems.throwIfAny(this);

    if (props.bucket) {
      this.bucket = props.bucket;
      this.encryptionKey = props.encryptionKey ?? props.bucket.encryptionKey;
      return;
    }

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const key = props.encryptionKey ?? createKey(this, 'Key', {
      description: 'cdk-edge-model-pipeline: encrypts the artifact store (models, compiled artifacts, packages, reports)',
      removalPolicy,
    });
    this.encryptionKey = key;

    let logsBucket = props.serverAccessLogsBucket;
    if (!logsBucket) {
      const created = new s3.Bucket(this, 'AccessLogs', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        versioned: true,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
        removalPolicy,
      });
      (created.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
      acknowledge(created, 'ACCESS_LOG_BUCKET_HAS_NO_LOGS');
      acknowledge(created, 'ACCESS_LOG_BUCKET_SSE_S3');
      acknowledge(created, 'NO_OBJECT_LOCK');
      logsBucket = created;
    }

    const bucket = new s3.Bucket(this, 'Resource', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{
        id: 'ExpireOldVersions',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      }],
      removalPolicy,
    });
    acknowledge(bucket, 'NO_OBJECT_LOCK');
    this.bucket = bucket;

    // Set logging and EventBridge on the CloudFormation resource directly:
    // access logs go through a bucket policy (no ACLs), and EventBridge needs
    // no custom resource.
    const cfnBucket = bucket.node.defaultChild as s3.CfnBucket;
    cfnBucket.loggingConfiguration = {
      destinationBucketName: logsBucket.bucketName,
      logFilePrefix: ACCESS_LOG_PREFIX,
    };
    cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    logsBucket.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'S3ServerAccessLogsPolicy',
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [logsBucket.arnForObjects(`${ACCESS_LOG_PREFIX}*`)],
      conditions: {
        ArnLike: { 'aws:SourceArn': bucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
      },
    }));
  }

  /** The `s3://` URI of `key` in the store. */
  public s3Uri(key: string): string {
    return `s3://${this.bucket.bucketName}/${key}`;
  }

  /**
   * Lets `grantee` read objects under `prefix` (and list that prefix).
   *
   * @param prefix a key prefix such as `ArtifactStore.MODEL_PREFIX`; '' for the whole bucket
   */
  public grantRead(grantee: iam.IGrantable, prefix: string): iam.Grant {
    const grant = this.grantObjectsRead(grantee, prefix);
    this.grantList(grantee, prefix);
    return grant;
  }

  /**
   * Lets `grantee` read objects under `prefix` (and decrypt them), without listing: for a
   * caller that reads keys it is given, such as Greengrass reading a component's artifacts
   * with the publisher's permissions.
   *
   * @param prefix a key prefix such as `ArtifactStore.PACKAGE_PREFIX`
   */
  public grantObjectsRead(grantee: iam.IGrantable, prefix: string): iam.Grant {
    acknowledgePrefix(grantee, this.bucket.arnForObjects(`${prefix}*`));
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${prefix}*`)] });
    this.encryptionKey?.grantDecrypt(grantee);
    return grant;
  }

  /**
   * Lets `grantee` list the keys under `prefix` (ListBucket with an `s3:prefix` condition),
   * nothing else: to learn whether a key exists without reading it.
   *
   * @param prefix a key prefix such as `ArtifactStore.PACKAGE_PREFIX`
   */
  public grantList(grantee: iam.IGrantable, prefix: string): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${prefix}*`] } },
    });
  }

  /**
   * Lets `grantee` write objects under `prefix` with single PUTs (and generate the data key).
   * Nothing else: no delete, no reads, no multipart uploads unless `options.multipart`.
   *
   * @param prefix a key prefix such as `ArtifactStore.COMPILED_PREFIX`
   * @param options `multipart: true` for a writer that uploads in parts (SageMaker's output):
   *   adds `s3:AbortMultipartUpload` and `kms:Decrypt`, which multipart uploads with SSE-KMS need
   */
  public grantWrite(grantee: iam.IGrantable, prefix: string, options: WriteGrantOptions = {}): iam.Grant {
    acknowledgePrefix(grantee, this.bucket.arnForObjects(`${prefix}*`));
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: options.multipart ? ['s3:PutObject', 's3:AbortMultipartUpload'] : ['s3:PutObject'],
      resourceArns: [this.bucket.arnForObjects(`${prefix}*`)],
    });
    if (options.multipart) this.encryptionKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    else this.encryptionKey?.grant(grantee, 'kms:GenerateDataKey');
    return grant;
  }

  /**
   * Lets `grantee` (a Greengrass token exchange role) download artifacts under `prefix` the
   * way the nucleus does: `s3:GetBucketLocation` on the bucket first, then `s3:GetObject`
   * (and decrypt). Nothing to list, no other versions.
   *
   * @param prefix a key prefix such as `ArtifactStore.PACKAGE_PREFIX`
   */
  public grantArtifactDownload(grantee: iam.IGrantable, prefix: string): iam.Grant {
    acknowledgePrefix(grantee, this.bucket.arnForObjects(`${prefix}*`));
    grantBucketLocation(this.bucket, grantee);
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${prefix}*`)] });
    this.encryptionKey?.grantDecrypt(grantee);
    return grant;
  }

  /** The ARN pattern of every object under `prefix`. */
  public arnForObjects(prefix: string): string {
    return this.bucket.arnForObjects(`${prefix}*`);
  }
}

/** Acknowledges the one prefix wildcard a grant adds, on the grantee's role. */
function acknowledgePrefix(grantee: iam.IGrantable, objectsArn: string): void {
  const principal = grantee.grantPrincipal;
  if (principal instanceof iam.Role) acknowledge(principal, 'OBJECT_PREFIX_WILDCARD', [nagResource(principal, objectsArn)]);
}

/**
 * Lets `grantee` read one object (its current version), and decrypt it when the
 * bucket has a KMS key: narrower than `IBucket.grantRead`, which adds
 * wildcard actions and the bucket itself.
 */
export function grantObjectRead(bucket: s3.IBucket, key: string, grantee: iam.IGrantable): iam.Grant {
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetObject'],
    resourceArns: [bucket.arnForObjects(key)],
  });
  bucket.encryptionKey?.grantDecrypt(grantee);
  return grant;
}

/**
 * Lets `grantee` ask where `bucket` is: the Greengrass nucleus calls `s3:GetBucketLocation`
 * before every artifact download and fails it with `S3_GET_BUCKET_LOCATION_ACCESS_DENIED`.
 * @internal
 */
export function grantBucketLocation(bucket: s3.IBucket, grantee: iam.IGrantable): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetBucketLocation'], resourceArns: [bucket.bucketArn] });
}

/** Lets `grantee` read every object of `bucket` (and decrypt them). */
export function grantBucketObjectsRead(bucket: s3.IBucket, grantee: iam.IGrantable): iam.Grant {
  acknowledgePrefix(grantee, bucket.arnForObjects('*'));
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['s3:GetObject'],
    resourceArns: [bucket.arnForObjects('*')],
  });
  bucket.encryptionKey?.grantDecrypt(grantee);
  return grant;
}
