import { App, Stack } from 'aws-cdk-lib';
import {
  ArtifactStore,
  CompilationTarget,
  CompilationVariant,
  CompilerOptions,
  Framework,
  InputShape,
  ModelDescription,
  ModelSource,
  NeoCompilation,
  NeoCompilationProps,
  PipelineStateMachine,
  TargetDevice,
  TargetPlatformAccelerator,
  TargetPlatformArch,
  TargetPlatformOs,
} from '../../lib';

/** The fixture model: an ONNX MLP over 8×8 digit images with one input, `pixels`. */
export const DIGITS_MODEL: ModelDescription = { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] };

/** A device, a CPU platform and an NVIDIA platform. */
export const THREE_VARIANTS: CompilationVariant[] = [
  { target: CompilationTarget.device(TargetDevice.RASP4B) },
  { target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.X86_64 }) },
  {
    name: 'xavier-trt',
    target: CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.ARM64, accelerator: TargetPlatformAccelerator.NVIDIA }),
    compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_72', trtVersion: '8.2.1', cudaVersion: '10.2' }),
  },
];

/** The states of one poll of the compile loop. */
export const POLL_LOOP_STATES = ['WaitForCompilation', 'DescribeCompilationJob', 'CheckCompilationStatus'];

export interface CompileStackOptions extends Partial<Omit<NeoCompilationProps, 'store' | 'model'>> {
  /** The model source; the default is the fixture model at `models/digits/model.tar.gz` in the store. */
  readonly source?: (store: ArtifactStore, stack: Stack) => ModelSource;
}

/** A stack with an artifact store, a NeoCompilation (three variants by default) and a state machine around it. */
export function compileStack(options: CompileStackOptions = {}) {
  const { source, ...props } = options;
  const app = new App();
  const stack = new Stack(app, 'Test');
  const store = new ArtifactStore(stack, 'Store');
  const compile = new NeoCompilation(stack, 'Compile', {
    namePrefix: 'digits',
    variants: THREE_VARIANTS,
    ...props,
    store,
    model: source ? source(store, stack) : ModelSource.fromBucket(store.bucket, 'models/digits/model.tar.gz', DIGITS_MODEL),
  });
  new PipelineStateMachine(stack, 'Machine', { definition: compile });
  return { app, stack, store, compile };
}
