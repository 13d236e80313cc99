import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CompileExampleStack } from '../examples/compile-stack';
import { ReleaseExampleStack } from '../examples/release-stack';
import { expectCompliant } from './support/compliance';
import { definitionOf, expectValidAsl } from './support/state-machine';

describe('the compile example', () => {
  test('synthesizes one state machine that compiles for a Jetson Nano, a Raspberry Pi 4 and x86-64 Linux', () => {
    const app = new App();
    const stack = new CompileExampleStack(app, 'Example');
    const definition = definitionOf(stack) as { States: Record<string, { Parameters?: { variants?: { target: string }[] } }> };
    expectValidAsl(definition);
    const variants = definition.States.CompilePreflight.Parameters!.variants!;
    expect(variants.map((v) => v.target)).toEqual(['jetson_nano', 'rasp4b', 'linux-x86_64']);
    Template.fromStack(stack).resourceCountIs('AWS::StepFunctions::StateMachine', 1);
  });

  test('passes cdk-nag AwsSolutions and Serverless and the Control Tower guard rules', () => {
    const app = new App();
    const stack = new CompileExampleStack(app, 'Example');
    expectCompliant(app, stack, { serverless: true });
  });
});

describe('the release example', () => {
  test('synthesizes one state machine: compile, publish, then a rollout per device class', () => {
    const app = new App();
    const stack = new ReleaseExampleStack(app, 'Release');
    const definition = definitionOf(stack);
    expectValidAsl(definition);
    const top = Object.keys((definition as { States: Record<string, unknown> }).States);
    expect(top.slice(0, 4)).toEqual(['CompilePreflight', 'CompileVariants', 'SummarizeCompilation', 'PublishPlan']);
    for (const c of ['jetson-nano', 'rasp4b', 'x86-gateway']) {
      const g = stack.fleets[c].thingGroupName;
      expect(g).toMatch(/^Release-.*-[0-9A-F]{8}$/);
      expect(top).toEqual(expect.arrayContaining([`${c}: ChooseRelease`, `${g}: CreateDeployment`, `${g}: RevertDeployment`, `${g}: CancelDeployment`]));
    }
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IoT::ThingGroup', 3);
    template.resourceCountIs('AWS::IoT::RoleAlias', 3);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  test('passes cdk-nag AwsSolutions and Serverless and the Control Tower guard rules', () => {
    const app = new App();
    const stack = new ReleaseExampleStack(app, 'Release');
    expectCompliant(app, stack, { serverless: true });
  });
});
