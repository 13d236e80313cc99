import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from '../core/acknowledgements';
import { createKey } from '../core/keys';
import { BundledHandler } from '../core/handler';
import { AgentTopics } from '../core/topics';
import { ArtifactStore } from '../package/artifact-store';

/** Props for {@link CanaryResults}. */
export interface CanaryResultsProps {
  /** Where accepted result documents are kept (`reports/{runId}/canary/…`). */
  readonly store: ArtifactStore;
  /**
   * The key for the canary table and the dead-letter queue.
   *
   * @default - the store's key, or a new one
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The topic root of the edge agent component the canaries run (its `topicRoot`): the rule
   * reads `{topicRoot}/results/+/+` and nothing else, so another pipeline's results never reach
   * this collector.
   *
   * @default 'edge-model-pipeline'
   */
  readonly topicRoot?: string;
}

/**
 * Where canary results arrive: an IoT topic rule on the agent's result topic
 * (and nothing else), a collector function that validates each document
 * against the agent's schema and accepts it only from a device of the
 * canary group of an open run, a DynamoDB table (encrypted, TTL) for the runs,
 * their reports and the task tokens, and an encrypted dead-letter queue for
 * what the rule cannot deliver.
 */
export class CanaryResults extends Construct {
  /** The canary table. */
  public readonly table: dynamodb.Table;
  /** Receives what the topic rule could not deliver to the collector. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The collector function. */
  public readonly collectorFunction: lambda.IFunction;
  /** The function that registers canaries, keeps task tokens and closes canaries at their timeout. */
  public readonly controlFunction: lambda.IFunction;
  /** @internal */
  public readonly _collector: BundledHandler;
  /** @internal */
  public readonly _control: BundledHandler;
  /** The topic root whose results the rule reads. */
  public readonly topicRoot: string;
  /** The topic rule. */
  public readonly rule: iot.CfnTopicRule;

  constructor(scope: Construct, id: string, props: CanaryResultsProps) {
    super(scope, id);
    const key = props.encryptionKey ?? props.store.encryptionKey ?? createKey(this, 'Key', { description: 'cdk-edge-model-pipeline: encrypts canary results' });
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetterQueue, 'DEAD_LETTER_QUEUE');

    this._collector = new BundledHandler(this, 'Collector', {
      handlerName: 'canary-collector',
      description: 'cdk-edge-model-pipeline: accepts edge agent results from canary devices and completes the canary task',
      timeout: Duration.seconds(30),
      memorySize: 512,
      environment: {
        CANARY_TABLE: this.table.tableName,
        STORE_BUCKET: props.store.bucket.bucketName,
        REPORT_PREFIX: ArtifactStore.REPORT_PREFIX,
      },
    });
    this.collectorFunction = this._collector.function;
    // The collector records results and reads the canary: no new items.
    this.grantTableActions(this._collector.role, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
    props.store.grantWrite(this._collector.role, ArtifactStore.REPORT_PREFIX);

    this._control = new BundledHandler(this, 'Control', {
      handlerName: 'canary-control',
      description: 'cdk-edge-model-pipeline: opens, waits on and closes canary evaluations',
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: {
        CANARY_TABLE: this.table.tableName,
        STORE_BUCKET: props.store.bucket.bucketName,
        REPORT_PREFIX: ArtifactStore.REPORT_PREFIX,
      },
    });
    this.controlFunction = this._control.function;
    this.grantTableActions(this._control.role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
    // Both write a canary's results for the gate (a state's data is too small for them).
    props.store.grantWrite(this._control.role, ArtifactStore.REPORT_PREFIX);

    const ruleRole = new iam.Role(this, 'RuleRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com').withConditions({ StringEquals: { 'aws:SourceAccount': Stack.of(this).account } }),
      description: 'cdk-edge-model-pipeline: lets the canary topic rule write to its dead-letter queue',
    });
    ruleRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }));
    key.grant(ruleRole, 'kms:GenerateDataKey', 'kms:Decrypt');
    const topics = new AgentTopics(props.topicRoot ?? AgentTopics.DEFAULT_ROOT);
    this.topicRoot = topics.root;
    this.rule = new iot.CfnTopicRule(this, 'Rule', {
      topicRulePayload: {
        description: 'cdk-edge-model-pipeline: edge agent benchmark results to the canary collector',
        sql: `SELECT *, topic(${topics.level(2)}) AS topicRunId, topic(${topics.level(3)}) AS topicThing FROM '${topics.results}/+/+'`,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: this._collector.function.functionArn } }],
        errorAction: { sqs: { queueUrl: this.deadLetterQueue.queueUrl, roleArn: ruleRole.roleArn, useBase64: false } },
      },
    });
    this._collector.function.addPermission('FromTopicRule', {
      principal: new iam.ServicePrincipal('iot.amazonaws.com'),
      sourceArn: this.rule.attrArn,
      sourceAccount: Stack.of(this).account,
    });
  }

  /**
   * Lets the collector and the control function complete and heartbeat the
   * canary tasks of `stateMachine` (call it for each state machine that runs
   * a CanaryEvaluation with these results).
   */
  public grantTaskResponses(stateMachine: sfn.IStateMachine): void {
    // A policy of its own, not the functions' default policies: the state
    // machine refers to the functions, so their default policies cannot
    // refer to the state machine without a dependency cycle.
    const id = `TaskResponses${this.taskResponseGrants++}`;
    // The collector completes a canary or heartbeats it with each report; the control
    // function completes one at once when every device had reported before (a re-run).
    new iam.Policy(this, id, {
      roles: [this._collector.role],
      statements: [new iam.PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskHeartbeat'], resources: [stateMachine.stateMachineArn] })],
    });
    new iam.Policy(this, `${id}Control`, {
      roles: [this._control.role],
      statements: [new iam.PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [stateMachine.stateMachineArn] })],
    });
  }

  private taskResponseGrants = 0;

  /** Lets `grantee` read and write the canary table (Get, Put, Update, Query; no delete, no scan). */
  public grantTable(grantee: iam.IGrantable): iam.Grant {
    return this.grantTableActions(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
  }

  private grantTableActions(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    this.table.encryptionKey!.grant(grantee, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
    return this.table.grant(grantee, ...actions);
  }
}
