import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AgentMode, ArtifactStore, EdgeAgentComponent, EdgeFleet } from '../../lib';
import { expectCompliant } from '../support/compliance';
import { TEST_ENV } from '../support/state-machine';

function setup(props: { defaultMode?: AgentMode } = {}) {
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const fleet = new EdgeFleet(stack, 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-jn-', store });
  const agent = new EdgeAgentComponent(stack, 'Agent', { fleets: [fleet], ...props });
  return { app, stack, agent, fleet };
}

/** The inline recipe with its tokens resolved to test values. */
function recipeOf(stack: Stack): Record<string, unknown> & { Manifests: { Lifecycle: Record<string, { Script: string }>; Artifacts: { URI: string }[] }[] } {
  const resource = Object.values(Template.fromStack(stack).findResources('AWS::GreengrassV2::ComponentVersion'))[0] as { Properties: { InlineRecipe: unknown } };
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) return (o['Fn::Join'] as [string, unknown[]])[1].map(render).join((o['Fn::Join'] as [string])[0]);
    if ('Fn::Sub' in o) return (o['Fn::Sub'] as string).replace('${AWS::AccountId}', TEST_ENV.account).replace('${AWS::Region}', TEST_ENV.region);
    if ('Ref' in o) return { 'AWS::AccountId': TEST_ENV.account, 'AWS::Region': TEST_ENV.region, 'AWS::Partition': TEST_ENV.partition }[o.Ref as string] ?? String(o.Ref);
    throw new Error(`cannot render ${JSON.stringify(v)}`);
  };
  return JSON.parse(render(resource.Properties.InlineRecipe));
}

describe('EdgeAgentComponent', () => {
  test('publishes the agent bundle as a component with install and run steps, and IPC access to its own topics only', () => {
    const { stack, agent } = setup();
    const recipe = recipeOf(stack);
    expect(recipe).toMatchObject({
      RecipeFormatVersion: '2020-01-25',
      ComponentName: 'cdk-edge-model-pipeline.EdgeAgent',
      ComponentVersion: agent.componentVersion,
      ComponentConfiguration: {
        DefaultConfiguration: {
          mode: 'benchmark',
          iterations: '200',
          accessControl: {
            'aws.greengrass.ipc.mqttproxy': {
              EdgeAgentPublish: { operations: ['aws.greengrass#PublishToIoTCore'], resources: ['edge-model-pipeline/results/*', 'edge-model-pipeline/telemetry/*'] },
            },
          },
        },
      },
    });
    // One manifest per architecture the runtimes have binaries for; no npm on the device.
    expect(recipe.Manifests.map((m) => (m as unknown as { Platform: Record<string, string> }).Platform)).toEqual([{ os: 'linux', architecture: 'aarch64' }, { os: 'linux', architecture: 'amd64' }]);
    for (const manifest of recipe.Manifests) {
      expect(manifest.Lifecycle.Install.Script).toMatch(/^tar -xzf "\{artifacts:path\}\/[0-9a-f]{64}\.gz" -C "\{work:path\}"$/);
      expect(manifest.Lifecycle.Install.Script).not.toMatch(/npm/);
      expect(manifest.Lifecycle.Run.Script).toMatch(/^NODE_PATH="\{work:path\}\/node_modules" node ".*\/edge-agent\.js" \{configuration:\/mode\} --model "\{configuration:\/modelPath\}"/);
      expect(manifest.Artifacts.map((a) => a.URI)).toEqual([
        expect.stringMatching(/^s3:\/\/cdk-[a-z0-9]+-assets-111122223333-eu-west-1\/[0-9a-f]{64}\.zip$/),
        expect.stringMatching(/^s3:\/\/cdk-[a-z0-9]+-assets-111122223333-eu-west-1\/[0-9a-f]{64}\.gz$/),
      ]);
    }
    // Each architecture its own runtimes.
    expect(new Set(recipe.Manifests.map((m) => m.Artifacts[1].URI)).size).toBe(2);
    expect(agent.componentVersion).toMatch(/^1\.0\.\d+$/);
  });

  test('the version follows the content: the same synth gives the same version, another recipe another', () => {
    expect(setup().agent.componentVersion).toBe(setup().agent.componentVersion);
    expect(setup({ defaultMode: AgentMode.SERVE }).agent.componentVersion).not.toBe(setup().agent.componentVersion);
  });

  test('old versions are kept: devices may still run them', () => {
    const { stack } = setup();
    Template.fromStack(stack).hasResource('AWS::GreengrassV2::ComponentVersion', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('the fleet\'s devices may download the bundle and the runtimes, and nothing else of the asset bucket', () => {
    const { stack } = setup();
    const all = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).map((p) => JSON.stringify(p));
    const tes = all.find((p) => p.includes('FleetTokenExchangeRole'))!;
    const object = (ext: string) => `\\{"Fn::Join":\\["",\\["arn:",\\{"Ref":"AWS::Partition"\\},":s3:::",\\{"Fn::Sub":"cdk-[a-z0-9]+-assets-\\$\\{AWS::AccountId\\}-\\$\\{AWS::Region\\}"\\},"\\/[0-9a-f]{64}\\.${ext}"\\]\\]\\}`;
    expect(tes).toMatch(new RegExp(`"Action":"s3:GetObject","Effect":"Allow","Resource":\\[${object('zip')},${object('gz')},${object('gz')}\\]`));
  });

  test('the devices\' IoT policy lets them publish the agent\'s topics under their own thing names', () => {
    const { stack } = setup();
    const doc = JSON.stringify(Template.fromStack(stack).findResources('AWS::IoT::Policy'));
    expect(doc).toContain(':topic/edge-model-pipeline/results/*/cam-jn-*');
    expect(doc).toContain(':topic/edge-model-pipeline/telemetry/jetson-nano/cam-jn-*');
  });

  test('a topic root of its own: the recipe, IPC access and the fleet\'s IoT policy all use it', () => {
    const stack = new Stack(new App(), 'Test');
    const store = new ArtifactStore(stack, 'Store');
    const fleet = new EdgeFleet(stack, 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-jn-', store });
    new EdgeFleet(stack, 'Other', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store });
    const agent = new EdgeAgentComponent(stack, 'Agent', { fleets: [fleet], topicRoot: 'edge-model-pipeline/Prod/cams' });
    expect(agent.topicRoot).toBe('edge-model-pipeline/Prod/cams');
    const recipe = recipeOf(stack) as unknown as { ComponentConfiguration: { DefaultConfiguration: Record<string, unknown> } };
    const config = recipe.ComponentConfiguration.DefaultConfiguration as { topicRoot: string; accessControl: Record<string, Record<string, { resources: string[] }>> };
    expect(config.topicRoot).toBe('edge-model-pipeline/Prod/cams');
    expect(Object.values(config.accessControl['aws.greengrass.ipc.mqttproxy'])[0].resources).toEqual(['edge-model-pipeline/Prod/cams/results/*', 'edge-model-pipeline/Prod/cams/telemetry/*']);
    expect(recipeOf(stack).Manifests[0].Lifecycle.Run.Script).toContain('--topic-root "{configuration:/topicRoot}" --device-class "{configuration:/deviceClass}"');
    const policies = Template.fromStack(stack).findResources('AWS::IoT::Policy');
    const policyOf = (fleetId: string) => JSON.stringify(Object.entries(policies).find(([id]) => id.startsWith(fleetId))![1]);
    expect(policyOf('Fleet')).toContain(':topic/edge-model-pipeline/Prod/cams/results/*/cam-jn-*');
    expect(policyOf('Fleet')).toContain(':topic/edge-model-pipeline/Prod/cams/telemetry/jetson-nano/cam-jn-*');
    // A fleet that runs no agent may publish no agent topic at all.
    expect(policyOf('Other')).not.toContain('EdgeAgentTopics');
  });

  test('addFleet lets a fleet run the agent later: the download and its topics', () => {
    const stack = new Stack(new App(), 'Test');
    const store = new ArtifactStore(stack, 'Store');
    const agent = new EdgeAgentComponent(stack, 'Agent', { topicRoot: 'edge-model-pipeline/Prod/cams' });
    agent.addFleet(new EdgeFleet(stack, 'Fleet', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store }));
    const t = Template.fromStack(stack);
    expect(JSON.stringify(t.findResources('AWS::IoT::Policy'))).toContain(':topic/edge-model-pipeline/Prod/cams/telemetry/rasp4b/pi-*');
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toMatch(/"Action":"s3:GetObject","Effect":"Allow","Resource":\[\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":s3:::",\{"Fn::Sub":"cdk-[a-z0-9]+-assets-/);
  });

  test('a topic root with wildcards, a leading $ or too many levels is refused, naming it', () => {
    for (const topicRoot of ['a/+/b', 'a/#', '$aws/x', '/a', 'a/b/c/d/e', '']) {
      const stack = new Stack(new App(), 'Test');
      expect(() => new EdgeAgentComponent(stack, 'Agent', { topicRoot })).toThrow(/topicRoot/);
    }
  });

  test('fails on a zero iteration count', () => {
    const stack = new Stack(new App(), 'T');
    expect(() => new EdgeAgentComponent(stack, 'Agent', { iterations: 0 })).toThrow('iterations: got 0. Use a whole number from 1 to 100000.');
  });

  test('passes cdk-nag AwsSolutions and the Control Tower guard rules', () => {
    const { app, stack } = setup();
    expectCompliant(app, stack);
  });
});
