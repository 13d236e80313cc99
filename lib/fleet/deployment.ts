import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EdgeFleet } from './edge-fleet';

/** The ARN patterns of Greengrass deployments and IoT jobs in the stack's account and Region. @internal */
export function deploymentArns(scope: Construct): { deploymentsArn: string; jobsArn: string } {
  const stack = Stack.of(scope);
  return {
    deploymentsArn: stack.formatArn({ service: 'greengrass', resource: 'deployments', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    jobsArn: stack.formatArn({ service: 'iot', resource: 'job', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
  };
}

/** Retries Greengrass or IoT throttling and internal errors with full jitter. @internal */
export function retryThrottling(task: tasks.CallAwsService, service: 'GreengrassV2' | 'Iot'): void {
  task.addRetry({
    errors: [`${service}.ThrottlingException`, `${service}.InternalServerException`, `${service}.InternalFailureException`],
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxAttempts: 8,
    maxDelay: Duration.minutes(2),
    jitterStrategy: sfn.JitterType.FULL,
  });
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
  retryThrottling(task, 'GreengrassV2');
  return task;
}
