import { Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ProblemCollector } from './errors';

/**
 * The Regions whose CloudFormation registry has every resource type a pipeline deploys to its
 * fleets (Greengrass v2 component versions; IoT thing groups, role aliases, policies and topic
 * rules; Step Functions state machines), from the per-Region provider schemas of cfn-lint 1.51.0
 * (`scripts/greengrass-regions.py` prints the list again). Greengrass v2 is the scarce one:
 * 21 of the 46 Regions listed there lack it.
 * @internal
 */
export const PIPELINE_REGIONS: readonly string[] = [
  'ap-northeast-1', 'ap-northeast-2', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-5', 'ca-central-1', 'cn-north-1',
  'eu-central-1', 'eu-isoe-west-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eusc-de-east-1', 'us-east-1', 'us-east-2', 'us-gov-east-1',
  'us-gov-west-1', 'us-iso-east-1', 'us-iso-west-1', 'us-isob-east-1', 'us-isob-west-1', 'us-isof-east-1', 'us-isof-south-1', 'us-west-2',
];

/**
 * A problem when the stack of `scope` is for a known Region where the pipeline cannot deploy
 * (an environment-agnostic stack is not checked: its Region is decided at deploy time).
 * @internal
 */
export function addRegionProblems(problems: ProblemCollector, scope: Construct): void {
  const region = Stack.of(scope).region;
  if (Token.isUnresolved(region) || PIPELINE_REGIONS.includes(region)) return;
  problems.add('env.region', region, `AWS IoT Greengrass v2 is not in this Region (CloudFormation has no AWS::GreengrassV2::ComponentVersion there): deploy the stack to one of ${PIPELINE_REGIONS.join(', ')}.`);
}
