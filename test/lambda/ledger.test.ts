import { Ledger } from '../../lambda/shared/ledger';
import { handle, verdict } from '../../lambda/rollout-ledger/index';
import { emittedAsync } from '../support/emitted';
import { MemoryTable } from '../support/memory-table';

describe('the release ledger', () => {
  test('hands out versions that never collide and are never reused', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    const a = await ledger.claimComponentVersion('com.example.cam', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64));
    const b = await ledger.claimComponentVersion('com.example.cam', 'run-2', 'rasp4b', '1.0', 'a'.repeat(64));
    const c = await ledger.claimComponentVersion('com.example.other', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64));
    expect([a.version, b.version, c.version]).toEqual(['1.0.1', '1.0.2', '1.0.1']);
  });

  test('the same run and variant get the same version, even when the same model version runs twice', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    const first = await ledger.claimComponentVersion('com.example.cam', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64));
    const again = await ledger.claimComponentVersion('com.example.cam', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64));
    expect(again).toEqual({ version: first.version, claimed: false });
    // A second run of the same model is a new run id: a new version, never the old one.
    const rerun = await ledger.claimComponentVersion('com.example.cam', 'run-1-retry', 'rasp4b', '1.0', 'a'.repeat(64));
    expect(rerun.version).toBe('1.0.2');
  });

  test('two attempts racing for the same claim end with one version; the loser\'s number is skipped', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    const [x, y] = await Promise.all([
      ledger.claimComponentVersion('com.example.cam', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64)),
      ledger.claimComponentVersion('com.example.cam', 'run-1', 'rasp4b', '1.0', 'a'.repeat(64)),
    ]);
    expect(x.version).toBe(y.version);
    expect([x.claimed, y.claimed].sort()).toEqual([false, true]);
    const next = await ledger.claimComponentVersion('com.example.cam', 'run-2', 'rasp4b', '1.0', 'a'.repeat(64));
    expect(next.version).toBe('1.0.3');
  });

  test('knows the last good release of a group, and its history', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    expect(await ledger.lastGood('cams')).toBeNull();
    await ledger.markHealthy('cams', { runId: 'run-1', deploymentId: 'd-1', components: { 'com.example.cam': '1.0.1' } });
    expect(await ledger.lastGood('cams')).toMatchObject({ runId: 'run-1', deploymentId: 'd-1', components: { 'com.example.cam': '1.0.1' } });
    expect([...table.items.keys()].filter((k) => k.startsWith('GROUP#cams\u0000DEPLOYMENT#'))).toHaveLength(1);
  });
});

describe('the rollout ledger handler', () => {
  test.each([
    [{ NumberOfSucceededThings: 10 }, 10, true, 0],
    [{ NumberOfSucceededThings: 9, NumberOfFailedThings: 1 }, 10, true, 10],
    [{ NumberOfSucceededThings: 8, NumberOfFailedThings: 1, NumberOfTimedOutThings: 1 }, 10, false, 20],
    [{ NumberOfSucceededThings: 1, NumberOfRejectedThings: 1 }, 60, true, 50],
    [{ NumberOfCanceledThings: 3 }, 10, false, 0],
  ])('verdict(%j, max %d%%) is healthy=%s at %d%%', (counts, max, healthy, percentage) => {
    const v = verdict(counts, max);
    expect(v).toMatchObject({ healthy, failurePercentage: percentage });
  });

  test('an empty group is never healthy', () => {
    expect(verdict({}, 100).reason).toContain('no device ran the deployment');
  });

  test('prepare returns the last good release as a Components map, and a deadline', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    const now = new Date('2026-11-28T10:00:00Z');
    expect(await handle({ op: 'prepare', group: 'cams', runId: 'r', budgetSeconds: 60 }, ledger, now)).toEqual({ deadline: '2026-11-28T10:01:00.000Z', jobDeadline: '2026-11-28T10:01:00.000Z', hasLastGood: false, lastGood: null });
    // The wait for the deployment's IoT job ends sooner, and never after the budget.
    expect(await handle({ op: 'prepare', group: 'cams', runId: 'r', budgetSeconds: 3600, jobWaitSeconds: 600 }, ledger, now)).toMatchObject({ deadline: '2026-11-28T11:00:00.000Z', jobDeadline: '2026-11-28T10:10:00.000Z' });
    expect(await handle({ op: 'prepare', group: 'cams', runId: 'r', budgetSeconds: 300, jobWaitSeconds: 600 }, ledger, now)).toMatchObject({ jobDeadline: '2026-11-28T10:05:00.000Z' });
    await handle({ op: 'healthy', group: 'cams', runId: 'r1', deviceClass: 'cam', deploymentId: 'd1', components: { 'com.example.cam': { ComponentVersion: '1.0.4' } }, counts: {} }, ledger);
    expect(await handle({ op: 'prepare', group: 'cams', runId: 'r2', budgetSeconds: 60 }, ledger, now)).toMatchObject({
      hasLastGood: true,
      lastGood: { runId: 'r1', deploymentId: 'd1', components: { 'com.example.cam': { ComponentVersion: '1.0.4' } } },
    });
    expect(table.get('RELEASE#r1', 'CLASS#cam')).toMatchObject({ status: 'RELEASED', 'deployment#cams': 'd1' });
  });

  test('a configuration deployed with a component comes back with it, so a revert restores what the agent served', async () => {
    const ledger = new Ledger('ledger', new MemoryTable().client());
    const serve = JSON.stringify({ mode: 'serve', modelPath: '/greengrass/v2/packages/artifacts-unarchived/com.example.cam/1.0.4/abc' });
    const deployed = { 'com.example.cam': { ComponentVersion: '1.0.4' }, 'agent': { ComponentVersion: '0.1.0', ConfigurationUpdate: { Merge: serve } } };
    await handle({ op: 'healthy', group: 'cams', runId: 'r1', deviceClass: 'cam', deploymentId: 'd1', components: deployed, counts: {} }, ledger);
    expect(await handle({ op: 'prepare', group: 'cams', runId: 'r2', budgetSeconds: 60 }, ledger)).toMatchObject({ lastGood: { components: deployed } });
    expect(await handle({ op: 'rings', rings: [{ group: 'cams', groupArn: 'arn' }] }, ledger)).toEqual([
      { group: 'cams', groupArn: 'arn', hasLastGood: true, lastGood: { runId: 'r1', components: deployed } },
    ]);
  });

  test('the rings of a class are recorded together, in one transaction: all of them or none', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    const deployed = { 'com.example.cam': { ComponentVersion: '1.0.4' } };
    const rings = [{ group: 'cams-1', deploymentId: 'd1', verdict: { healthy: true } }, { group: 'cams-2', deploymentId: 'd2', verdict: { healthy: true } }];
    await handle({ op: 'healthy-rings', runId: 'r1', deviceClass: 'cam', components: deployed, rings }, ledger);
    expect(table.calls.filter((c) => c === 'TransactWrite')).toHaveLength(1);
    for (const r of rings) expect(table.get(`GROUP#${r.group}`, 'LAST_GOOD')).toMatchObject({ runId: 'r1', deploymentId: r.deploymentId, components: { 'com.example.cam': '1.0.4' } });
    expect(table.get('RELEASE#r1', 'CLASS#cam')).toMatchObject({ 'status': 'RELEASED', 'deployment#cams-1': 'd1', 'deployment#cams-2': 'd2' });
    // A transaction that fails records no ring.
    const failing = { send: async (c: unknown) => { if ((c as { constructor: { name: string } }).constructor.name === 'TransactWriteCommand') throw Object.assign(new Error('x'), { name: 'TransactionCanceledException' }); return table.client().send(c as never); } };
    await expect(handle({ op: 'healthy-rings', runId: 'r2', deviceClass: 'cam', components: { 'com.example.cam': { ComponentVersion: '1.0.5' } }, rings }, new Ledger('ledger', failing as never))).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    for (const r of rings) expect(table.get(`GROUP#${r.group}`, 'LAST_GOOD')).toMatchObject({ runId: 'r1' });
    await expect(handle({ op: 'healthy-rings', runId: 'r3', deviceClass: 'cam', components: deployed, rings: [] }, ledger)).rejects.toMatchObject({ name: 'RolloutInputInvalid', message: expect.stringContaining('rings is []') });
  });

  test('a revert is recorded in the release and the group history', async () => {
    const table = new MemoryTable();
    const ledger = new Ledger('ledger', table.client());
    await handle({ op: 'reverted', group: 'cams', runId: 'r2', deviceClass: 'cam', deploymentId: 'd2', revertDeploymentId: 'd3', reason: 'abort' }, ledger);
    expect(table.get('RELEASE#r2', 'CLASS#cam')).toMatchObject({ status: 'REVERTED', revertReason: 'abort' });
  });

  test('a revert is counted by device class; in a pipeline also by Pipeline, the dimension its revert alarm watches', async () => {
    const ledger = new Ledger('ledger', new MemoryTable().client());
    const revert = { op: 'reverted' as const, group: 'cams', runId: 'r2', deviceClass: 'cam', deploymentId: 'd2', revertDeploymentId: 'd3', reason: 'abort' };
    const metricOf = (line: Record<string, unknown>) => (line._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];
    const standalone = (await emittedAsync(() => handle(revert, ledger))).find((l) => l._aws)!;
    expect(metricOf(standalone)).toEqual({ Namespace: 'EdgeModelPipeline', Dimensions: [['DeviceClass']], Metrics: [{ Name: 'Reverts', Unit: 'Count' }] });
    expect(standalone).toMatchObject({ DeviceClass: 'cam', Reverts: 1 });
    expect(standalone).not.toHaveProperty('Pipeline');
    process.env.PIPELINE_NAME = 'cams-pipeline';
    try {
      const inPipeline = (await emittedAsync(() => handle(revert, ledger))).find((l) => l._aws)!;
      expect(metricOf(inPipeline).Dimensions).toEqual([['Pipeline'], ['Pipeline', 'DeviceClass']]);
      expect(inPipeline).toMatchObject({ Pipeline: 'cams-pipeline', DeviceClass: 'cam', Reverts: 1 });
    } finally {
      delete process.env.PIPELINE_NAME;
    }
  });

  test('an unknown op is refused', async () => {
    await expect(handle({ op: 'launch' } as never, new Ledger('t', new MemoryTable().client()))).rejects.toMatchObject({ name: 'RolloutInputInvalid' });
  });
});
