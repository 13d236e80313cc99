import { App } from 'aws-cdk-lib';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { approval, ApprovalDeps, DecideEvent, RequestEvent } from '../../../lambda/approval/index';
import { handle } from '../../../lambda/rollout-ledger/index';
import { runMetrics, RunMetricsEvent, RunMetricsResult } from '../../../lambda/run-metrics/index';
import { Ledger } from '../../../lambda/shared/ledger';
import { MixedFleetPipelineStack } from '../../../examples/pipelines';
import { fixture, makeTarGz, neoCompiledFiles } from '../../../test/support/archives';
import { Clock } from '../../../test/support/clock';
import { FakeFleet, JobSnapshot } from '../../../test/support/fake-fleet';
import { FakeNeo, JobScript } from '../../../test/support/fake-neo';
import { BUCKET, FakePublishing } from '../../../test/support/fake-publishing';
import { MemoryTable } from '../../../test/support/memory-table';
import { asFunction, authorizeCommand, env } from '../../../test/support/iam/caller';
import { definitionOf, expectValidAsl, runDefinition, TaskHandler, taskStateNames } from '../../../test/support/state-machine';
import { FakeCanary } from './fake-canary';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export const CLASSES = ['jetson-nano', 'rasp4b', 'x86-gateway'];
const VARIANTS: Record<string, { variant: string; target: string }[]> = {
  'jetson-nano': [{ variant: 'jetson-nano-trt', target: 'jetson_nano' }, { variant: 'jetson-nano-cpu', target: 'platform' }],
  'rasp4b': [{ variant: 'rasp4b', target: 'rasp4b' }],
  'x86-gateway': [{ variant: 'x86-gateway', target: 'platform' }],
};
export const RINGS = CLASSES.flatMap((c) => [`${c}-ring1`, `${c}-ring2`]);

export const mixedFleetDefinition = (() => {
  const d = definitionOf(new MixedFleetPipelineStack(new App(), 'Mixed'));
  expectValidAsl(d);
  return d;
})();

interface Decision { approve: boolean; comment?: string }

/** Everything around the mixed-fleet pipeline, faked at the AWS API, every handler's own code in between. */
export class MixedFleetWorld {
  public readonly clock = new Clock();
  public readonly ledger = new MemoryTable();
  public readonly approvals = new MemoryTable();
  public readonly notifications: Record<string, unknown>[] = [];
  public readonly fleets: Record<string, FakeFleet> = Object.fromEntries(RINGS.map((g) => [g, new FakeFleet(`${g}: `, 60, this.ledger, this.clock, `${g}_d`)]));
  public readonly ringReverts: Record<string, unknown>[] = [];
  /** What the run-metrics handler reported at the end of each run. */
  public readonly runMetrics: RunMetricsResult[] = [];
  /** Makes the run-metrics handler fail, as a Lambda error would. */
  public metricsFail = false;
  public canary = new FakeCanary((group) => [`${group}-a`, `${group}-b`], this.ledger);
  public decision: Decision = { approve: true, comment: 'looks good' };
  /** Which canary devices report, per variant (the rest stay silent); every device by default. */
  public reporting: Record<string, string[]> = {};
  /** Faults to inject, by Task state name: the state's handler throws this instead of answering. */
  public faults: Record<string, () => Error> = {};
  /** How each variant's Neo job behaves (FakeNeo scripts); every job completes by default. */
  public neoScripts: Record<string, JobScript> = {};
  private publishing?: FakePublishing;

  public async run(runId: string, jobs: Partial<Record<string, JobSnapshot[][]>> = {}) {
    const neo = new FakeNeo(this.neoScripts, 30, fixture('digits/model.tar.gz'), this.clock);
    this.publishing = new FakePublishing(this.ledger, this.clock);
    for (const c of CLASSES) for (const v of VARIANTS[c]) this.publishing.objects.set(`compiled/${runId}/${v.variant}/model-${v.target}.tar.gz`, makeTarGz(neoCompiledFiles()));
    for (const g of RINGS) this.fleets[g].script(...(jobs[g] ?? [[{ queued: 0, inProgress: 0, succeeded: 5 }]]));
    this.canary.done();
    // The canary groups keep what earlier runs deployed to them.
    const earlier = this.canary;
    this.canary = new FakeCanary((group) => [`${group}-a`, `${group}-b`], this.ledger);
    this.canary.deployments.push(...earlier.deployments);
    this.canary.canceled.push(...earlier.canceled);
    this.canary.reporting = this.reporting;
    const handlers: Record<string, TaskHandler> = {
      ...neo.handlers(),
      ...this.publishing.handlers(),
      ...Object.assign({}, ...CLASSES.map((c) => this.canary.handlers(`${c} canary: `))),
      ...Object.assign({}, ...RINGS.map((g) => this.fleets[g].handlers())),
      ...this.pipelineHandlers(),
    };
    for (const [state, fault] of Object.entries(this.faults)) {
      if (!handlers[state]) throw new Error(`no Task state ${state} to inject a fault into`);
      handlers[state] = () => {
        throw fault();
      };
    }
    const input = { runId, model: { s3Uri: `s3://${BUCKET}/models/resnet18/model.tar.gz` } };
    try {
      return await runDefinition(mixedFleetDefinition, input as never, { handlers, context: { ...this.clock.context(), Task: { Token: `TOKEN-${runId}` } } });
    } finally {
      await this.publishing.done();
      this.canary.done();
    }
  }

  private pipelineHandlers(): Record<string, TaskHandler> {
    const notify = (input: Json) => {
      // Step Functions serializes an object Message to JSON text for SNS.
      const message = (input as { Message: string | Record<string, unknown> }).Message;
      this.notifications.push(typeof message === 'string' ? JSON.parse(message) : message);
      return { MessageId: String(this.notifications.length) };
    };
    const sfn = { send: async (cmd: { constructor: { name: string }; input: Record<string, string> }) => {
      await authorizeCommand(cmd);
      this.lastDecision = cmd;
      return {};
    } } as unknown as SFNClient;
    const sns = { send: async (cmd: { constructor: { name: string }; input: { Message: string } }) => {
      await authorizeCommand(cmd);
      return notify({ Message: cmd.input.Message });
    } } as never;
    // The approval function's table and topic, as its synthesized environment names them.
    const deps = (): ApprovalDeps => ({
      client: this.approvals.client() as DynamoDBDocumentClient, table: env('APPROVAL_TABLE', 'canary'), sfn, sns,
      topicArn: env('TOPIC_ARN', 'arn:aws:sns:eu-west-1:111122223333:notifications'), functionName: 'approval',
    });
    const ringLedger: TaskHandler = async (input) => (await handle(input as never, new Ledger(env('LEDGER_TABLE', 'ledger'), this.ledger.client()), new Date(this.clock.now))) as Json;
    const metrics: TaskHandler = (input) => {
      if (this.metricsFail) throw Object.assign(new Error('Task timed out after 10.00 seconds'), { name: 'Sandbox.Timedout' });
      const result = runMetrics(input as unknown as RunMetricsEvent, new Date(this.clock.now));
      this.runMetrics.push(result);
      return result as unknown as Json;
    };
    const handlers: Record<string, TaskHandler> = {
      // Every notification and every run record, whatever the ending.
      ...Object.fromEntries(taskStateNames(mixedFleetDefinition).filter((n) => /^Notify/.test(n)).map((n) => [n, notify])),
      ...Object.fromEntries(taskStateNames(mixedFleetDefinition).filter((n) => /^RecordRun/.test(n)).map((n) => [n, metrics])),
      RequestApproval: async (input) => {
        const event = (input as unknown as { Payload: RequestEvent }).Payload;
        await approval(event, deps());
        // The approver decides through the approval function, not with the token.
        await asFunction(/Approval[0-9A-F]{8}$/, () => approval({ runId: event.runId, ...this.decision } as DecideEvent, deps(), 'approver@example.com'));
        const sent = this.lastDecision!;
        if (sent.constructor.name === 'SendTaskFailureCommand') throw Object.assign(new Error(sent.input.cause), { name: sent.input.error });
        return JSON.parse(sent.input.output) as Json;
      },
    };
    CLASSES.forEach((c) => {
      handlers[`${c}: PrepareRings`] = ringLedger;
      handlers[`${c}: RecordRings`] = ringLedger;
      // The class-level revert deploys to the ring's group: the ring's fake fleet answers it.
      handlers[`${c}: RevertRing`] = (input) => {
        this.ringReverts.push(input as Record<string, unknown>);
        const group = RINGS.find((g) => (input as { TargetArn: string }).TargetArn.endsWith(`/${g}`))!;
        return this.fleets[group].handlers()[`${group}: RevertDeployment`](input);
      };
      handlers[`${c}: FindRingDeployment`] = (input) => this.fleets[RINGS.find((g) => (input as { TargetArn: string }).TargetArn.endsWith(`/${g}`))!].listLatest(input as Record<string, unknown>);
      handlers[`${c}: CancelRingDeployment`] = (input) => this.fleets[(input as { DeploymentId: string }).DeploymentId.split('_d')[0]].cancel(input as Record<string, unknown>);
    });
    return handlers;
  }

  private lastDecision?: { constructor: { name: string }; input: Record<string, string> };
}

