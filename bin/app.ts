#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { CompileExampleStack } from '../examples/compile-stack';
import { ReleaseExampleStack } from '../examples/release-stack';

const app = new App();
new CompileExampleStack(app, 'EdgeModelCompileExample', {
  description: 'cdk-edge-model-pipeline example: SageMaker Neo compile stage for three edge targets',
});
new ReleaseExampleStack(app, 'EdgeModelReleaseExample', {
  description: 'cdk-edge-model-pipeline example: compile, publish Greengrass components and roll out to three device classes with revert',
});
app.synth();
