#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { CompileExampleStack } from '../examples/compile-stack';
import { MixedFleetPipelineStack, ModelRegistryPipelineStack, OnnxRuntimeFleetPipelineStack, SingleJetsonPipelineStack } from '../examples/pipelines';
import { ReleaseExampleStack } from '../examples/release-stack';

const app = new App();
new MixedFleetPipelineStack(app, 'EdgeModelMixedFleetPipeline', {
  description: 'cdk-edge-model-pipeline example: Jetson, Raspberry Pi 4 and x86 gateway fleets, canary, gate, approval and rollout rings',
});
new SingleJetsonPipelineStack(app, 'EdgeModelSingleJetsonPipeline', {
  description: 'cdk-edge-model-pipeline example: the smallest pipeline, one Jetson Nano fleet',
});
new OnnxRuntimeFleetPipelineStack(app, 'EdgeModelOnnxRuntimePipeline', {
  description: 'cdk-edge-model-pipeline example: an ONNX Runtime fleet, no compilation',
});
new ModelRegistryPipelineStack(app, 'EdgeModelRegistryPipeline', {
  description: 'cdk-edge-model-pipeline example: runs started by SageMaker Model Registry approvals',
});
new CompileExampleStack(app, 'EdgeModelCompileExample', {
  description: 'cdk-edge-model-pipeline example: SageMaker Neo compile stage for three edge targets',
});
new ReleaseExampleStack(app, 'EdgeModelReleaseExample', {
  description: 'cdk-edge-model-pipeline example: compile, publish Greengrass components and roll out to three device classes with revert',
});
app.synth();
