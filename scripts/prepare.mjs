// Runs when this repository is installed (npm ci / npm install), not for consumers of the package:
// bundles the Lambda handlers, installs the edge agent's own dependencies (device/, with its
// native runtimes) and bundles the agent, so `npx cdk synth` and `npm test` work from a fresh clone.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const device = join(root, 'device');
const run = (cmd, args, cwd, env = {}) => execFileSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, ...env } });

// patches/: fixes to test dependencies, applied to node_modules (aws-local-stepfunctions' MD5 reads
// every 64-byte block but the first at the wrong offset, so States.Hash of a long string is wrong).
run(process.execPath, [join(root, 'node_modules', 'patch-package', 'index.js'), '--error-on-fail'], root);
run(process.execPath, [join(root, 'scripts', 'bundle-lambdas.mjs')], root);

const installed = join(device, 'node_modules', '.package-lock.json');
const lock = join(device, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  // onnxruntime-node's install script downloads CUDA parts; its CPU binaries are in the package.
  run('npm', ['ci', '--no-audit', '--no-fund'], device, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
}
run(process.execPath, [join(device, 'build.mjs')], device);
// The agent's native runtimes per platform (component artifacts: devices install from the store
// alone), rebuilt only when the lock file changes; npm takes them from its cache or the registry.
const runtimes = join(device, 'dist', 'runtimes', 'runtimes.json');
const lockHash = createHash('sha256').update(readFileSync(lock)).digest('hex');
if (!existsSync(runtimes) || JSON.parse(readFileSync(runtimes, 'utf8')).lock !== lockHash) {
  run(process.execPath, [join(device, 'build-runtimes.mjs')], device);
}
