import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { createKey } from '../core/keys';

/** Props for {@link ReleaseLedger}. */
export interface ReleaseLedgerProps {
  /**
   * The key the table is encrypted with; pass the artifact store's key to
   * keep one key per pipeline.
   *
   * @default - a new customer managed key with rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The release ledger: a DynamoDB table (on-demand, point-in-time recovery,
 * encrypted with a customer managed key) that records every release.
 *
 * It answers "what is the last good release for this thing group"
 * (`GROUP#{group}` / `LAST_GOOD`) and "where did this model come from"
 * (`RELEASE#{runId}` / `CLASS#{deviceClass}`: model version, compilation
 * jobs, artifact digests, package, component version, deployments, status),
 * and hands out component versions that never collide and are never reused
 * (`COMPONENT#{name}`: an atomic counter plus one conditional claim per run
 * and variant).
 */
export class ReleaseLedger extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ReleaseLedgerProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const key = props.encryptionKey ?? createKey(this, 'Key', {
      description: 'cdk-edge-model-pipeline: encrypts the release ledger',
      removalPolicy,
    });
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
  }

  /** Lets `grantee` read items (GetItem): every read of the ledger is by key. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:GetItem').combine(this.grantKey(grantee, false));
  }

  /** Lets `grantee` read and write items (GetItem, PutItem, UpdateItem); never delete or scan. */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem').combine(this.grantKey(grantee, true));
  }

  private grantKey(grantee: iam.IGrantable, write: boolean): iam.Grant {
    const key = this.table.encryptionKey!;
    return write
      ? key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey')
      : key.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey');
  }
}
