/**
 * @jest-environment ./test/support/native-environment.js
 */
import { BenchmarkResult } from '../src/result';
import { CanaryHandOff, CanaryOutcome } from '../../lambda/shared/canary-store';
import { DYNAMODB_ITEM_THROUGHPUT } from '../../test/support/memory-table';
import { DEVICES, reportAll, resultTemplate, RUN, VARIANT, World, world } from './support/canary-scale';

let template: BenchmarkResult;
beforeAll(async () => {
  template = await resultTemplate();
});

function expectEveryDeviceOnce(w: World): void {
  expect(w.sfn.completions).toHaveLength(1);
  const handOff = JSON.parse(w.sfn.completions[0]) as CanaryHandOff;
  expect(handOff).toMatchObject({ expected: 1000, reported: 1000, missing: [], missingCount: 0 });
  // A state's data holds 256 KB: the hand-off stays small whatever the group's size.
  expect(Buffer.byteLength(w.sfn.completions[0])).toBeLessThan(1024);
  const results = JSON.parse(w.objects.get(`reports/${RUN}/canary-results/x86-gateway/${VARIANT}.json`)!) as CanaryOutcome;
  expect(results.results.map((r) => r.thingName).sort()).toEqual(DEVICES);
  const counted = [...w.table.items.values()].filter((i) => String(i.sk).startsWith('SHARD#')).reduce((n, i) => n + (i.reported as Set<string>).size, 0);
  expect(counted).toBe(1000);
  expect(w.table.get(`CANARY#${RUN}#${VARIANT}`, 'STATE#x86-gateway')).toMatchObject({ state: 'CLOSED' });
  expect(w.table.get(`CANARY#${RUN}#${VARIANT}`, 'STATE#x86-gateway')!.token).toBeUndefined();
}

describe('a canary group of 1,000 devices reporting within one second', () => {
  test('at DynamoDB\'s limits: every result counted once, the task completed once, nothing throttled', async () => {
    const w = world(DYNAMODB_ITEM_THROUGHPUT.writeUnitsPerSecond, 7);
    const { outcomes, lost } = await reportAll(w, template, (i) => i % 10 === 0);
    expect(lost).toBe(0);
    expect(w.table.throttled).toBe(0);
    // No item is hot: the busiest takes a few percent of the write units an item has.
    expect(w.table.peakItemWriteUnits).toBeLessThan(DYNAMODB_ITEM_THROUGHPUT.writeUnitsPerSecond / 10);
    expect(outcomes.filter((o) => o === 'completed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(100);
    expectEveryDeviceOnce(w);
    // Heartbeats past Step Functions' rate are dropped; the reports are stored either way.
    expect(w.sfn.throttledHeartbeats).toBeGreaterThan(0);
  });

  test.each([1, 2, 3])('with every item throttled past 30 write units a second (seed %i): retried deliveries count once', async (seed) => {
    const w = world(30, seed);
    const { outcomes, lost } = await reportAll(w, template, (i) => i % 7 === 0);
    // The shards refuse writes in the first second; Lambda's second delivery stores them.
    expect(w.table.throttled).toBeGreaterThan(0);
    expect(lost).toBe(0);
    expect(outcomes.filter((o) => o === 'completed')).toHaveLength(1);
    expectEveryDeviceOnce(w);
  });
});
