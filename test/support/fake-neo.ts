import { GetObjectCommand } from '@aws-sdk/client-s3';
import { preflight, PreflightEvent } from '../../lambda/compile-preflight/index';
import { summarize, SummaryEvent } from '../../lambda/compile-summary/index';
import { chunked } from './archives';
import { expectValidRequest } from './aws-model';
import { Clock } from './clock';
import { s3Read } from './iam/s3-rules';
import { TaskHandler } from './state-machine';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** How one variant's job behaves. */
export interface JobScript {
  /** Statuses DescribeCompilationJob returns, one per call; the last repeats. */
  readonly statuses?: string[];
  /** FailureReason of a FAILED or STOPPED job. */
  readonly failureReason?: string;
  /** Errors CreateCompilationJob throws first (SDK error names), one per call. */
  readonly createErrors?: string[];
}

interface FakeJob {
  readonly name: string;
  readonly variant: string;
  readonly request: Record<string, unknown>;
  readonly createdAt: number;
  describes: number;
  stopRequested: boolean;
}

function sdkError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name });
}

/**
 * A stand-in for SageMaker Neo and the two handlers, for running the
 * synthesized state machine locally. Every request is checked against the
 * SageMaker service description; the clock moves one poll interval per
 * DescribeCompilationJob (the Wait before it).
 */
export class FakeNeo {
  public readonly requests: { operation: string; request: Record<string, unknown> }[] = [];
  public readonly jobs = new Map<string, FakeJob>();
  private readonly createErrors = new Map<string, string[]>();

  constructor(
    private readonly scripts: Record<string, JobScript>,
    private readonly pollSeconds: number,
    private readonly archive: Buffer,
    public readonly clock: Clock = new Clock(),
  ) {
    for (const [variant, script] of Object.entries(scripts)) this.createErrors.set(variant, [...(script.createErrors ?? [])]);
  }


  /** The `$$` context: `State.EnteredTime` reads the fake clock. */
  public context(): Record<string, unknown> {
    return this.clock.context();
  }

  public calls(operation: string): Record<string, unknown>[] {
    return this.requests.filter((r) => r.operation === operation).map((r) => r.request);
  }

  public handlers(): Record<string, TaskHandler> {
    return {
      CompilePreflight: async (input) => preflight(input as unknown as PreflightEvent, async (bucket, key) => {
        // The preflight reads the model as its function would (authorized in a run with an account).
        await s3Read(new GetObjectCommand({ Bucket: bucket, Key: key }), true);
        return chunked(this.archive);
      }, new Date(this.clock.now)) as unknown as Json,
      SummarizeCompilation: (input) => summarize(input as unknown as SummaryEvent) as unknown as Json,
      CreateCompilationJob: (input) => this.create(input as Record<string, unknown>),
      DescribeCompilationJob: (input) => this.describe(input as Record<string, unknown>),
      StopCompilationJob: (input) => this.stop(input as Record<string, unknown>),
      StopRemainingJob: (input) => this.stop(input as Record<string, unknown>),
    };
  }

  private record(operation: string, request: Record<string, unknown>): void {
    expectValidRequest('sagemaker', operation, request);
    this.requests.push({ operation, request });
  }

  private variantOf(request: Record<string, unknown>): string {
    const location = (request.OutputConfig as { S3OutputLocation: string }).S3OutputLocation;
    return location.split('/').filter((p) => p).pop()!;
  }

  private create(request: Record<string, unknown>): Json {
    this.record('CreateCompilationJob', request);
    const variant = this.variantOf(request);
    const pending = this.createErrors.get(variant) ?? [];
    if (pending.length) throw sdkError(pending.shift()!);
    const name = request.CompilationJobName as string;
    if (this.jobs.has(name)) throw sdkError('SageMaker.ResourceInUseException', `Compilation job ${name} already exists`);
    this.jobs.set(name, { name, variant, request, createdAt: this.clock.now, describes: 0, stopRequested: false });
    return { CompilationJobArn: this.arn(name) };
  }

  private arn(name: string): string {
    return `arn:aws:sagemaker:eu-west-1:111122223333:compilation-job/${name.toLowerCase()}`;
  }

  private describe(request: Record<string, unknown>): Json {
    this.record('DescribeCompilationJob', request);
    this.clock.now += this.pollSeconds * 1000;
    const name = request.CompilationJobName as string;
    const job = this.jobs.get(name);
    if (!job) throw sdkError('SageMaker.ResourceNotFound', `Could not find compilation job ${name}`);
    const script = this.scripts[job.variant] ?? {};
    const statuses = script.statuses ?? ['INPROGRESS', 'COMPLETED'];
    let status = statuses[Math.min(job.describes, statuses.length - 1)];
    job.describes++;
    if (job.stopRequested) status = 'STOPPED';
    const output = job.request.OutputConfig as Record<string, unknown>;
    const ended = ['COMPLETED', 'FAILED', 'STOPPED'].includes(status);
    const target = (output.TargetDevice as string | undefined) ?? 'platform';
    return {
      CompilationJobName: name,
      CompilationJobArn: this.arn(name),
      CompilationJobStatus: status,
      CompilationStartTime: new Date(job.createdAt + 60_000).toISOString(),
      ...(ended ? { CompilationEndTime: new Date(this.clock.now).toISOString() } : {}),
      StoppingCondition: job.request.StoppingCondition as Json,
      CreationTime: new Date(job.createdAt).toISOString(),
      LastModifiedTime: new Date(this.clock.now).toISOString(),
      FailureReason: status === 'FAILED' || status === 'STOPPED' ? (script.failureReason ?? 'Stopped by request') : '',
      ModelArtifacts: { S3ModelArtifacts: `${output.S3OutputLocation as string}model-${target}.tar.gz` },
      ...(status === 'COMPLETED' ? { ModelDigests: { ArtifactDigest: `sha256:${Buffer.from(name).toString('hex').slice(0, 16)}` } } : {}),
      RoleArn: job.request.RoleArn as string,
      InputConfig: (job.request.InputConfig ?? null) as Json,
      OutputConfig: output as Json,
    };
  }

  private stop(request: Record<string, unknown>): Json {
    this.record('StopCompilationJob', request);
    const job = this.jobs.get(request.CompilationJobName as string);
    if (!job) throw sdkError('SageMaker.ResourceNotFound');
    job.stopRequested = true;
    return {};
  }
}
