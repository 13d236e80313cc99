import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { inspectArchive } from '../../lambda/compile-preflight/archive-rules';
import { handler, preflight, PreflightEvent } from '../../lambda/compile-preflight/index';
import { OnnxInputReader } from '../../lambda/shared/onnx';
import { chunked, fixture, makeTarGz, noise } from '../support/archives';

const onnxArchive = () => makeTarGz({ 'model.onnx': fixture('onnx/mlp.onnx') });

function event(overrides: Partial<PreflightEvent> = {}): PreflightEvent {
  return {
    runId: 'digits-v7',
    source: { kind: 'BUCKET', s3Uri: 's3://models-bucket/models/digits/model.tar.gz' },
    inputConfig: { Framework: 'ONNX' },
    inputNames: ['pixels'],
    jobNamePrefix: 'digits',
    output: { bucket: 'store-bucket', prefix: 'compiled/', kmsKeyId: null },
    budgetSeconds: 1800,
    variants: [
      { name: 'rasp4b', target: 'rasp4b', outputConfig: { TargetDevice: 'rasp4b' }, dataInputConfig: '{"pixels":[1,64]}' },
      { name: 'linux-x86-64', target: 'linux-x86_64', outputConfig: { TargetPlatform: { Os: 'LINUX', Arch: 'X86_64' } }, dataInputConfig: '{"pixels":[1,64]}' },
    ],
    ...overrides,
  };
}

const reader = (data: Buffer) => async () => chunked(data, 1000);

describe('ONNX input names, read as the bytes stream by', () => {
  test.each([
    ['onnx/mlp.onnx', ['pixels']],
    ['onnx/mlp-legacy-inputs.onnx', ['pixels']],
    ['onnx/two-inputs.onnx', ['pixels', 'bias']],
  ])('%s has inputs %j', (file, inputs) => {
    const bytes = fixture(file);
    // Odd chunk sizes cut varints, lengths and names in the middle.
    for (const size of [1, 7, 333, bytes.length]) {
      const r = new OnnxInputReader();
      for (let i = 0; i < bytes.length; i += size) r.write(bytes.subarray(i, i + size));
      expect(r.end().inputs).toEqual(inputs);
    }
  });

  test('the legacy model also lists its initializers as graph inputs', () => {
    const r = new OnnxInputReader();
    r.write(fixture('onnx/mlp-legacy-inputs.onnx'));
    expect(r.end().declaredInputs).toEqual(['pixels', 'w1', 'b1', 'w2', 'b2']);
  });

  test('a truncated model is refused', () => {
    const bytes = fixture('onnx/mlp.onnx');
    const r = new OnnxInputReader();
    r.write(bytes.subarray(0, bytes.length - 100));
    expect(() => r.end()).toThrow(/truncated/);
  });

  test('text is not an ONNX model', () => {
    const r = new OnnxInputReader();
    expect(() => {
      r.write(Buffer.from('this is a README, not a model\n'.repeat(20)));
      r.end();
    }).toThrow();
  });
});

describe('inspectArchive on real archives', () => {
  test('accepts a good ONNX archive and reports its inputs', async () => {
    const report = await inspectArchive(chunked(onnxArchive(), 512), 'ONNX', ['pixels']);
    expect(report.modelFiles).toEqual(['model.onnx']);
    expect(report.onnxInputs).toEqual(['pixels']);
  });

  test('accepts a good PyTorch archive (traced .pth and a code folder)', async () => {
    const data = makeTarGz({ 'model.pth': Buffer.alloc(50_000, 1), 'code/__init__.py': '' });
    const report = await inspectArchive(chunked(data), 'PYTORCH', []);
    expect(report.modelFiles).toEqual(['model.pth']);
  });

  test('accepts the real traced PyTorch model the fixture script wrote (Python\'s tarfile, not GNU tar)', async () => {
    const report = await inspectArchive(chunked(fixture('digits/model.tar.gz')), 'PYTORCH', []);
    expect(report.modelFiles).toEqual(['model.pth']);
  });

  test('accepts names longer than the 100 bytes of a plain tar header', async () => {
    const long = `${'deep/'.repeat(30)}model.onnx`;
    const report = await inspectArchive(chunked(makeTarGz({ [long]: fixture('onnx/mlp.onnx') })), 'ONNX', ['pixels']);
    expect(report.modelFiles).toEqual([long]);
  });

  test('refuses an archive that is not gzip (a plain tar)', async () => {
    const plainTar = gunzipSync(onnxArchive());
    await expect(inspectArchive(chunked(plainTar), 'ONNX', ['pixels'])).rejects.toThrow(/not a gzip-compressed tar archive: it does not start with the gzip signature/);
  });

  test('refuses gzip data that is not a tar (a gzipped model file)', async () => {
    await expect(inspectArchive(chunked(gzipSync(fixture('onnx/mlp.onnx'))), 'ONNX', ['pixels'])).rejects.toThrow(/not a tar archive/);
  });

  test('refuses a truncated archive', async () => {
    const data = makeTarGz({ 'model.pth': noise(200_000) });
    expect(data.length).toBeGreaterThan(150_000);
    for (const cut of [data.length - 4, Math.floor(data.length / 2), 100]) {
      await expect(inspectArchive(chunked(data.subarray(0, cut)), 'PYTORCH', [])).rejects.toThrow(/truncated/);
    }
  });

  test('refuses an archive with no model file, naming what it holds', async () => {
    const data = makeTarGz({ 'README.md': 'hello', 'labels.txt': 'cat\ndog\n' });
    await expect(inspectArchive(chunked(data), 'PYTORCH', [])).rejects.toThrow(
      'no PYTORCH model file in the archive: it holds ["README.md", "labels.txt"]; Neo expects exactly one traced model file (.pth or .pt)');
  });

  test('refuses several .h5 files for Keras', async () => {
    const data = makeTarGz({ 'a.h5': 'x', 'b.h5': 'y' });
    await expect(inspectArchive(chunked(data), 'KERAS', ['input_1'])).rejects.toThrow(/2 KERAS model files in the archive \("a.h5", "b.h5"\)|2 KERAS model files in the archive \(\["a.h5", "b.h5"\]\)/);
  });

  test('refuses several .pb files for TensorFlow', async () => {
    const data = makeTarGz({ 'frozen.pb': 'x', 'saved/saved_model.pb': 'y' });
    await expect(inspectArchive(chunked(data), 'TENSORFLOW', ['input'])).rejects.toThrow(/2 TENSORFLOW model files/);
  });

  test('refuses an ONNX model whose inputs are not the ones in DataInputConfig', async () => {
    await expect(inspectArchive(chunked(onnxArchive()), 'ONNX', ['input0'])).rejects.toThrow(
      'the ONNX graph\'s inputs are ["pixels"] but DataInputConfig names ["input0"]');
  });

  test('refuses an ONNX model missing one of two inputs in DataInputConfig', async () => {
    const data = makeTarGz({ 'model.onnx': fixture('onnx/two-inputs.onnx') });
    await expect(inspectArchive(chunked(data), 'ONNX', ['pixels'])).rejects.toThrow(/inputs are \["pixels", "bias"\] but DataInputConfig names \["pixels"\]/);
  });

  test('refuses a .onnx file that is not an ONNX model', async () => {
    const data = makeTarGz({ 'model.onnx': 'not a protobuf at all, just text that pretends\n'.repeat(10) });
    await expect(inspectArchive(chunked(data), 'ONNX', ['pixels'])).rejects.toThrow(/model.onnx is not a readable ONNX model/);
  });

  test('an MXNet archive needs the .params file too', async () => {
    const data = makeTarGz({ 'resnet-symbol.json': '{}' });
    await expect(inspectArchive(chunked(data), 'MXNET', ['data'])).rejects.toThrow(/has no a .params file|no a \.params file/);
  });

  test('a symlink is not counted as the model file', async () => {
    const data = makeTarGz({ 'real.bin': 'x', 'model.pth': { symlink: '/etc/passwd' } });
    await expect(inspectArchive(chunked(data), 'PYTORCH', [])).rejects.toThrow(/no PYTORCH model file/);
  });
});

describe('preflight', () => {
  const now = new Date('2026-11-28T10:00:00.000Z');

  test('names one job per variant and builds the requests', async () => {
    const out = await preflight(event(), reader(onnxArchive()), now);
    expect(out.deadline).toBe('2026-11-28T10:30:00.000Z');
    expect(out.archive).toEqual({ files: 1, modelFiles: ['model.onnx'], onnxInputs: ['pixels'] });
    expect(out.jobs).toHaveLength(2);
    expect(out.jobs[0]).toEqual({
      variant: 'rasp4b',
      target: 'rasp4b',
      jobName: expect.stringMatching(/^digits-digits-v7-rasp4b-[0-9a-f]{10}$/),
      inputConfig: { S3Uri: 's3://models-bucket/models/digits/model.tar.gz', Framework: 'ONNX', DataInputConfig: '{"pixels":[1,64]}' },
      outputConfig: { S3OutputLocation: 's3://store-bucket/compiled/digits-v7/rasp4b/', TargetDevice: 'rasp4b' },
    });
    const again = await preflight(event(), reader(onnxArchive()), now);
    expect(again.jobs.map((j) => j.jobName)).toEqual(out.jobs.map((j) => j.jobName));
  });

  test('refuses a bad run id before reading anything', async () => {
    const read = jest.fn();
    await expect(preflight(event({ runId: 'has spaces' }), read, now)).rejects.toMatchObject({ name: 'CompileInputInvalid' });
    await expect(preflight(event({ runId: undefined }), read, now)).rejects.toThrow(/runId null is not valid/);
    expect(read).not.toHaveBeenCalled();
  });

  test('refuses an execution-input model outside the store\'s models/ prefix', async () => {
    const e = event({ source: { kind: 'EXECUTION_INPUT', s3Uri: 's3://store-bucket/compiled/x/model.tar.gz', allowedBucket: 'store-bucket', allowedPrefix: 'models/' } });
    await expect(preflight(e, reader(onnxArchive()), now)).rejects.toThrow('model URI s3://store-bucket/compiled/x/model.tar.gz is outside the artifact store: put the model under s3://store-bucket/models/');
  });

  test('refuses a model URI that is not a .tar.gz', async () => {
    const e = event({ source: { kind: 'EXECUTION_INPUT', s3Uri: 's3://store-bucket/models/model.onnx', allowedBucket: 'store-bucket', allowedPrefix: 'models/' } });
    await expect(preflight(e, reader(onnxArchive()), now)).rejects.toMatchObject({ name: 'CompileInputInvalid' });
  });

  test('a refused archive becomes ModelArchiveInvalid naming the object', async () => {
    await expect(preflight(event(), reader(makeTarGz({ 'notes.txt': 'x' })), now)).rejects.toMatchObject({
      name: 'ModelArchiveInvalid',
      message: expect.stringContaining('s3://models-bucket/models/digits/model.tar.gz: no ONNX model file in the archive'),
    });
  });

  test('a model package source reads nothing and sends no InputConfig', async () => {
    const read = jest.fn();
    const e = event({ source: { kind: 'MODEL_PACKAGE', modelPackageVersionArn: 'arn:aws:sagemaker:eu-west-1:111122223333:model-package/digits/3' }, inputConfig: null, inputNames: [] });
    const out = await preflight(e, read, now);
    expect(read).not.toHaveBeenCalled();
    expect(out.jobs[0].inputConfig).toBeUndefined();
    expect(out.modelS3Uri).toBeNull();
  });

  test('adds the store key to every OutputConfig', async () => {
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const out = await preflight(event({ output: { bucket: 'b', prefix: 'compiled/', kmsKeyId: keyArn } }), reader(onnxArchive()), now);
    expect(out.jobs.every((j) => j.outputConfig.KmsKeyId === keyArn)).toBe(true);
  });
});

describe('handler, reading from S3', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());

  test('streams the object from S3', async () => {
    s3.on(GetObjectCommand, { Bucket: 'models-bucket', Key: 'models/digits/model.tar.gz' })
      .resolves({ Body: sdkStreamMixin(Readable.from(chunked(onnxArchive()))) });
    const out = await handler(event());
    expect(out.archive?.onnxInputs).toEqual(['pixels']);
  });

  test('a missing object is ModelArchiveInvalid that says so', async () => {
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }));
    await expect(handler(event())).rejects.toMatchObject({
      name: 'ModelArchiveInvalid',
      message: 's3://models-bucket/models/digits/model.tar.gz does not exist: upload the model archive there, or fix the key',
    });
  });
});
