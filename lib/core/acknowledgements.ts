import { CfnResource, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Every cdk-nag and Control Tower guard finding this library acknowledges,
 * with the reason, in one place an auditor can read.
 *
 * `nag` ids are cdk-nag rule ids (a finding id in brackets narrows it to one
 * finding); `guard` ids are Control Tower guard rule names, suppressed on the
 * one resource through its `guard.SuppressedRules` metadata.
 */
export const ACKNOWLEDGEMENTS = {
  ACCESS_LOG_BUCKET_HAS_NO_LOGS: {
    nag: ['AwsSolutions-S1'],
    guard: ['CT.S3.PR.2'],
    reason: 'This bucket receives the server access logs of the artifact store; logging it into itself would loop.',
  },
  ACCESS_LOG_BUCKET_SSE_S3: {
    nag: [],
    guard: ['CT.S3.PR.10'],
    reason: 'S3 server access log delivery supports only SSE-S3 on the target bucket, not a customer managed KMS key.',
  },
  NO_REPLICATION: {
    nag: [],
    guard: ['CT.S3.PR.9'],
    reason: 'Cross-Region replication is a disaster-recovery choice of the deploying team (Greengrass needs artifacts in the same Region); the store is versioned so nothing is lost.',
  },
} as const;

/** A key of {@link ACKNOWLEDGEMENTS}. */
export type AcknowledgementKey = keyof typeof ACKNOWLEDGEMENTS;

/**
 * Acknowledges the findings under `key` on `scope` (cdk-nag, through
 * `Validations`) and on its CloudFormation resource (guard, through metadata).
 */
export function acknowledge(scope: IConstruct, key: AcknowledgementKey): void {
  const entry: { nag: readonly string[]; guard: readonly string[]; reason: string } = ACKNOWLEDGEMENTS[key];
  for (const id of entry.nag) {
    Validations.of(scope).acknowledge({ id, reason: entry.reason });
  }
  if (entry.guard.length === 0) return;
  const resource = findCfnResource(scope);
  if (!resource) {
    throw new Error(`cdk-edge-model-pipeline: cannot acknowledge guard rules ${entry.guard.join(', ')} on ${scope.node.path}: it has no CloudFormation resource`);
  }
  const existing = (resource.getMetadata('guard') as { SuppressedRules?: string[] } | undefined)?.SuppressedRules ?? [];
  const rules = [...new Set([...existing, ...entry.guard])].sort();
  resource.addMetadata('guard', { SuppressedRules: rules });
  const reasons = (resource.getMetadata('cdk-edge-model-pipeline:acknowledged') as Record<string, string> | undefined) ?? {};
  for (const rule of entry.guard) reasons[rule] = entry.reason;
  resource.addMetadata('cdk-edge-model-pipeline:acknowledged', reasons);
}

function findCfnResource(scope: IConstruct): CfnResource | undefined {
  if (CfnResource.isCfnResource(scope)) return scope;
  const child = scope.node.defaultChild;
  return child && CfnResource.isCfnResource(child) ? child : undefined;
}
