// Bundles every handler in lambda/<name>/index.ts into dist/lambda/<name>/index.js.
// The AWS SDK v3 is left out: the Lambda Node.js runtime provides it.
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeThirdPartyLicenses } from './third-party.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'lambda');
const out = join(root, 'dist', 'lambda');
const names = readdirSync(source, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'shared' && existsSync(join(source, d.name, 'index.ts')))
  .map((d) => d.name)
  .sort();

rmSync(out, { recursive: true, force: true });
const results = await Promise.all(names.map((name) => build({
  entryPoints: [join(source, name, 'index.ts')],
  outfile: join(out, name, 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  external: ['@aws-sdk/*'],
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: root,
})));
const bundled = writeThirdPartyLicenses(join(out, 'THIRD-PARTY-LICENSES.txt'), results.map((r) => r.metafile), root);
console.log(`bundled ${names.length} handlers into dist/lambda: ${names.join(', ')} (third-party packages in them: ${bundled.join(', ') || 'none'})`);
