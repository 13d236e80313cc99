import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as greengrassv2 from 'aws-cdk-lib/aws-greengrassv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { isUnresolved, ProblemCollector } from '../core/errors';
import { AgentTopics } from '../core/topics';
import { EdgeFleet } from '../fleet/edge-fleet';
import { grantBucketLocation } from '../package/artifact-store';
import { ArtifactUnarchive, ComponentArchitecture, ComponentOs, ComponentRecipe } from '../package/recipe';

/** What the agent does when the component runs. */
export enum AgentMode {
  /** Validate and benchmark the model on the data set, publish one result document, exit. */
  BENCHMARK = 'benchmark',
  /** Run the model on inputs arriving in the inbox folder; publish predictions and drift telemetry. */
  SERVE = 'serve',
}

/** Props for {@link EdgeAgentComponent}. */
export interface EdgeAgentComponentProps {
  /**
   * The component name; never `aws.greengrass…`.
   *
   * @default 'cdk-edge-model-pipeline.EdgeAgent'
   */
  readonly componentName?: string;
  /**
   * The fleets whose devices run the agent: their token exchange roles may
   * download its artifact, and their IoT policies let each device publish under
   * the agent's topic root (see `addFleet`).
   *
   * @default - none; grant with `grantDownload`
   */
  readonly fleets?: EdgeFleet[];
  /**
   * The mode a deployment gets unless it sets `mode` in its configuration.
   *
   * @default AgentMode.BENCHMARK
   */
  readonly defaultMode?: AgentMode;
  /**
   * Timed inferences per benchmark.
   *
   * @default 200
   */
  readonly iterations?: number;
  /**
   * The root of the topics the agent publishes on: results at
   * `{topicRoot}/results/{runId}/{thingName}`, telemetry at
   * `{topicRoot}/telemetry/{deviceClass}/{thingName}`. 1 to 4 levels of letters, digits and
   * `._-`. The fleets given may publish there (each device under its own thing name); so may the
   * agent's IPC access. A pipeline gives its agent a root of its own.
   *
   * @default 'edge-model-pipeline': shared by every agent component that keeps the default
   */
  readonly topicRoot?: string;
}

/** device/dist/{what}, from lib/ (this repository) or dist/lib/ (the package), holding `file`. */
function deviceDist(what: string, file: string, fix: string): string {
  const candidates = [
    path.join(__dirname, '..', '..', 'device', 'dist', what),
    path.join(__dirname, '..', '..', '..', 'device', 'dist', what),
  ];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, file))) return dir;
  throw new Error(`cdk-edge-model-pipeline: ${file} is missing (looked in ${candidates.join(' and ')}). ${fix}`);
}

function agentBundle(): string {
  return deviceDist('component', 'edge-agent.js', 'Run "npm run build" in device/.');
}

/** The agent's native runtimes, one tar.gz per Linux architecture (device/build-runtimes.mjs). */
function agentRuntimes(): { architecture: ComponentArchitecture; path: string }[] {
  const dir = deviceDist('runtimes', 'runtimes.json', 'Run "node device/build-runtimes.mjs" (npm ci and npm run build do).');
  const listed = JSON.parse(fs.readFileSync(path.join(dir, 'runtimes.json'), 'utf8')) as { runtimes: { architecture: ComponentArchitecture; file: string }[] };
  return listed.runtimes.map((r) => ({ architecture: r.architecture, path: path.join(dir, r.file) }));
}

/**
 * The edge agent as a Greengrass v2 component: its one-file bundle is an
 * artifact, and so are its native runtimes (ONNX Runtime, koffi for DLR, the
 * IoT device SDK), built for each Linux architecture they publish binaries for
 * (aarch64, amd64): one manifest per architecture, whose Install step unpacks
 * that architecture's runtimes into the component's work folder (no npm, no
 * registry), and whose Run step runs the agent in the configured mode with
 * them. IPC access covers the agent's own topics only.
 *
 * Deployments set `modelPath`, `datasetPath`, `runId`, `variant` and `mode`
 * through a configuration merge (serve mode: `deviceClass` too, the level of
 * the telemetry topic the device may publish on). The devices need Node.js 18
 * or later; a device of another architecture matches no manifest, and
 * Greengrass refuses the deployment to it.
 *
 * The component version is derived from the bundle and recipe
 * (`1.0.{n}`), so it changes exactly when they do; old versions are retained,
 * as devices may still run them.
 */
export class EdgeAgentComponent extends Construct {
  /** The component name. */
  public readonly componentName: string;
  /** The component version. */
  public readonly componentVersion: string;
  /** The root of the agent's topics. */
  public readonly topicRoot: string;
  /** The component version resource. */
  public readonly resource: greengrassv2.CfnComponentVersion;
  private readonly asset: s3assets.Asset;
  private readonly runtimeAssets: s3assets.Asset[];

  constructor(scope: Construct, id: string, props: EdgeAgentComponentProps = {}) {
    super(scope, id);
    const componentName = props.componentName ?? 'cdk-edge-model-pipeline.EdgeAgent';
    const iterations = props.iterations ?? 200;
    const topics = new AgentTopics(props.topicRoot ?? AgentTopics.DEFAULT_ROOT);
    const problems = new ProblemCollector();
    if (!isUnresolved(topics.root) && !AgentTopics.ROOT_PATTERN.test(topics.root)) {
      problems.add('topicRoot', topics.root, `Use 1 to 4 levels of letters, digits and "._-" separated by "/", such as "${AgentTopics.DEFAULT_ROOT}/my-pipeline" (no wildcards, no leading "$" or "/").`);
    }
    if (!isUnresolved(iterations) && (!Number.isInteger(iterations) || iterations < 1 || iterations > 100000)) {
      problems.add('iterations', iterations, 'Use a whole number from 1 to 100000.');
    }
    problems.throwIfAny(this);

    this.asset = new s3assets.Asset(this, 'Bundle', { path: agentBundle() });
    const runtimes = agentRuntimes().map((r) => ({ ...r, asset: new s3assets.Asset(this, `Runtime-${r.architecture}`, { path: r.path }) }));
    this.runtimeAssets = runtimes.map((r) => r.asset);
    const uriOf = (asset: s3assets.Asset) => `s3://${asset.s3BucketName}/${asset.s3ObjectKey}`;
    const dir = `{artifacts:decompressedPath}/${path.basename(this.asset.s3ObjectKey, '.zip')}`;
    const recipeProps = (version: string, uri: (asset: s3assets.Asset) => string) => ({
      componentName,
      componentVersion: version,
      description: 'cdk-edge-model-pipeline edge agent: validates, benchmarks and serves models on the device',
      defaultConfiguration: {
        mode: props.defaultMode ?? AgentMode.BENCHMARK,
        modelPath: '',
        datasetPath: '',
        runId: 'manual',
        variant: '',
        iterations: String(iterations),
        inbox: 'inbox',
        topicRoot: topics.root,
        deviceClass: '',
      },
      accessControl: [{
        ipcService: 'aws.greengrass.ipc.mqttproxy',
        policyId: 'EdgeAgentPublish',
        description: 'Results, predictions and telemetry of the edge agent only',
        operations: ['aws.greengrass#PublishToIoTCore'],
        resources: [`${topics.results}/*`, `${topics.telemetry}/*`],
      }],
      // One manifest per architecture: its runtimes come from the store with the agent.
      manifests: runtimes.map((r) => ({
        platform: { os: ComponentOs.LINUX, architecture: r.architecture },
        lifecycle: {
          install: `tar -xzf "{artifacts:path}/${path.basename(r.asset.s3ObjectKey)}" -C "{work:path}"`,
          // The bundle requires the runtimes by name: from the work folder, where Install unpacked them.
          run: `NODE_PATH="{work:path}/node_modules" node "${dir}/edge-agent.js" {configuration:/mode} --model "{configuration:/modelPath}" --dataset "{configuration:/datasetPath}"`
            + ' --run-id "{configuration:/runId}" --variant "{configuration:/variant}" --iterations {configuration:/iterations} --inbox "{configuration:/inbox}"'
            + ' --topic-root "{configuration:/topicRoot}" --device-class "{configuration:/deviceClass}"',
        },
        artifacts: [{ uri: uri(this.asset), unarchive: ArtifactUnarchive.ZIP }, { uri: uri(r.asset), unarchive: ArtifactUnarchive.NONE }],
      })),
    });
    // The version follows the content: the bundle's and the runtimes' hashes and the recipe (with
    // stand-ins for the artifact URIs, whose bucket is a deploy-time token).
    const standIn = (asset: s3assets.Asset) => `s3://artifacts/${asset.s3ObjectKey}`;
    const fingerprint = `${[this.asset, ...this.runtimeAssets].map((a) => a.assetHash).join(':')}:${new ComponentRecipe(recipeProps('0.0.0', standIn)).toJson()}`;
    const patch = parseInt(createHash('sha256').update(fingerprint).digest('hex').slice(0, 7), 16);
    this.componentName = componentName;
    this.topicRoot = topics.root;
    this.componentVersion = `1.0.${patch}`;
    this.resource = new greengrassv2.CfnComponentVersion(this, 'Resource', {
      inlineRecipe: new ComponentRecipe(recipeProps(this.componentVersion, uriOf)).toJson(),
    });
    this.resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
    for (const fleet of props.fleets ?? []) this.addFleet(fleet);
  }

  /**
   * Lets the devices of `fleet` run the agent: their token exchange role may download its
   * artifact, and their IoT policy lets each publish its results and telemetry under the
   * agent's topic root.
   */
  public addFleet(fleet: EdgeFleet): void {
    this.grantDownload(fleet.tokenExchangeRole);
    fleet._allowAgentTopics(this.topicRoot);
  }

  /** Lets `grantee` (a token exchange role) download the agent's artifacts: its bundle and its runtimes. */
  public grantDownload(grantee: iam.IGrantable): iam.Grant {
    // The nucleus asks for the bucket's location before it downloads.
    grantBucketLocation(this.asset.bucket, grantee);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject'],
      resourceArns: [this.asset, ...this.runtimeAssets].map((a) => a.bucket.arnForObjects(a.s3ObjectKey)),
    });
  }
}
