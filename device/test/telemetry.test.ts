/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MixedFleetPipelineStack } from '../../examples/pipelines';
import { recordTelemetry, TelemetryEvent } from '../../lambda/device-telemetry/index';
import { encodeNpy, readNpy } from '../src/npy';
import { Server } from '../src/serve';
import { FIXTURES } from '../../test/support/archives';
import { invokeAs } from '../../test/support/iam/caller';
import { deliveredEvent, evaluateRule, parseRule } from '../../test/support/iot-rules';
import { accountOf, definitionOf } from '../../test/support/state-machine';
import { IpcDouble } from './support/ipc-double';

const DIGITS = path.join(FIXTURES, 'digits');

/** What the function writes, as the JSON lines its log would hold. */
function logged(body: () => unknown): Record<string, unknown>[] {
  const lines: string[] = [];
  const level = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = 'INFO';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => { lines.push(String(chunk)); return true; });
  try { body(); } finally { spy.mockRestore(); process.env.LOG_LEVEL = level; }
  return lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('serve-mode telemetry becomes the latency metric of its pipeline and class', () => {
  const stack = new MixedFleetPipelineStack(new App(), 'Prod');
  const account = accountOf(definitionOf(stack))!;
  const fn = account.lambdaFunction('PipelineTelemetry');

  test('a device\'s telemetry reaches the function through the pipeline\'s rule, and counts under its pipeline and class only', async () => {
    // The real agent in serve mode, configured as the pipeline's ServeConfiguration configures it.
    const root = 'edge-model-pipeline/Prod/mixed-fleet';
    const ipc = new IpcDouble();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telemetry-'));
    const server = new Server({ modelPath: path.join(DIGITS, 'cnn.onnx'), inbox: dir, thingName: 'cam-pi-0007', client: ipc, log: () => undefined, topicRoot: root, deviceClass: 'rasp4b' });
    await server.start();
    const x = readNpy(path.join(DIGITS, 'validation', 'inputs.npy'));
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(dir, `${i}.npy`), encodeNpy({ dtype: 'float32', shape: [1, 1, 8, 8], data: (x.data as Float32Array).slice(i * 64, (i + 1) * 64) }));
    await server.processInbox();
    await server.telemetry();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    const message = ipc.published.at(-1)!;
    const doc = JSON.parse(message.payload.toString());

    let lines: Record<string, unknown>[] = [];
    await invokeAs({ account, fn, decisions: account.decisions }, () => {
      // The IoT rule of the synthesized template that reads the device's topic invokes the function.
      const event = deliveredEvent(/PipelineTelemetry/, message.topicName, doc) as unknown as TelemetryEvent;
      expect(event).toEqual({ p90: doc.latencyMs.p90, inferences: 5, deviceClass: 'rasp4b', thingName: 'cam-pi-0007' });
      lines = logged(() => recordTelemetry(event, fn.environment.PIPELINE_NAME, fn.environment.DEVICE_CLASSES.split(',')));
    });
    expect(account.decisions.filter((d) => !d.allowed)).toEqual([]);
    const emf = lines.find((l) => l.DeviceLatencyP90 !== undefined)!;
    expect(emf).toMatchObject({ Pipeline: 'Prod/mixed-fleet', DeviceClass: 'rasp4b', DeviceLatencyP90: doc.latencyMs.p90 });
    const directive = (emf._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];

    // The rasp4b latency alarm watches exactly that metric; the other classes' alarms do not.
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DeviceLatencyP90' } }))
      .map((a) => a.Properties as { Namespace: string; Dimensions: { Name: string; Value: string }[] });
    const dims = (a: { Dimensions: { Name: string; Value: string }[] }) => Object.fromEntries(a.Dimensions.map((d) => [d.Name, d.Value]));
    const watching = alarms.filter((a) => a.Namespace === directive.Namespace && directive.Dimensions.some((set) => set.length === a.Dimensions.length && set.every((name) => dims(a)[name] === emf[name])));
    expect(watching.map(dims)).toEqual([{ Pipeline: 'Prod/mixed-fleet', DeviceClass: 'rasp4b' }]);
    expect(alarms.map(dims).map((d) => d.DeviceClass).sort()).toEqual(['jetson-nano', 'rasp4b', 'x86-gateway']);
  });

  test('the rule reads this pipeline\'s devices only, and passes on no empty telemetry and no predictions', () => {
    const sql = parseRule(JSON.stringify(Template.fromStack(stack).findResources('AWS::IoT::TopicRule')).match(/SELECT latencyMs[^"]+/)![0]);
    const rule = `SELECT ${sql.select.join(', ')} FROM '${sql.from}' WHERE ${sql.where.join(' AND ')}`;
    const doc = { kind: 'telemetry', inferences: 3, latencyMs: { p90: 12.5 } };
    expect(evaluateRule(rule, 'edge-model-pipeline/Prod/mixed-fleet/telemetry/rasp4b/cam-pi-1', doc)).toBeDefined();
    // A dev copy, another pipeline, the shared default root: not this rule's.
    for (const topic of ['edge-model-pipeline/Dev/mixed-fleet/telemetry/rasp4b/cam-pi-1', 'edge-model-pipeline/Prod/doors/telemetry/rasp4b/cam-pi-1', 'edge-model-pipeline/telemetry/rasp4b/cam-pi-1']) {
      expect(evaluateRule(rule, topic, doc)).toBeUndefined();
    }
    expect(evaluateRule(rule, 'edge-model-pipeline/Prod/mixed-fleet/telemetry/rasp4b/cam-pi-1/predictions', { kind: 'prediction', class: 3 })).toBeUndefined();
    expect(evaluateRule(rule, 'edge-model-pipeline/Prod/mixed-fleet/telemetry/rasp4b/cam-pi-1', { ...doc, inferences: 0, latencyMs: null })).toBeUndefined();
  });
});

describe('the telemetry function refuses what no agent sends', () => {
  const ok: TelemetryEvent = { deviceClass: 'rasp4b', thingName: 'cam-pi-1', p90: 10, inferences: 4 };
  test.each([
    ['no class', { ...ok, deviceClass: '' }, /deviceClass/],
    ['no thing', { ...ok, thingName: undefined }, /thingName/],
    ['a negative latency', { ...ok, p90: -1 }, /p90 is -1/],
    ['a latency that is not a number', { ...ok, p90: 'fast' }, /p90 is "fast"/],
    ['no inferences', { ...ok, inferences: 0 }, /inferences is 0/],
  ])('%s', (_name, event, message) => {
    expect(() => recordTelemetry(event as TelemetryEvent, 'Prod/cams', ['rasp4b'])).toThrow(expect.objectContaining({ name: 'TelemetryInputInvalid', message: expect.stringMatching(message) }));
  });

  test('a class the pipeline does not have is logged and not counted', () => {
    let result: unknown;
    const lines = logged(() => { result = recordTelemetry({ ...ok, deviceClass: 'toaster' }, 'Prod/cams', ['rasp4b']); });
    expect(result).toEqual({ counted: false });
    expect(lines).toEqual([expect.objectContaining({ level: 'WARN', deviceClass: 'toaster' })]);
    expect(lines[0]).not.toHaveProperty('_aws');
  });
});
