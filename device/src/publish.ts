import { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { AgentError, AgentErrorCode } from './errors';

/** The part of the Greengrass IPC client the agent uses (the SDK's own request types). */
export interface IpcClient {
  publishToIoTCore(request: greengrasscoreipc.model.PublishToIoTCoreRequest): Promise<unknown>;
  updateState(request: greengrasscoreipc.model.UpdateStateRequest): Promise<unknown>;
}

/** AWS IoT Core's largest MQTT message. */
export const MQTT_MAX_BYTES = 128 * 1024;
/** What a part may carry, leaving room for the envelope. */
const PART_BYTES = MQTT_MAX_BYTES - 4 * 1024;

/** The topic root of an agent no pipeline configured (a pipeline gives its agent a root of its own). */
export const DEFAULT_TOPIC_ROOT = 'edge-model-pipeline';
/** AWS IoT Core's longest topic, in UTF-8 bytes. */
export const TOPIC_MAX_BYTES = 256;
/** AWS IoT Core's most forward slashes in a topic. */
export const TOPIC_MAX_SLASHES = 7;
/** Telemetry of an agent that was not told its device class goes under this class. */
export const UNCLASSIFIED = 'unclassified';

/**
 * Checks a topic root (`--topic-root`): levels of letters, digits and `._-` separated by `/`,
 * no wildcards, no leading `$` or `/`. Returns it.
 */
export function checkTopicRoot(root: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){0,3}$/.test(root)) {
    throw new AgentError(AgentErrorCode.USAGE, `--topic-root ${JSON.stringify(root)} is not a topic root: use 1 to 4 levels of letters, digits and "._-" separated by "/", such as ${DEFAULT_TOPIC_ROOT}`);
  }
  return root;
}

/** `topic` when AWS IoT Core takes it; else a USAGE error that names it and the limit. */
function withinIotLimits(topic: string): string {
  const bytes = Buffer.byteLength(topic, 'utf8');
  const slashes = topic.split('/').length - 1;
  if (bytes > TOPIC_MAX_BYTES || slashes > TOPIC_MAX_SLASHES) {
    throw new AgentError(AgentErrorCode.USAGE, `the topic ${topic} has ${bytes} bytes and ${slashes} slashes; AWS IoT Core takes at most ${TOPIC_MAX_BYTES} and ${TOPIC_MAX_SLASHES}: use a shorter run id, thing name or topic root`);
  }
  return topic;
}

/** The topic a benchmark result goes to: `{root}/results/{runId}/{thingName}`. */
export function resultTopic(root: string, runId: string, thingName: string): string {
  return withinIotLimits(`${root}/results/${sanitize(runId)}/${sanitize(thingName)}`);
}

/** The topic serve-mode telemetry goes to: `{root}/telemetry/{deviceClass}/{thingName}`. */
export function telemetryTopic(root: string, deviceClass: string, thingName: string): string {
  return withinIotLimits(`${root}/telemetry/${sanitize(deviceClass || UNCLASSIFIED)}/${sanitize(thingName)}`);
}

function sanitize(segment: string): string {
  // MQTT wildcards and separators would change what the topic means.
  return segment.split('').map((ch) => ('#+/'.includes(ch) || ch.charCodeAt(0) === 0 ? '_' : ch)).join('');
}

/**
 * The MQTT messages that carry `document`: one when it fits in IoT Core's
 * 128 KB limit, else numbered parts `{ part, parts, messageId, chunk }` that
 * the receiver joins in order. Nothing is dropped.
 */
export function splitForMqtt(document: unknown, messageId: string, limit = PART_BYTES): Buffer[] {
  const whole = Buffer.from(JSON.stringify(document), 'utf8');
  if (whole.length <= limit) return [whole];
  const text = whole.toString('base64');
  const size = Math.floor((limit * 3) / 4 / 4) * 4;
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks.map((chunk, i) => Buffer.from(JSON.stringify({ messageId, part: i + 1, parts: chunks.length, encoding: 'base64', chunk }), 'utf8'));
}

/** Joins the parts `splitForMqtt` made, in any order; throws when one is missing. */
export function joinParts(messages: Buffer[]): unknown {
  const parsed = messages.map((m) => JSON.parse(m.toString('utf8')) as { part?: number; parts?: number; chunk?: string });
  if (parsed.length === 1 && parsed[0].parts === undefined) return parsed[0];
  const parts = parsed[0].parts!;
  const sorted = parsed.sort((a, b) => a.part! - b.part!);
  if (sorted.length !== parts || sorted.some((p, i) => p.part !== i + 1)) throw new Error(`expected ${parts} parts, got ${sorted.map((p) => p.part).join(', ')}`);
  return JSON.parse(Buffer.from(sorted.map((p) => p.chunk).join(''), 'base64').toString('utf8'));
}

/** Publishes `document` to IoT Core through Greengrass IPC, split when it is too large. Returns the message count. */
export async function publishDocument(client: IpcClient, topicName: string, document: unknown, messageId: string): Promise<number> {
  const messages = splitForMqtt(document, messageId);
  for (const payload of messages) {
    await client.publishToIoTCore({ topicName, qos: greengrasscoreipc.model.QOS.AT_LEAST_ONCE, payload });
  }
  return messages.length;
}

/** Connects to the Greengrass nucleus (only inside a Greengrass component). */
export async function connectIpc(): Promise<IpcClient & { close(): Promise<void> }> {
  const client = greengrasscoreipc.createClient();
  await client.connect();
  return client;
}
