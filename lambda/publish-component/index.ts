import { createHash } from 'node:crypto';
import { CreateComponentVersionCommand, GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { NamedError } from '../shared/errors';
import { Ledger } from '../shared/ledger';
import { log } from '../shared/log';
import { parseS3Uri } from '../shared/s3-uri';

export const PUBLISH_INPUT_INVALID = 'PublishInputInvalid';

/** The event of the PublishComponent state, one per (device class, package). */
export interface PublishEvent {
  readonly runId: string;
  readonly deviceClass: string;
  readonly componentName: string;
  /** `major.minor`: the ledger hands out the patch number. */
  readonly baseVersion: string;
  /** The recipe rendered at synth time, without ComponentVersion and artifacts. */
  readonly recipe: Record<string, unknown>;
  readonly budgetSeconds: number;
  readonly package: {
    readonly variant: string;
    readonly target: string;
    readonly runtime: string;
    readonly packageS3Uri: string;
    readonly sha256: string;
  };
}

export interface PublishResult {
  readonly deviceClass: string;
  readonly variant: string;
  readonly componentName: string;
  readonly componentVersion: string;
  readonly componentArn: string;
  readonly packageS3Uri: string;
  readonly sha256: string;
  /** When the DEPLOYABLE poll gives up. */
  readonly deadline: string;
}

/** The recipe for one version: the synth-time template plus the version, the package and what it is. */
export function completeRecipe(event: PublishEvent, version: string): Record<string, unknown> {
  const recipe = JSON.parse(JSON.stringify(event.recipe)) as Record<string, unknown> & { Manifests: Record<string, unknown>[] };
  const dir = `{artifacts:decompressedPath}/${event.package.sha256}`;
  recipe.ComponentVersion = version;
  const configuration = (recipe.ComponentConfiguration as { DefaultConfiguration?: Record<string, unknown> } | undefined) ?? {};
  recipe.ComponentConfiguration = {
    ...configuration,
    DefaultConfiguration: {
      ...(configuration.DefaultConfiguration ?? {}),
      runId: event.runId,
      deviceClass: event.deviceClass,
      variant: event.package.variant,
      target: event.package.target,
      runtime: event.package.runtime,
      packageSha256: event.package.sha256,
    },
  };
  recipe.Manifests = recipe.Manifests.map((m) => {
    const lifecycle = (m.Lifecycle as Record<string, unknown> | undefined) ?? {};
    const posix = (m.Platform as { os?: string } | undefined)?.os !== 'windows';
    return {
      ...m,
      Lifecycle: {
        // The unpacked package must be there with its manifest, or the deployment fails on the device.
        ...(posix ? { Install: { Script: `test -f "${dir}/manifest.json"` } } : {}),
        ...lifecycle,
      },
      Artifacts: [
        ...((m.Artifacts as unknown[] | undefined) ?? []),
        { URI: event.package.packageS3Uri, Unarchive: 'ZIP', Permission: { Read: 'OWNER', Execute: 'NONE' } },
      ],
    };
  });
  return recipe;
}

function validate(event: PublishEvent): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/.test(String(event.runId))) problems.push(`runId ${JSON.stringify(event.runId)}`);
  if (!/^(0|[1-9]\d*)\.(0|[1-9]\d*)$/.test(String(event.baseVersion))) problems.push(`baseVersion ${JSON.stringify(event.baseVersion)} (major.minor)`);
  if (!event.package || !parseS3Uri(event.package.packageS3Uri) || !/^[0-9a-f]{64}$/.test(String(event.package.sha256))) problems.push('package (packageS3Uri and sha256 from the packaging step)');
  if (!event.recipe || !Array.isArray((event.recipe as { Manifests?: unknown }).Manifests)) problems.push('recipe (with Manifests)');
  if (problems.length) throw new NamedError(PUBLISH_INPUT_INVALID, `the publish input is not valid: ${problems.join('; ')}`);
}

const greengrass = new GreengrassV2Client({});

/**
 * Publishes one package as a new version of its device class's component:
 * the version comes from the ledger (never reused, the same for a retried
 * run), and the request carries a client token, so a retried call creates
 * nothing new.
 */
export async function publish(event: PublishEvent, ledger: Ledger, client: GreengrassV2Client, arnPrefix: string, now = new Date()): Promise<PublishResult> {
  validate(event);
  const { version } = await ledger.claimComponentVersion(event.componentName, event.runId, event.package.variant, event.baseVersion, event.package.sha256);
  const recipe = completeRecipe(event, version);
  const componentArn = `${arnPrefix}:components:${event.componentName}:versions:${version}`;
  try {
    await client.send(new CreateComponentVersionCommand({
      inlineRecipe: Buffer.from(JSON.stringify(recipe)),
      clientToken: createHash('sha256').update(`${event.componentName}@${version}`).digest('hex').slice(0, 64),
    }));
  } catch (err) {
    // The version exists: an earlier attempt of this run created it from the same claim.
    if ((err as Error).name !== 'ConflictException') throw err;
    log('INFO', 'component version exists already', { componentArn });
  }
  await ledger.recordRelease(event.runId, event.deviceClass, {
    componentName: event.componentName,
    componentVersion: version,
    variant: event.package.variant,
    target: event.package.target,
    packageS3Uri: event.package.packageS3Uri,
    packageSha256: event.package.sha256,
    status: 'PUBLISHED',
  });
  const result: PublishResult = {
    deviceClass: event.deviceClass,
    variant: event.package.variant,
    componentName: event.componentName,
    componentVersion: version,
    componentArn,
    packageS3Uri: event.package.packageS3Uri,
    sha256: event.package.sha256,
    deadline: new Date(now.getTime() + event.budgetSeconds * 1000).toISOString(),
  };
  log('INFO', 'component version published', { runId: event.runId, ...result });
  return result;
}

/** `arn:{partition}:greengrass:{region}:{account}` of the function's own account and Region. */
export function greengrassArnPrefix(invokedFunctionArn: string): string {
  const [, partition, , region, account] = invokedFunctionArn.split(':');
  return `arn:${partition}:greengrass:${region}:${account}`;
}

export async function handler(event: PublishEvent, context: { invokedFunctionArn: string }): Promise<PublishResult> {
  const table = process.env.LEDGER_TABLE;
  if (!table) throw new Error('LEDGER_TABLE must be set');
  return publish(event, new Ledger(table), greengrass, greengrassArnPrefix(context.invokedFunctionArn));
}
