import { handle, RolloutLedgerEvent } from '../../lambda/rollout-ledger/index';
import { Ledger } from '../../lambda/shared/ledger';
import { expectValidRequest } from './aws-model';
import { Clock } from './clock';
import { env } from './iam/caller';
import { MemoryTable } from './memory-table';
import { TaskHandler } from './state-machine';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What DescribeJob reports at one poll. */
export interface JobSnapshot {
  readonly status?: 'IN_PROGRESS' | 'CANCELED' | 'COMPLETED';
  readonly succeeded?: number;
  readonly failed?: number;
  readonly rejected?: number;
  readonly timedOut?: number;
  readonly queued?: number;
  readonly inProgress?: number;
}

function sdkError(name: string): Error {
  return Object.assign(new Error(name), { name });
}

/**
 * A stand-in for Greengrass deployments and their IoT jobs, plus the ledger
 * handler on an in-memory table, for running FleetRollout locally. Every
 * request is checked against the greengrassv2 and iot service descriptions;
 * the clock moves one poll interval per DescribeJob.
 */
export class FakeFleet {
  public readonly requests: { operation: string; request: Record<string, unknown> }[] = [];
  public readonly deployments = new Map<string, { request: Record<string, unknown>; canceled: boolean; polls: number; script: JobSnapshot[] }>();
  private readonly tokens = new Map<string, string>();
  private createErrors: string[] = [];
  private scripts: JobSnapshot[][] = [];
  /** Greengrass never creates the deployments' IoT jobs (GetDeployment answers without IotJobId). */
  public withoutJobs = false;

  constructor(
    private readonly prefix: string,
    private readonly pollSeconds: number,
    public readonly table: MemoryTable = new MemoryTable(),
    public readonly clock: Clock = new Clock(),
    /** Deployment ids are `{idPrefix}{n}`: give fleets that share a world prefixes of their own. */
    private readonly idPrefix = 'd-',
  ) {}


  /** The job snapshots of the next deployments, in order of creation. */
  public script(...perDeployment: JobSnapshot[][]): this {
    this.scripts.push(...perDeployment);
    return this;
  }

  public failCreatesWith(...errors: string[]): this {
    this.createErrors.push(...errors);
    return this;
  }

  public calls(operation: string): Record<string, unknown>[] {
    return this.requests.filter((r) => r.operation === operation).map((r) => r.request);
  }

  public context(): Record<string, unknown> {
    return this.clock.context();
  }

  private record(service: 'greengrassv2' | 'iot', operation: string, request: Record<string, unknown>): void {
    expectValidRequest(service, operation, request);
    this.requests.push({ operation, request });
  }

  public handlers(): Record<string, TaskHandler> {
    const ledgerCall: TaskHandler = async (input) => (await handle(input as unknown as RolloutLedgerEvent, new Ledger(env('LEDGER_TABLE', 'ledger'), this.table.client()), new Date(this.clock.now))) as Json;
    const p = this.prefix;
    return {
      [`${p}PrepareRollout`]: ledgerCall,
      [`${p}JudgeRollout`]: ledgerCall,
      [`${p}RecordHealthyRollout`]: ledgerCall,
      [`${p}RecordRevertedRollout`]: ledgerCall,
      [`${p}RecordCanceledRollout`]: ledgerCall,
      [`${p}CreateDeployment`]: (input) => this.create(input as Record<string, unknown>),
      [`${p}RevertDeployment`]: (input) => this.create(input as Record<string, unknown>),
      [`${p}GetDeployment`]: (input) => {
        this.record('greengrassv2', 'GetDeployment', input as Record<string, unknown>);
        const id = (input as { DeploymentId: string }).DeploymentId;
        const d = this.deployments.get(id);
        if (!d) throw sdkError('GreengrassV2.ResourceNotFoundException');
        // The fragment waits 5 seconds before each GetDeployment.
        this.clock.now += 5000;
        return { DeploymentId: id, ...(this.withoutJobs ? {} : { IotJobId: `job-${id}` }), DeploymentStatus: d.canceled ? 'CANCELED' : 'ACTIVE', TargetArn: d.request.TargetArn as string };
      },
      [`${p}DescribeJob`]: (input) => this.describeJob(input as Record<string, unknown>),
      [`${p}CancelDeployment`]: (input) => {
        this.record('greengrassv2', 'CancelDeployment', input as Record<string, unknown>);
        const d = this.deployments.get((input as { DeploymentId: string }).DeploymentId);
        if (!d) throw sdkError('GreengrassV2.ResourceNotFoundException');
        d.canceled = true;
        return { Message: 'canceled' };
      },
    };
  }

  private create(request: Record<string, unknown>): Json {
    this.record('greengrassv2', 'CreateDeployment', request);
    const error = this.createErrors.shift();
    if (error) throw sdkError(error);
    const token = request.ClientToken as string;
    const existing = this.tokens.get(token);
    if (existing) return { DeploymentId: existing };
    const id = `${this.idPrefix}${this.deployments.size + 1}`;
    this.tokens.set(token, id);
    this.deployments.set(id, { request, canceled: false, polls: 0, script: this.scripts.shift() ?? [{ succeeded: 3 }] });
    return { DeploymentId: id };
  }

  /** ListDeployments with HistoryFilter LATEST_ONLY: the group's latest deployment, as Greengrass lists it. */
  public listLatest(request: Record<string, unknown>): Json {
    this.record('greengrassv2', 'ListDeployments', request);
    const all = [...this.deployments.entries()];
    const latest = all.at(-1);
    if (!latest) return { Deployments: [] };
    const [id, d] = latest;
    return { Deployments: [{ DeploymentId: id, DeploymentName: d.request.DeploymentName as string, TargetArn: d.request.TargetArn as string, DeploymentStatus: d.canceled ? 'CANCELED' : 'ACTIVE', CreationTimestamp: 0, IsLatestForTarget: true }] };
  }

  /** Cancels deployment `id` of this fleet (the pipeline-level CancelDeployment). */
  public cancel(request: Record<string, unknown>): Json {
    return this.handlers()[`${this.prefix}CancelDeployment`](request as Json) as Json;
  }

  private describeJob(request: Record<string, unknown>): Json {
    this.record('iot', 'DescribeJob', request);
    this.clock.now += this.pollSeconds * 1000;
    const id = (request.JobId as string).replace(/^job-/, '');
    const d = this.deployments.get(id);
    if (!d) throw sdkError('Iot.ResourceNotFoundException');
    const snap = d.script[Math.min(d.polls, d.script.length - 1)];
    d.polls++;
    return {
      Job: {
        JobId: request.JobId as string,
        // A canceled deployment's job is canceled, whatever its devices were doing.
        Status: d.canceled ? 'CANCELED' : snap.status ?? 'IN_PROGRESS',
        TargetSelection: 'CONTINUOUS',
        JobProcessDetails: {
          NumberOfCanceledThings: 0,
          NumberOfSucceededThings: snap.succeeded ?? 0,
          NumberOfFailedThings: snap.failed ?? 0,
          NumberOfRejectedThings: snap.rejected ?? 0,
          NumberOfQueuedThings: snap.queued ?? 0,
          NumberOfInProgressThings: snap.inProgress ?? 0,
          NumberOfRemovedThings: 0,
          NumberOfTimedOutThings: snap.timedOut ?? 0,
        },
      },
    };
  }
}
