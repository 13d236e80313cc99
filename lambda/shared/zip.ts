import { createHash, Hash } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createDeflateRaw, crc32 } from 'node:zlib';

/** One file to put in the ZIP: its name inside the archive and where it is on disk. */
export interface ZipInput {
  readonly name: string;
  readonly path: string;
}

/** The ZIP that was written. */
export interface ZipResult {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly entries: number;
}

const MAX_ZIP32 = 0xffffffff;
// 1980-01-01 00:00:00, the earliest DOS time: the same for every entry, so the same files give the same bytes.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const FLAG_UTF8 = 0x0800;
const METHOD_DEFLATE = 8;
const VERSION = 20;
const UNIX = 3;
const FILE_MODE = 0o100644;

class HashingFile {
  private readonly stream: fs.WriteStream;
  private readonly hash: Hash = createHash('sha256');
  public offset = 0;

  constructor(path: string) {
    this.stream = fs.createWriteStream(path);
  }

  public async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.offset += chunk.length;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  public async close(): Promise<string> {
    this.stream.end();
    await once(this.stream, 'finish');
    return this.hash.digest('hex');
  }
}

/**
 * Writes a deterministic ZIP: entries sorted by name (byte order), one fixed
 * timestamp, fixed permissions, DEFLATE, no extra fields. The same files give
 * the same bytes, hence the same sha256, every time (Greengrass records an
 * artifact's digest and a component version is immutable).
 *
 * Memory stays bounded: each file is compressed to `scratchDir` in one
 * streaming pass (CRC-32 and sizes are measured on the way), then copied into
 * the archive.
 */
export async function writeDeterministicZip(inputs: ZipInput[], outPath: string, scratchDir: string): Promise<ZipResult> {
  const sorted = [...inputs].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].name === sorted[i - 1].name) throw new Error(`two entries named ${sorted[i].name}`);
  }
  const out = new HashingFile(outPath);
  const central: Buffer[] = [];
  const scratch = `${scratchDir}/entry.deflate`;
  for (const input of sorted) {
    const name = Buffer.from(input.name, 'utf8');
    let crc = 0;
    let size = 0;
    await pipeline(
      fs.createReadStream(input.path),
      async function* measure(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          crc = crc32(chunk, crc);
          size += chunk.length;
          yield chunk;
        }
      },
      createDeflateRaw({ level: 6 }),
      fs.createWriteStream(scratch),
    );
    const compressed = fs.statSync(scratch).size;
    if (size > MAX_ZIP32 || compressed > MAX_ZIP32 || out.offset > MAX_ZIP32) {
      throw new Error(`${input.name} is too large for a ZIP without ZIP64 (4 GiB per entry and archive)`);
    }
    const offset = out.offset;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(FLAG_UTF8, 6);
    local.writeUInt16LE(METHOD_DEFLATE, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(compressed, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    await out.write(local);
    await out.write(name);
    for await (const chunk of fs.createReadStream(scratch)) await out.write(chunk as Buffer);

    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((UNIX << 8) | VERSION, 4);
    entry.writeUInt16LE(VERSION, 6);
    entry.writeUInt16LE(FLAG_UTF8, 8);
    entry.writeUInt16LE(METHOD_DEFLATE, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc >>> 0, 16);
    entry.writeUInt32LE(compressed, 20);
    entry.writeUInt32LE(size, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt16LE(0, 30); // extra
    entry.writeUInt16LE(0, 32); // comment
    entry.writeUInt16LE(0, 34); // disk
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
  }
  fs.rmSync(scratch, { force: true });
  const centralStart = out.offset;
  for (const part of central) await out.write(part);
  const centralSize = out.offset - centralStart;
  if (sorted.length > 0xffff || out.offset > MAX_ZIP32) throw new Error('the archive is too large for a ZIP without ZIP64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(centralStart, 16);
  end.writeUInt16LE(0, 20);
  await out.write(end);
  const sha256 = await out.close();
  return { path: outPath, size: out.offset, sha256, entries: sorted.length };
}

/** Drains a stream into a file while hashing it; returns the size and sha256. */
export async function saveAndHash(source: AsyncIterable<Uint8Array>, path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    source,
    async function* count(chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    fs.createWriteStream(path) as Writable,
  );
  return { size, sha256: hash.digest('hex') };
}
