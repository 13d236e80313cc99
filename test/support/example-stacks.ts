import { App, Stack } from 'aws-cdk-lib';
import { CompileExampleStack } from '../../examples/compile-stack';
import { MixedFleetPipelineStack, ModelRegistryPipelineStack, OnnxRuntimeFleetPipelineStack, SingleJetsonPipelineStack } from '../../examples/pipelines';
import { ReleaseExampleStack } from '../../examples/release-stack';

/** Every example stack the CDK app synthesizes, by the name the tests use. */
export const EXAMPLE_STACKS: [string, new (scope: App, id: string) => Stack][] = [
  ['compile', CompileExampleStack],
  ['release', ReleaseExampleStack],
  ['single Jetson pipeline', SingleJetsonPipelineStack],
  ['mixed-fleet pipeline', MixedFleetPipelineStack],
  ['ONNX Runtime pipeline', OnnxRuntimeFleetPipelineStack],
  ['Model Registry pipeline', ModelRegistryPipelineStack],
];

/** A new app (no bundling) with one example stack. */
export function exampleStack(Example: new (scope: App, id: string) => Stack, id = 'Example'): Stack {
  return new Example(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), id);
}
