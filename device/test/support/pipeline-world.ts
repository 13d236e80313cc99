import { App, Stack } from 'aws-cdk-lib';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { approval, ApprovalDeps, DecideEvent, RequestEvent } from '../../../lambda/approval/index';
import { handle } from '../../../lambda/rollout-ledger/index';
import { runMetrics, RunMetricsEvent, RunMetricsResult } from '../../../lambda/run-metrics/index';
import { Ledger } from '../../../lambda/shared/ledger';
import { EdgeModelPipeline } from '../../../lib';
import { MixedFleetPipelineStack, ModelRegistryPipelineStack, OnnxRuntimeFleetPipelineStack, SingleJetsonPipelineStack } from '../../../examples/pipelines';
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
/** One device class of an example pipeline, as its stack declares it. */
export interface ClassShape {
  readonly name: string;
  /** Its variants and the Neo target each compiles for; none on an ONNX Runtime fleet. */
  readonly variants: { readonly variant: string; readonly target: string }[];
  /** Its thing groups: the canary group and the rings, in rollout order. */
  readonly canary: string;
  readonly rings: string[];
}

/** An example pipeline: its stack, its classes, and the model a run starts from. */
export interface PipelineShape {
  readonly name: string;
  readonly stack: new (scope: App, id: string) => Stack;
  readonly classes: ClassShape[];
  /** The model's key in the store, and the fixture uploaded there. */
  readonly model: { readonly key: string; readonly fixture: string };
}

const RESNET_MODEL = { key: 'models/resnet18/model.tar.gz', fixture: 'digits/model.tar.gz' };
const withRings = (name: string, variants: ClassShape['variants'], rings = [`${name}-ring1`, `${name}-ring2`]): ClassShape => ({ name, variants, canary: `${name}-canary`, rings });

/** Every example pipeline the fault-injection test and the end-to-end runs drive. */
export const SHAPES: Record<string, PipelineShape> = {
  'mixed-fleet': {
    name: 'mixed-fleet', stack: MixedFleetPipelineStack, model: RESNET_MODEL,
    classes: [
      withRings('jetson-nano', [{ variant: 'jetson-nano-trt', target: 'jetson_nano' }, { variant: 'jetson-nano-cpu', target: 'platform' }]),
      withRings('rasp4b', [{ variant: 'rasp4b', target: 'rasp4b' }]),
      withRings('x86-gateway', [{ variant: 'x86-gateway', target: 'platform' }]),
    ],
  },
  'single Jetson': {
    name: 'single Jetson', stack: SingleJetsonPipelineStack, model: RESNET_MODEL,
    classes: [withRings('jetson-nano', [{ variant: 'jetson-nano', target: 'jetson_nano' }], ['jetson-nano-fleet'])],
  },
  'ONNX Runtime': {
    name: 'ONNX Runtime', stack: OnnxRuntimeFleetPipelineStack, model: { key: 'models/digits/model.onnx', fixture: 'digits/cnn.onnx' },
    classes: [withRings('arm-gateway', [], ['arm-gateway-fleet'])],
  },
  'Model Registry': {
    name: 'Model Registry', stack: ModelRegistryPipelineStack, model: RESNET_MODEL,
    classes: [withRings('rasp4b', [{ variant: 'rasp4b', target: 'rasp4b' }], ['rasp4b-fleet'])],
  },
};

const synthesized = new Map<string, { definition: Json; pipeline: EdgeModelPipeline }>();
function synth(shape: PipelineShape): { definition: Json; pipeline: EdgeModelPipeline } {
  if (!synthesized.has(shape.name)) {
    const stack = new shape.stack(new App(), shape.name.replace(/[^A-Za-z]/g, ''));
    const definition = definitionOf(stack);
    expectValidAsl(definition);
    synthesized.set(shape.name, { definition, pipeline: (stack as Stack & { pipeline: EdgeModelPipeline }).pipeline });
  }
  return synthesized.get(shape.name)!;
}

/** The synthesized state machine of an example pipeline (synthesized once per process). */
export const definitionOfShape = (shape: PipelineShape): Json => synth(shape).definition;

/** The component names an example pipeline deploys: each class's model, and the agent. */
export function componentsOfShape(shape: PipelineShape): { models: Record<string, string>; agent: string } {
  const { pipeline } = synth(shape);
  return { models: { ...pipeline.componentNames }, agent: pipeline.agent.componentName };
}

/** The variants a class's canary runs: its Neo variants, or the ONNX model itself. */
export const canaryVariants = (c: ClassShape): string[] => (c.variants.length ? c.variants.map((v) => v.variant) : ['onnx']);
export const ringsOf = (shape: PipelineShape): string[] => shape.classes.flatMap((c) => c.rings);

export const CLASSES = SHAPES['mixed-fleet'].classes.map((c) => c.name);
export const RINGS = ringsOf(SHAPES['mixed-fleet']);
export const mixedFleetDefinition = definitionOfShape(SHAPES['mixed-fleet']);

let compiled: Buffer | undefined;
/** What Neo writes for a variant (the same archive for every variant and run: building one runs tar). */
const compiledModel = (): Buffer => (compiled ??= makeTarGz(neoCompiledFiles()));

interface Decision { approve: boolean; comment?: string }

/** Everything around an example pipeline, faked at the AWS API, every handler's own code in between. */
export class PipelineWorld {
  public readonly definition: Json;
  public readonly rings: string[];
  public readonly clock = new Clock();
  public readonly ledger = new MemoryTable();
  public readonly approvals = new MemoryTable();
  public readonly notifications: Record<string, unknown>[] = [];
  public readonly fleets: Record<string, FakeFleet>;
  public readonly ringReverts: Record<string, unknown>[] = [];
  /** What the run-metrics handler reported at the end of each run. */
  public readonly runMetrics: RunMetricsResult[] = [];
  /** Makes the run-metrics handler fail, as a Lambda error would. */
  public metricsFail = false;
  public canary = new FakeCanary((group) => [`${group}-a`, `${group}-b`], this.ledger);
  public decision: Decision = { approve: true, comment: 'looks good' };
  /** Which canary devices report, per variant (the rest stay silent); every device by default. */
  public reporting: Record<string, string[]> = {};
  /** Every canary device publishes its result twice. */
  public reportTwice = false;
  /** Runs share one canary table, as in an account: a re-run of a run id finds its canaries closed. Off by default (each run measures anew). */
  public keepCanaries = false;
  /** Faults to inject, by Task state name: the state's handler throws this instead of answering. */
  public faults: Record<string, () => Error> = {};
  /** How each variant's Neo job behaves (FakeNeo scripts); every job completes by default. */
  public neoScripts: Record<string, JobScript> = {};
  private publishing?: FakePublishing;

  constructor(public readonly shape: PipelineShape = SHAPES['mixed-fleet']) {
    this.definition = definitionOfShape(shape);
    this.rings = ringsOf(shape);
    this.fleets = Object.fromEntries(this.rings.map((g) => [g, new FakeFleet(`${g}: `, 60, this.ledger, this.clock, `${g}_d`)]));
  }

  public async run(runId: string, jobs: Partial<Record<string, JobSnapshot[][]>> = {}) {
    const neo = new FakeNeo(this.neoScripts, 30, fixture('digits/model.tar.gz'), this.clock);
    this.publishing = new FakePublishing(this.ledger, this.clock);
    this.publishing.objects.set(this.shape.model.key, fixture(this.shape.model.fixture));
    for (const c of this.shape.classes) for (const v of c.variants) this.publishing.objects.set(`compiled/${runId}/${v.variant}/model-${v.target}.tar.gz`, compiledModel());
    for (const g of this.rings) this.fleets[g].script(...(jobs[g] ?? [[{ queued: 0, inProgress: 0, succeeded: 5 }]]));
    this.canary.done();
    // The canary groups keep what earlier runs deployed to them.
    const earlier = this.canary;
    this.canary = new FakeCanary((group) => [`${group}-a`, `${group}-b`], this.ledger, this.keepCanaries ? earlier.canaryTable : undefined);
    this.canary.deployments.push(...earlier.deployments);
    this.canary.canceled.push(...earlier.canceled);
    this.canary.reporting = this.reporting;
    this.canary.reportTwice = this.reportTwice;
    const handlers: Record<string, TaskHandler> = {
      ...neo.handlers(),
      ...this.publishing.handlers(),
      // One copy of the canary states serves every class: each call names its group.
      ...this.canary.handlers('canary: '),
      ...this.ringHandlers(),
      ...this.pipelineHandlers(),
    };
    const states = taskStateNames(this.definition);
    for (const [state, fault] of Object.entries(this.faults)) {
      if (!states.includes(state)) throw new Error(`no Task state ${state} to inject a fault into`);
      handlers[state] = () => {
        throw fault();
      };
    }
    const input = { runId, model: { s3Uri: `s3://${BUCKET}/${this.shape.model.key}` } };
    try {
      return await runDefinition(this.definition, input as never, { handlers, context: { ...this.clock.context(), Task: { Token: `TOKEN-${runId}` } } });
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
      ...Object.fromEntries(taskStateNames(this.definition).filter((n) => /^Notify/.test(n)).map((n) => [n, notify])),
      ...Object.fromEntries(taskStateNames(this.definition).filter((n) => /^RecordRun/.test(n)).map((n) => [n, metrics])),
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
    const groupOf = (input: Json) => this.rings.find((g) => (input as { TargetArn: string }).TargetArn.endsWith(`/${g}`))!;
    // The class rollouts' own states (one state machine for every class: each call names its class or ring).
    handlers.PrepareRings = ringLedger;
    handlers.RecordRings = ringLedger;
    // The class-level revert deploys to the ring's group: the ring's fake fleet answers it.
    handlers.RevertRing = (input) => {
      this.ringReverts.push(input as Record<string, unknown>);
      const group = groupOf(input);
      return this.fleets[group].handlers()[`${group}: RevertDeployment`](input);
    };
    handlers.FindRingDeployment = (input) => this.fleets[groupOf(input)].listLatest(input as Record<string, unknown>);
    handlers.CancelRingDeployment = (input) => this.fleets[(input as { DeploymentId: string }).DeploymentId.split('_d')[0]].cancel(input as Record<string, unknown>);
    return handlers;
  }

  /**
   * The states of the ring rollout (one copy, `ring: …`, for every ring of every class): each
   * call is answered by the fake fleet of the ring it is for, found from what the call names
   * (its group, target, deployment or job).
   */
  private ringHandlers(): Record<string, TaskHandler> {
    const ringOf = (input: Json): string => {
      const call = input as { group?: string; TargetArn?: string; DeploymentId?: string; JobId?: string };
      const deployment = call.DeploymentId ?? call.JobId?.replace(/^job-/, '');
      const g = this.rings.find((r) => call.group === r || call.TargetArn?.endsWith(`/${r}`) || (deployment !== undefined && new RegExp(`^${r}_d\\d+$`).test(deployment)));
      // The verdict names no group: it reads only the counts it is given.
      if (!g && (input as { op?: string }).op === 'verdict') return this.rings[0];
      if (!g) throw new Error(`no ring for ${JSON.stringify(input)}`);
      return g;
    };
    const first = this.rings[0];
    const handlers: Record<string, TaskHandler> = {};
    for (const op of Object.keys(this.fleets[first].handlers()).map((k) => k.slice(`${first}: `.length))) {
      handlers[`ring: ${op}`] = (input) => {
        const g = ringOf(input);
        return this.fleets[g].handlers()[`${g}: ${op}`](input);
      };
    }
    return handlers;
  }

  private lastDecision?: { constructor: { name: string }; input: Record<string, string> };
}


/** The mixed-fleet pipeline's world: three classes, two rings each, a manual approval. */
export class MixedFleetWorld extends PipelineWorld {
  constructor() {
    super(SHAPES['mixed-fleet']);
  }
}
