import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ArtifactStore,
  CompilationTarget,
  CompilerOptions,
  Framework,
  FrameworkVersion,
  InputShape,
  ModelSource,
  NeoCompilation,
  PipelineStateMachine,
  TargetDevice,
  TargetPlatformArch,
  TargetPlatformOs,
} from '../lib';

/**
 * Compiles one PyTorch image classifier with SageMaker Neo for a Jetson Nano,
 * a Raspberry Pi 4 and x86-64 Linux gateways, in one state machine.
 *
 * Start a run with `{ "runId": "resnet18-v3" }` after uploading the model to
 * `s3://<store bucket>/models/resnet18/model.tar.gz`.
 */
export class CompileExampleStack extends Stack {
  public readonly store: ArtifactStore;
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.store = new ArtifactStore(this, 'Store');

    const compile = new NeoCompilation(this, 'Compile', {
      store: this.store,
      namePrefix: 'resnet18',
      model: ModelSource.fromBucket(this.store.bucket, 'models/resnet18/model.tar.gz', {
        framework: Framework.PYTORCH,
        frameworkVersion: FrameworkVersion.of('1.13'),
        inputs: [InputShape.image({ name: 'input0', channels: 3, height: 224, width: 224 })],
      }),
      variants: [
        {
          target: CompilationTarget.device(TargetDevice.JETSON_NANO),
          compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }),
        },
        { target: CompilationTarget.device(TargetDevice.RASP4B) },
        {
          target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.X86_64 }),
          compilerOptions: CompilerOptions.cpu({ mcpu: 'skylake' }),
        },
      ],
    });

    this.stateMachine = new PipelineStateMachine(this, 'StateMachine', {
      definition: compile,
      timeout: Duration.hours(2),
    }).stateMachine;
  }
}
