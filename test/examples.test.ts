import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CompileExampleStack } from '../examples/compile-stack';
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
