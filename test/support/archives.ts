import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

/** A file to put in an archive: its bytes, or a symlink target. */
export type ArchiveEntry = Buffer | string | { symlink: string };

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** The bytes of a committed fixture. */
export function fixture(relative: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, relative));
}

/**
 * Builds a real `.tar.gz` with the system's tar and gzip from `files`
 * (path → content), returns its bytes.
 */
export function makeTarGz(files: Record<string, ArchiveEntry>): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-archive-'));
  try {
    const root = path.join(dir, 'root');
    fs.mkdirSync(root);
    for (const [name, content] of Object.entries(files)) {
      const target = path.join(root, name);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      if (typeof content === 'object' && !Buffer.isBuffer(content)) fs.symlinkSync(content.symlink, target);
      else fs.writeFileSync(target, content);
    }
    const out = path.join(dir, 'model.tar.gz');
    const names = Object.keys(files).sort();
    execFileSync('tar', ['-czf', out, '-C', root, ...names]);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Streams `data` in chunks of `size` bytes, as S3 would. */
export async function* chunked(data: Buffer, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** An entry of a hand-made tar, for archives no well-behaved tar would write. */
export interface CraftedEntry {
  readonly name: string;
  /** '0' file, '1' hard link, '2' symlink, '5' directory, 'L' GNU long name, 'x' pax header. */
  readonly type?: '0' | '1' | '2' | '5' | 'L' | 'x';
  readonly data?: Buffer | string;
  readonly linkName?: string;
  /** The size the header declares, when it is not the data's (a header that lies). */
  readonly size?: number;
}

/** A pax header's data: one `length key=value` record per entry. */
export function paxRecords(records: Record<string, string>): string {
  return Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let n = body.length + 1;
    while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
    return `${n}${body}`;
  }).join('');
}

/** Writes a ustar archive byte by byte (names are taken as given, `..` and `/` included), gzip'd. */
export function craftTarGz(entries: CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = Buffer.from(entry.data ?? '');
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${(entry.size ?? data.length).toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write(entry.type ?? '0', 156);
    header.write(entry.linkName ?? '', 157, 100, 'utf8');
    header.write('ustar\u000000', 257, 'binary');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Bytes that do not compress (a linear congruential sequence), like real weights. */
export function noise(length: number, seed = 12345): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** What a Neo compilation for DLR writes: one ELF library, params, graph, meta, maybe libdlr.so. */
export function neoCompiledFiles(weights = 64 * 1024): Record<string, Buffer> {
  const elf = (body: Buffer) => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), body]);
  return {
    'compiled.so': elf(noise(32 * 1024, 1)),
    'compiled.params': noise(weights, 2),
    'compiled_model.json': Buffer.from(JSON.stringify({ nodes: [{ op: 'null', name: 'pixels' }], heads: [[1, 0, 0]] })),
    'compiled.meta': Buffer.from('{"Model":{"Inputs":[{"name":"pixels","shape":[1,64]}]}}'),
    'libdlr.so': elf(noise(16 * 1024, 3)),
  };
}
