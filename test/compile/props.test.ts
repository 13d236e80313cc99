import { App, Duration, Lazy, Stack } from 'aws-cdk-lib';
import {
  ArtifactStore,
  CompilationTarget,
  CompilationVariant,
  CompilerOptions,
  Framework,
  FrameworkVersion,
  InputShape,
  ModelDescription,
  ModelSource,
  NeoCompilation,
  NeoCompilationProps,
  TargetDevice,
  TargetPlatformAccelerator,
  TargetPlatformArch,
  TargetPlatformOs,
} from '../../lib';
import { validationError as problemsOf } from '../support/problems';

const JETSON = CompilationTarget.device(TargetDevice.JETSON_NANO);
const NVIDIA_PLATFORM = CompilationTarget.platform({ os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.ARM64, accelerator: TargetPlatformAccelerator.NVIDIA });
const ONNX: ModelDescription = { framework: Framework.ONNX, inputs: [InputShape.named('pixels', [1, 64])] };

function compile(props: Partial<NeoCompilationProps> & { description?: ModelDescription } = {}): NeoCompilation {
  const stack = new Stack(new App(), 'Test');
  const store = new ArtifactStore(stack, 'Store');
  return new NeoCompilation(stack, 'Compile', {
    store,
    model: props.model ?? ModelSource.fromBucket(store.bucket, 'models/m.tar.gz', props.description ?? ONNX),
    variants: props.variants ?? [{ target: JETSON }],
    ...props,
  });
}


describe('NeoCompilation refuses bad props at synth', () => {
  test('fails when the framework version breaks the service pattern', () => {
    const err = problemsOf(() => compile({ description: { framework: Framework.PYTORCH, frameworkVersion: FrameworkVersion.of('v1.13'), inputs: [InputShape.positional([1, 3, 224, 224])] } }));
    expect(err.message).toContain('model.frameworkVersion: got "v1.13". Neo accepts 3-10 characters matching ^[0-9]\\.[A-Za-z0-9.]+$');
  });

  test('fails when a framework version is given for a framework Neo reads none for', () => {
    const err = problemsOf(() => compile({ description: { ...ONNX, frameworkVersion: FrameworkVersion.of('1.12') } }));
    expect(err.message).toContain('drop it for ONNX');
  });

  test('fails when an NVIDIA platform has no gpu-code, trt-ver and cuda-ver', () => {
    const err = problemsOf(() => compile({ variants: [{ target: NVIDIA_PLATFORM }] }));
    expect(err.problems).toEqual([expect.objectContaining({
      prop: 'variants[0].compilerOptions',
      fix: expect.stringContaining('An NVIDIA platform needs CompilerOptions.nvidia({ gpuCode, trtVersion, cudaVersion })'),
    })]);
  });

  test('fails when NVIDIA options are malformed', () => {
    const err = problemsOf(() => compile({ variants: [{ target: NVIDIA_PLATFORM, compilerOptions: CompilerOptions.nvidia({ gpuCode: '53', trtVersion: '7.1', cudaVersion: '10' }) }] }));
    expect(err.problems.map((p) => p.prop)).toEqual(['variants[0].compilerOptions.gpuCode', 'variants[0].compilerOptions.trtVersion', 'variants[0].compilerOptions.cudaVersion']);
  });

  test('fails when NVIDIA options are given for a Raspberry Pi', () => {
    const err = problemsOf(() => compile({ variants: [{ target: CompilationTarget.device(TargetDevice.RASP4B), compilerOptions: CompilerOptions.nvidia({ gpuCode: 'sm_53', trtVersion: '7.1.3', cudaVersion: '10.2' }) }] }));
    expect(err.message).toContain('NVIDIA options apply only to NVIDIA platforms and Jetson devices, not to rasp4b');
  });

  test('fails when a target has both a device and a platform', () => {
    const both = CompilationTarget.of({ device: TargetDevice.RASP4B, platform: { os: TargetPlatformOs.LINUX, arch: TargetPlatformArch.ARM64 } });
    const err = problemsOf(() => compile({ variants: [{ target: both }] }));
    expect(err.message).toContain('variants[0].target: got {"device":"rasp4b","platform":{"os":"LINUX","arch":"ARM64"}}. Give exactly one of device and platform');
  });

  test('fails when a target has neither a device nor a platform', () => {
    const err = problemsOf(() => compile({ variants: [{ target: CompilationTarget.of({}) }] }));
    expect(err.message).toContain('Give exactly one of device and platform');
  });

  test('fails when a Darknet input has the wrong rank', () => {
    const err = problemsOf(() => compile({ description: { framework: Framework.DARKNET, inputs: [InputShape.named('data', [1, 416])] } }));
    expect(err.message).toContain('DARKNET models take NCHW images: give 4 dimensions, not 2');
  });

  test('fails when XGBoost is given input shapes, or ONNX none', () => {
    expect(problemsOf(() => compile({ description: { framework: Framework.XGBOOST, inputs: [InputShape.named('x', [1, 8])] } })).message)
      .toContain('XGBoost models take no input shapes');
    expect(problemsOf(() => compile({ description: { framework: Framework.ONNX, inputs: [] } })).message)
      .toContain('ONNX models need the name and shape of every input');
  });

  test('fails when a dimension is not a positive whole number, or a named framework gets a positional input', () => {
    const err = problemsOf(() => compile({ description: { framework: Framework.ONNX, inputs: [InputShape.named('a', [1, 0]), InputShape.positional([1, 2])] } }));
    expect(err.message).toContain('Every dimension is a whole number of at least 1');
    expect(err.message).toContain('ONNX inputs need the input name from the model graph');
  });

  test('fails when PyTorch mixes named and positional inputs', () => {
    const err = problemsOf(() => compile({ description: { framework: Framework.PYTORCH, inputs: [InputShape.named('a', [1, 3]), InputShape.positional([1, 3])] } }));
    expect(err.message).toContain('either all named (dictionary format) or all positional (list format)');
  });

  test('fails when the target list is empty', () => {
    const err = problemsOf(() => compile({ variants: [] }));
    expect(err.message).toContain('variants: got []. Give at least one variant');
  });

  test('fails on duplicate variants: same target and options', () => {
    const err = problemsOf(() => compile({ variants: [{ target: JETSON }, { target: CompilationTarget.device(TargetDevice.JETSON_NANO), name: 'again' }] }));
    expect(err.message).toContain('variants[0] compiles for the same target with the same options: drop the duplicate');
  });

  test('fails on duplicate variant names', () => {
    const variants: CompilationVariant[] = [
      { target: JETSON, name: 'edge' },
      { target: CompilationTarget.device(TargetDevice.RASP4B), name: 'edge' },
    ];
    expect(problemsOf(() => compile({ variants })).message).toContain('variants[1].name: got "edge". variants[0] has the same name');
  });

  test.each(['Upper', 'has_underscore', '-lead', 'trail-', 'a'.repeat(25), 'double--dash'])('fails when the name prefix is %j', (namePrefix) => {
    const err = problemsOf(() => compile({ namePrefix }));
    expect(err.problems[0]).toMatchObject({ prop: 'namePrefix', value: JSON.stringify(namePrefix) });
    expect(err.problems[0].fix).toContain('[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}');
  });

  test.each([
    ['pollInterval', { pollInterval: Duration.seconds(5) }, 'Use a whole number from 10 to 600 seconds'],
    ['pollInterval', { pollInterval: Duration.minutes(11) }, 'Use a whole number from 10 to 600 seconds'],
    ['timeBudget', { timeBudget: Duration.minutes(4) }, 'Use a whole number from 300 to 86400 seconds'],
    ['timeBudget', { timeBudget: Duration.hours(25) }, 'Use a whole number from 300 to 86400 seconds'],
    ['timeBudget', { timeBudget: Duration.minutes(5), pollInterval: Duration.minutes(4) }, 'at least two poll intervals'],
    ['maxConcurrency', { maxConcurrency: 0 }, 'Use a whole number from 1 to 40'],
  ])('fails when %s is out of range', (prop, props, fix) => {
    const err = problemsOf(() => compile(props));
    expect(err.problems).toEqual(expect.arrayContaining([expect.objectContaining({ prop, fix: expect.stringContaining(fix) })]));
  });

  test('fails when the model key is not a .tar.gz', () => {
    const stack = new Stack(new App(), 'T');
    const store = new ArtifactStore(stack, 'Store');
    const err = problemsOf(() => new NeoCompilation(stack, 'C', { store, model: ModelSource.fromBucket(store.bucket, 'models/model.onnx', ONNX), variants: [{ target: JETSON }] }));
    expect(err.message).toContain('model.key: got "models/model.onnx". Neo reads one gzip-compressed tar archive');
  });

  test('fails when a model package ARN is not one', () => {
    const err = problemsOf(() => compile({ model: ModelSource.fromModelPackage('digits/3') }));
    expect(err.message).toContain('Give a model package version ARN');
  });

  test('fails when Android options have an API level Neo does not support', () => {
    const android = CompilationTarget.platform({ os: TargetPlatformOs.ANDROID, arch: TargetPlatformArch.ARM64 });
    const err = problemsOf(() => compile({ variants: [{ target: android, compilerOptions: CompilerOptions.android({ platformLevel: 30 }) }] }));
    expect(err.message).toContain('Neo supports Android API levels 21 to 29');
  });

  test('reports every problem at once, with the construct path, the value and the fix', () => {
    const err = problemsOf(() => compile({ namePrefix: 'Bad_Prefix', pollInterval: Duration.seconds(1), variants: [] }));
    expect(err.constructPath).toBe('Test/Compile');
    expect(err.problems).toHaveLength(3);
    expect(err.message).toMatch(/^Invalid props for Test\/Compile \(3 problems\):\n {2}- namePrefix: got "Bad_Prefix"\. /);
  });

  test('does not validate unresolved tokens', () => {
    const prefix = Lazy.string({ produce: () => 'late' });
    expect(() => compile({ namePrefix: prefix })).not.toThrow();
  });

  test('accepts every kind of target Neo knows', () => {
    const variants: CompilationVariant[] = Object.values(TargetDevice).map((device) => ({
      target: CompilationTarget.device(device),
      compilerOptions: device === TargetDevice.COREML ? CompilerOptions.coreMl({ classLabelsFile: 'labels.txt' }) : undefined,
    }));
    expect(compile({ variants }).variantNames).toHaveLength(37);
  });
});
