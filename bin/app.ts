#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { CompileExampleStack } from '../examples/compile-stack';

const app = new App();
new CompileExampleStack(app, 'EdgeModelCompileExample', {
  description: 'cdk-edge-model-pipeline example: SageMaker Neo compile stage for three edge targets',
});
app.synth();
