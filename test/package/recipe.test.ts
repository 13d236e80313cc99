import {
  ArtifactPermission,
  ArtifactUnarchive,
  ComponentArchitecture,
  ComponentOs,
  ComponentRecipe,
  ComponentRecipeProps,
  DependencyType,
} from '../../lib';

const base: ComponentRecipeProps = {
  componentName: 'com.example.edge.agent',
  componentVersion: '1.2.3',
  manifests: [{ platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 }, lifecycle: { run: 'node {artifacts:path}/agent.js' } }],
};

describe('ComponentRecipe', () => {
  test('renders the recipe format Greengrass reads', () => {
    const recipe = new ComponentRecipe({
      ...base,
      description: 'Edge agent',
      dependencies: [{ componentName: 'aws.greengrass.Nucleus', versionRequirement: '>=2.9.0 <3.0.0', dependencyType: DependencyType.SOFT }],
      defaultConfiguration: { intervalSeconds: '60' },
      accessControl: [{ ipcService: 'aws.greengrass.ipc.mqttproxy', policyId: 'results', operations: ['aws.greengrass#PublishToIoTCore'], resources: ['edge/results/+'] }],
      manifests: [
        {
          platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
          lifecycle: { install: 'npm ci', run: 'node agent.js', environment: { MODE: 'serve' } },
          artifacts: [{ uri: 's3://bucket/agent/agent.zip', unarchive: ArtifactUnarchive.ZIP, read: ArtifactPermission.ALL }],
        },
        { platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AMD64 }, lifecycle: { startup: 'agent --daemon' } },
      ],
    }).render();
    expect(recipe).toEqual({
      RecipeFormatVersion: '2020-01-25',
      ComponentName: 'com.example.edge.agent',
      ComponentVersion: '1.2.3',
      ComponentDescription: 'Edge agent',
      ComponentPublisher: 'cdk-edge-model-pipeline',
      ComponentConfiguration: {
        DefaultConfiguration: {
          intervalSeconds: '60',
          accessControl: { 'aws.greengrass.ipc.mqttproxy': { results: { operations: ['aws.greengrass#PublishToIoTCore'], resources: ['edge/results/+'] } } },
        },
      },
      ComponentDependencies: { 'aws.greengrass.Nucleus': { VersionRequirement: '>=2.9.0 <3.0.0', DependencyType: 'SOFT' } },
      Manifests: [
        {
          Platform: { os: 'linux', architecture: 'aarch64' },
          Lifecycle: { Setenv: { MODE: 'serve' }, Install: { Script: 'npm ci' }, Run: { Script: 'node agent.js' } },
          Artifacts: [{ URI: 's3://bucket/agent/agent.zip', Unarchive: 'ZIP', Permission: { Read: 'ALL', Execute: 'NONE' } }],
        },
        { Platform: { os: 'linux', architecture: 'amd64' }, Lifecycle: { Startup: { Script: 'agent --daemon' } } },
      ],
    });
  });

  test.each<[string, Partial<ComponentRecipeProps>, RegExp]>([
    ['an aws.greengrass name', { componentName: 'aws.greengrass.MyModel' }, /aws.greengrass prefix is reserved/],
    ['a version that is not semver', { componentVersion: '1.2' }, /semantic version major.minor.patch/],
    ['no manifest', { manifests: [] }, /at least one manifest/],
    ['Run and Startup together', { manifests: [{ platform: { os: ComponentOs.LINUX }, lifecycle: { run: 'a', startup: 'b' } }] }, /Run and Startup are exclusive/],
    ['two artifacts with one file name', {
      manifests: [{ platform: { os: ComponentOs.LINUX }, lifecycle: {}, artifacts: [{ uri: 's3://bucket-a/x/model.zip' }, { uri: 's3://bucket-b/y/model.zip' }] }],
    }, /same file name "model.zip"/],
    ['a bucket with dots', { manifests: [{ platform: { os: ComponentOs.LINUX }, lifecycle: {}, artifacts: [{ uri: 's3://models.example.com/m.zip' }] }] }, /bucket without dots/],
    ['unarchiving something that is not a ZIP', { manifests: [{ platform: { os: ComponentOs.LINUX }, lifecycle: {}, artifacts: [{ uri: 's3://bucket/m.tar.gz', unarchive: ArtifactUnarchive.ZIP }] }] }, /unpacks ZIP only/],
    ['a manifest shadowed by an earlier one', {
      manifests: [{ platform: { os: ComponentOs.LINUX }, lifecycle: {} }, { platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.ARM }, lifecycle: {} }],
    }, /first match wins/],
    ['an IPC policy on every topic', { accessControl: [{ ipcService: 'aws.greengrass.ipc.mqttproxy', policyId: 'p', operations: ['aws.greengrass#PublishToIoTCore'], resources: ['*'] }] }, /Name the topics/],
    ['a dependency range that is not one', { dependencies: [{ componentName: 'x', versionRequirement: 'latest' }] }, /npm-style range/],
  ])('refuses %s', (_label, overrides, message) => {
    expect(() => new ComponentRecipe({ ...base, ...overrides })).toThrow(message);
  });

  test('lists every problem at once', () => {
    expect(() => new ComponentRecipe({ ...base, componentName: 'aws.greengrass.X', componentVersion: 'x' })).toThrow(/componentName.*\n.*componentVersion/);
  });
});
