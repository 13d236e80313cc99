// The baseline of the synth benchmark: an app with one empty stack.
import { App, CfnOutput, Stack } from 'aws-cdk-lib';

const app = new App();
const stack = new Stack(app, 'Empty');
new CfnOutput(stack, 'Nothing', { value: 'empty' });
app.synth();
