import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  AccuracyBaseline,
  ArtifactStore,
  CompilationTarget,
  CompilerOptions,
  ComponentArchitecture,
  ComponentOs,
  EdgeFleet,
  EdgeModelPipeline,
  Framework,
  FrameworkVersion,
  InputShape,
  ModelDescription,
  Rollout,
  RolloutFailureType,
  TargetDevice,
  TargetPlatformArch,
  TargetPlatformOs,
} from '../lib';

/** The example model: an image classifier traced from PyTorch, 224×224 RGB. */
const RESNET: ModelDescription = {
  framework: Framework.PYTORCH,
  frameworkVersion: FrameworkVersion.of('1.13'),
  inputs: [InputShape.image({ name: 'input0', channels: 3, height: 224, width: 224 })],
};

const THRESHOLDS = {
  minAccuracy: 0.9,
  maxAccuracyDrop: 0.02,
  baseline: AccuracyBaseline.measuredOnDevice(),
  minTop1Agreement: 0.98,
  maxP90Latency: Duration.millis(40),
  maxP99Latency: Duration.millis(80),
  maxPeakMemoryMb: 1024,
};

/** The smallest pipeline: one Jetson Nano class, its canary group and one fleet group. */
export class SingleJetsonPipelineStack extends Stack {
  public readonly pipeline: EdgeModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const pipeline: EdgeModelPipeline = new EdgeModelPipeline(this, 'Pipeline', {
      pipelineName: 'jetson-cam',
      model: RESNET,
      thresholds: THRESHOLDS,
      deviceClasses: [{
        name: 'jetson-nano',
        platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        variants: [{
          name: 'jetson-nano',
          target: CompilationTarget.device(TargetDevice.JETSON_NANO),
          compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }),
        }],
        canary: new EdgeFleet(this, 'Canary', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-canary-', store: sharedStore(this), thingGroupName: 'jetson-nano-canary' }),
        rings: [new EdgeFleet(this, 'Fleet', { deviceClass: 'jetson-nano', thingNamePrefix: 'cam-', store: sharedStore(this), thingGroupName: 'jetson-nano-fleet' })],
        datasetPath: '/opt/edge/datasets/holdout/dataset.json',
      }],
      store: sharedStore(this),
    });
    this.pipeline = pipeline;
  }
}

/**
 * A mixed fleet: Jetson Nano cameras, Raspberry Pi 4 cameras and x86 gateways,
 * each with a canary group and two rings (5 %, then the rest), and a manual
 * approval between the gate and the fleet.
 */
export class MixedFleetPipelineStack extends Stack {
  public readonly pipeline: EdgeModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const store = sharedStore(this);
    const fleet = (cls: string, prefix: string, group: string, deviceAccess?: EdgeFleet) => new EdgeFleet(this, `${pascal(group)}`, { deviceClass: cls, thingNamePrefix: prefix, store, thingGroupName: group, deviceAccess });
    const classes = [
      {
        name: 'jetson-nano', architecture: ComponentArchitecture.AARCH64, prefix: 'cam-jn-',
        variants: [
          { name: 'jetson-nano-trt', target: CompilationTarget.device(TargetDevice.JETSON_NANO), compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }) },
          { name: 'jetson-nano-cpu', target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.ARM64 }), compilerOptions: CompilerOptions.cpu({ mcpu: 'cortex-a57' }) },
        ],
      },
      { name: 'rasp4b', architecture: ComponentArchitecture.AARCH64, prefix: 'cam-pi-', variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }] },
      { name: 'x86-gateway', architecture: ComponentArchitecture.AMD64, prefix: 'gw-', variants: [{ name: 'x86-gateway', target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.X86_64 }), compilerOptions: CompilerOptions.cpu({ mcpu: 'skylake' }) }] },
    ];
    const canaries = Object.fromEntries(classes.map((c) => [c.name, fleet(c.name, `${c.prefix}canary-`, `${c.name}-canary`)]));
    this.pipeline = new EdgeModelPipeline(this, 'Pipeline', {
      pipelineName: 'mixed-fleet',
      model: RESNET,
      store,
      thresholds: THRESHOLDS,
      approval: { timeout: Duration.hours(12) },
      deviceClasses: classes.map((c) => ({
        name: c.name,
        platform: { os: ComponentOs.LINUX, architecture: c.architecture },
        variants: c.variants,
        canary: canaries[c.name],
        // The rings are the same kind of device as the canary: their own thing groups, the canary's role, alias and policy.
        rings: [fleet(c.name, `${c.prefix}r1-`, `${c.name}-ring1`, canaries[c.name]), fleet(c.name, `${c.prefix}r2-`, `${c.name}-ring2`, canaries[c.name])],
        datasetPath: '/opt/edge/datasets/holdout/dataset.json',
        rollout: Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 10, maximumPerMinute: 200 }),
        abortCriteria: [{ failureType: RolloutFailureType.ALL, thresholdPercentage: 5, minExecutedThings: 10 }],
        quorumPercentage: 80,
      })),
    });
  }
}

/** An ONNX Runtime fleet: no Neo compilation; the ONNX model itself is packaged and run. */
export class OnnxRuntimeFleetPipelineStack extends Stack {
  public readonly pipeline: EdgeModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const store = sharedStore(this);
    this.pipeline = new EdgeModelPipeline(this, 'Pipeline', {
      pipelineName: 'onnx-fleet',
      model: { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 1, 8, 8])] },
      store,
      thresholds: { minAccuracy: 0.95, minTop1Agreement: 0.99, maxP90Latency: Duration.millis(5) },
      deviceClasses: [{
        name: 'arm-gateway',
        platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        canary: new EdgeFleet(this, 'Canary', { deviceClass: 'arm-gateway', thingNamePrefix: 'agw-canary-', store, thingGroupName: 'arm-gateway-canary' }),
        rings: [new EdgeFleet(this, 'Fleet', { deviceClass: 'arm-gateway', thingNamePrefix: 'agw-', store, thingGroupName: 'arm-gateway-fleet' })],
        datasetPath: '/opt/edge/datasets/digits/dataset.json',
      }],
    });
  }
}

/** A pipeline started by the Model Registry: a package of group `resnet-edge` turning Approved. */
export class ModelRegistryPipelineStack extends Stack {
  public readonly pipeline: EdgeModelPipeline;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const store = sharedStore(this);
    this.pipeline = new EdgeModelPipeline(this, 'Pipeline', {
      pipelineName: 'registry',
      model: RESNET,
      store,
      thresholds: THRESHOLDS,
      triggers: { onModelUpload: false, modelPackageGroupName: 'resnet-edge' },
      deviceClasses: [{
        name: 'rasp4b',
        platform: { os: ComponentOs.LINUX, architecture: ComponentArchitecture.AARCH64 },
        variants: [{ name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) }],
        canary: new EdgeFleet(this, 'Canary', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-canary-', store, thingGroupName: 'rasp4b-canary' }),
        rings: [new EdgeFleet(this, 'Fleet', { deviceClass: 'rasp4b', thingNamePrefix: 'pi-', store, thingGroupName: 'rasp4b-fleet' })],
        datasetPath: '/opt/edge/datasets/holdout/dataset.json',
      }],
    });
  }
}


/** One store per stack, shared by the pipeline and its fleets (the fleets' devices read its packages/). */
function sharedStore(scope: Construct): ArtifactStore {
  const stack = Stack.of(scope);
  return (stack.node.tryFindChild('Store') as ArtifactStore | undefined) ?? new ArtifactStore(stack, 'Store');
}

function pascal(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
