import { Duration } from 'aws-cdk-lib';
import { CompilationTarget, ModelSource, TargetDevice, VariantFailurePolicy } from '../../lib';
import { CompileStackOptions, compileStack, DIGITS_MODEL, POLL_LOOP_STATES } from '../support/compile-stack';
import { fixture, makeTarGz } from '../support/archives';
import { FakeNeo, JobScript } from '../support/fake-neo';
import { definitionOf, expectValidAsl, runDefinition } from '../support/state-machine';

const ARCHIVE = makeTarGz({ 'model.onnx': fixture('onnx/mlp.onnx') });

/** The synthesized definition of a three-variant compile stack, checked by asl-validator. */
function build(options: CompileStackOptions = {}) {
  const definition = definitionOf(compileStack(options).stack);
  expectValidAsl(definition);
  return definition;
}

const VARIANTS = ['rasp4b', 'linux-x86-64', 'xavier-trt'];

async function run(definition: ReturnType<typeof build>, fake: FakeNeo, input: Record<string, unknown> = { runId: 'digits-v7' }) {
  return runDefinition(definition, input as never, { handlers: fake.handlers(), context: fake.context() });
}

describe('NeoCompilation, run by the local executor', () => {
  const definition = build();

  test('the definition is valid ASL', () => {
    expectValidAsl(definition);
  });

  test('compiles every variant after several polls and reports artifacts, digests and durations', async () => {
    const scripts: Record<string, JobScript> = {
      'rasp4b': { statuses: ['STARTING', 'INPROGRESS', 'INPROGRESS', 'COMPLETED'] },
      'linux-x86-64': { statuses: ['INPROGRESS', 'COMPLETED'] },
      'xavier-trt': { statuses: ['STARTING', 'INPROGRESS', 'INPROGRESS', 'INPROGRESS', 'INPROGRESS', 'COMPLETED'] },
    };
    const fake = new FakeNeo(scripts, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    const compile = (result.output as { compile: { compiled: Record<string, unknown>[]; failed: unknown[] } }).compile;
    expect(compile.failed).toEqual([]);
    expect(compile.compiled.map((c) => c.variant)).toEqual(VARIANTS);
    for (const c of compile.compiled) {
      expect(c.jobName).toMatch(/^digits-digits-v7-[a-z0-9-]+-[0-9a-f]{10}$/);
      expect(c.artifactS3Uri).toMatch(new RegExp(`^s3://storec1f82936/compiled/digits-v7/${c.variant}/model-.*\\.tar\\.gz$`));
      expect(c.artifactDigest).toMatch(/^sha256:/);
      expect(c.jobArn).toBe(`arn:aws:sagemaker:eu-west-1:111122223333:compilation-job/${c.jobName}`);
      expect(typeof c.compileSeconds).toBe('number');
    }
    expect(fake.calls('DescribeCompilationJob')).toHaveLength(4 + 2 + 6);
    expect(fake.calls('StopCompilationJob')).toHaveLength(0);
  });

  test('every CreateCompilationJob request is what the service and Neo expect', async () => {
    const fake = new FakeNeo({}, 30, ARCHIVE);
    await run(definition, fake);
    const creates = fake.calls('CreateCompilationJob');
    expect(creates).toHaveLength(3);
    for (const request of creates) {
      const input = request.InputConfig as Record<string, string>;
      expect(input).toEqual({ S3Uri: 's3://storec1f82936/models/digits/model.tar.gz', Framework: 'ONNX', DataInputConfig: '{"pixels":[1,64]}' });
      expect(JSON.parse(input.DataInputConfig)).toEqual({ pixels: [1, 64] });
      expect(request.RoleArn).toMatch(/^arn:aws:iam::111122223333:role\/CompileCompilationRole/);
      expect(request.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 1800 });
      expect((request.OutputConfig as Record<string, string>).KmsKeyId).toMatch(/^arn:aws:kms:/);
    }
    const nvidia = creates.find((r) => (r.OutputConfig as Record<string, unknown>).TargetPlatform !== undefined &&
      ((r.OutputConfig as Record<string, Record<string, string>>).TargetPlatform.Accelerator === 'NVIDIA'))!;
    expect(JSON.parse((nvidia.OutputConfig as Record<string, string>).CompilerOptions)).toEqual({ 'gpu-code': 'sm_72', 'trt-ver': '8.2.1', 'cuda-ver': '10.2' });
  });

  test('a FAILED job ends the run with NeoCompilationFailed carrying the FailureReason', async () => {
    const reason = 'ClientError: TVM cannot convert ONNX model. Please make sure the framework you selected is correct. The following operators are not implemented: {\'NonMaxSuppression\'}';
    const fake = new FakeNeo({ 'linux-x86-64': { statuses: ['INPROGRESS', 'FAILED'], failureReason: reason } }, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoCompilationFailed', cause: reason });
  });

  test('a STOPPED job ends the run with NeoCompilationStopped', async () => {
    const fake = new FakeNeo({ 'rasp4b': { statuses: ['INPROGRESS', 'STOPPING', 'STOPPED'], failureReason: 'Stopped by user' } }, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoCompilationStopped', cause: 'Stopped by user' });
  });

  test('a throttled create is retried and then succeeds', async () => {
    const fake = new FakeNeo({
      // SageMaker's model has no throttling error: the SDK raises it as the service's base exception.
      'rasp4b': { createErrors: ['SageMaker.AmazonSageMakerException', 'SageMaker.AmazonSageMakerException'] },
      'xavier-trt': { createErrors: ['SageMaker.ResourceLimitExceededException'] },
    }, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.retried.filter((s) => s === 'CreateCompilationJob')).toHaveLength(3);
    expect(fake.calls('CreateCompilationJob')).toHaveLength(3 + 3);
    expect(fake.jobs.size).toBe(3);
  });

  test('a re-run with the same run id meets ResourceInUse and polls the jobs it started before', async () => {
    const fake = new FakeNeo({}, 30, ARCHIVE);
    const first = await run(definition, fake);
    const second = await run(definition, fake);
    expect(second.status).toBe('SUCCEEDED');
    expect(fake.jobs.size).toBe(3);
    expect(fake.calls('CreateCompilationJob')).toHaveLength(6);
    const names = (r: typeof first) => (r.output as { compile: { compiled: { jobName: string }[] } }).compile.compiled.map((c) => c.jobName);
    expect(names(second)).toEqual(names(first));
  });

  test('past the time budget the job is stopped, then the run fails with NeoCompilationTimedOut', async () => {
    const budgeted = build({ timeBudget: Duration.minutes(5) });
    const fake = new FakeNeo({ 'xavier-trt': { statuses: ['INPROGRESS'] } }, 30, ARCHIVE);
    const result = await run(budgeted, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoCompilationTimedOut' });
    expect(result.cause).toMatch(/time budget of 300 seconds/);
    const stops = fake.calls('StopCompilationJob');
    // The late job first; then, as the stage fails, every job of the run (none goes on compiling).
    expect(stops[0].CompilationJobName).toBe([...fake.jobs.values()].find((j) => j.variant === 'xavier-trt')!.name);
    expect(stops.slice(1).map((s) => s.CompilationJobName).sort()).toEqual([...fake.jobs.keys()].sort());
    // The clock moved 30 s per poll: it took at least 300 s of polls to stop.
    const polls = fake.calls('DescribeCompilationJob').filter((r) => r.CompilationJobName === stops[0].CompilationJobName).length;
    expect(polls).toBeGreaterThanOrEqual(5);
  });

  test('one of three variants failing fails the run under FAIL_RUN', async () => {
    const fake = new FakeNeo({ 'rasp4b': { statuses: ['FAILED'], failureReason: 'Input shapes should be provided in NCHW format' } }, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoCompilationFailed', cause: 'Input shapes should be provided in NCHW format' });
  });

  test('a failing variant, or a fault while polling, stops the jobs of the other variants: none goes on compiling', async () => {
    const fake = new FakeNeo({ 'rasp4b': { statuses: ['FAILED'], failureReason: 'Input shapes should be provided in NCHW format' }, 'xavier-trt': { statuses: ['INPROGRESS'] } }, 30, ARCHIVE);
    const result = await run(definition, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoCompilationFailed' });
    expect(fake.calls('StopCompilationJob').map((s) => s.CompilationJobName).sort()).toEqual([...fake.jobs.keys()].sort());
    expect([...fake.jobs.values()].find((j) => j.variant === 'xavier-trt')!.stopRequested).toBe(true);
  });

  test('one of three variants failing leaves two compiled under CONTINUE_WITH_COMPILED', async () => {
    const lenient = build({ variantFailurePolicy: VariantFailurePolicy.CONTINUE_WITH_COMPILED });
    const fake = new FakeNeo({ 'rasp4b': { statuses: ['INPROGRESS', 'FAILED'], failureReason: 'Unable to untar input model' } }, 30, ARCHIVE);
    const result = await run(lenient, fake);
    expect(result.status).toBe('SUCCEEDED');
    const compile = (result.output as { compile: { compiled: { variant: string }[]; failed: Record<string, string>[] } }).compile;
    expect(compile.compiled.map((c) => c.variant)).toEqual(['linux-x86-64', 'xavier-trt']);
    expect(compile.failed).toEqual([expect.objectContaining({ variant: 'rasp4b', error: 'NeoCompilationFailed', cause: 'Unable to untar input model' })]);
  });

  test('under CONTINUE_WITH_COMPILED a timed-out variant is recorded, and the run goes on', async () => {
    const lenient = build({ variantFailurePolicy: VariantFailurePolicy.CONTINUE_WITH_COMPILED, timeBudget: Duration.minutes(5) });
    const fake = new FakeNeo({ 'linux-x86-64': { statuses: ['INPROGRESS'] } }, 30, ARCHIVE);
    const result = await run(lenient, fake);
    expect(result.status).toBe('SUCCEEDED');
    const failed = (result.output as { compile: { failed: Record<string, string>[] } }).compile.failed;
    expect(failed).toEqual([expect.objectContaining({ variant: 'linux-x86-64', error: 'NeoCompilationTimedOut' })]);
    expect(fake.calls('StopCompilationJob')).toHaveLength(1);
  });

  test('under CONTINUE_WITH_COMPILED an unexpected service error is recorded for its variant', async () => {
    const lenient = build({ variantFailurePolicy: VariantFailurePolicy.CONTINUE_WITH_COMPILED });
    const fake = new FakeNeo({ 'xavier-trt': { createErrors: ['SageMaker.ValidationException'] } }, 30, ARCHIVE);
    const result = await run(lenient, fake);
    expect(result.status).toBe('SUCCEEDED');
    const failed = (result.output as { compile: { failed: Record<string, string>[] } }).compile.failed;
    expect(failed).toEqual([expect.objectContaining({ variant: 'xavier-trt', error: 'SageMaker.ValidationException' })]);
  });

  test('when no variant compiles under CONTINUE_WITH_COMPILED the run fails with NeoAllVariantsFailed', async () => {
    const lenient = build({ variantFailurePolicy: VariantFailurePolicy.CONTINUE_WITH_COMPILED });
    const failing = { statuses: ['FAILED'], failureReason: 'bad model' };
    const fake = new FakeNeo({ 'rasp4b': failing, 'linux-x86-64': failing, 'xavier-trt': failing }, 30, ARCHIVE);
    const result = await run(lenient, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'NeoAllVariantsFailed' });
    expect(result.cause).toMatch(/rasp4b: NeoCompilationFailed: bad model/);
  });

  test('a refused archive fails the run before any job starts', async () => {
    const fake = new FakeNeo({}, 30, makeTarGz({ 'weights.bin': 'x' }));
    const result = await run(definition, fake);
    expect(result).toMatchObject({ status: 'FAILED', error: 'ModelArchiveInvalid' });
    expect(fake.calls('CreateCompilationJob')).toHaveLength(0);
  });

  test('a bad run id fails the run with CompileInputInvalid', async () => {
    const fake = new FakeNeo({}, 30, ARCHIVE);
    const result = await run(definition, fake, { runId: 'no spaces allowed' });
    expect(result).toMatchObject({ status: 'FAILED', error: 'CompileInputInvalid' });
  });

  test('a model package source sends ModelPackageVersionArn and no InputConfig', async () => {
    const arn = 'arn:aws:sagemaker:eu-west-1:111122223333:model-package/digits/3';
    const fromPackage = build({ source: () => ModelSource.fromModelPackage(arn) });
    const fake = new FakeNeo({}, 30, ARCHIVE);
    const result = await run(fromPackage, fake);
    expect(result.status).toBe('SUCCEEDED');
    for (const request of fake.calls('CreateCompilationJob')) {
      expect(request.ModelPackageVersionArn).toBe(arn);
      expect(request.InputConfig).toBeUndefined();
    }
  });

  test('a model named in the execution input is compiled from there', async () => {
    const fromInput = build({ source: () => ModelSource.fromExecutionInput(DIGITS_MODEL) });
    const fake = new FakeNeo({}, 30, ARCHIVE);
    const uri = 's3://storec1f82936/models/digits/v8/model.tar.gz';
    const result = await run(fromInput, fake, { runId: 'digits-v8', model: { s3Uri: uri } });
    expect(result.status).toBe('SUCCEEDED');
    expect(fake.calls('CreateCompilationJob').map((r) => (r.InputConfig as Record<string, string>).S3Uri)).toEqual([uri, uri, uri]);
  });

  test('the poll loop costs 3 transitions per poll: 6 per compile-minute at the default 30 s', async () => {
    const single = build({ variants: [{ target: CompilationTarget.device(TargetDevice.RASP4B) }] });
    const polls = 20;
    const fake = new FakeNeo({ rasp4b: { statuses: [...Array(polls - 1).fill('INPROGRESS'), 'COMPLETED'] } }, 30, ARCHIVE);
    const result = await run(single, fake);
    expect(result.status).toBe('SUCCEEDED');
    const loop = result.entered.filter((s) => POLL_LOOP_STATES.includes(s)).length;
    expect(loop).toBe(3 * polls);
    const minutes = (polls * 30) / 60;
    expect(loop / minutes).toBe(6);
  });
});
