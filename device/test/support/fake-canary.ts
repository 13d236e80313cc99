import * as path from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { runBenchmark } from '../../src/benchmark';
import { BenchmarkResult } from '../../src/result';
import { collect } from '../../../lambda/canary-collector/index';
import { control, ControlEvent } from '../../../lambda/canary-control/index';
import { gate, GateEvent } from '../../../lambda/quality-gate/index';
import { CanaryStore } from '../../../lambda/shared/canary-store';
import { FIXTURES } from '../../../test/support/archives';
import { expectValidRequest } from '../../../test/support/aws-model';
import { asFunction, authorizeCommand, env } from '../../../test/support/iam/caller';
import { MemoryTable } from '../../../test/support/memory-table';
import { TaskHandler } from '../../../test/support/state-machine';
import { deliveredEvent, deployedTopicRoot } from '../../../test/support/iot-rules';
import { resultTopic } from '../../src/publish';

const COLLECTOR = /ResultsCollector[0-9A-F]{8}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const DIGITS = path.join(FIXTURES, 'digits');

/** Real result documents of the fixture models, one per device and variant. */
export const resultCache = new Map<string, BenchmarkResult>();
const cache = resultCache;
export async function deviceResult(thingName: string, variant: string, runId: string): Promise<BenchmarkResult> {
  const model = variant === 'pruned' ? 'cnn-pruned.onnx' : 'cnn.onnx';
  const k = `${thingName}/${variant}/${runId}`;
  if (!cache.has(k)) cache.set(k, await runBenchmark({ modelPath: path.join(DIGITS, model), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId, thingName, variant, warmup: 1, iterations: 20 }));
  return cache.get(k)!;
}

/** The cloud around the canary: canary table and ledger in memory, Greengrass and S3 recorded, devices that report (or not). */
/**
 * The cloud around canaries: canary table and ledger in memory, Greengrass and S3
 * recorded, devices that run the agent for real and report (or stay silent).
 */
export class FakeCanary {
  public readonly deployments: Record<string, unknown>[] = [];
  public readonly canceled: string[] = [];
  public readonly reports = new Map<string, string>();
  public completions: string[] = [];
  /** Which devices report, per variant; the rest stay silent. */
  public reporting: Record<string, string[]> = {};
  /** Every device publishes its result twice (MQTT delivers at least once). */
  public reportTwice = false;
  /** A stand-in S3 client (not a class-wide mock, so it can live beside other S3 fakes): it keeps what is put. */
  private readonly s3 = { send: async (cmd: { constructor: { name: string }; input: { Bucket: string; Key: string; Body: string } }) => {
    await authorizeCommand(cmd as never);
    if (cmd.constructor.name === 'GetObjectCommand') {
      const body = this.reports.get(cmd.input.Key);
      if (body === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
      return { ContentLength: Buffer.byteLength(body), Body: { transformToString: async () => body } };
    }
    expectValidRequest('s3', 'PutObject', { ...cmd.input, Body: undefined });
    // S3's conditional write: a key that exists is not written again.
    if ((cmd.input as { IfNoneMatch?: string }).IfNoneMatch === '*' && this.reports.has(cmd.input.Key)) {
      throw Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    }
    this.reports.set(cmd.input.Key, String(cmd.input.Body));
    return {};
  } } as unknown as S3Client;
  public readonly store: CanaryStore;
  private readonly sfn = { send: async (cmd: { constructor: { name: string }; input: { output?: string } }) => {
    expectValidRequest('stepfunctions', cmd.constructor.name.replace(/Command$/, ''), cmd.input);
    await authorizeCommand(cmd as never);
    if (cmd.constructor.name === 'SendTaskSuccessCommand') this.completions.push(cmd.input.output!);
    return {};
  } } as unknown as SFNClient;
  private readonly iot = { send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
    expectValidRequest('iot', 'ListThingsInThingGroup', cmd.input);
    await authorizeCommand(cmd);
    return { things: this.devicesOf(cmd.input.thingGroupName as string) };
  } } as unknown as IoTClient;

  /** The devices of each canary group. */
  constructor(
    public readonly devicesOf: (group: string) => string[] = () => ['gw-01', 'gw-02', 'gw-03'],
    public readonly ledgerTable = new MemoryTable(),
    public readonly canaryTable = new MemoryTable(),
  ) {
    this.store = new CanaryStore('canary', this.canaryTable.client());
  }

  public done(): void {
    // Nothing to restore: no class-wide mocks.
  }

  /** The handlers of one class's canary states (prefix: `{class} canary: `) and the gate. */
  public handlers(P = 'x86-gateway canary: '): Record<string, TaskHandler> {
    const results = () => ({ s3: this.s3, bucket: env('STORE_BUCKET', 'storec1f82936'), prefix: env('REPORT_PREFIX', 'reports/') });
    const clients = { iot: this.iot, sfn: this.sfn, get results() { return results(); } };
    // Each handler reads its table and bucket names from its function's environment.
    const store = () => new CanaryStore(env('CANARY_TABLE', 'canary'), this.canaryTable.client());
    const greengrass = (operation: string) => (input: Json): Json => {
      expectValidRequest('greengrassv2', operation, input);
      if (operation === 'CancelDeployment') {
        this.canceled.push((input as { DeploymentId: string }).DeploymentId);
        return { Message: 'canceled' };
      }
      // Greengrass answers a client token it has seen with its first response.
      const token = (input as { ClientToken?: string }).ClientToken;
      const seen = token === undefined ? -1 : this.deployments.findIndex((d) => d.ClientToken === token);
      if (seen >= 0) return { DeploymentId: `d-${seen + 1}` };
      this.deployments.push(input as Record<string, unknown>);
      return { DeploymentId: `d-${this.deployments.length}` };
    };
    return {
      [`${P}RegisterCanary`]: async (input) => (await control(input as unknown as ControlEvent, store(), clients)) as Json,
      [`${P}DeployCanary`]: greengrass('CreateDeployment'),
      [`${P}FindCanaryDeployment`]: (input) => {
        expectValidRequest('greengrassv2', 'ListDeployments', input);
        const target = (input as { TargetArn: string }).TargetArn;
        const i = this.deployments.map((d) => d.TargetArn).lastIndexOf(target);
        if (i < 0) return { Deployments: [] };
        const id = `d-${i + 1}`;
        return { Deployments: [{ DeploymentId: id, DeploymentName: this.deployments[i].DeploymentName as string, TargetArn: target, DeploymentStatus: this.canceled.includes(id) ? 'CANCELED' : 'ACTIVE', IsLatestForTarget: true }] };
      },
      [`${P}GetCanaryDeployment`]: (input) => {
        expectValidRequest('greengrassv2', 'GetDeployment', input);
        const d = this.deployments[Number((input as { DeploymentId: string }).DeploymentId.slice(2)) - 1];
        return { DeploymentId: (input as { DeploymentId: string }).DeploymentId, Components: d.Components as Json };
      },
      [`${P}RestoreCanary`]: greengrass('CreateDeployment'),
      [`${P}RestoreCanaryAfterFault`]: greengrass('CreateDeployment'),
      [`${P}CloseCanary`]: async (input) => (await control(input as unknown as ControlEvent, store(), clients)) as Json,
      [`${P}WaitForCanaryResults`]: async (input) => {
        // A waitForTaskToken Lambda task sends { FunctionName, Payload }.
        const event = (input as unknown as { Payload: { token: string; runId: string; deviceClass: string; variant: string } }).Payload;
        const before = this.completions.length;
        await control({ op: 'attach', ...event }, store(), clients);
        // The devices run the agent for real and publish; the topic rule hands each result to the collector.
        const group = (await store().state(event.runId, event.deviceClass, event.variant))!.group;
        // Each device publishes where its deployed agent's configuration says (the agent's own resultTopic).
        const deployed = this.deployments.filter((d) => String(d.TargetArn).endsWith(`/${group}`)).at(-1);
        const root = deployed ? deployedTopicRoot(deployed.Components as Record<string, unknown>) : undefined;
        for (const thing of this.reporting[event.variant] ?? this.devicesOf(group)) {
          const doc = await deviceResult(thing, event.variant, event.runId);
          // The topic rule that reads the device's topic invokes the collector with what its SQL selects;
          // the collector's code runs as the collector function.
          const delivered = root === undefined ? { ...doc, topicRunId: doc.runId, topicThing: thing }
            : deliveredEvent(COLLECTOR, resultTopic(root, doc.runId, thing), doc as never);
          for (let i = 0; i < (this.reportTwice ? 2 : 1); i++) {
            await asFunction(COLLECTOR, () => collect(delivered as never, {
              store: store(), s3: this.s3, sfn: this.sfn, bucket: env('STORE_BUCKET', 'storec1f82936'), prefix: env('REPORT_PREFIX', 'reports/'),
            }));
          }
        }
        if (this.completions.length === before) throw Object.assign(new Error('no SendTaskSuccess before the task timed out'), { name: 'States.Timeout' });
        return JSON.parse(this.completions[this.completions.length - 1]) as Json;
      },
      'QualityGate': async (input) => (await gate(input as unknown as GateEvent, env('STORE_BUCKET', 'storec1f82936'), env('REPORT_PREFIX', 'reports/'), this.s3)) as unknown as Json,
    };
  }
}

