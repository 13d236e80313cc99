import { Template } from 'aws-cdk-lib/assertions';
import { MixedFleetPipelineStack, SingleJetsonPipelineStack } from '../../examples/pipelines';
import { Account, Call } from '../support/iam/account';
import { exampleStack } from '../support/example-stacks';
import { storeBucketsOf } from '../support/iam/service-calls';
import { TEST_ENV } from '../support/iam/template';

/** Calls each role must not be able to make, evaluated like every allowed one. */
const { partition: P, region: R, account: A } = TEST_ENV;

function world(Example: typeof MixedFleetPipelineStack) {
  const template = Template.fromStack(exampleStack(Example)).toJSON() as { Resources: Record<string, { Type: string }> };
  const account = Account.of(template as never);
  const id = (type: string) => Object.keys(template.Resources).find((k) => template.Resources[k].Type === type)!;
  const bucket = storeBucketsOf(account)[0];
  return {
    account,
    object: (key: string) => `arn:${P}:s3:::${bucket}/${key}`,
    // The pipeline's own state machine (not the class rollout it starts).
    stateMachine: `arn:${P}:states:${R}:${A}:stateMachine:${Object.keys(template.Resources).find((k) => template.Resources[k].Type === 'AWS::StepFunctions::StateMachine' && k.startsWith('PipelineStateMachine'))!}`,
    topic: `arn:${P}:sns:${R}:${A}:${id('AWS::SNS::Topic')}`,
  };
}

const mixed = world(MixedFleetPipelineStack);
const single = world(SingleJetsonPipelineStack);
const role = (w: typeof mixed, prefix: string) => w.account.role(prefix).arn;

const MUST_BE_DENIED: [string, typeof mixed, () => Call][] = [
  ['devices cannot read models/ (the rings use their canary\'s role)', mixed, () => ({ principal: role(mixed, 'JetsonNanoCanaryTokenExchangeRole'), action: 's3:GetObject', resource: mixed.object('models/resnet18/model.tar.gz') })],
  ['devices cannot read reports/', mixed, () => ({ principal: role(mixed, 'Rasp4bCanaryTokenExchangeRole'), action: 's3:GetObject', resource: mixed.object('reports/run-1/report.html') })],
  ['devices cannot write packages/', mixed, () => ({ principal: role(mixed, 'X86GatewayCanaryTokenExchangeRole'), action: 's3:PutObject', resource: mixed.object('packages/x.zip') })],
  ['the collector cannot start runs', mixed, () => ({ principal: role(mixed, 'PipelineCanaryResultsCollectorRole'), action: 'states:StartExecution', resource: mixed.stateMachine })],
  ['approval cannot deploy', mixed, () => ({ principal: role(mixed, 'PipelineApprovalRole'), action: 'greengrass:CreateDeployment', resource: '*' })],
  ['approval cannot read models/', mixed, () => ({ principal: role(mixed, 'PipelineApprovalRole'), action: 's3:GetObject', resource: mixed.object('models/resnet18/model.tar.gz') })],
  ['an upload trigger cannot write models/', single, () => ({ principal: role(single, 'PipelineTriggerRole'), action: 's3:PutObject', resource: single.object('models/resnet18/model.tar.gz') })],
  ['the gate cannot deploy', mixed, () => ({ principal: role(mixed, 'PipelineGateRole'), action: 'greengrass:CreateDeployment', resource: '*' })],
  ['another account\'s alarm cannot publish to the topic', mixed, () => ({ principal: 'cloudwatch.amazonaws.com', action: 'sns:Publish', resource: mixed.topic, context: { 'aws:SourceAccount': '444455556666', 'aws:SourceArn': `arn:${P}:cloudwatch:${R}:444455556666:alarm:x` } })],
  ['an alarm of another stack cannot publish to the topic', mixed, () => ({ principal: 'cloudwatch.amazonaws.com', action: 'sns:Publish', resource: mixed.topic, context: { 'aws:SourceAccount': A, 'aws:SourceArn': `arn:${P}:cloudwatch:${R}:${A}:alarm:someone-elses` } })],
];

test.each(MUST_BE_DENIED)('%s', async (_label, w, call) => {
  const decision = await w.account.authorize(call());
  expect(decision.allowed).toBe(false);
});

test('the denials are not for want of a role: the same roles make their own calls', async () => {
  const allowed = await mixed.account.authorize({ principal: role(mixed, 'JetsonNanoCanaryTokenExchangeRole'), action: 's3:GetObject', resource: mixed.object('packages/x.zip') });
  expect(allowed.allowed).toBe(true);
  const start = await mixed.account.authorize({ principal: role(mixed, 'PipelineTriggerRole'), action: 'states:StartExecution', resource: mixed.stateMachine });
  expect(start.allowed).toBe(true);
});
