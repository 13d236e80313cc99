import { App } from 'aws-cdk-lib';
import { ReleaseExampleStack } from '../examples/release-stack';
import { makeTarGz, neoCompiledFiles } from './support/archives';
import { Clock } from './support/clock';
import { FakeFleet, JobSnapshot } from './support/fake-fleet';
import { FakeNeo } from './support/fake-neo';
import { BUCKET, FakePublishing } from './support/fake-publishing';
import { MemoryTable } from './support/memory-table';
import { definitionOf, runDefinition } from './support/state-machine';

const CLASSES = ['jetson-nano', 'rasp4b', 'x86-gateway'];
const TARGETS: Record<string, string> = { 'jetson-nano': 'jetson_nano', 'rasp4b': 'rasp4b', 'x86-gateway': 'platform' };
const example = () => new ReleaseExampleStack(new App(), 'Release');
/** Each class's thing group, as the stack names it. */
const GROUP: Record<string, string> = Object.fromEntries(Object.entries(example().fleets).map(([c, f]) => [c, f.thingGroupName]));

/** The whole release example, every AWS call answered by a fake and every handler's own code run. */
function world(runId: string, jobs: Record<string, JobSnapshot[][]>, shared?: { table: MemoryTable; clock: Clock; fleets: Record<string, FakeFleet> }) {
  const table = shared?.table ?? new MemoryTable();
  const clock = shared?.clock ?? new Clock();
  const modelArchive = makeTarGz({ 'model.pth': Buffer.alloc(2048, 7), 'code/__init__.py': '' });
  const neo = new FakeNeo({}, 30, modelArchive, clock);
  const publishing = new FakePublishing(table, clock);
  for (const c of CLASSES) {
    publishing.objects.set(`compiled/${runId}/${c}/model-${TARGETS[c]}.tar.gz`, makeTarGz(neoCompiledFiles()));
  }
  const fleets = shared?.fleets ?? Object.fromEntries(CLASSES.map((c) => [c, new FakeFleet(`${GROUP[c]}: `, 60, table, clock)]));
  for (const c of CLASSES) fleets[c].script(...(jobs[c] ?? [[{ queued: 0, inProgress: 0, succeeded: 4 }]]));
  const handlers = { ...neo.handlers(), ...publishing.handlers(), ...Object.assign({}, ...CLASSES.map((c) => fleets[c].handlers())) };
  return { table, clock, fleets, neo, publishing, handlers, context: clock.context() };
}

describe('the release example, run end to end by the local executor', () => {
  const definition = definitionOf(example());

  test('compiles, publishes and rolls out to all three classes; the ledger knows each group\'s release', async () => {
    const w = world('resnet18-v3', {});
    try {
      const result = await runDefinition(definition, { runId: 'resnet18-v3' }, { handlers: w.handlers, context: w.context });
      expect(result.error).toBeUndefined();
      expect(result.status).toBe('SUCCEEDED');
      for (const c of CLASSES) {
        const deployments = w.fleets[c].calls('CreateDeployment');
        expect(deployments).toHaveLength(1);
        expect(deployments[0].Components).toEqual({ [`com.example.resnet18.${c}`]: { ComponentVersion: '1.0.1' } });
        expect(w.table.get(`GROUP#${GROUP[c]}`, 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3', components: { [`com.example.resnet18.${c}`]: '1.0.1' } });
        // Lineage: model run -> package -> component version -> deployment.
        expect(w.table.get('RELEASE#resnet18-v3', `CLASS#${c}`)).toMatchObject({
          status: 'RELEASED',
          componentVersion: '1.0.1',
          packageS3Uri: expect.stringMatching(new RegExp(`^s3://${BUCKET}/packages/[0-9a-f]{64}\\.zip$`)),
          [`deployment#${GROUP[c]}`]: 'd-1',
        });
      }
    } finally {
      await w.publishing.done();
    }
  });

  test('the next release aborts on the Raspberry Pis: they go back to the last good release, and the gateways are never touched', async () => {
    const first = world('resnet18-v3', {});
    const shared = { table: first.table, clock: first.clock, fleets: first.fleets };
    try {
      expect((await runDefinition(definition, { runId: 'resnet18-v3' }, { handlers: first.handlers, context: first.context })).status).toBe('SUCCEEDED');
    } finally {
      await first.publishing.done();
    }
    const second = world('resnet18-v4', { rasp4b: [[{ queued: 6, inProgress: 2, succeeded: 1 }, { status: 'CANCELED', failed: 4, succeeded: 1 }]] }, shared);
    try {
      const result = await runDefinition(definition, { runId: 'resnet18-v4' }, { handlers: second.handlers, context: second.context });
      expect(result).toMatchObject({ status: 'FAILED', error: 'RolloutReverted' });
      expect(result.cause).toContain(`The group ${GROUP.rasp4b} was re-deployed with its last good release (run resnet18-v3)`);
      const pi = second.fleets.rasp4b.calls('CreateDeployment');
      expect(pi.map((d) => [d.DeploymentName, d.Components])).toEqual([
        ['resnet18-v3-rasp4b', { 'com.example.resnet18.rasp4b': { ComponentVersion: '1.0.1' } }],
        ['resnet18-v4-rasp4b', { 'com.example.resnet18.rasp4b': { ComponentVersion: '1.0.2' } }],
        ['revert-resnet18-v4-rasp4b', { 'com.example.resnet18.rasp4b': { ComponentVersion: '1.0.1' } }],
      ]);
      expect(second.fleets['x86-gateway'].calls('CreateDeployment')).toHaveLength(1);
      expect(second.table.get(`GROUP#${GROUP.rasp4b}`, 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v3' });
      expect(second.table.get(`GROUP#${GROUP['jetson-nano']}`, 'LAST_GOOD')).toMatchObject({ runId: 'resnet18-v4' });
    } finally {
      await second.publishing.done();
    }
  });

  describe('a handler\'s own AWS calls are authorized as its function: removing a grant its code needs fails the run', () => {
    /** The release example's template with `action` taken out of every statement of the policies of `roleIdPrefix`. */
    const without = (roleIdPrefix: string, action: string) => definitionOf(new ReleaseExampleStack(new App(), 'Release'), (template) => {
      for (const r of Object.values(template.Resources)) {
        const p = r.Properties as { Roles?: { Ref: string }[]; PolicyDocument?: { Statement: { Action: string | string[] }[] } } | undefined;
        if (r.Type !== 'AWS::IAM::Policy' || !p?.Roles?.some((role) => role.Ref.startsWith(roleIdPrefix))) continue;
        p.PolicyDocument!.Statement = p.PolicyDocument!.Statement
          .map((st) => ({ ...st, Action: [st.Action].flat().filter((a) => a !== action) }))
          .filter((st) => st.Action.length > 0);
      }
    });

    test.each([
      ['the publisher may not read packages/: Greengrass reads the artifact with its permissions', 'PublishPublisherRole', 's3:GetObject', /Greengrass, reading the artifacts of com\.example\.resnet18\.[a-z0-9-]+\): \S+PublishPublisherRole\S+ may not s3:GetObject on arn:aws:s3:::storec1f82936\/packages\//],
      ['the ring ledger may not update items: recording a release is refused', 'JetsonNanoRolloutLedgerRole', 'dynamodb:UpdateItem', /function JetsonNanoRolloutLedger\w+\): \S+JetsonNanoRolloutLedgerRole\S+ may not dynamodb:UpdateItem on arn:aws:dynamodb:eu-west-1:111122223333:table\//],
    ])('%s', async (_title, role, action, message) => {
      const w = world('resnet18-v3', {});
      try {
        await expect(runDefinition(without(role, action), { runId: 'resnet18-v3' }, { handlers: w.handlers, context: w.context })).rejects.toThrow(message);
      } finally {
        await w.publishing.done();
      }
    });
  });
});
