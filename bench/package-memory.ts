/**
 * Packaging at scale, in a process of its own so its peak RSS is its own:
 *
 *   tsx bench/package-memory.ts make <MB> <file.tar.gz>   writes a Neo-like artifact with <MB> of weights
 *   tsx bench/package-memory.ts package <file.tar.gz>     packages it; prints one JSON line
 *
 * The JSON line: input and ZIP sizes, seconds, MB/s and the process's peak RSS.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageArtifact } from '../lambda/package-artifact/package';

const MB = 1024 * 1024;

function make(megabytes: number, out: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'make-artifact-'));
  try {
    const fd = fs.openSync(path.join(dir, 'compiled.params'), 'w');
    const chunk = Buffer.alloc(MB);
    let x = 2463534242;
    for (let m = 0; m < megabytes; m++) {
      // xorshift32: weights-like bytes that do not compress
      for (let i = 0; i < MB; i += 4) {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        chunk.writeUInt32LE(x, i);
      }
      fs.writeSync(fd, chunk);
    }
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dir, 'compiled.so'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(64 * 1024, 7)]));
    fs.writeFileSync(path.join(dir, 'compiled_model.json'), '{"nodes":[]}');
    execFileSync('tar', ['-czf', out, '-C', dir, 'compiled.params', 'compiled.so', 'compiled_model.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function pack(file: string): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'package-work-'));
  const start = process.hrtime.bigint();
  try {
    const { zip } = await packageArtifact(fs.createReadStream(file, { highWaterMark: MB }), {
      runId: 'bench', variant: 'bench', target: 'rasp4b', kind: 'NEO_COMPILED', sourceS3Uri: `file://${path.basename(file)}`,
    }, work, 8 * 1024 * MB);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const input = fs.statSync(file).size;
    console.log(JSON.stringify({
      inputBytes: input,
      zipBytes: zip.size,
      zipToInput: zip.size / input,
      seconds,
      mbPerSecond: input / MB / seconds,
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'make') make(Number(a), b);
else if (mode === 'package') pack(a).catch((err) => { console.error(err); process.exit(1); });
else {
  console.error('usage: package-memory.ts make <MB> <out.tar.gz> | package <file.tar.gz>');
  process.exit(2);
}
