import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  AccuracyBaseline,
  ArtifactStore,
  CanaryEvaluation,
  CanaryEvaluationProps,
  CanaryResults,
  EdgeAgentComponent,
  EdgeFleet,
  PipelineStateMachine,
  QualityGate,
  QualityThresholds,
  ReleaseLedger,
} from '../../lib';
import { problems } from '../support/problems';
import { expectCompliant } from '../support/compliance';

function setup() {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const ledger = new ReleaseLedger(stack, 'Ledger', { encryptionKey: store.encryptionKey });
  const fleet = new EdgeFleet(stack, 'CanaryFleet', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store, thingGroupName: 'rasp4b-canary' });
  const agent = new EdgeAgentComponent(stack, 'Agent', { fleets: [fleet] });
  const results = new CanaryResults(stack, 'Results', { store });
  return { app, stack, store, ledger, fleet, agent, results };
}

function canaryIn(s: ReturnType<typeof setup>, props: Partial<CanaryEvaluationProps> = {}) {
  return new CanaryEvaluation(s.stack, 'Canary', {
    canary: s.fleet, results: s.results, agent: s.agent, ledger: s.ledger,
    modelComponentName: 'com.example.digits.rasp4b', datasetPath: '/opt/data/dataset.json', ...props,
  });
}


describe('CanaryResults', () => {
  test('the topic rule reads only the result topic and sends what it cannot deliver to an encrypted dead-letter queue', () => {
    const s = setup();
    const t = Template.fromStack(s.stack);
    t.hasResourceProperties('AWS::IoT::TopicRule', {
      TopicRulePayload: Match.objectLike({
        Sql: "SELECT *, topic(3) AS topicRunId, topic(4) AS topicThing FROM 'edge-model-pipeline/results/+/+'",
        Actions: [{ Lambda: { FunctionArn: Match.anyValue() } }],
        ErrorAction: { Sqs: Match.objectLike({ QueueUrl: Match.anyValue(), RoleArn: Match.anyValue() }) },
      }),
    });
    t.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'iot.amazonaws.com', SourceArn: Match.anyValue(), SourceAccount: { Ref: 'AWS::AccountId' } });
  });

  test('the table keeps tokens encrypted, and lets them expire', () => {
    const s = setup();
    Template.fromStack(s.stack).hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
    });
  });

  test('only the state machines it is granted to can be completed by the collector, without a dependency cycle', () => {
    const s = setup();
    const canary = canaryIn(s);
    const machine = new PipelineStateMachine(s.stack, 'Machine', { definition: canary });
    s.results.grantTaskResponses(machine.stateMachine);
    const t = Template.fromStack(s.stack);
    type Policy = { Properties: { PolicyName: string; PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } } };
    const policies = Object.values(t.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('ResultsTaskResponses0') } })) as Policy[];
    const statementsOf = (name: RegExp) => policies.find((p) => name.test(p.Properties.PolicyName))!.Properties.PolicyDocument.Statement;
    // The collector completes and heartbeats; the control function only completes (a re-run); neither fails a task.
    expect(statementsOf(/TaskResponses0[0-9A-F]{8}$/)).toEqual([{ Action: ['states:SendTaskSuccess', 'states:SendTaskHeartbeat'], Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^Machine/) } }]);
    expect(statementsOf(/TaskResponses0Control/)).toEqual([{ Action: 'states:SendTaskSuccess', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^Machine/) } }]);
  });

  test('a stack with a canary and a gate passes cdk-nag AwsSolutions and Serverless and the Control Tower guard rules', () => {
    const s = setup();
    const canary = canaryIn(s);
    const gate = new QualityGate(s.stack, 'Gate', { store: s.store, canaries: [canary], thresholds: { minAccuracy: 0.9 } });
    const machine = new PipelineStateMachine(s.stack, 'Machine', { definition: canary.next(gate) });
    s.results.grantTaskResponses(machine.stateMachine);
    expectCompliant(s.app, s.stack, { serverless: true });
  });
});

describe('bad input', () => {
  test.each<[string, Partial<CanaryEvaluationProps>, string]>([
    ['a timeout of a minute', { timeout: Duration.minutes(1) }, 'timeout: got 60'],
    ['a heartbeat longer than the timeout', { timeout: Duration.minutes(10), heartbeat: Duration.minutes(20) }, 'heartbeat: got 1200'],
    ['a quorum of 0 %', { quorumPercentage: 0 }, 'quorumPercentage: got 0'],
    ['a relative data set path', { datasetPath: 'data/dataset.json' }, 'datasetPath: got "data/dataset.json". Give the absolute path'],
  ])('CanaryEvaluation fails on %s', (_label, props, message) => {
    expect(problems(() => canaryIn(setup(), props))).toContain(message);
  });

  test.each<[string, QualityThresholds, string]>([
    ['an accuracy above 1', { minAccuracy: 97.5 }, 'thresholds.minAccuracy: got 97.5. Use a fraction from 0 to 1'],
    ['a latency of zero (CDK refuses negative durations itself)', { maxP90Latency: Duration.millis(0) }, 'thresholds.maxP90Latency: got "0 ms". Give a latency above zero.'],
    ['a fixed baseline of 120 %', { maxAccuracyDrop: 0.02, baseline: AccuracyBaseline.fixed(1.2) }, 'thresholds.baseline: got 1.2'],
    ['no threshold at all', { requireCompatible: true }, 'a gate that checks nothing lets everything through'],
    ['zero devices reporting', { minAccuracy: 0.9, minDevicesReporting: 0 }, 'thresholds.minDevicesReporting: got 0'],
  ])('QualityGate fails on %s', (_label, thresholds, message) => {
    const s = setup();
    const canary = canaryIn(s);
    expect(problems(() => new QualityGate(s.stack, 'Gate', { store: s.store, canaries: [canary], thresholds }))).toContain(message);
  });
});
