import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Options for {@link createKey}. @internal */
export interface CreateKeyOptions {
  readonly description: string;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A customer managed key with rotation whose policy lets only AWS services
 * create grants (Control Tower CT.KMS.PR.3).
 * @internal
 */
export function createKey(scope: Construct, id: string, options: CreateKeyOptions): kms.Key {
  const key = new kms.Key(scope, id, {
    description: options.description,
    enableKeyRotation: true,
    removalPolicy: options.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'DenyGrantsExceptForAwsServices',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: {
      BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
    },
  }));
  return key;
}

const LOG_KEY_ID = 'EdgeModelPipelineLogKey';

/**
 * The one key per stack that encrypts the log groups this library creates,
 * usable by CloudWatch Logs for log groups of this account and Region only.
 * @internal
 */
export function logEncryptionKey(scope: Construct): kms.IKey {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(LOG_KEY_ID) as kms.Key | undefined;
  if (existing) return existing;
  const key = createKey(stack, LOG_KEY_ID, {
    description: 'cdk-edge-model-pipeline: encrypts the CloudWatch log groups of the pipeline',
  });
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'AllowCloudWatchLogs',
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: {
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      },
    },
  }));
  return key;
}
