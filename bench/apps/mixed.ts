// The largest example alone, for the synth benchmark.
import { App } from 'aws-cdk-lib';
import { MixedFleetPipelineStack } from '../../examples/pipelines';

const app = new App();
new MixedFleetPipelineStack(app, 'EdgeModelMixedFleetPipeline');
app.synth();
