import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ArtifactStore,
  CompilationTarget,
  CompilerOptions,
  ComponentArchitecture,
  ComponentOs,
  ComponentPublishing,
  EdgeFleet,
  FleetRollout,
  Framework,
  FrameworkVersion,
  InputShape,
  ModelDescription,
  ModelSource,
  NeoCompilation,
  PipelineStateMachine,
  ReleaseLedger,
  Rollout,
  RolloutFailureType,
  TargetDevice,
  TargetPlatformArch,
  TargetPlatformOs,
} from '../lib';

/**
 * From a model in S3 to a staged, abortable, revertible rollout on three
 * device classes: compile with Neo, package and publish one Greengrass
 * component per class, then roll out class by class.
 *
 * Start a run with `{ "runId": "resnet18-v3" }` after uploading the model to
 * `s3://<store bucket>/models/resnet18/model.tar.gz`. Until the canary gate
 * exists, each class rolls out the first variant published for it.
 */
export class ReleaseExampleStack extends Stack {
  public readonly stateMachine: sfn.StateMachine;
  /** The fleet of each device class (their thing groups are named by the stack: unique in the account). */
  public readonly fleets: Record<string, EdgeFleet> = {};

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const store = new ArtifactStore(this, 'Store');
    const ledger = new ReleaseLedger(this, 'Ledger', { encryptionKey: store.encryptionKey });
    const model: ModelDescription = {
      framework: Framework.PYTORCH,
      frameworkVersion: FrameworkVersion.of('1.13'),
      inputs: [InputShape.image({ name: 'input0', channels: 3, height: 224, width: 224 })],
    };

    const compile = new NeoCompilation(this, 'Compile', {
      store,
      namePrefix: 'resnet18',
      model: ModelSource.fromBucket(store.bucket, 'models/resnet18/model.tar.gz', model),
      variants: [
        {
          name: 'jetson-nano',
          target: CompilationTarget.device(TargetDevice.JETSON_NANO),
          compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }),
        },
        { name: 'rasp4b', target: CompilationTarget.device(TargetDevice.RASP4B) },
        { name: 'x86-gateway', target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.X86_64 }) },
      ],
    });

    const classes = [
      { name: 'jetson-nano', architecture: ComponentArchitecture.AARCH64, variant: 'jetson-nano', prefix: 'cam-jetson-' },
      { name: 'rasp4b', architecture: ComponentArchitecture.AARCH64, variant: 'rasp4b', prefix: 'cam-pi-' },
      { name: 'x86-gateway', architecture: ComponentArchitecture.AMD64, variant: 'x86-gateway', prefix: 'gw-' },
    ];
    const publishing = new ComponentPublishing(this, 'Publish', {
      store,
      ledger,
      model,
      componentNamePrefix: 'com.example.resnet18',
      deviceClasses: classes.map((c) => ({ name: c.name, platform: { os: ComponentOs.LINUX, architecture: c.architecture }, variants: [c.variant] })),
    });

    let chain: sfn.Chain = compile.next(publishing);
    classes.forEach((c, i) => {
      const fleet = new EdgeFleet(this, `${pascal(c.name)}Fleet`, { deviceClass: c.name, thingNamePrefix: c.prefix, store });
      this.fleets[c.name] = fleet;
      const choose = new sfn.Pass(this, `${pascal(c.name)}Release`, {
        stateName: `${c.name}: ChooseRelease`,
        comment: 'The first published candidate of the class (the canary gate will choose here)',
        parameters: {
          components: { [publishing.componentNames[c.name]]: { 'ComponentVersion.$': `$.publish.classes[${i}].candidates[0].componentVersion` } },
        },
        resultPath: '$.release',
      });
      const rollout = new FleetRollout(this, `${pascal(c.name)}Rollout`, {
        fleet,
        ledger,
        rollout: Rollout.exponential({ baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 10, maximumPerMinute: 200 }),
        abortCriteria: [{ failureType: RolloutFailureType.ALL, thresholdPercentage: 5, minExecutedThings: 10 }],
        inProgressTimeout: Duration.minutes(20),
      });
      chain = chain.next(choose).next(rollout);
    });

    this.stateMachine = new PipelineStateMachine(this, 'StateMachine', { definition: chain, timeout: Duration.days(2) }).stateMachine;
  }
}

function pascal(name: string): string {
  return name.split('-').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
}
