import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { packageVariant, PackageEvent } from '../../lambda/package-artifact/index';
import { packageArtifact, PackageDescription, unsafeEntryReason } from '../../lambda/package-artifact/package';
import { chunked, craftTarGz, fixture, makeTarGz, neoCompiledFiles } from '../support/archives';
import { readZip } from '../support/read-zip';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
let work: string;
beforeEach(() => { work = fs.mkdtempSync(path.join(os.tmpdir(), 'pkg-test-')); });
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const description = (overrides: Partial<PackageDescription> = {}): PackageDescription => ({
  runId: 'digits-v7',
  variant: 'rasp4b',
  target: 'rasp4b',
  kind: 'NEO_COMPILED',
  framework: 'ONNX',
  inputShapes: { pixels: [1, 64] },
  sourceS3Uri: 's3://store/compiled/digits-v7/rasp4b/model-rasp4b.tar.gz',
  ...overrides,
});

const MB = 1024 * 1024;

describe('packageArtifact on real archives', () => {
  test('repacks a Neo artifact as a ZIP that a standard reader accepts, with a manifest of every file', async () => {
    const files = neoCompiledFiles();
    const { zip, manifest } = await packageArtifact(chunked(makeTarGz(files)), description(), path.join(work, 'w'), 100 * MB);
    const entries = readZip(zip.path);
    expect(entries.map((e) => e.name)).toEqual(['compiled.meta', 'compiled.params', 'compiled.so', 'compiled_model.json', 'libdlr.so', 'manifest.json']);
    for (const e of entries) {
      expect(e.dateTime).toEqual([1980, 1, 1, 0, 0, 0]);
      expect(e.mode).toBe(0o100644);
      expect(e.compressType).toBe(8);
      if (e.name !== 'manifest.json') expect(e.sha256).toBe(sha(files[e.name]));
    }
    expect(manifest).toMatchObject({
      schemaVersion: 1,
      variant: 'rasp4b',
      runtime: 'dlr',
      model: { library: 'compiled.so', params: 'compiled.params', graph: 'compiled_model.json', onnx: null },
      inputShapes: { pixels: [1, 64] },
    });
    expect(manifest.files).toEqual(Object.keys(files).sort().map((name) => ({ path: name, size: files[name].length, sha256: sha(files[name]) })));
    expect(zip.sha256).toBe(sha(fs.readFileSync(zip.path)));
  });

  test('the same files give the same ZIP bytes, whatever the tar\'s order and timestamps', async () => {
    const files = neoCompiledFiles();
    const first = await packageArtifact(chunked(makeTarGz(files)), description(), path.join(work, 'a'), 100 * MB);
    const firstSha = first.zip.sha256;
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    const crafted = craftTarGz(Object.entries(reversed).map(([name, data]) => ({ name: `./${name}`, data })));
    const second = await packageArtifact(chunked(crafted, 777), description(), path.join(work, 'b'), 100 * MB);
    expect(second.zip.sha256).toBe(firstSha);
  });

  test('packages an uncompiled ONNX model for ONNX Runtime', async () => {
    const model = fixture('onnx/mlp.onnx');
    const { zip, manifest } = await packageArtifact(chunked(model), description({ kind: 'ONNX', variant: 'onnx' }), path.join(work, 'w'), 100 * MB);
    expect(manifest).toMatchObject({ runtime: 'onnxruntime', model: { onnx: 'model.onnx', library: null } });
    expect(readZip(zip.path).map((e) => [e.name, e.sha256])).toEqual([['manifest.json', expect.any(String)], ['model.onnx', sha(model)]]);
  });

  const refusals: [string, () => Buffer, string, RegExp][] = [
    ['a corrupt archive', () => Buffer.from('PK\u0003\u0004 this is a zip, not a tar.gz'), 'ArtifactCorrupt', /not a readable gzip'd tar archive: it does not start with the gzip signature/],
    ['a truncated archive', () => makeTarGz(neoCompiledFiles(200_000)).subarray(0, 100_000), 'ArtifactCorrupt', /truncated/],
    ['an entry with ..', () => craftTarGz([...Object.entries(neoCompiledFiles()).map(([name, data]) => ({ name, data })), { name: '../../etc/cron.d/evil', data: 'x' }]), 'ArtifactUnsafe', /climbs out of the archive/],
    ['an absolute path', () => craftTarGz([{ name: '/usr/lib/libdlr.so', data: 'x' }]), 'ArtifactUnsafe', /is an absolute path/],
    ['a symlink', () => makeTarGz({ ...neoCompiledFiles(), 'model.params.link': { symlink: '/etc/shadow' } }), 'ArtifactUnsafe', /model.params.link is a symlink/],
    ['a hard link', () => craftTarGz([{ name: 'compiled.so', type: '1', linkName: '/etc/passwd' }]), 'ArtifactUnsafe', /is a hardlink/],
    ['only the uncompiled framework model (the silent fallback)', () => makeTarGz({ 'model.pth': Buffer.alloc(1000, 1), 'code/__init__.py': '' }), 'ArtifactNotCompiled',
      /it holds only the uncompiled framework model \(model\.pth\): Neo fell back to the uncompiled model/],
    ['a library without params', () => makeTarGz({ 'compiled.so': neoCompiledFiles()['compiled.so'] }), 'ArtifactNotCompiled', /a Neo-compiled model is one .so library and one .params file/],
    ['a .so that is not ELF', () => makeTarGz({ ...neoCompiledFiles(), 'compiled.so': Buffer.from('#!/bin/sh\necho hi\n') }), 'ArtifactNotCompiled', /compiled.so is not an ELF shared library/],
    ['two model libraries', () => makeTarGz({ ...neoCompiledFiles(), 'other.so': neoCompiledFiles()['compiled.so'] }), 'ArtifactNotCompiled', /2 model libraries/],
  ];

  test.each(refusals)('refuses %s with a named error and writes nothing', async (_label, make, name, message) => {
    const dir = path.join(work, 'w');
    await expect(packageArtifact(chunked(make()), description(), dir, 100 * MB)).rejects.toMatchObject({ name, message: expect.stringMatching(message) });
    expect(fs.existsSync(path.join(dir, 'package.zip'))).toBe(false);
  });

  test('refuses an artifact that unpacks to more than the limit (a zip bomb)', async () => {
    const bomb = makeTarGz({ ...neoCompiledFiles(), 'compiled.params': Buffer.alloc(20 * MB) });
    expect(bomb.length).toBeLessThan(1 * MB);
    await expect(packageArtifact(chunked(bomb), description(), path.join(work, 'w'), 5 * MB)).rejects.toMatchObject({
      // Refused from the header's declared size, before the 20 MB are inflated.
      name: 'ArtifactTooLarge', message: expect.stringContaining('unpacks to more than 5242880 bytes (its headers declare'),
    });
  });

  test('refuses an ONNX "model" that is not one', async () => {
    await expect(packageArtifact(chunked(Buffer.from('<html>not found</html>'.repeat(50))), description({ kind: 'ONNX' }), path.join(work, 'w'), MB))
      .rejects.toMatchObject({ name: 'ArtifactCorrupt', message: expect.stringContaining('is not an ONNX model') });
  });

  test.each([
    [{ name: 'a/b.so', type: 'file' as const }, undefined],
    [{ name: 'x', type: 'other' as const }, /not a regular file/],
    [{ name: 'l', type: 'symlink' as const }, /is a symlink/],
    [{ name: 'manifest.json', type: 'file' as const }, /holds a manifest.json of its own/],
  ])('unsafeEntryReason(%j)', (entry, reason) => {
    const got = unsafeEntryReason(entry);
    if (reason) expect(got).toMatch(reason);
    else expect(got).toBeUndefined();
  });
});

describe('packageVariant, with S3', () => {
  const s3 = mockClient(S3Client);
  const cfg = () => ({ bucket: 'store-bucket', prefix: 'packages/', maxBytes: 100 * MB, workDir: path.join(work, 'w') });
  const event: PackageEvent = { runId: 'digits-v7', variant: 'rasp4b', target: 'rasp4b', kind: 'NEO_COMPILED', artifactS3Uri: 's3://store-bucket/compiled/digits-v7/rasp4b/model-rasp4b.tar.gz' };
  const archive = makeTarGz(neoCompiledFiles());
  const stored = new Set<string>();

  beforeEach(() => {
    s3.reset();
    stored.clear();
    s3.on(HeadObjectCommand, { Bucket: 'store-bucket' }).callsFake(async (input: { Key: string }) => {
      if (input.Key === 'compiled/digits-v7/rasp4b/model-rasp4b.tar.gz') return { ContentLength: archive.length, ETag: '"abc"' };
      if (stored.has(input.Key)) return { ContentLength: 1 };
      throw Object.assign(new Error('Not Found'), { name: 'NotFound' });
    });
    s3.on(ListObjectsV2Command, { Bucket: 'store-bucket' }).callsFake(async (input: { Prefix: string }) => ({ Contents: [...stored].filter((k) => k.startsWith(input.Prefix)).sort().slice(0, 1).map((Key) => ({ Key })) }));
    s3.on(GetObjectCommand).callsFake(async () => ({ Body: sdkStreamMixin(Readable.from(chunked(archive))) }));
    s3.on(PutObjectCommand).callsFake(async (input: { Key: string; Body: Readable }) => {
      for await (const _chunk of input.Body) { /* drain the file stream, as S3 would */ }
      stored.add(input.Key);
      return {};
    });
  });

  test('stores the ZIP content-addressed, with its checksum for S3 to verify', async () => {
    const result = await packageVariant(event, cfg(), new S3Client({}));
    expect(result).toMatchObject({ variant: 'rasp4b', runtime: 'dlr', uploaded: true, files: 5 });
    expect(result.packageS3Uri).toBe(`s3://store-bucket/packages/${result.sha256}.zip`);
    const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({ Bucket: 'store-bucket', Key: `packages/${result.sha256}.zip`, ContentType: 'application/zip', ContentLength: result.size });
    expect(Buffer.from(put.ChecksumSHA256!, 'base64').toString('hex')).toBe(result.sha256);
    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toMatchObject({ IfMatch: '"abc"' });
  });

  test('the same event delivered twice uploads once', async () => {
    const first = await packageVariant(event, cfg(), new S3Client({}));
    const second = await packageVariant(event, cfg(), new S3Client({}));
    expect(second).toEqual({ ...first, uploaded: false });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
  });

  test('a package stored by a concurrent run meanwhile is kept (conditional write), not an error', async () => {
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } }));
    const result = await packageVariant(event, cfg(), new S3Client({}));
    expect(result.uploaded).toBe(false);
    expect(s3.commandCalls(PutObjectCommand)[0].args[0].input.IfNoneMatch).toBe('*');
  });

  test('an artifact over the limit is refused before it is downloaded', async () => {
    await expect(packageVariant(event, { ...cfg(), maxBytes: 1000 }, new S3Client({}))).rejects.toMatchObject({ name: 'ArtifactTooLarge' });
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  test('a refused artifact uploads nothing and leaves no work files', async () => {
    s3.on(GetObjectCommand).callsFake(async () => ({ Body: sdkStreamMixin(Readable.from(chunked(makeTarGz({ 'model.pth': 'x' })))) }));
    await expect(packageVariant(event, cfg(), new S3Client({}))).rejects.toMatchObject({ name: 'ArtifactNotCompiled' });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(fs.existsSync(cfg().workDir)).toBe(false);
  });

  test('a malformed event is refused', async () => {
    await expect(packageVariant({ ...event, artifactS3Uri: 'compiled/x.tar.gz' }, cfg(), new S3Client({}))).rejects.toMatchObject({ name: 'PackageInputInvalid' });
  });
});
