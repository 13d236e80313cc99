import * as fs from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';

const ACK_METADATA = 'cdk-edge-model-pipeline:acknowledged';

/** One finding nobody acknowledged. */
export interface Finding {
  readonly rule: string;
  readonly resource: string;
  readonly description: string;
}

/** cdk-nag findings on `stack` (acknowledgements through `Validations` honoured by cdk-nag itself). */
export function nagFindings(stack: Stack, packs: NagPack[] = [new AwsSolutionsChecks()]): Finding[] {
  const findings: Finding[] = [];
  for (const pack of packs) {
    for (const v of pack.validateScope(stack).violations) {
      for (const r of v.violatingResources) {
        findings.push({ rule: v.ruleName, resource: (r as { constructPath?: string }).constructPath ?? r.resourceLogicalId ?? 'unknown', description: v.description });
      }
    }
  }
  return findings;
}

/**
 * Control Tower guard findings on the synthesized template of `stack`, less
 * those the library acknowledged on the resource (metadata
 * `cdk-edge-model-pipeline:acknowledged`, control id → reason).
 */
export function guardFindings(app: App, stack: Stack): Finding[] {
  const assembly = app.synth();
  const templatePath = assembly.getStackByName(stack.stackName).templateFullPath;
  const template = JSON.parse(fs.readFileSync(templatePath, 'utf8')) as {
    Resources: Record<string, { Metadata?: Record<string, unknown> }>;
  };
  const report = new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }).validate({ templatePaths: [templatePath] } as never);
  const findings: Finding[] = [];
  for (const v of report.violations) {
    const control = /\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]/.exec(v.description ?? '')?.[1] ?? v.ruleName;
    for (const r of v.violatingResources) {
      const acknowledged = template.Resources[r.resourceLogicalId]?.Metadata?.[ACK_METADATA] as Record<string, string> | undefined;
      if (acknowledged?.[control]) continue;
      findings.push({ rule: control, resource: r.resourceLogicalId, description: v.description ?? '' });
    }
  }
  return findings;
}

/** Every unacknowledged cdk-nag (AwsSolutions, and Serverless when asked) and Control Tower finding. */
export function complianceFindings(app: App, stack: Stack, options: { serverless?: boolean } = {}): Finding[] {
  const packs: NagPack[] = [new AwsSolutionsChecks()];
  if (options.serverless) packs.push(new ServerlessChecks());
  return [...nagFindings(stack, packs), ...guardFindings(app, stack)];
}

/** Fails with every finding, one a line, when any is not acknowledged. */
export function expectCompliant(app: App, stack: Stack, options: { serverless?: boolean } = {}): void {
  const findings = complianceFindings(app, stack, options);
  if (findings.length > 0) {
    throw new Error(`unacknowledged compliance findings:\n${findings.map((f) => `  ${f.rule} on ${f.resource}: ${f.description.split('\n')[0]}`).join('\n')}`);
  }
}
