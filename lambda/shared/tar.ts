import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { ArchiveBoundsError, archivePath, ArchiveLimits, DEFAULT_ARCHIVE_LIMITS } from './archive-bounds';

/** One entry of a tar archive. */
export interface TarEntry {
  /** The path inside the archive, normalized once (archivePath): `./`, `//` and `.` segments removed. */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  readonly size: number;
  readonly mode: number;
  readonly linkName: string;
}

/** Receives the bytes of one entry, in order. */
export interface EntrySink {
  write(chunk: Buffer): void;
  end(): void;
}

/** Why an archive could not be read. */
export class ArchiveFormatError extends Error {
  constructor(
    /** `not-gzip`, `not-tar`, `truncated` or `corrupt`. */
    public readonly reason: 'not-gzip' | 'not-tar' | 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'ArchiveFormatError';
  }
}

const BLOCK = 512;
const MAX_META_BYTES = 1024 * 1024;

function readString(block: Buffer, offset: number, length: number): string {
  const slice = block.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end === -1 ? slice.length : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const slice = block.subarray(offset, offset + length);
  if (slice[0] & 0x80) {
    // GNU base-256 encoding for large sizes.
    let value = 0;
    for (let i = 1; i < slice.length; i++) value = value * 256 + slice[i];
    return value;
  }
  const text = readString(block, offset, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = readOctal(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  return stored === sum;
}

function typeOf(flag: string): TarEntry['type'] {
  switch (flag) {
    case '0': case '\0': case '': case '7': return 'file';
    case '5': return 'directory';
    case '2': return 'symlink';
    case '1': return 'hardlink';
    default: return 'other';
  }
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = parseInt(data.subarray(pos, space).toString('utf8'), 10);
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return out;
}

/**
 * Reads a gzip-compressed tar archive from `source` in one pass, with bounded
 * memory: `visit` is called for every entry and may return a sink for its
 * bytes; entries without a sink are skipped, never buffered. Every header is
 * checked against `limits` (entry count, declared unpacked bytes, path length
 * and depth: ArchiveBoundsError) before its data is read; reading stops at the
 * end-of-archive marker, and the source is closed on every path.
 *
 * Hand-written rather than tar-stream: it reads what GNU tar lists (ustar
 * prefix, GNU long names, base-256 sizes, pax path and size records; see
 * test/lambda/hostile-archives.test.ts) and refuses by name on the way, which
 * a reader that hands out whole entries would need all of around it anyway.
 */
export async function scanTarGz(
  source: AsyncIterable<Uint8Array> | Readable,
  visit: (entry: TarEntry) => EntrySink | undefined,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<{ entries: number }> {
  const gunzip = createGunzip();
  let sawFirstBytes = false;

  const input = Readable.from(source as AsyncIterable<Uint8Array>, { objectMode: false });
  const checked = input.map((chunk: Buffer) => {
    const buf = Buffer.from(chunk);
    if (!sawFirstBytes && buf.length > 0) {
      sawFirstBytes = true;
      if (buf[0] !== 0x1f || (buf.length > 1 && buf[1] !== 0x8b)) {
        throw new ArchiveFormatError('not-gzip', `it does not start with the gzip signature 1f 8b (it starts with ${buf.subarray(0, 4).toString('hex')})`);
      }
    }
    return buf;
  });
  const piped = checked.pipe(gunzip);
  checked.on('error', (err) => piped.destroy(err));

  let pending: Buffer = Buffer.alloc(0);
  let remaining = 0; // bytes of the current entry's data still to come
  let padding = 0; // bytes of padding after it
  let sink: EntrySink | undefined;
  let meta: Buffer[] | undefined; // collects a long-name or pax header's data
  let metaKind: 'L' | 'x' | undefined;
  let nextName: string | undefined;
  let nextSize: number | undefined;
  let entries = 0;
  let declared = 0;
  let ended = false;
  let headerSeen = false;

  const handleHeader = (block: Buffer) => {
    if (block.every((b) => b === 0)) {
      ended = true;
      return;
    }
    if (!checksumOk(block)) {
      throw new ArchiveFormatError(headerSeen ? 'corrupt' : 'not-tar',
        headerSeen ? 'a tar header has a bad checksum' : 'the decompressed data is not a tar archive (the first header has a bad checksum)');
    }
    headerSeen = true;
    const flag = String.fromCharCode(block[156] || 0x30);
    const isMeta = flag === 'L' || flag === 'x' || flag === 'g';
    // A pax size record overrides the header's, as GNU tar reads it.
    const size = !isMeta && nextSize !== undefined ? nextSize : readOctal(block, 124, 12);
    if (!isMeta) nextSize = undefined;
    if (!Number.isFinite(size)) throw new ArchiveFormatError('corrupt', 'a tar header has an unreadable size');
    remaining = size;
    padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (flag === 'L' || flag === 'x') {
      if (flag === 'L' && size > limits.maxPathBytes + 1) throw new ArchiveBoundsError('path', `a long-name header holds a path of ${size} bytes, over the limit of ${limits.maxPathBytes}`);
      if (size > MAX_META_BYTES) throw new ArchiveFormatError('corrupt', `a pax header claims ${size} bytes`);
      meta = [];
      metaKind = flag;
      return;
    }
    if (flag === 'g') {
      sink = undefined;
      return;
    }
    const prefix = readString(block, 345, 155);
    const rawName = nextName ?? (prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100));
    nextName = undefined;
    entries++;
    if (entries > limits.maxEntries) throw new ArchiveBoundsError('entries', `the archive holds more than ${limits.maxEntries} entries`);
    const entry: TarEntry = {
      name: archivePath(rawName, limits),
      type: typeOf(flag),
      size,
      mode: readOctal(block, 100, 8),
      linkName: readString(block, 157, 100),
    };
    if (entry.type === 'file') {
      declared += size;
      if (declared > limits.maxUnpackedBytes) throw new ArchiveBoundsError('unpacked-bytes', `the archive unpacks to more than ${limits.maxUnpackedBytes} bytes (its headers declare ${declared} so far)`);
    }
    sink = visit(entry);
    if (remaining === 0) finishEntry();
  };

  const finishEntry = () => {
    if (meta) {
      const data = Buffer.concat(meta);
      if (metaKind === 'L') nextName = readString(data, 0, data.length);
      else {
        const pax = parsePax(data);
        if (pax.path) nextName = pax.path;
        if (pax.size !== undefined) {
          if (!/^\d+$/.test(pax.size)) throw new ArchiveFormatError('corrupt', `a pax header has an unreadable size ${JSON.stringify(pax.size.slice(0, 20))}`);
          nextSize = Number(pax.size);
        }
      }
      meta = undefined;
      metaKind = undefined;
    } else {
      sink?.end();
      sink = undefined;
    }
  };

  try {
    for await (const chunk of piped) {
      // Whatever follows the end marker (zero blocks, anything) is not read.
      if (ended) break;
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      let pos = 0;
      while (!ended) {
        if (remaining > 0) {
          const take = Math.min(remaining, pending.length - pos);
          if (take === 0) break;
          const part = pending.subarray(pos, pos + take);
          if (meta) meta.push(Buffer.from(part));
          else sink?.write(part);
          pos += take;
          remaining -= take;
          if (remaining === 0) finishEntry();
          continue;
        }
        if (padding > 0) {
          const take = Math.min(padding, pending.length - pos);
          if (take === 0) break;
          pos += take;
          padding -= take;
          continue;
        }
        if (pending.length - pos < BLOCK) break;
        handleHeader(pending.subarray(pos, pos + BLOCK));
        pos += BLOCK;
      }
      pending = pending.subarray(pos);
    }
  } catch (err) {
    if (err instanceof ArchiveFormatError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'Z_BUF_ERROR') throw new ArchiveFormatError('truncated', 'the gzip stream ends early (the archive is truncated)');
    if (code === 'Z_DATA_ERROR') throw new ArchiveFormatError('corrupt', `the gzip stream is corrupt (${(err as Error).message})`);
    throw err;
  } finally {
    // Stopped early (the end marker, a refusal): nothing more is downloaded or decompressed.
    piped.destroy();
    checked.destroy();
    input.destroy();
    if (typeof (source as Readable).destroy === 'function') (source as Readable).destroy();
  }
  if (!sawFirstBytes) throw new ArchiveFormatError('not-gzip', 'it is empty');
  if (!headerSeen && !ended) throw new ArchiveFormatError('not-tar', 'the decompressed data is not a tar archive');
  if (remaining > 0 || (!ended && pending.length > 0)) {
    throw new ArchiveFormatError('truncated', 'the archive ends in the middle of an entry');
  }
  return { entries };
}
