import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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
