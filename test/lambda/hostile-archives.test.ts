import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { inspectArchive } from '../../lambda/compile-preflight/archive-rules';
import { packageArtifact, PackageDescription } from '../../lambda/package-artifact/package';
import { archivePath, DEFAULT_ARCHIVE_LIMITS } from '../../lambda/shared/archive-bounds';
import { scanTarGz } from '../../lambda/shared/tar';
import { chunked, craftTarGz, CraftedEntry, makeTarGz, neoCompiledFiles, noise, paxRecords } from '../support/archives';

const MB = 1024 * 1024;
const description = (over: Partial<PackageDescription> = {}): PackageDescription => ({
  runId: 'r1', variant: 'rasp4b', target: 'rasp4b', kind: 'NEO_COMPILED', sourceS3Uri: 's3://store/compiled/r1/rasp4b/model.tar.gz', ...over,
});
const compiled = Object.entries(neoCompiledFiles(1024)).map(([name, data]): CraftedEntry => ({ name, data }));

let work: string;
beforeEach(() => { work = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-')); });
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

/** What GNU tar lists in an archive. */
function gnuTarList(archive: Buffer): string[] {
  const file = path.join(work, 'listed.tar.gz');
  fs.writeFileSync(file, archive);
  return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

async function names(archive: Buffer): Promise<string[]> {
  const out: string[] = [];
  await scanTarGz(chunked(archive), (e) => { out.push(e.name); return undefined; });
  return out;
}

const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

describe('one path normalization for every archive reader', () => {
  test.each([
    ['./a.so', 'a.so'], ['data//labels.txt', 'data/labels.txt'], ['data/./labels.txt', 'data/labels.txt'], ['data/', 'data'], ['./', '.'],
  ])('%s unpacks as %s', (raw, normal) => {
    expect(archivePath(raw)).toBe(normal);
  });

  test.each([
    ['a/../../b', /climbs out of the archive/], ['/etc/passwd', /absolute/], ['C:/x', /absolute/], ['a\u0000b', /NUL/], ['a\\b', /backslash/],
    [`d/${'n'.repeat(256)}`, /component of 256 bytes; a Linux file system holds at most 255/],
    ['x/'.repeat(600), /path longer than 1024 bytes/], [Array.from({ length: 33 }, () => 'd').join('/'), /33 levels deep, over the limit of 32/],
  ])('%j is refused', (raw, reason) => {
    expect(() => archivePath(raw)).toThrow(reason);
  });
});

describe('the tar reader reads what GNU tar lists', () => {
  test('a pax size record: the header size is overridden, as GNU tar reads it', async () => {
    const archive = craftTarGz([
      { name: 'PaxHeaders/a.bin', type: 'x', data: paxRecords({ size: '1024' }) },
      { name: 'a.bin', data: Buffer.alloc(1024, 7), size: 0 },
      { name: 'b.txt', data: 'b' },
    ]);
    expect(await names(archive)).toEqual(gnuTarList(archive));
    expect(await names(archive)).toEqual(['a.bin', 'b.txt']);
  });

  test('a GNU long name and a pax path', async () => {
    const long = `${'directory/'.repeat(15)}model.params`;
    const archive = craftTarGz([
      { name: '././@LongLink', type: 'L', data: `${long}\0` }, { name: long.slice(0, 99), data: 'p' },
      { name: 'PaxHeaders/x', type: 'x', data: paxRecords({ path: 'pax/named.so' }) }, { name: 'ignored', data: 's' },
    ]);
    expect(await names(archive)).toEqual(gnuTarList(archive));
  });

  test('what follows the end-of-archive marker is not read', async () => {
    // 8 MB that do not compress after the marker: a reader that drains them downloads them all.
    const tar = Buffer.concat([execFileSync('gzip', ['-dc'], { input: makeTarGz({ 'a.so': 'x' }) }), noise(8 * MB)]);
    const archive = gzipSync(tar);
    let pulled = 0;
    async function* counted() {
      for await (const chunk of chunked(archive, 4096)) {
        pulled += chunk.length;
        yield chunk;
      }
    }
    await scanTarGz(counted(), () => undefined);
    expect(archive.length).toBeGreaterThan(8 * MB);
    expect(pulled).toBeLessThan(MB);
  });
});

describe('the packager refuses hostile artifacts by name, early, and leaves nothing open', () => {
  test.each<[string, () => Buffer, string, RegExp]>([
    ['three names that unpack to one file', () => craftTarGz([...compiled, { name: 'data/labels.txt', data: 'a' }, { name: 'data//labels.txt', data: 'b' }, { name: 'data/./labels.txt', data: 'c' }]),
      'ArtifactUnsafe', /data\/labels.txt appears twice in the archive \(names are compared as they unpack\)/],
    ['a name component no Linux file system holds', () => craftTarGz([...compiled, { name: '././@LongLink', type: 'L', data: `lib/${'x'.repeat(304)}.so\0` }, { name: 'lib/x.so', data: 'x' }]),
      'ArtifactUnsafe', /component of 307 bytes; a Linux file system holds at most 255/],
    ['a 70,000-character name', () => craftTarGz([{ name: '././@LongLink', type: 'L', data: `${'n'.repeat(70_000)}\0` }, { name: 'n', data: 'x' }]),
      'ArtifactUnsafe', /holds a path of 70001 bytes, over the limit of 1024/],
    ['more entries than the bound', () => craftTarGz(Array.from({ length: DEFAULT_ARCHIVE_LIMITS.maxEntries + 1 }, (_v, i) => ({ name: `f/${i}` }))),
      'ArtifactTooLarge', /holds more than 10000 entries/],
    ['its own manifest.json', () => craftTarGz([...compiled, { name: './manifest.json', data: '{}' }]), 'ArtifactUnsafe', /holds a manifest.json of its own/],
    ['a header that declares more than the limit', () => craftTarGz([...compiled, { name: 'big.params', size: 6 * 1024 ** 3 }]), 'ArtifactTooLarge', /unpacks to more than 5242880 bytes/],
  ])('%s', async (_what, make, name, message) => {
    await expect(packageArtifact(chunked(make()), description(), path.join(work, 'w'), 5 * MB)).rejects.toMatchObject({ name, message: expect.stringMatching(message) });
  });

  test('refusals in a warm container close every file they opened (an unlinked open file keeps its space)', async () => {
    const good = makeTarGz({ ...neoCompiledFiles(), 'compiled.params': Buffer.alloc(2 * MB, 1) });
    // Cut inside compiled.params: the reader fails while that file is open for writing.
    const truncated = good.subarray(0, Math.floor(good.length * 0.6));
    const before = openDescriptors();
    for (let i = 0; i < 3; i++) {
      await expect(packageArtifact(chunked(truncated), description(), path.join(work, 'w'), 50 * MB)).rejects.toMatchObject({ name: 'ArtifactCorrupt' });
      fs.rmSync(path.join(work, 'w'), { recursive: true, force: true });
    }
    expect(openDescriptors()).toBe(before);
    // The next, valid artifact in the same "container" packages.
    await expect(packageArtifact(chunked(good), description(), path.join(work, 'w'), 50 * MB)).resolves.toMatchObject({ manifest: { runtime: 'dlr' } });
  });
});

describe('the compile preflight works within the same bounds', () => {
  test('a model archive whose headers declare more than 4 GiB is refused before it is inflated', async () => {
    const bomb = craftTarGz([{ name: 'model.onnx', size: 5 * 1024 ** 3 }]);
    await expect(inspectArchive(chunked(bomb), 'ONNX', ['x'])).rejects.toMatchObject({ name: 'ArchiveRefusal', message: expect.stringMatching(/unpacks to more than 4294967296 bytes/) });
  });

  test('a path that climbs out is refused with the bounds it broke', async () => {
    await expect(inspectArchive(chunked(craftTarGz([{ name: '../model.onnx', data: 'x' }])), 'ONNX', ['x']))
      .rejects.toMatchObject({ name: 'ArchiveRefusal', message: expect.stringMatching(/climbs out of the archive/) });
  });
});
