import { createHash } from 'node:crypto';

/** The service pattern for SageMaker entity names (compilation jobs among them). */
export const ENTITY_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** Longest SageMaker entity name. */
export const ENTITY_NAME_MAX = 63;
/** Pattern for a name prefix: lower case, so IAM ARNs (which SageMaker lower-cases) match it. */
export const NAME_PREFIX_PATTERN = /^[a-z0-9](-?[a-z0-9])*$/;
/** Longest name prefix: leaves room for the run part and the hash suffix in a 63-character job name. */
export const NAME_PREFIX_MAX = 24;
/** Pattern for a variant name. */
export const VARIANT_NAME_PATTERN = /^[a-z0-9](-?[a-z0-9])*$/;
/** Longest variant name. */
export const VARIANT_NAME_MAX = 40;
/** Pattern for a run id (what the pipeline derives from the model version). */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

const HASH_LENGTH = 10;

/** Lower-cases `text` and replaces every run of characters SageMaker does not allow by one dash. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The compilation job name for one variant of one run:
 * `{prefix}-{run}-{variant}-{hash}`, lower case, at most 63 characters.
 *
 * The hash is taken over the full run id and variant name, so two runs or
 * variants whose readable parts are cut to the same text still get different
 * names, and the same run and variant always get the same name (a re-run
 * finds the job it started before).
 */
export function compilationJobName(prefix: string, runId: string, variant: string, scope = ''): string {
  // The scope (the compile stage's own id: stack and path) is in the hash only: two stacks with the
  // same prefix, such as a dev and a prod copy, never name a job alike, and the prefix still scopes IAM.
  const hash = createHash('sha256').update(scope ? `${scope}\u0000${runId}\u0000${variant}` : `${runId}\u0000${variant}`).digest('hex').slice(0, HASH_LENGTH);
  const room = ENTITY_NAME_MAX - prefix.length - HASH_LENGTH - 2;
  let body = slug(`${runId}-${variant}`);
  if (body.length > room) {
    // Keep the end of the variant name readable and the start of the run id.
    const variantPart = slug(variant).slice(0, Math.floor(room / 2));
    const runPart = slug(runId).slice(0, room - variantPart.length - 1).replace(/-+$/, '');
    body = `${runPart}-${variantPart}`.replace(/^-+|-+$/g, '');
  }
  const name = body ? `${prefix}-${body}-${hash}` : `${prefix}-${hash}`;
  return name.replace(/-{2,}/g, '-');
}

/** Where Greengrass unpacks the archived artifacts of every version of a component on a device. */
export const GREENGRASS_ROOT = '/greengrass/v2';

/**
 * The folder under which Greengrass unpacks `componentName`'s archives:
 * `{root}/packages/artifacts-unarchived/{componentName}`, then
 * `/{version}/{archive name without .zip}` (the package's SHA-256 here).
 */
export function unarchivedArtifactsDir(componentName: string, root: string = GREENGRASS_ROOT): string {
  return `${root}/packages/artifacts-unarchived/${componentName}`;
}
