import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NamedError } from '../shared/errors';
import { OnnxFormatError, OnnxInputReader } from '../shared/onnx';
import { ArchiveBoundsError, DEFAULT_ARCHIVE_LIMITS } from '../shared/archive-bounds';
import { ArchiveFormatError, scanTarGz, TarEntry } from '../shared/tar';
import { saveAndHash, writeDeterministicZip, ZipResult } from '../shared/zip';

/** Error names of the packaging step. */
export const ARTIFACT_CORRUPT = 'ArtifactCorrupt';
export const ARTIFACT_UNSAFE = 'ArtifactUnsafe';
export const ARTIFACT_NOT_COMPILED = 'ArtifactNotCompiled';
export const ARTIFACT_TOO_LARGE = 'ArtifactTooLarge';

/** What kind of artifact a variant produced. */
export type ArtifactKind = 'NEO_COMPILED' | 'ONNX';

/** What the package describes, besides its files. */
export interface PackageDescription {
  readonly runId: string;
  readonly variant: string;
  readonly target: string;
  readonly kind: ArtifactKind;
  readonly framework?: string;
  readonly inputShapes?: Record<string, number[]>;
  readonly sourceS3Uri: string;
}

/** One file of the package, as manifest.json lists it. */
export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** manifest.json: what the package is, what it needs, and what every file must hash to. */
export interface Manifest {
  readonly schemaVersion: 1;
  readonly variant: string;
  readonly target: string;
  readonly kind: ArtifactKind;
  /** The runtime the device needs: DLR for Neo-compiled models, ONNX Runtime for ONNX models. */
  readonly runtime: 'dlr' | 'onnxruntime';
  readonly framework: string | null;
  readonly inputShapes: Record<string, number[]>;
  /** The model files the runtime loads. */
  readonly model: { library: string | null; params: string | null; graph: string | null; onnx: string | null };
  readonly files: ManifestFile[];
}

export interface PackagedArtifact {
  readonly zip: ZipResult;
  readonly manifest: Manifest;
}

const FRAMEWORK_FILES = /\.(pth|pt|onnx|h5|pb|tflite|pkl|joblib|model|mlmodel|params\.json)$/;
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Why an entry is unsafe to unpack, or undefined when it is safe. Its path was normalized and
 * checked by the reader (archivePath: absolute, `..`, NUL, lengths); here: what it is.
 */
export function unsafeEntryReason(entry: Pick<TarEntry, 'name' | 'type'>): string | undefined {
  if (entry.type === 'symlink' || entry.type === 'hardlink') return `${entry.name} is a ${entry.type}`;
  if (entry.type === 'other') return `${entry.name} is not a regular file or directory`;
  if (entry.type === 'file' && entry.name === 'manifest.json') return 'it holds a manifest.json of its own, where the package\'s manifest goes';
  return undefined;
}

interface Extracted {
  readonly name: string;
  readonly path: string;
  size: number;
  readonly hash: ReturnType<typeof createHash>;
  head: Buffer;
}

/**
 * Unpacks a Neo `.tar.gz` (or saves an ONNX model) into `workDir/files`,
 * refuses what is not a safe, real, compiled model, then writes a
 * deterministic ZIP with a manifest.json to `workDir/package.zip`.
 * Nothing here touches S3; memory stays bounded whatever the size.
 */
export async function packageArtifact(
  source: AsyncIterable<Uint8Array>,
  description: PackageDescription,
  workDir: string,
  maxBytes: number,
): Promise<PackagedArtifact> {
  const filesDir = path.join(workDir, 'files');
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(filesDir, { recursive: true });
  const extracted: Extracted[] = [];

  if (description.kind === 'ONNX') {
    const target = path.join(filesDir, 'model.onnx');
    const reader = new OnnxInputReader();
    let size = 0;
    const hash = createHash('sha256');
    async function* checked() {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > maxBytes) throw new NamedError(ARTIFACT_TOO_LARGE, `the ONNX model is larger than the limit of ${maxBytes} bytes`);
        reader.write(Buffer.from(chunk));
        hash.update(chunk);
        yield chunk;
      }
    }
    try {
      await saveAndHash(checked(), target);
      reader.end();
    } catch (err) {
      if (err instanceof OnnxFormatError) throw new NamedError(ARTIFACT_CORRUPT, `${description.sourceS3Uri} is not an ONNX model: ${err.message}`);
      throw err;
    }
    extracted.push({ name: 'model.onnx', path: target, size, hash, head: Buffer.alloc(0) });
  } else {
    await unpackTarGz(source, description, filesDir, maxBytes, extracted);
  }

  const manifest = buildManifest(description, extracted);
  const manifestPath = path.join(workDir, 'manifest.json');
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  const zip = await writeDeterministicZip(
    [...extracted.map((e) => ({ name: e.name, path: e.path })), { name: 'manifest.json', path: manifestPath }],
    path.join(workDir, 'package.zip'),
    workDir,
  );
  fs.rmSync(filesDir, { recursive: true, force: true });
  return { zip, manifest };
}

/**
 * Unpacks the archive's regular files into `filesDir` (numbered, never by their names), within
 * the archive bounds (unpacked bytes: `maxBytes`). The first unsafe entry refuses the archive at
 * once; every file opened is closed on every path, so a refusal leaves nothing open behind it.
 */
async function unpackTarGz(source: AsyncIterable<Uint8Array>, description: PackageDescription, filesDir: string, maxBytes: number, extracted: Extracted[]): Promise<void> {
  const refuse = (why: string): never => {
    throw new NamedError(ARTIFACT_UNSAFE, `${description.sourceS3Uri} is refused: ${why}; a model archive holds regular files under relative paths only`);
  };
  const open = new Set<number>();
  let total = 0;
  try {
    await scanTarGz(source, (entry) => {
      const reason = unsafeEntryReason(entry);
      if (reason) refuse(reason);
      if (entry.type !== 'file') return undefined;
      if (extracted.some((e) => e.name === entry.name)) refuse(`${entry.name} appears twice in the archive (names are compared as they unpack)`);
      const file: Extracted = { name: entry.name, path: path.join(filesDir, `${extracted.length}`), size: 0, hash: createHash('sha256'), head: Buffer.alloc(0) };
      extracted.push(file);
      const fd = fs.openSync(file.path, 'w');
      open.add(fd);
      return {
        write: (chunk: Buffer) => {
          total += chunk.length;
          if (total > maxBytes) throw new NamedError(ARTIFACT_TOO_LARGE, `the artifact unpacks to more than the limit of ${maxBytes} bytes`);
          if (file.head.length < 4) file.head = Buffer.concat([file.head, chunk.subarray(0, 4 - file.head.length)]);
          file.size += chunk.length;
          file.hash.update(chunk);
          fs.writeSync(fd, chunk);
        },
        end: () => {
          open.delete(fd);
          fs.closeSync(fd);
        },
      };
    }, { ...DEFAULT_ARCHIVE_LIMITS, maxUnpackedBytes: maxBytes });
  } catch (err) {
    if (err instanceof ArchiveFormatError) throw new NamedError(ARTIFACT_CORRUPT, `${description.sourceS3Uri} is not a readable gzip'd tar archive: ${err.message}`);
    if (err instanceof ArchiveBoundsError) {
      if (err.reason === 'path') refuse(err.message.replace(/^the entry /, ''));
      throw new NamedError(ARTIFACT_TOO_LARGE, `${description.sourceS3Uri} is refused: ${err.message}: raise maxArtifactSize (and the ephemeral storage) or shrink the model`);
    }
    throw err;
  } finally {
    // An unlinked file whose descriptor is open keeps its space: close every one, whatever happened.
    for (const fd of open) fs.closeSync(fd);
  }
}

function buildManifest(description: PackageDescription, files: Extracted[]): Manifest {
  const names = files.map((f) => f.name);
  const base = (n: string) => n.slice(n.lastIndexOf('/') + 1);
  let model: Manifest['model'];
  if (description.kind === 'ONNX') {
    model = { library: null, params: null, graph: null, onnx: 'model.onnx' };
  } else {
    const libraries = files.filter((f) => f.name.endsWith('.so') && base(f.name) !== 'libdlr.so');
    const params = names.filter((n) => n.endsWith('.params'));
    const graphs = names.filter((n) => n.endsWith('.json') && !/(^|\/)(manifest|dlr|.*\.meta)\.json$/.test(n) && !n.endsWith('-symbol.json'));
    const found = `it holds ${JSON.stringify(names.slice(0, 10))}${names.length > 10 ? ` and ${names.length - 10} more` : ''}`;
    if (libraries.length === 0 || params.length === 0) {
      const fallback = names.filter((n) => FRAMEWORK_FILES.test(n));
      const why = fallback.length > 0
        ? `it holds only the uncompiled framework model (${fallback.join(', ')}): Neo fell back to the uncompiled model, which DLR would run silently with the framework`
        : `${found}, but a Neo-compiled model is one .so library and one .params file (and its graph .json)`;
      throw new NamedError(ARTIFACT_NOT_COMPILED, `${description.sourceS3Uri} is not a compiled model: ${why}`);
    }
    if (libraries.length > 1 || params.length > 1) {
      throw new NamedError(ARTIFACT_NOT_COMPILED, `${description.sourceS3Uri} holds ${libraries.length} model libraries and ${params.length} .params files; a compiled model has exactly one of each (${found})`);
    }
    if (!libraries[0].head.equals(ELF_MAGIC)) {
      throw new NamedError(ARTIFACT_NOT_COMPILED, `${description.sourceS3Uri}: ${libraries[0].name} is not an ELF shared library (it starts with ${libraries[0].head.toString('hex') || 'nothing'})`);
    }
    model = { library: libraries[0].name, params: params[0], graph: graphs.length === 1 ? graphs[0] : null, onnx: null };
  }
  return {
    schemaVersion: 1,
    variant: description.variant,
    target: description.target,
    kind: description.kind,
    runtime: description.kind === 'ONNX' ? 'onnxruntime' : 'dlr',
    framework: description.framework ?? null,
    inputShapes: description.inputShapes ?? {},
    model,
    files: files
      .map((f) => ({ path: f.name, size: f.size, sha256: f.hash.digest('hex') }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))),
  };
}
