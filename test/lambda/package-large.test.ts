import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SCRIPT = path.join(ROOT, 'bench', 'package-memory.ts');

// Peak memory is a property of the code, not of the machine's speed: this
// checks a bound, never a time.
test('packaging a 200 MB artifact keeps the process under 256 MB of memory', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'large-artifact-'));
  try {
    const file = path.join(dir, 'model.tar.gz');
    execFileSync(TSX, [SCRIPT, 'make', '200', file]);
    expect(fs.statSync(file).size).toBeGreaterThan(200 * 1024 * 1024);
    const out = JSON.parse(execFileSync(TSX, [SCRIPT, 'package', file], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
      inputBytes: number; zipBytes: number; peakRssMB: number;
    };
    expect(out.peakRssMB).toBeLessThan(256);
    // Weights do not compress: the ZIP is about the size of the input, and nothing was lost.
    expect(out.zipBytes).toBeGreaterThan(out.inputBytes * 0.99);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 240_000);
