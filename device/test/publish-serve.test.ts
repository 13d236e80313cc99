/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/cli';
import { encodeNpy, readNpy } from '../src/npy';
import { DEFAULT_TOPIC_ROOT, joinParts, MQTT_MAX_BYTES, publishDocument, resultTopic, splitForMqtt, telemetryTopic } from '../src/publish';
import { Server } from '../src/serve';
import { FIXTURES } from '../../test/support/archives';
import { IpcDouble } from './support/ipc-double';

const DIGITS = path.join(FIXTURES, 'digits');
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-io-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('publishing through Greengrass IPC', () => {
  test('a result goes to a topic that names the run and the thing, as one QoS 1 message', async () => {
    const ipc = new IpcDouble();
    const n = await publishDocument(ipc, resultTopic(DEFAULT_TOPIC_ROOT, 'digits-v7', 'cam-jn-0001'), { status: 'OK' }, 'm');
    expect(n).toBe(1);
    expect(ipc.published).toEqual([{ topicName: 'edge-model-pipeline/results/digits-v7/cam-jn-0001', qos: '1', payload: Buffer.from('{"status":"OK"}'), wireBytes: expect.any(Number) }]);
  });

  test('MQTT wildcards in names cannot change what the topic means', () => {
    expect(resultTopic(DEFAULT_TOPIC_ROOT, 'run/#', 'thing+1')).toBe('edge-model-pipeline/results/run__/thing_1');
    expect(telemetryTopic('edge-model-pipeline/Prod/digits', 'rasp/4b', 'cam#1')).toBe('edge-model-pipeline/Prod/digits/telemetry/rasp_4b/cam_1');
  });

  test('each pipeline\'s agent publishes under its own root; telemetry says the device class', () => {
    expect(resultTopic('edge-model-pipeline/Dev/digits', 'r1', 'cam-1')).toBe('edge-model-pipeline/Dev/digits/results/r1/cam-1');
    expect(telemetryTopic('edge-model-pipeline/Dev/digits', 'jetson-nano', 'cam-1')).toBe('edge-model-pipeline/Dev/digits/telemetry/jetson-nano/cam-1');
    // An agent nobody told its class publishes under "unclassified" (which no fleet's IoT policy allows).
    expect(telemetryTopic(DEFAULT_TOPIC_ROOT, '', 'cam-1')).toBe('edge-model-pipeline/telemetry/unclassified/cam-1');
  });

  test('a topic IoT Core would refuse is refused before anything runs, naming the limit', async () => {
    expect(() => resultTopic(DEFAULT_TOPIC_ROOT, 'r'.repeat(80), 't'.repeat(160))).toThrow(/has 269 bytes and 3 slashes; AWS IoT Core takes at most 256 and 7/);
    for (const root of ['', '/abs', 'a/+/b', 'a/#', '$aws/things', 'a/b/c/d/e', 'a//b']) {
      await expect(main(['benchmark', '--model', 'm.onnx', '--dataset', 'd.json', '--topic-root', root], {})).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('--topic-root') });
    }
    await expect(main(['benchmark', '--model', 'm.onnx', '--dataset', 'd.json', '--run-id', 'r'.repeat(80), '--thing', 't'.repeat(160)], {}))
      .rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('at most 256') });
  });

  test('a document over the MQTT limit is split into parts that rebuild it exactly: nothing is lost', async () => {
    const big = { kind: 'benchmark', samples: Array.from({ length: 30000 }, (_, i) => ({ i, label: i % 10, score: Math.sin(i) })) };
    const ipc = new IpcDouble();
    const n = await publishDocument(ipc, 't', big, 'run-1/cam');
    expect(n).toBeGreaterThan(1);
    for (const message of ipc.published) expect(message.payload.length).toBeLessThanOrEqual(MQTT_MAX_BYTES);
    expect(joinParts(ipc.published.map((m) => m.payload).reverse())).toEqual(big);
  });

  test('a missing part is noticed', () => {
    const parts = splitForMqtt({ data: 'x'.repeat(400_000) }, 'id');
    expect(() => joinParts(parts.slice(1))).toThrow(/expected \d+ parts/);
  });

  test('the CLI publishes the result document it writes when asked', async () => {
    const ipc = new IpcDouble();
    const out = path.join(dir, 'result.json');
    const code = await main(['benchmark', '--model', path.join(DIGITS, 'cnn.onnx'), '--dataset', path.join(DIGITS, 'validation', 'dataset.json'),
      '--run-id', 'digits-v7', '--thing', 'cam-jn-0001', '--iterations', '20', '--warmup', '2', '--out', out, '--publish',
      '--topic-root', 'edge-model-pipeline/Prod/digits'], {}, async () => ipc, () => undefined);
    expect(code).toBe(0);
    expect(ipc.published[0]?.topicName).toBe('edge-model-pipeline/Prod/digits/results/digits-v7/cam-jn-0001');
    const written = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(written).toMatchObject({ status: 'OK', runId: 'digits-v7', thingName: 'cam-jn-0001' });
    expect(ipc.published).toHaveLength(1);
    expect(JSON.parse(ipc.published[0].payload.toString())).toEqual(written);
  });

  test('under Greengrass the thing name comes from the environment and publishing is on', async () => {
    const ipc = new IpcDouble();
    fs.writeFileSync(path.join(dir, 'bad.onnx'), 'nope');
    const env = { AWS_IOT_THING_NAME: 'cam-pi-0042', AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: '/greengrass/v2/ipc.socket' };
    const code = await main(['benchmark', '--model', path.join(dir, 'bad.onnx'), '--dataset', path.join(DIGITS, 'validation', 'dataset.json'), '--run-id', 'r9'], env, async () => ipc, () => undefined);
    // The error document is published, and the exit status says the benchmark failed.
    expect(code).toBe(1);
    expect(ipc.published[0].topicName).toBe('edge-model-pipeline/results/r9/cam-pi-0042');
    expect(JSON.parse(ipc.published[0].payload.toString())).toMatchObject({ status: 'ERROR', error: { code: 'MODEL_INVALID' } });
  });

  test('--help prints the usage, exit status included, and exits 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['benchmark', '--help']]) {
      let printed = '';
      await expect(main(argv, {}, undefined, (t) => { printed += t; })).resolves.toBe(0);
      expect(printed).toMatch(/^usage:/);
      expect(printed).toContain('Exit status');
    }
  });

  test('bad command lines are usage errors', async () => {
    await expect(main(['benchmark', '--model'], {})).rejects.toMatchObject({ code: 'USAGE' });
    for (const [flag, value] of [['--iterations', '0'], ['--inference-timeout', '0'], ['--warmup', '-1']]) {
      await expect(main(['benchmark', '--model', 'm.onnx', '--dataset', 'd.json', flag, value], {})).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining(flag) });
    }
    await expect(main(['train'], {})).rejects.toMatchObject({ code: 'USAGE', message: expect.stringContaining('unknown command "train"') });
  });
});

describe('serve mode', () => {
  const sample = (index: number) => {
    const x = readNpy(path.join(DIGITS, 'validation', 'inputs.npy'));
    return encodeNpy({ dtype: 'float32', shape: [1, 1, 8, 8], data: (x.data as Float32Array).slice(index * 64, (index + 1) * 64) });
  };

  test('predicts what arrives in the inbox and publishes predictions and drift telemetry', async () => {
    const ipc = new IpcDouble();
    const inbox = path.join(dir, 'inbox');
    const server = new Server({ modelPath: path.join(DIGITS, 'cnn.onnx'), inbox, thingName: 'cam-jn-0001', client: ipc, log: () => undefined, topicRoot: 'edge-model-pipeline/Prod/digits', deviceClass: 'jetson-nano' });
    await server.start();
    const labels = Array.from(readNpy(path.join(DIGITS, 'validation', 'labels.npy')).data as BigInt64Array, Number);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(inbox, `${String(i).padStart(3, '0')}.npy`), sample(i));
    expect(await server.processInbox()).toBe(20);
    expect(fs.readdirSync(inbox)).toEqual([]);
    const predictions = ipc.published.map((m) => JSON.parse(m.payload.toString()));
    expect(predictions).toHaveLength(20);
    expect(new Set(ipc.published.map((m) => m.topicName))).toEqual(new Set(['edge-model-pipeline/Prod/digits/telemetry/jetson-nano/cam-jn-0001/predictions']));
    const right = predictions.filter((p, i) => p.class === labels[i]).length;
    expect(right).toBeGreaterThanOrEqual(18);
    const telemetry = await server.telemetry() as { inferences: number; classHistogram: number[]; confidenceHistogram: { counts: number[] }; latencyMs: { p90: number } };
    expect(telemetry.inferences).toBe(20);
    expect(telemetry.classHistogram.reduce((a, b) => a + b, 0)).toBe(20);
    expect(telemetry.confidenceHistogram.counts.reduce((a, b) => a + b, 0)).toBe(20);
    expect(telemetry.latencyMs.p90).toBeGreaterThan(0);
    expect(ipc.published.at(-1)!.topicName).toBe('edge-model-pipeline/Prod/digits/telemetry/jetson-nano/cam-jn-0001');
    expect(ipc.states).toEqual(['RUNNING']);
    await server.stop();
  });

  test('a model that fails to load reports ERRORED, so Greengrass rolls the device back', async () => {
    const ipc = new IpcDouble();
    fs.writeFileSync(path.join(dir, 'broken.onnx'), 'not a model');
    const server = new Server({ modelPath: path.join(dir, 'broken.onnx'), inbox: path.join(dir, 'inbox'), thingName: 't', client: ipc, log: () => undefined });
    await expect(server.start()).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    expect(ipc.states).toEqual(['ERRORED']);
  });

  test('a run of failing inferences reports ERRORED and stops; it never keeps running broken', async () => {
    const ipc = new IpcDouble();
    const inbox = path.join(dir, 'inbox');
    const server = new Server({ modelPath: path.join(DIGITS, 'cnn.onnx'), inbox, thingName: 't', client: ipc, maxConsecutiveFailures: 3, log: () => undefined });
    await server.start();
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(inbox, `bad-${i}.npy`), encodeNpy({ dtype: 'float32', shape: [1, 7], data: new Float32Array(7) }));
    await server.processInbox();
    expect(server.errored).toBe(true);
    expect(ipc.states).toEqual(['RUNNING', 'ERRORED']);
    await expect(server.processInbox()).rejects.toThrow('not running');
    await server.stop();
  });

  test('one bad input among good ones is logged and skipped', async () => {
    const lines: string[] = [];
    const inbox = path.join(dir, 'inbox');
    const server = new Server({ modelPath: path.join(DIGITS, 'cnn.onnx'), inbox, thingName: 't', log: (l) => lines.push(l) });
    await server.start();
    fs.writeFileSync(path.join(inbox, 'a.npy'), sample(0));
    fs.writeFileSync(path.join(inbox, 'b.npy'), Buffer.from('garbage'));
    fs.writeFileSync(path.join(inbox, 'c.npy'), sample(1));
    expect(await server.processInbox()).toBe(2);
    expect(server.errored).toBe(false);
    expect(lines.some((l) => l.includes('"inference failed"') && l.includes('b.npy'))).toBe(true);
    await server.stop();
  });
});
