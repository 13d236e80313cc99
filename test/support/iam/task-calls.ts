import { Call } from './account';
import { TEST_ENV } from './template';

/**
 * The AWS calls one Task state makes with the state machine's role, from its Resource and its
 * effective parameters (what the local executor hands the test's handler): the API call itself
 * and what the service does with the caller's permissions (PassRole, the IoT job calls of a
 * Greengrass deployment). A Task whose integration is not listed here fails the run, so a new
 * kind of state is never let through unchecked.
 */

type Params = Record<string, unknown>;
const { partition: P, region: R, account: A } = TEST_ENV;

/** The IAM prefix of an aws-sdk integration's service name. */
export const IAM_PREFIX: Record<string, string> = { greengrassv2: 'greengrass', sfn: 'states' };

const str = (params: Params, name: string): string => {
  const v = params[name];
  if (typeof v !== 'string') throw new Error(`the Task's ${name} is ${JSON.stringify(v)}, not a string`);
  return v;
};

/** A job id Greengrass creates at deployment time: its ARN is unknown before the call. */
const SOME_JOB = `arn:${P}:iot:${R}:${A}:job/greengrass-deployment-job`;

const SDK_CALLS: Record<string, (p: Params) => Omit<Call, 'principal'>[]> = {
  'sagemaker:createCompilationJob': (p) => [
    { action: 'sagemaker:CreateCompilationJob', resource: compilationJob(str(p, 'CompilationJobName')) },
    { action: 'iam:PassRole', resource: str(p, 'RoleArn'), context: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    ...(Array.isArray(p.Tags) && p.Tags.length ? [{ action: 'sagemaker:AddTags', resource: compilationJob(str(p, 'CompilationJobName')) }] : []),
  ],
  'sagemaker:describeCompilationJob': (p) => [{ action: 'sagemaker:DescribeCompilationJob', resource: compilationJob(str(p, 'CompilationJobName')) }],
  'sagemaker:stopCompilationJob': (p) => [{ action: 'sagemaker:StopCompilationJob', resource: compilationJob(str(p, 'CompilationJobName')) }],
  'greengrassv2:createDeployment': (p) => [
    // The Service Authorization Reference types CreateDeployment's resource as a v1 group;
    // AWS's own Greengrass v2 policies grant it on *.
    { action: 'greengrass:CreateDeployment', resource: '*' },
    // Greengrass creates the IoT job with the caller's permissions.
    { action: 'iot:DescribeThingGroup', resource: str(p, 'TargetArn') },
    { action: 'iot:CreateJob', resource: str(p, 'TargetArn') },
    { action: 'iot:CreateJob', resource: SOME_JOB },
    // A new deployment to a group replaces the group's previous one: its job is canceled.
    { action: 'iot:CancelJob', resource: SOME_JOB },
  ],
  'greengrassv2:getDeployment': (p) => [{ action: 'greengrass:GetDeployment', resource: deployment(str(p, 'DeploymentId')) }],
  'greengrassv2:cancelDeployment': (p) => [
    { action: 'greengrass:CancelDeployment', resource: deployment(str(p, 'DeploymentId')) },
    { action: 'iot:CancelJob', resource: SOME_JOB },
  ],
  // The Service Authorization Reference types ListDeployments as v1's (groups); v2 takes no resource.
  'greengrassv2:listDeployments': () => [{ action: 'greengrass:ListDeployments', resource: '*' }],
  'greengrassv2:describeComponent': (p) => [{ action: 'greengrass:DescribeComponent', resource: str(p, 'Arn') }],
  'iot:describeJob': (p) => [{ action: 'iot:DescribeJob', resource: `arn:${P}:iot:${R}:${A}:job/${str(p, 'JobId')}` }],
};

function compilationJob(name: string): string {
  // SageMaker lower-cases the job name in the job's ARN.
  return `arn:${P}:sagemaker:${R}:${A}:compilation-job/${name.toLowerCase()}`;
}

function deployment(id: string): string {
  return `arn:${P}:greengrass:${R}:${A}:deployments:${id}`;
}

/** The calls a Task state with this Resource and these effective parameters makes. */
export function taskCalls(stateName: string, resource: string, params: Params, principal: string): Call[] {
  const by = `state ${stateName}`;
  const withPrincipal = (calls: Omit<Call, 'principal'>[]) => calls.map((c) => ({ ...c, principal, by }));
  if (/^arn:[^:]+:lambda:[^:]+:[^:]+:function:/.test(resource)) return withPrincipal([{ action: 'lambda:InvokeFunction', resource }]);
  const sdk = /^arn:[^:]+:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.[a-zA-Z]+)?$/.exec(resource);
  if (sdk) {
    const mapping = SDK_CALLS[`${sdk[1]}:${sdk[2]}`];
    if (!mapping) throw new Error(`${by}: no IAM mapping for aws-sdk:${sdk[1]}:${sdk[2]}: add it to test/support/iam/task-calls.ts`);
    return withPrincipal(mapping(params));
  }
  const optimized = /^arn:[^:]+:states:::([a-z]+):([a-zA-Z]+)(\.[a-zA-Z]+(:[0-9]+)?)?$/.exec(resource);
  if (optimized) {
    const [, service, api] = optimized;
    if (service === 'sns' && api === 'publish') return withPrincipal([{ action: 'sns:Publish', resource: str(params, 'TopicArn') }]);
    if (service === 'lambda' && api === 'invoke') return withPrincipal([{ action: 'lambda:InvokeFunction', resource: str(params, 'FunctionName') }]);
    if (service === 'states' && api === 'startExecution') return withPrincipal([{ action: 'states:StartExecution', resource: str(params, 'StateMachineArn') }]);
  }
  throw new Error(`${by}: no IAM mapping for ${resource}: add it to test/support/iam/task-calls.ts`);
}

/**
 * What a service then does on the pipeline's behalf with the role a Task gave it: SageMaker
 * assumes the compilation role, reads the model, writes the compiled artifact, its log stream
 * and metrics.
 */
export function serviceCallsAfter(stateName: string, resource: string, params: Params, principal = ''): Call[] {
  if (/^arn:[^:]+:states:::states:startExecution\.sync(:2)?$/.test(resource)) return childExecutionCalls(stateName, str(params, 'StateMachineArn'), principal);
  if (!/:aws-sdk:sagemaker:createCompilationJob$/.test(resource)) return [];
  const by = `SageMaker Neo, for state ${stateName}`;
  const job = compilationJob(str(params, 'CompilationJobName'));
  const role = str(params, 'RoleArn');
  const input = (params.InputConfig ?? {}) as Params;
  const output = (params.OutputConfig ?? {}) as Params;
  const target = (output.TargetDevice as string | undefined) ?? 'platform';
  const s3Arn = (uri: string) => `arn:${P}:s3:::${uri.replace(/^s3:\/\//, '')}`;
  const logGroup = `arn:${P}:logs:${R}:${A}:log-group:/aws/sagemaker/CompilationJobs`;
  const calls: Call[] = [
    { principal: 'sagemaker.amazonaws.com', action: 'sts:AssumeRole', resource: role, context: { 'aws:SourceArn': job, 'aws:SourceAccount': A }, by },
  ];
  if (typeof input.S3Uri === 'string') calls.push({ principal: role, action: 's3:GetObject', resource: s3Arn(input.S3Uri), by });
  calls.push(
    { principal: role, action: 's3:PutObject', resource: `${s3Arn(str(output, 'S3OutputLocation')).replace(/\/$/, '')}/model-${target}.tar.gz`, by },
    { principal: role, action: 'logs:CreateLogStream', resource: `${logGroup}:log-stream:${str(params, 'CompilationJobName')}`, by },
    { principal: role, action: 'logs:PutLogEvents', resource: `${logGroup}:log-stream:${str(params, 'CompilationJobName')}`, by },
    { principal: role, action: 'cloudwatch:PutMetricData', resource: '*', by },
  );
  return calls;
}

/**
 * How Step Functions waits for a child execution (`.sync`), with the parent's role: it describes
 * the execution (and stops it if the parent stops), and keeps the EventBridge rule it listens on.
 */
function childExecutionCalls(stateName: string, stateMachineArn: string, principal: string): Call[] {
  const by = `Step Functions, waiting for the child execution of state ${stateName}`;
  const execution = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:some-execution`;
  const rule = `arn:${P}:events:${R}:${A}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
  return [
    { principal, action: 'states:DescribeExecution', resource: execution, by },
    { principal, action: 'states:StopExecution', resource: execution, by },
    ...['events:PutTargets', 'events:PutRule', 'events:DescribeRule'].map((action) => ({ principal, action, resource: rule, by })),
  ];
}
