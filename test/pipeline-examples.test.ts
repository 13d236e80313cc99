import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MixedFleetPipelineStack, ModelRegistryPipelineStack, OnnxRuntimeFleetPipelineStack, SingleJetsonPipelineStack } from '../examples/pipelines';
import { expectCompliant } from './support/compliance';
import { definitionOf, expectValidAsl, taskStateNames } from './support/state-machine';

const EXAMPLES: [string, new (scope: App, id: string) => Stack][] = [
  ['single Jetson class', SingleJetsonPipelineStack],
  ['mixed fleet with rings and approval', MixedFleetPipelineStack],
  ['ONNX Runtime fleet (no Neo)', OnnxRuntimeFleetPipelineStack],
  ['Model Registry-triggered', ModelRegistryPipelineStack],
];

describe.each(EXAMPLES)('the %s example', (_label, Example) => {
  test('synthesizes a valid state machine', () => {
    const stack = new Example(new App(), 'Example');
    expectValidAsl(definitionOf(stack));
  });

  test('passes cdk-nag AwsSolutions and Serverless and the Control Tower guard rules', () => {
    const app = new App();
    const stack = new Example(app, 'Example');
    expectCompliant(app, stack, { serverless: true });
  });
});

test('the mixed fleet has a canary and two rings per class, an approval step, alarms and a dashboard', () => {
  const stack = new MixedFleetPipelineStack(new App(), 'Mixed');
  const t = Template.fromStack(stack);
  t.resourceCountIs('AWS::IoT::ThingGroup', 9);
  // Failed runs, reverts, and a latency alarm per class.
  t.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 3);
  t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  t.resourceCountIs('AWS::Events::Rule', 1);
  const states = [...taskStateNames(definitionOf(stack)), ...Object.keys((definitionOf(stack) as { States: Record<string, unknown> }).States)];
  expect(states).toEqual(expect.arrayContaining(['RequestApproval', 'NotifyRunStarted', 'NotifyReleased', 'NotifyRunFailed', 'Rollout stage']));
  const rollout = ((definitionOf(stack) as { States: Record<string, { Branches?: { States: Record<string, unknown> }[] }> }).States['Rollout stage'].Branches![0].States);
  expect(Object.keys(rollout)).toEqual(expect.arrayContaining(['jetson-nano: RollOut', 'rasp4b: RollOut', 'x86-gateway: RollOut']));
});

test('the Model Registry example starts runs from approved packages of its group only', () => {
  const t = Template.fromStack(new ModelRegistryPipelineStack(new App(), 'Registry'));
  t.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { 'source': ['aws.sagemaker'], 'detail-type': ['SageMaker Model Package State Change'], 'detail': { ModelPackageGroupName: ['resnet-edge'], ModelApprovalStatus: ['Approved'] } },
  });
});
