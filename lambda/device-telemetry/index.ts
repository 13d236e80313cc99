import { NamedError } from '../shared/errors';
import { log } from '../shared/log';

export const TELEMETRY_INPUT_INVALID = 'TelemetryInputInvalid';

/**
 * What the pipeline's telemetry rule passes on from one serve-mode telemetry document
 * (`{topicRoot}/telemetry/{deviceClass}/{thingName}`): the class and thing from the topic, the
 * document's p90 latency and inference count.
 */
export interface TelemetryEvent {
  readonly deviceClass: string;
  readonly thingName: string;
  readonly p90: number;
  readonly inferences: number;
}

export interface TelemetryResult {
  /** False when the class is none of the pipeline's (nothing is counted). */
  readonly counted: boolean;
}

function invalid(message: string): never {
  throw new NamedError(TELEMETRY_INPUT_INVALID, message);
}

/**
 * One Embedded Metric Format record per document: `DeviceLatencyP90` (milliseconds) by
 * Pipeline and DeviceClass, so each class's latency alarm sees only its own devices of its own
 * pipeline. Telemetry of a class the pipeline does not have is logged and not counted.
 */
export function recordTelemetry(event: TelemetryEvent, pipeline: string, classes: string[], now: Date = new Date()): TelemetryResult {
  if (!event || typeof event !== 'object') invalid('The event is not an object: expected { deviceClass, thingName, p90, inferences } from the telemetry rule.');
  if (typeof event.deviceClass !== 'string' || event.deviceClass === '') invalid(`deviceClass is ${JSON.stringify(event.deviceClass)}: expected the telemetry topic's class level.`);
  if (typeof event.thingName !== 'string' || event.thingName === '') invalid(`thingName is ${JSON.stringify(event.thingName)}: expected the telemetry topic's thing level.`);
  if (typeof event.p90 !== 'number' || !Number.isFinite(event.p90) || event.p90 < 0) invalid(`p90 is ${JSON.stringify(event.p90)}: expected a latency of 0 ms or more.`);
  if (!Number.isInteger(event.inferences) || event.inferences < 1) invalid(`inferences is ${JSON.stringify(event.inferences)}: expected a whole number of at least 1 (the rule passes on no empty telemetry).`);
  if (!classes.includes(event.deviceClass)) {
    log('WARN', 'telemetry of a class this pipeline does not have: not counted', { deviceClass: event.deviceClass, thingName: event.thingName, classes });
    return { counted: false };
  }
  log('INFO', 'device latency', {
    thingName: event.thingName,
    inferences: event.inferences,
    _aws: { Timestamp: now.getTime(), CloudWatchMetrics: [{ Namespace: 'EdgeModelPipeline', Dimensions: [['Pipeline', 'DeviceClass']], Metrics: [{ Name: 'DeviceLatencyP90', Unit: 'Milliseconds' }] }] },
    Pipeline: pipeline,
    DeviceClass: event.deviceClass,
    DeviceLatencyP90: event.p90,
  });
  return { counted: true };
}

export async function handler(event: TelemetryEvent): Promise<TelemetryResult> {
  const pipeline = process.env.PIPELINE_NAME;
  const classes = (process.env.DEVICE_CLASSES ?? '').split(',').filter((c) => c !== '');
  if (!pipeline || classes.length === 0) throw new Error('PIPELINE_NAME and DEVICE_CLASSES must be set (the pipeline sets them).');
  return recordTelemetry(event, pipeline, classes);
}
