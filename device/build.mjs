// Bundles the edge agent into dist/component/edge-agent.js, one file, with
// the native runtimes left out: they are installed on the device from
// dist/component/package.json (the component's Install step).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeThirdPartyLicenses } from '../scripts/third-party.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'component');
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const natives = Object.keys(pkg.dependencies);

// dist/runtimes (build-runtimes.mjs) is kept: it changes only with package-lock.json.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: [join(here, 'src', 'cli.ts')],
  outfile: join(out, 'edge-agent.js'),
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  external: natives,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: here,
});
const bundled = writeThirdPartyLicenses(join(out, 'THIRD-PARTY-LICENSES.txt'), [result.metafile], here);
writeFileSync(join(out, 'package.json'), `${JSON.stringify({
  name: 'edge-model-pipeline-agent-runtime',
  private: true,
  description: 'What the edge agent needs on the device: its native runtimes.',
  dependencies: pkg.dependencies,
}, null, 2)}\n`);
writeFileSync(join(out, 'result.schema.json'), readFileSync(join(here, 'schema', 'benchmark-result.schema.json')));
writeFileSync(join(out, 'dataset.schema.json'), readFileSync(join(here, 'schema', 'dataset.schema.json')));
console.log(`bundled the edge agent into dist/component (native runtimes external: ${natives.join(', ')}; third-party packages in it: ${bundled.join(', ') || 'none'})`);
