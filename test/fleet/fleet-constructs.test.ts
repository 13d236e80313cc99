import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  ArtifactStore,
  ComponentArchitecture,
  ComponentOs,
  ComponentPublishing,
  ComponentPublishingProps,
  EdgeFleet,
  EdgeFleetProps,
  FleetRollout,
  FleetRolloutProps,
  ReleaseLedger,
  Rollout,
  RolloutFailureType,
} from '../../lib';
import { problems } from '../support/problems';

function base() {
  const stack = new Stack(new App(), 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const ledger = new ReleaseLedger(stack, 'Ledger');
  return { stack, store, ledger };
}

function fleetIn(stack: Stack, store: ArtifactStore, props: Partial<EdgeFleetProps> = {}) {
  return new EdgeFleet(stack, 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-jn-', store, ...props });
}


describe('EdgeFleet', () => {
  test('creates the thing group, a token exchange role that reads only packages/, and its role alias', () => {
    const { stack, store } = base();
    const fleet = fleetIn(stack, store);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::IoT::ThingGroup', { ThingGroupName: fleet.thingGroupName });
    t.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'credentials.iot.amazonaws.com' } })] } });
    t.hasResourceProperties('AWS::IoT::RoleAlias', { RoleAlias: `${fleet.thingGroupName}-token-exchange`, CredentialDurationSeconds: 3600 });
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('FleetTokenExchangeRole') } }));
    expect(policies).toContain('/packages/*');
    expect(policies).not.toMatch(/\/models\/|\/compiled\/|s3:PutObject/);
    expect(policies).toContain('log-group:/aws/greengrass/*');
  });

  test('an unnamed fleet\'s group is named by its stack and path: two fleets, or a dev and a prod copy, never take the same group', () => {
    const names = ['Dev', 'Prod'].flatMap((id) => {
      const stack = new Stack(new App(), id);
      const store = new ArtifactStore(stack, 'Store');
      return [new EdgeFleet(stack, 'Canary', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-c-', store }), new EdgeFleet(stack, 'Fleet', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store })];
    }).flatMap((f) => [f.thingGroupName, f.roleAliasName]);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(64);
    expect(names[0]).toMatch(/^Dev-Canary-[0-9A-F]{8}$/);
  });

  test('the IoT policy is scoped by thing-name prefix; only the four data-plane actions use "*"', () => {
    const { stack, store } = base();
    fleetIn(stack, store);
    const doc = Object.values(Template.fromStack(stack).findResources('AWS::IoT::Policy'))[0] as { Properties: { PolicyDocument: { Statement: { Sid: string; Action: string | string[]; Resource: unknown }[] } } };
    const statements = doc.Properties.PolicyDocument.Statement;
    const wildcards = statements.filter((s) => s.Resource === '*');
    expect(wildcards).toHaveLength(1);
    expect(wildcards[0].Action).toEqual(['greengrass:GetComponentVersionArtifact', 'greengrass:ResolveComponentCandidates', 'greengrass:GetDeploymentConfiguration', 'greengrass:ListThingGroupsForCoreDevice']);
    const text = JSON.stringify(statements.filter((s) => s.Resource !== '*'));
    expect(text).toContain(':client/cam-jn-*');
    expect(text).toContain(':topic/$aws/things/cam-jn-*/*');
    expect(text).toContain(':thing/cam-jn-*');
    expect(text).not.toContain('${iot:');
  });

  test('outputs what the device installer needs', () => {
    const { stack, store } = base();
    fleetIn(stack, store);
    const outputs = Template.fromStack(stack).toJSON().Outputs as Record<string, { Description: string }>;
    const descriptions = Object.values(outputs).map((o) => o.Description);
    for (const flag of ['--thing-group-name', '--thing-policy-name', '--tes-role-alias-name', '--tes-role-name']) {
      expect(descriptions.some((d) => d.includes(flag))).toBe(true);
    }
  });

  test('imports an existing thing group', () => {
    const { stack, store } = base();
    const fleet = fleetIn(stack, store, { thingGroupName: 'existing-cams', importThingGroup: true });
    Template.fromStack(stack).resourceCountIs('AWS::IoT::ThingGroup', 0);
    expect(fleet.thingGroupName).toBe('existing-cams');
  });

  test('rings that share their canary\'s device access: their own thing groups, one role, role alias and policy admitting every prefix', () => {
    const { stack, store } = base();
    const canary = fleetIn(stack, store, { thingNamePrefix: 'cam-jn-canary-' });
    const rings = [1, 2].map((r) => new EdgeFleet(stack, `Ring${r}`, { deviceClass: 'jetson-nano', thingNamePrefix: `cam-jn-r${r}-`, store, deviceAccess: canary }));
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::IoT::ThingGroup', 3);
    t.resourceCountIs('AWS::IoT::RoleAlias', 1);
    t.resourceCountIs('AWS::IoT::Policy', 1);
    t.resourceCountIs('AWS::IAM::Role', 1);
    for (const ring of rings) {
      expect(ring.tokenExchangeRole).toBe(canary.tokenExchangeRole);
      expect(ring.roleAliasName).toBe(canary.roleAliasName);
      expect(ring.iotPolicyName).toBe(canary.iotPolicyName);
      expect(ring.thingGroupName).not.toBe(canary.thingGroupName);
      // The thing ARNs the rollout's IAM is scoped by stay the ring's own.
      expect(ring.thingArnPattern()).toContain(`thing/${ring.thingNamePrefix}*`);
    }
    const statements = (Object.values(t.findResources('AWS::IoT::Policy'))[0] as { Properties: { PolicyDocument: { Statement: { Sid: string; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement;
    for (const sid of ['Connect', 'OwnTopics', 'OwnTopicFilters', 'OwnShadows']) {
      const text = JSON.stringify(statements.find((st) => st.Sid === sid)!.Resource);
      for (const prefix of ['cam-jn-canary-', 'cam-jn-r1-', 'cam-jn-r2-']) expect(text).toContain(`${prefix}*`);
    }
    // A sharing fleet's installer needs its group; the policy and alias are the canary's outputs.
    const outputs = Object.keys(t.toJSON().Outputs as object);
    expect(outputs.filter((o) => o.startsWith('Ring1'))).toEqual([expect.stringMatching(/^Ring1ThingGroupName/)]);
  });

  test.each<[string, (stack: Stack, store: ArtifactStore, owner: EdgeFleet) => Partial<EdgeFleetProps>, string]>([
    ['another class', () => ({ deviceClass: 'rasp4b' }), 'deviceAccess: got "Test/Fleet". It is a fleet of class jetson-nano, not rasp4b'],
    ['a fleet that shares another\'s access', (stack, store, owner) => ({ deviceAccess: new EdgeFleet(stack, 'Middle', { deviceClass: 'jetson-nano', thingNamePrefix: 'mid-', store, deviceAccess: owner }) }), 'It uses Test/Fleet\'s device access itself: give that fleet instead.'],
    ['a fleet of another stack', (_stack, store) => ({ deviceAccess: new EdgeFleet(new Stack(new App(), 'Other'), 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'o-', store }) }), 'It is in another stack'],
    ['a role alias of its own', () => ({ roleAliasName: 'mine' }), 'roleAliasName: got "mine". The role alias is the deviceAccess fleet\'s'],
    ['credentials of its own', () => ({ credentialDuration: Duration.hours(2) }), 'credentialDuration: got "2 hours". Credentials are the deviceAccess fleet\'s'],
  ])('sharing device access refuses %s', (_label, props, message) => {
    const { stack, store } = base();
    const owner = fleetIn(stack, store);
    expect(problems(() => new EdgeFleet(stack, 'Ring', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-jn-r1-', store, deviceAccess: owner, ...props(stack, store, owner) }))).toContain(message);
  });

  test.each<[string, Partial<EdgeFleetProps>, string]>([
    ['a device class with capitals', { deviceClass: 'Jetson' }, 'deviceClass: got "Jetson"'],
    ['a thing-name prefix with a slash', { thingNamePrefix: 'cams/' }, 'thingNamePrefix: got "cams/"'],
    ['importing without a name', { importThingGroup: true }, 'importThingGroup: got true. Name the existing group'],
    ['credentials for 10 minutes', { credentialDuration: Duration.minutes(10) }, 'credentialDuration: got 600'],
  ])('fails on %s', (_label, props, message) => {
    const { stack, store } = base();
    expect(problems(() => fleetIn(stack, store, props))).toContain(message);
  });
});

describe('ReleaseLedger', () => {
  test('on-demand, point-in-time recovery, customer managed key, retained', () => {
    const { stack } = base();
    const t = Template.fromStack(stack);
    t.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
        DeletionProtectionEnabled: true,
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      }),
    });
  });
});

describe('FleetRollout props', () => {
  function rollout(props: Partial<FleetRolloutProps>) {
    const { stack, store, ledger } = base();
    return new FleetRollout(stack, 'Rollout', { fleet: fleetIn(stack, store), ledger, ...props });
  }

  test.each<[string, Partial<FleetRolloutProps>, string]>([
    ['no abort criteria', { abortCriteria: [] }, 'abortCriteria: got []. Give at least one abort criterion'],
    ['a threshold over 100%', { abortCriteria: [{ thresholdPercentage: 150, minExecutedThings: 1 }] }, 'abortCriteria[0].thresholdPercentage: got 150'],
    ['zero executed things', { abortCriteria: [{ thresholdPercentage: 10, minExecutedThings: 0 }] }, 'abortCriteria[0].minExecutedThings: got 0'],
    ['an increment factor of 6', { rollout: Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 6, afterSucceeded: 5 }) }, 'rollout.incrementFactor: got 6'],
    ['both rate criteria', { rollout: Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 5, afterNotified: 5 }) }, 'Give exactly one of afterSucceeded and afterNotified'],
    ['a constant rate of 2000', { rollout: Rollout.constant(2000) }, 'rollout.perMinute: got 2000'],
    ['a timeout of 8 days', { inProgressTimeout: Duration.days(8) }, 'inProgressTimeout: got 11520'],
    ['a 1-second poll', { pollInterval: Duration.seconds(1) }, 'pollInterval: got 1'],
  ])('fails on %s', (_label, props, message) => {
    expect(problems(() => rollout(props))).toContain(message);
  });

  test('a constant rollout renders MaximumPerMinute only', () => {
    expect(Rollout.constant(20).render()).toEqual({ MaximumPerMinute: 20 });
    expect(Rollout.exponential({ baseRatePerMinute: 1, incrementFactor: 1.5, afterNotified: 10, maximumPerMinute: 40 }).render()).toEqual({
      ExponentialRate: { BaseRatePerMinute: 1, IncrementFactor: 1.5, RateIncreaseCriteria: { NumberOfNotifiedThings: 10 } },
      MaximumPerMinute: 40,
    });
  });

  test('accepts several abort criteria', () => {
    expect(() => rollout({ abortCriteria: [{ failureType: RolloutFailureType.FAILED, thresholdPercentage: 5, minExecutedThings: 20 }, { failureType: RolloutFailureType.TIMED_OUT, thresholdPercentage: 20, minExecutedThings: 5 }] })).not.toThrow();
  });
});

describe('ComponentPublishing props', () => {
  function publishing(props: Partial<ComponentPublishingProps>) {
    const { stack, store, ledger } = base();
    return new ComponentPublishing(stack, 'Publish', {
      store,
      ledger,
      componentNamePrefix: 'com.example.digits',
      deviceClasses: [{ name: 'jetson-nano', platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, variants: ['jetson-nano'] }],
      ...props,
    });
  }

  test.each<[string, Partial<ComponentPublishingProps>, string]>([
    ['an aws.greengrass prefix', { componentNamePrefix: 'aws.greengrass.models' }, 'componentNamePrefix: got "aws.greengrass.models". The aws.greengrass prefix is reserved'],
    ['no device class', { deviceClasses: [] }, 'deviceClasses: got []'],
    ['a class without variants', { deviceClasses: [{ name: 'pi', platform: { os: ComponentOs.LINUX }, variants: [] }] }, 'deviceClasses[0].variants: got []'],
    ['two classes with one name', {
      deviceClasses: [
        { name: 'pi', platform: { os: ComponentOs.LINUX }, variants: ['a'] },
        { name: 'pi', platform: { os: ComponentOs.LINUX }, variants: ['b'] },
      ],
    }, 'deviceClasses[1].name: got "pi". deviceClasses[0] has the same name'],
    ['a base version with a patch', { baseVersion: '1.0.0' }, 'baseVersion: got "1.0.0"'],
  ])('fails on %s', (_label, props, message) => {
    expect(problems(() => publishing(props))).toContain(message);
  });

  test('names one component per device class', () => {
    expect(publishing({}).componentNames).toEqual({ 'jetson-nano': 'com.example.digits.jetson-nano' });
  });
});
