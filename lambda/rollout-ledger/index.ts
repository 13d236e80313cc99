import { NamedError } from '../shared/errors';
import { LastGoodRelease, Ledger } from '../shared/ledger';
import { log } from '../shared/log';
import { countsByClass } from '../shared/metrics';

export const ROLLOUT_INPUT_INVALID = 'RolloutInputInvalid';

/** IoT's per-status execution counts (DescribeJob → JobProcessDetails), as Step Functions passes them. */
export interface ExecutionCounts {
  readonly NumberOfCanceledThings?: number;
  readonly NumberOfSucceededThings?: number;
  readonly NumberOfFailedThings?: number;
  readonly NumberOfRejectedThings?: number;
  readonly NumberOfQueuedThings?: number;
  readonly NumberOfInProgressThings?: number;
  readonly NumberOfRemovedThings?: number;
  readonly NumberOfTimedOutThings?: number;
}

/** Before the deployment: what to revert to, and when to give up waiting. */
export interface PrepareEvent {
  readonly op: 'prepare';
  readonly group: string;
  readonly runId: string;
  readonly budgetSeconds: number;
  /** How long to wait for the deployment's IoT job to appear (within the budget); the budget when left out. */
  readonly jobWaitSeconds?: number;
}

/** When the executions have settled: is the rollout healthy? */
export interface VerdictEvent {
  readonly op: 'verdict';
  readonly counts: ExecutionCounts;
  /** The failure percentage that makes a rollout unhealthy. */
  readonly maxFailurePercentage: number;
}

/** The rollout was healthy: it becomes the group's last good release. */
export interface HealthyEvent {
  readonly op: 'healthy';
  readonly group: string;
  readonly runId: string;
  readonly deviceClass: string;
  readonly deploymentId: string;
  readonly components: Record<string, DeployedComponent>;
  readonly counts: ExecutionCounts;
}

/** Every ring of a class was healthy: each becomes its group's last good release, together. */
export interface HealthyRingsEvent {
  readonly op: 'healthy-rings';
  readonly runId: string;
  readonly deviceClass: string;
  readonly components: Record<string, DeployedComponent>;
  /** Each ring's rollout: its group, its deployment and the verdict on its executions. */
  readonly rings: { readonly group: string; readonly deploymentId: string; readonly verdict: unknown }[];
}

/** The rollout was reverted (or canceled on a first rollout). */
export interface RevertedEvent {
  readonly op: 'reverted';
  readonly group: string;
  readonly runId: string;
  readonly deviceClass: string;
  readonly deploymentId: string;
  readonly revertDeploymentId: string | null;
  readonly reason: string;
}

/** Before the rings of a class roll out: each ring's last good release, to revert them all if a later ring fails. */
export interface RingsEvent {
  readonly op: 'rings';
  readonly rings: { group: string; groupArn: string }[];
}

export type RolloutLedgerEvent = PrepareEvent | VerdictEvent | HealthyEvent | HealthyRingsEvent | RevertedEvent | RingsEvent;

export interface Verdict {
  readonly healthy: boolean;
  readonly executed: number;
  readonly failed: number;
  readonly failurePercentage: number;
  readonly reason: string;
}

/** The rollout's health from the execution counts (FAILED, REJECTED and TIMED_OUT count as failures). */
export function verdict(counts: ExecutionCounts, maxFailurePercentage: number): Verdict {
  const n = (v: number | undefined) => v ?? 0;
  const failed = n(counts.NumberOfFailedThings) + n(counts.NumberOfRejectedThings) + n(counts.NumberOfTimedOutThings);
  const executed = failed + n(counts.NumberOfSucceededThings);
  const failurePercentage = executed === 0 ? 0 : Math.round((failed / executed) * 10000) / 100;
  if (executed === 0) {
    return { healthy: false, executed, failed, failurePercentage, reason: 'no device ran the deployment (is the thing group empty?)' };
  }
  const healthy = failurePercentage <= maxFailurePercentage;
  const reason = healthy
    ? `${failed} of ${executed} devices failed (${failurePercentage}%), within the limit of ${maxFailurePercentage}%`
    : `${failed} of ${executed} devices failed (${failurePercentage}%), over the limit of ${maxFailurePercentage}%`;
  return { healthy, executed, failed, failurePercentage, reason };
}

/** A component of a CreateDeployment request, as the state machine deploys it. */
export interface DeployedComponent {
  readonly ComponentVersion: string;
  readonly ConfigurationUpdate?: { readonly Merge?: string };
}

const versions = (components: Record<string, DeployedComponent>) =>
  Object.fromEntries(Object.entries(components).map(([name, c]) => [name, c.ComponentVersion]));

/** The configuration merged into each component deployed with one; undefined when none was. */
function configurations(components: Record<string, DeployedComponent>): Record<string, string> | undefined {
  const merged = Object.entries(components).filter(([, c]) => typeof c.ConfigurationUpdate?.Merge === 'string');
  return merged.length ? Object.fromEntries(merged.map(([name, c]) => [name, c.ConfigurationUpdate!.Merge!])) : undefined;
}

/** The last-good release as a Components map for CreateDeployment, each configuration merged again. */
function asComponents(release: LastGoodRelease): Record<string, DeployedComponent> {
  return Object.fromEntries(Object.entries(release.components).map(([name, version]) => {
    const merge = release.configurations?.[name];
    return [name, merge === undefined ? { ComponentVersion: version } : { ComponentVersion: version, ConfigurationUpdate: { Merge: merge } }];
  }));
}

export async function handle(event: RolloutLedgerEvent, ledger: Ledger, now = new Date()): Promise<unknown> {
  switch (event?.op) {
    case 'prepare': {
      const lastGood = await ledger.lastGood(event.group);
      return {
        deadline: new Date(now.getTime() + event.budgetSeconds * 1000).toISOString(),
        jobDeadline: new Date(now.getTime() + Math.min(event.budgetSeconds, event.jobWaitSeconds ?? event.budgetSeconds) * 1000).toISOString(),
        hasLastGood: lastGood !== null,
        lastGood: lastGood ? { runId: lastGood.runId, deploymentId: lastGood.deploymentId, components: asComponents(lastGood) } : null,
      };
    }
    case 'verdict':
      return verdict(event.counts ?? {}, event.maxFailurePercentage);
    case 'rings': {
      const out = [];
      for (const ring of event.rings) {
        const lastGood = await ledger.lastGood(ring.group);
        out.push({ ...ring, hasLastGood: lastGood !== null, lastGood: lastGood ? { runId: lastGood.runId, components: asComponents(lastGood) } : null });
      }
      return out;
    }
    case 'healthy': {
      const merged = configurations(event.components);
      await ledger.markHealthy(event.group, {
        runId: event.runId, deploymentId: event.deploymentId, components: versions(event.components), ...(merged ? { configurations: merged } : {}),
      });
      await ledger.recordRelease(event.runId, event.deviceClass, { [`deployment#${event.group}`]: event.deploymentId, status: 'RELEASED', counts: event.counts });
      log('INFO', 'rollout healthy: recorded as the last good release', { group: event.group, runId: event.runId, deploymentId: event.deploymentId });
      return { recorded: true };
    }
    case 'healthy-rings': {
      if (!Array.isArray(event.rings) || event.rings.length === 0 || event.rings.length > 50 || event.rings.some((r) => typeof r?.group !== 'string' || typeof r?.deploymentId !== 'string')) {
        throw new NamedError(ROLLOUT_INPUT_INVALID, `rings is ${JSON.stringify(event.rings ?? null)}: list 1 to 50 rings, each { group, deploymentId, verdict } (one transaction of two items per ring, at most 100)`);
      }
      const merged = configurations(event.components);
      const release = { runId: event.runId, components: versions(event.components), ...(merged ? { configurations: merged } : {}) };
      // All rings or none: a fault here leaves every ring's last good release as it was, and the class is put back.
      await ledger.markHealthyAll(event.rings.map((r) => ({ group: r.group, release: { ...release, deploymentId: r.deploymentId } })));
      await ledger.recordRelease(event.runId, event.deviceClass, {
        ...Object.fromEntries(event.rings.map((r) => [`deployment#${r.group}`, r.deploymentId])),
        status: 'RELEASED',
        counts: Object.fromEntries(event.rings.map((r) => [r.group, r.verdict])),
      });
      log('INFO', 'rings healthy: recorded as their last good releases', { runId: event.runId, deviceClass: event.deviceClass, rings: event.rings.map((r) => r.group) });
      return { recorded: true };
    }
    case 'reverted': {
      await ledger.history(event.group, event.deploymentId, { status: 'REVERTED', runId: event.runId, revertDeploymentId: event.revertDeploymentId, reason: event.reason });
      await ledger.recordRelease(event.runId, event.deviceClass, { [`deployment#${event.group}`]: event.deploymentId, status: 'REVERTED', revertReason: event.reason });
      log('WARN', 'rollout reverted', {
        group: event.group, runId: event.runId, deploymentId: event.deploymentId, revertDeploymentId: event.revertDeploymentId, reason: event.reason,
        // CloudWatch Embedded Metric Format: the pipeline's revert alarm watches this.
        ...countsByClass(['Reverts'], event.deviceClass, now),
        Reverts: 1,
      });
      return { recorded: true };
    }
    default:
      throw new NamedError(ROLLOUT_INPUT_INVALID, `op ${JSON.stringify((event as { op?: unknown })?.op ?? null)} is not one of prepare, verdict, healthy, healthy-rings, reverted, rings`);
  }
}

export async function handler(event: RolloutLedgerEvent): Promise<unknown> {
  const table = process.env.LEDGER_TABLE;
  if (!table) throw new Error('LEDGER_TABLE must be set');
  return handle(event, new Ledger(table));
}
