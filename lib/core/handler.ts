import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { retryTransient } from './retries';
import { acknowledge } from './acknowledgements';
import { logEncryptionKey } from './keys';

/** Options for {@link BundledHandler}. @internal */
export interface BundledHandlerProps {
  /** The folder under `lambda/` (and `dist/lambda/`) of the handler. */
  readonly handlerName: string;
  /** The Lambda description: names the library and the handler's job. */
  readonly description: string;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default 512 MiB */
  readonly ephemeralStorageMiB?: number;
  /** @default - none */
  readonly environment?: { [key: string]: string };
}

/**
 * Where the esbuild bundles live: `dist/lambda` beside `lib/` when running
 * from the TypeScript sources, `../lambda` when running from the published
 * `dist/lib`.
 */
function bundleDir(handlerName: string): string {
  const candidates = [
    path.join(__dirname, '..', '..', 'lambda', handlerName),
    path.join(__dirname, '..', '..', 'dist', 'lambda', handlerName),
  ];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'index.js'))) return dir;
  }
  throw new Error(`cdk-edge-model-pipeline: the bundle of handler "${handlerName}" is missing (looked in ${candidates.join(' and ')}). Run "npm run build" in the library to bundle the handlers.`);
}

/**
 * A Lambda function from a pre-built esbuild bundle, with its own role (no
 * managed policies) and a log group with a retention period.
 * @internal
 */
export class BundledHandler extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BundledHandlerProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      encryptionKey: logEncryptionKey(this),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (execution role)`,
    });
    this.function = new lambda.Function(this, 'Resource', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(bundleDir(props.handlerName)),
      description: props.description,
      timeout: props.timeout ?? Duration.seconds(60),
      memorySize: props.memorySize ?? 512,
      ephemeralStorageSize: props.ephemeralStorageMiB ? Size.mebibytes(props.ephemeralStorageMiB) : undefined,
      role: this.role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
    });
    logGroup.grantWrite(this.role);
    acknowledge(this.function, 'HANDLER_OUTSIDE_VPC');
    acknowledge(this.function, 'HANDLER_INVOKED_SYNCHRONOUSLY');
    acknowledge(this.role, 'HANDLER_TRACING', ['Resource::*']);
  }

  /**
   * A Task state that invokes the handler with `payload` and puts what it
   * returns at `resultPath` (Lambda service errors retried).
   */
  public invoke(scope: Construct, id: string, options: { stateName?: string; comment?: string; payload: { [key: string]: unknown }; resultPath: string }): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(scope, id, {
      stateName: options.stateName ?? id,
      comment: options.comment,
      lambdaFunction: this.function,
      payload: sfn.TaskInput.fromObject(options.payload),
      payloadResponseOnly: true,
      resultPath: options.resultPath,
      // CDK's own retry leaves out throttling and jitter.
      retryOnServiceExceptions: false,
    });
    retryTransient(task, 'lambda:Invoke');
    return task;
  }
}
