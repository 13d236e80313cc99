import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { retryTransient } from '../core/retries';
import { EdgeFleet } from './edge-fleet';

/** The ARN patterns of Greengrass deployments and IoT jobs in the stack's account and Region. @internal */
export function deploymentArns(scope: Construct): { deploymentsArn: string; jobsArn: string } {
  const stack = Stack.of(scope);
  return {
    deploymentsArn: stack.formatArn({ service: 'greengrass', resource: 'deployments', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    jobsArn: stack.formatArn({ service: 'iot', resource: 'job', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
  };
}

/**
 * A CreateDeployment ClientToken for a path `template` (its `{}` filled from `paths`): the same
 * within one execution, so a retried call returns the deployment it made, and new in every
 * execution, so a re-run of a run id deploys again (Greengrass answers a token it has seen with
 * its cached first response for up to 8 hours, even when that deployment was canceled since).
 * @internal
 */
export function deploymentClientToken(template: string, ...paths: string[]): string {
  return `States.Hash(States.Format('{}/${template}', ${['$$.Execution.Id', ...paths].join(', ')}), 'MD5')`;
}

/**
 * A `CreateDeployment` Task to the thing groups of `fleets`, with the IoT
 * permissions CreateDeployment depends on scoped to those groups, their
 * things and jobs, and throttling retried.
 * @internal
 */
export function createDeploymentTask(scope: Construct, id: string, options: {
  stateName: string;
  fleets: EdgeFleet[];
  parameters: { [key: string]: unknown };
  resultPath?: string;
}): tasks.CallAwsService {
  const { jobsArn } = deploymentArns(scope);
  const groups = options.fleets.map((f) => f.thingGroupArn);
  const task = new tasks.CallAwsService(scope, id, {
    stateName: options.stateName,
    service: 'greengrassv2',
    action: 'createDeployment',
    iamAction: 'greengrass:CreateDeployment',
    iamResources: ['*'],
    additionalIamStatements: [
      new iam.PolicyStatement({ actions: ['iot:CreateJob'], resources: [...groups, jobsArn] }),
      new iam.PolicyStatement({ actions: ['iot:DescribeJob', 'iot:UpdateJob', 'iot:CancelJob'], resources: [jobsArn] }),
      new iam.PolicyStatement({ actions: ['iot:DescribeThingGroup'], resources: groups }),
      new iam.PolicyStatement({ actions: ['iot:DescribeThing', 'iot:GetThingShadow', 'iot:UpdateThingShadow', 'iot:DeleteThingShadow'], resources: options.fleets.map((f) => f.thingArnPattern()) }),
    ],
    parameters: options.parameters,
    resultSelector: { 'DeploymentId.$': '$.DeploymentId' },
    resultPath: options.resultPath,
  });
  retryTransient(task, 'greengrassv2:CreateDeployment');
  return task;
}
