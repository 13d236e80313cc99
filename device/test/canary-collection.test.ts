/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as path from 'node:path';
import { IoTClient, ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { runBenchmark } from '../src/benchmark';
import { BenchmarkResult } from '../src/result';
import { collect, CollectorDeps } from '../../lambda/canary-collector/index';
import { control } from '../../lambda/canary-control/index';
import { CanaryHandOff, CanaryOutcome, CanaryStore } from '../../lambda/shared/canary-store';
import { FIXTURES } from '../../test/support/archives';
import { MemoryTable } from '../../test/support/memory-table';

const DIGITS = path.join(FIXTURES, 'digits');
const RUN = 'digits-v7';
const VARIANT = 'onnx';
const CANARY = ['cam-01', 'cam-02', 'cam-03'];

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const iot = mockClient(IoTClient);
let table: MemoryTable;
let store: CanaryStore;
let deps: CollectorDeps;
const clients = () => ({ iot: new IoTClient({}), sfn: new SFNClient({}), results: { s3: new S3Client({}), bucket: 'store', prefix: 'reports/' } });
const results = new Map<string, BenchmarkResult>();

async function result(thingName: string, model = 'cnn.onnx', runId = RUN): Promise<BenchmarkResult> {
  const key = `${thingName}/${model}/${runId}`;
  if (!results.has(key)) {
    results.set(key, await runBenchmark({ modelPath: path.join(DIGITS, model), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId, thingName, variant: VARIANT, warmup: 1, iterations: 10 }));
  }
  return results.get(key)!;
}

/** What the IoT rule hands the collector: the message plus the topic's run and thing. */
const message = (doc: BenchmarkResult | Record<string, unknown>, topicRunId = (doc as BenchmarkResult).runId, topicThing = (doc as BenchmarkResult).thingName) => ({ ...doc, topicRunId, topicThing });

beforeEach(async () => {
  s3.reset();
  sfn.reset();
  iot.reset();
  s3.on(PutObjectCommand).resolves({});
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskHeartbeatCommand).resolves({});
  iot.on(ListThingsInThingGroupCommand).resolves({ things: CANARY });
  table = new MemoryTable();
  store = new CanaryStore('canary', table.client());
  deps = { store, s3: new S3Client({}), sfn: new SFNClient({}), bucket: 'store', prefix: 'reports/' };
  await control({ op: 'register', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT, group: 'gateway-canary', quorumPercentage: 60, timeoutSeconds: 3600 }, store, clients());
  await control({ op: 'attach', token: 'TOKEN-1', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, store, clients());
});
afterAll(() => { s3.restore(); sfn.restore(); iot.restore(); });

const completion = (): CanaryHandOff => JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.output!);
/** The results document the canary wrote for the gate. */
const resultsDocument = (variant = VARIANT): CanaryOutcome => {
  const put = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input).filter((i) => i.Key === `reports/${RUN}/canary-results/x86-gateway/${variant}.json`);
  expect(put).toHaveLength(1);
  return JSON.parse(String(put[0].Body));
};
const stateItem = () => table.get(`CANARY#${RUN}#${VARIANT}`, 'STATE#x86-gateway')!;
const rejectedCount = () => table.get(`CANARY#${RUN}#${VARIANT}`, 'REJECTED')?.rejected;
/** How many devices the canary counted: the sizes of its shards' sets. */
const counted = () => [...table.items.values()].filter((i) => i.pk === `CANARY#${RUN}#${VARIANT}` && String(i.sk).startsWith('SHARD#'))
  .reduce((n, i) => n + ((i.reported as Set<string> | undefined)?.size ?? 0), 0);

describe('collecting canary results', () => {
  test('completes the task when every expected device has reported, with every report', async () => {
    expect(await collect(message(await result('cam-01')), deps)).toBe('accepted');
    expect(await collect(message(await result('cam-02')), deps)).toBe('accepted');
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(2);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(await collect(message(await result('cam-03')), deps)).toBe('completed');
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.taskToken).toBe('TOKEN-1');
    expect(completion()).toEqual({
      runId: RUN, variant: VARIANT, deviceClass: 'x86-gateway', expected: 3, reported: 3, missing: [], missingCount: 0,
      resultsS3Uri: `s3://store/reports/${RUN}/canary-results/x86-gateway/${VARIANT}.json`,
    });
    // The results go to the store (a state's data holds 256 KB), every device's summary in it.
    const outcome = resultsDocument();
    expect(outcome).toMatchObject({ runId: RUN, variant: VARIANT, expected: 3, reported: 3, missing: [] });
    expect(outcome.results.map((r) => r.thingName)).toEqual(CANARY);
    expect(outcome.results[0].accuracy!.top1).toBeCloseTo(0.975, 3);
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key).filter((k) => k!.includes('/canary/'))).toEqual(CANARY.map((t) => `reports/${RUN}/canary/${VARIANT}/${t}.json`));
    // The token is gone from the table once used: it is never kept longer than needed.
    const state = stateItem();
    expect(state.state).toBe('CLOSED');
    expect(state.token).toBeUndefined();
  });

  test('rejects a result from a device outside the canary group, and counts it', async () => {
    expect(await collect(message(await result('intruder-9')), deps)).toBe('rejected');
    expect(rejectedCount()).toBe(1);
    expect(counted()).toBe(0);
  });

  test('rejects a forged run id, and adds nothing to the table for it', async () => {
    const items = table.items.size;
    expect(await collect(message(await result('cam-01', 'cnn.onnx', 'someone-elses-run')), deps)).toBe('rejected');
    expect(table.items.size).toBe(items);
    // A run id in the document that the topic does not carry is forged too.
    expect(await collect(message(await result('cam-01'), 'other-run'), deps)).toBe('rejected');
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(0);
  });

  test('rejects a document whose thing name is not the one in its topic', async () => {
    expect(await collect(message(await result('cam-01'), RUN, 'cam-02'), deps)).toBe('rejected');
  });

  test('rejects a malformed document', async () => {
    const doc = { ...(await result('cam-01')), accuracy: { top1: 7 } };
    expect(await collect(message(doc as never), deps)).toBe('rejected');
    expect(await collect({ hello: 'world', topicRunId: RUN, topicThing: 'cam-01' }, deps)).toBe('rejected');
    expect(rejectedCount()).toBe(1);
    expect(counted()).toBe(0);
  });

  test('a duplicate changes nothing', async () => {
    const first = await result('cam-01');
    const doc = message(first);
    expect(await collect(doc, deps)).toBe('accepted');
    expect(await collect(doc, deps)).toBe('duplicate');
    expect(counted()).toBe(1);
    // A second, different document from the device does not replace the first.
    expect(await collect(message({ ...first, peakRssMb: 1 }), deps)).toBe('duplicate');
    expect(table.get(`CANARY#${RUN}#${VARIANT}`, 'THING#cam-01')!.report).toMatchObject({ peakRssMb: first.peakRssMb });
    // Every write of the device's document is conditional: S3 keeps the first one too.
    expect(s3.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key!.endsWith('/cam-01.json')).every((c) => c.args[0].input.IfNoneMatch === '*')).toBe(true);
  });

  test('a result after the canary closed changes nothing', async () => {
    await control({ op: 'close', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, store, clients()).catch(() => undefined);
    expect(await collect(message(await result('cam-01')), deps)).toBe('late');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  test('a device error document counts as a report: a failed device, its reason carried', async () => {
    const error = await runBenchmark({ modelPath: path.join(DIGITS, 'no-such.onnx'), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId: RUN, thingName: 'cam-03', variant: VARIANT });
    expect(error.status).toBe('ERROR');
    await collect(message(await result('cam-01')), deps);
    await collect(message(await result('cam-02')), deps);
    expect(await collect(message(error), deps)).toBe('completed');
    expect(resultsDocument().results.find((r) => r.thingName === 'cam-03')).toMatchObject({ status: 'ERROR', error: { code: 'MODEL_INVALID' } });
  });

  test('at the timeout, half the devices with a 60 % quorum is not enough: CanaryNoQuorum names the missing ones', async () => {
    await collect(message(await result('cam-01')), deps);
    await expect(control({ op: 'close', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, store, clients())).rejects.toMatchObject({
      name: 'CanaryNoQuorum',
      message: '1 of 3 canary devices of x86-gateway reported before the timeout, 2 needed; missing: cam-02, cam-03',
    });
  });

  test('at the timeout, two of three with a 60 % quorum goes on with what came', async () => {
    await collect(message(await result('cam-01')), deps);
    await collect(message(await result('cam-02')), deps);
    const outcome = await control({ op: 'close', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, store, clients()) as CanaryHandOff;
    expect(outcome).toMatchObject({ expected: 3, reported: 2, missing: ['cam-03'], missingCount: 1 });
    expect(resultsDocument().results.map((r) => r.thingName)).toEqual(['cam-01', 'cam-02']);
    // The timed-out task's token is not kept.
    expect(stateItem().token).toBeUndefined();
  });

  test('no device reporting at the timeout fails', async () => {
    await expect(control({ op: 'close', runId: RUN, deviceClass: 'x86-gateway', variant: VARIANT }, store, clients())).rejects.toMatchObject({ name: 'CanaryNoQuorum' });
  });

  test('results that arrived before the state machine started waiting complete the task when it does', async () => {
    // A second variant registered, every device reports, and only then the token arrives.
    await control({ op: 'register', runId: RUN, deviceClass: 'x86-gateway', variant: 'fast', group: 'gateway-canary', quorumPercentage: 100, timeoutSeconds: 3600 }, store, clients());
    for (const thing of CANARY) await collect(message({ ...(await result(thing)), variant: 'fast' }), deps);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    await control({ op: 'attach', token: 'TOKEN-2', runId: RUN, deviceClass: 'x86-gateway', variant: 'fast' }, store, clients());
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0].args[0].input.taskToken).toBe('TOKEN-2');
  });

  test('two classes canarying the same variant in one run (two ONNX Runtime classes) neither count nor complete each other\'s canary', async () => {
    const pis = ['pi-01', 'pi-02'];
    iot.on(ListThingsInThingGroupCommand, { thingGroupName: 'pi-canary' }).resolves({ things: pis });
    await control({ op: 'register', runId: RUN, deviceClass: 'rasp4b', variant: VARIANT, group: 'pi-canary', quorumPercentage: 100, timeoutSeconds: 3600 }, store, clients());
    await control({ op: 'attach', token: 'TOKEN-PI', runId: RUN, deviceClass: 'rasp4b', variant: VARIANT }, store, clients());
    for (const thing of pis) await collect(message(await result(thing)), deps);
    // The Pis' canary completed with the Pis only; the gateways' is still open, waiting for its own three.
    const calls = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.taskToken)).toEqual(['TOKEN-PI']);
    expect(JSON.parse(calls[0].output!)).toMatchObject({ deviceClass: 'rasp4b', expected: 2, reported: 2, resultsS3Uri: `s3://store/reports/${RUN}/canary-results/rasp4b/${VARIANT}.json` });
    expect(stateItem().state).toBe('OPEN');
    for (const thing of CANARY) await collect(message(await result(thing)), deps);
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual(['TOKEN-PI', 'TOKEN-1']);
    expect(resultsDocument().results.map((r) => r.thingName)).toEqual(CANARY);
  });

  test('an empty canary group is refused at registration', async () => {
    iot.on(ListThingsInThingGroupCommand).resolves({ things: [] });
    await expect(control({ op: 'register', runId: 'r2', deviceClass: 'x86-gateway', variant: VARIANT, group: 'empty', quorumPercentage: 100, timeoutSeconds: 60 }, store, clients()))
      .rejects.toMatchObject({ name: 'CanaryGroupEmpty' });
  });
});
