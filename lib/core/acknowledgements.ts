import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Every cdk-nag and Control Tower guard finding this library acknowledges,
 * with the reason, in one place an auditor can read.
 *
 * `rule` is a cdk-nag rule id (`AwsSolutions-…`) or a Control Tower control
 * id (`CT.…`). cdk-nag findings are acknowledged through CDK `Validations`,
 * one finding at a time where the rule reports findings; Control Tower
 * findings are recorded in the resource's `cdk-edge-model-pipeline:acknowledged`
 * metadata (control id → reason), which the library's compliance tests honour.
 */
export const ACKNOWLEDGEMENTS = {
  ACCESS_LOG_BUCKET_HAS_NO_LOGS: {
    rules: ['AwsSolutions-S1', 'CT.S3.PR.2'],
    reason: 'This bucket receives the server access logs of the artifact store; logging it into itself would loop.',
  },
  ACCESS_LOG_BUCKET_SSE_S3: {
    rules: ['CT.S3.PR.10'],
    reason: 'S3 server access log delivery supports only SSE-S3 on the target bucket, not a customer managed KMS key.',
  },
  NO_OBJECT_LOCK: {
    rules: ['CT.S3.PR.9'],
    reason: 'Object Lock would stop the lifecycle rules from removing old versions; the bucket is versioned and its objects are content-addressed, so nothing is overwritten.',
  },
  OBJECT_PREFIX_WILDCARD: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Access is scoped to one key prefix of the artifact store; the object keys below it are made per run and cannot be known at deploy time.',
  },
  NEO_LOG_STREAMS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'SageMaker Neo writes one log stream per compilation job in /aws/sagemaker/CompilationJobs; the stream names are made by the service.',
  },
  NEO_PUT_METRIC_DATA: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'The CreateCompilationJob API reference lists cloudwatch:PutMetricData among the permissions of the compilation role; the action takes no resource ARN and SageMaker does not document the namespace it writes.',
  },
  COMPILATION_JOB_PREFIX: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Compilation jobs are named per run; the policy is scoped to the job names that start with this pipeline\'s name prefix.',
  },
  LAMBDA_INVOKE_VERSIONS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'The Step Functions Lambda integration is granted the function and its versions (function ARN with :*); nothing else.',
  },
  CHILD_EXECUTIONS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'A pipeline waits for the class rollout executions it starts: Step Functions describes and, when the run stops, stops them, and their names are made per execution, so the grant names the class-rollout state machine\'s executions (execution:{stateMachineName}*); nothing else.',
  },
  STATE_MACHINE_WILDCARDS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'The state machine role has "*" only for CloudWatch Logs vended-log delivery (logs:CreateLogDelivery and related) and X-Ray (xray:PutTraceSegments and related), which take no resource ARN, and, with a FleetRollout, for greengrass:CreateDeployment as in AWS\'s own Greengrass deployment policies (the IoT job and thing-group actions it depends on are scoped to the fleet), and, in a pipeline, for greengrass:ListDeployments, which a class-level revert calls to find a first release\'s deployment (the v2 API takes no resource ARN).',
  },
  HANDLER_OUTSIDE_VPC: {
    rules: ['CT.LAMBDA.PR.3'],
    reason: 'The handlers call only AWS APIs (S3), over TLS with IAM; they reach no private network resource, so a VPC would add NAT or endpoint cost and no protection.',
  },
  HANDLER_INVOKED_SYNCHRONOUSLY: {
    rules: ['Serverless-LambdaDLQ'],
    reason: 'Step Functions invokes the handler synchronously and handles its errors (Retry/Catch); a dead-letter queue only receives asynchronous invocations.',
  },
  HANDLER_TRACING: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support only Resource "*" (Service Authorization Reference).',
  },
  COMPONENT_NAME_PREFIX: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Component versions are made per run; the policy is scoped to the components whose names start with this pipeline\'s component prefix.',
  },
  GREENGRASS_LOG_GROUPS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'The Greengrass log manager writes to log groups it names under /aws/greengrass/ (one per component and Region); the token exchange role may write there only.',
  },
  IOT_JOBS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Greengrass names the IoT job of each deployment itself; the job ids are known only at run time.',
  },
  GREENGRASS_DEPLOYMENTS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'Deployment ids are made by Greengrass at run time; the state machine reads and cancels only deployments (greengrass …:deployments:*).',
  },
  FLEET_THINGS: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'The fleet\'s things are named by the thing-name prefix; devices join the fleet after deployment.',
  },
  DEAD_LETTER_QUEUE: {
    rules: ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy', 'CT.SQS.PR.1'],
    reason: 'This queue is a dead-letter destination (of the canary topic rule, or of the pipeline trigger\'s EventBridge targets); a dead-letter queue of a dead-letter queue would only move the same messages again.',
  },
  REGISTRY_MODEL_DATA: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'A Model Registry package may keep its model data in any bucket of the account (s3:ResourceAccount condition); the trigger reads it once to copy it into the store, and may describe only the packages of the configured group.',
  },
  CLOUDWATCH_PUT_METRIC: {
    rules: ['AwsSolutions-IAM5'],
    reason: 'cloudwatch:PutMetricData takes no resource ARN; the statement is limited to the EdgeModelPipeline namespace by the cloudwatch:namespace condition.',
  },
} as const;

/** A key of {@link ACKNOWLEDGEMENTS}. */
export type AcknowledgementKey = keyof typeof ACKNOWLEDGEMENTS;

const METADATA_KEY = 'cdk-edge-model-pipeline:acknowledged';

/**
 * Acknowledges the findings under `key` on `scope`.
 *
 * @param findings for rules that report findings (AwsSolutions-IAM5), the
 * findings to acknowledge, such as `Resource::arn:…/compiled/*`; build them
 * with {@link nagResource}. Without findings the whole rule is acknowledged.
 */
export function acknowledge(scope: IConstruct, key: AcknowledgementKey, findings: string[] = []): void {
  const entry: { rules: readonly string[]; reason: string } = ACKNOWLEDGEMENTS[key];
  for (const rule of entry.rules) {
    if (rule.startsWith('CT.')) {
      const resource = findCfnResource(scope);
      if (!resource) throw new Error(`cdk-edge-model-pipeline: ${scope.node.path} has no CloudFormation resource to acknowledge ${rule} on`);
      const reasons = { ...((resource.getMetadata(METADATA_KEY) as Record<string, string> | undefined) ?? {}) };
      reasons[rule] = entry.reason;
      resource.addMetadata(METADATA_KEY, reasons);
    } else if (findings.length === 0) {
      Validations.of(scope).acknowledge({ id: rule, reason: entry.reason });
    } else {
      for (const finding of findings) Validations.of(scope).acknowledge({ id: `${rule}[${finding}]`, reason: entry.reason });
    }
  }
}

/**
 * The form cdk-nag gives a resource in an AwsSolutions-IAM5 finding:
 * `Resource::` and the ARN with every reference written `<LogicalId.Attr>`.
 */
export function nagResource(scope: IConstruct, arn: string): string {
  return `Resource::${render(Stack.of(scope).resolve(arn))}`;
}

function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return `<${v.Ref as string}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  return JSON.stringify(value);
}

function findCfnResource(scope: IConstruct): CfnResource | undefined {
  if (CfnResource.isCfnResource(scope)) return scope;
  const child = scope.node.defaultChild;
  return child && CfnResource.isCfnResource(child) ? child : undefined;
}
