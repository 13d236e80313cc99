import { App, Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { PipelineStateMachine } from '../../lib';

/** A stack whose state machine is `states` Pass states, each with a comment of `commentBytes`. */
function machineOf(states: number, commentBytes: number): App {
  const app = new App();
  const stack = new Stack(app, 'Test');
  let chain = sfn.Chain.start(new sfn.Pass(stack, 'P0', { comment: 'x'.repeat(commentBytes) }));
  for (let i = 1; i < states; i++) chain = chain.next(new sfn.Pass(stack, `P${i}`, { comment: 'x'.repeat(commentBytes) }));
  new PipelineStateMachine(stack, 'Machine', { definition: chain });
  return app;
}

describe('PipelineStateMachine and Step Functions\' 1 MB definition limit', () => {
  test('a definition over 1 MB is refused at synth, with its size and the fix', () => {
    expect(() => machineOf(1100, 1000).synth()).toThrow(/definition: the state machine's definition is about 1\d{3} KB; Step Functions accepts at most 1 MB \(1048576 bytes\).*give each pipeline fewer classes/);
  });

  test('one under the limit synthesizes', () => {
    expect(() => machineOf(900, 1000).synth()).not.toThrow();
  });
});
