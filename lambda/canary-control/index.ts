import { IoTClient, ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { SFNClient, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { CanaryStore, completeWhenReported, handOff, outcome, ResultsStore, someNames } from '../shared/canary-store';
import { NamedError } from '../shared/errors';
import { log } from '../shared/log';

export const CANARY_GROUP_EMPTY = 'CanaryGroupEmpty';
export const CANARY_NO_QUORUM = 'CanaryNoQuorum';
export const CANARY_INPUT_INVALID = 'CanaryInputInvalid';

export interface RegisterEvent {
  readonly op: 'register';
  readonly runId: string;
  readonly deviceClass: string;
  readonly variant: string;
  readonly group: string;
  /** The share of the group that must report for a timed-out canary to go on: 1-100. */
  readonly quorumPercentage: number;
  readonly timeoutSeconds: number;
}
/** Sent by the `.waitForTaskToken` state: keep the token, and finish at once if everyone reported already. */
export interface AttachEvent { readonly op: 'attach'; readonly token: string; readonly runId: string; readonly deviceClass: string; readonly variant: string }
/** After the timeout: close the canary; go on when the quorum reported. */
export interface CloseEvent { readonly op: 'close'; readonly runId: string; readonly deviceClass: string; readonly variant: string }
export type ControlEvent = RegisterEvent | AttachEvent | CloseEvent;

export interface Clients {
  readonly iot: IoTClient;
  readonly sfn: SFNClient;
  /** Where the canaries' results are written for the gate. */
  readonly results: ResultsStore;
}

async function listThings(iot: IoTClient, group: string): Promise<string[]> {
  const things: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group, recursive: false, maxResults: 250, nextToken }));
    things.push(...(out.things ?? []));
    nextToken = out.nextToken;
  } while (nextToken);
  return things.sort();
}

export async function control(event: ControlEvent, store: CanaryStore, clients: Clients, now = new Date()): Promise<unknown> {
  const missing = ['runId', 'deviceClass', 'variant'].filter((k) => typeof (event as unknown as Record<string, unknown>)?.[k] !== 'string');
  if (event && ['register', 'attach', 'close'].includes(event.op) && missing.length) {
    throw new NamedError(CANARY_INPUT_INVALID, `${event.op} needs ${missing.join(', ')} (strings): got ${JSON.stringify(Object.fromEntries(missing.map((k) => [k, (event as unknown as Record<string, unknown>)[k] ?? null])))}`);
  }
  switch (event?.op) {
    case 'register': {
      const things = await listThings(clients.iot, event.group);
      if (things.length === 0) {
        throw new NamedError(CANARY_GROUP_EMPTY, `the canary thing group ${event.group} has no devices: add at least one core device of class ${event.deviceClass}`);
      }
      const quorum = Math.max(1, Math.ceil((things.length * event.quorumPercentage) / 100));
      await store.open({
        runId: event.runId,
        variant: event.variant,
        deviceClass: event.deviceClass,
        group: event.group,
        expected: things.length,
        quorum,
        expiresAt: Math.floor(now.getTime() / 1000) + event.timeoutSeconds + 7 * 24 * 3600,
      }, things);
      log('INFO', 'canary opened', { runId: event.runId, variant: event.variant, group: event.group, expected: things, quorum });
      return { expected: things, quorum };
    }
    case 'attach': {
      const state = await store.attachToken(event.runId, event.deviceClass, event.variant, event.token);
      if (!state) throw new NamedError(CANARY_INPUT_INVALID, `no canary is registered for run ${event.runId} variant ${event.variant}`);
      if (state.state === 'CLOSED') {
        // A re-run of this run id: the canary closed in an earlier attempt, and its results stand.
        const result = await outcome(store, state);
        if (result.reported < state.quorum) {
          // Nothing completes this task: its token is not kept.
          await store.forgetToken(event.runId, event.deviceClass, event.variant, event.token);
          throw new NamedError(CANARY_NO_QUORUM, `the canary of run ${event.runId} variant ${event.variant} closed in an earlier attempt with ${result.reported} of ${result.expected} devices reported, ${state.quorum} needed; missing: ${someNames(result.missing)}`);
        }
        log('INFO', 'canary closed in an earlier attempt: its results are reused', { runId: event.runId, variant: event.variant, reported: result.reported });
        await clients.sfn.send(new SendTaskSuccessCommand({ taskToken: event.token, output: JSON.stringify(await handOff(result, clients.results)) }));
        await store.forgetToken(event.runId, event.deviceClass, event.variant, event.token);
        return { waiting: false, reused: true };
      }
      // Every device may have reported before the state machine started waiting.
      await completeWhenReported(store, clients.sfn, clients.results, state);
      return { waiting: true };
    }
    case 'close': {
      const state = await store.state(event.runId, event.deviceClass, event.variant);
      if (!state) throw new NamedError(CANARY_INPUT_INVALID, `no canary is registered for run ${event.runId} variant ${event.variant}`);
      await store.close(event.runId, event.deviceClass, event.variant);
      // The task this token belongs to timed out: nothing completes it any more.
      if (state.token) await store.forgetToken(event.runId, event.deviceClass, event.variant, state.token);
      const result = await outcome(store, state);
      if (result.reported < state.quorum) {
        throw new NamedError(CANARY_NO_QUORUM, `${result.reported} of ${result.expected} canary devices of ${state.deviceClass} reported before the timeout, ${state.quorum} needed; missing: ${someNames(result.missing)}`);
      }
      log('WARN', 'canary timed out with a quorum', { runId: event.runId, variant: event.variant, reported: result.reported, expected: result.expected, missing: someNames(result.missing) });
      return handOff(result, clients.results);
    }
    default:
      throw new NamedError(CANARY_INPUT_INVALID, `op ${JSON.stringify((event as { op?: unknown })?.op ?? null)} is not one of register, attach, close`);
  }
}

let clients: Clients | undefined;

export async function handler(event: ControlEvent): Promise<unknown> {
  const { CANARY_TABLE: table, STORE_BUCKET: bucket, REPORT_PREFIX: prefix } = process.env;
  if (!table || !bucket || prefix === undefined) throw new Error('CANARY_TABLE, STORE_BUCKET and REPORT_PREFIX must be set');
  clients ??= { iot: new IoTClient({}), sfn: new SFNClient({}), results: { s3: new S3Client({}), bucket, prefix } };
  return control(event, new CanaryStore(table), clients);
}
