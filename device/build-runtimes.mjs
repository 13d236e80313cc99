// Builds the edge agent's native runtimes (onnxruntime-node, koffi, aws-iot-device-sdk-v2) for
// each Linux platform the runtimes publish binaries for, as one tar.gz each in
// dist/runtimes/runtime-linux-<arch>.tar.gz: the agent component's Install step unpacks the
// device's own into its work folder, so a device installs the agent from the store alone (no
// npm, no registry). Installed from package-lock.json with npm's platform overrides (--os,
// --cpu, --libc), install scripts off; each package then keeps only its own platform's
// binaries. dist/runtimes/runtimes.json lists the files, their SHA-256 and the packages in them.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist', 'runtimes');

/** Greengrass's name for the architecture, npm's, and each native package's folder for it. */
export const PLATFORMS = [
  { architecture: 'aarch64', cpu: 'arm64', onnxruntime: 'linux/arm64', crt: 'linux-arm64-glibc' },
  { architecture: 'amd64', cpu: 'x64', onnxruntime: 'linux/x64', crt: 'linux-x64-glibc' },
];

/** Removes every entry of `dir` but `keep`. */
function keepOnly(dir, keep) {
  if (!existsSync(dir)) throw new Error(`expected ${dir.slice(here.length + 1)} in the installed runtimes`);
  for (const name of readdirSync(dir)) if (name !== keep) rmSync(join(dir, name), { recursive: true, force: true });
}

function build(platform) {
  const stage = mkdtempSync(join(tmpdir(), `agent-runtime-${platform.architecture}-`));
  try {
    copyFileSync(join(here, 'package.json'), join(stage, 'package.json'));
    copyFileSync(join(here, 'package-lock.json'), join(stage, 'package-lock.json'));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--os=linux', `--cpu=${platform.cpu}`, '--libc=glibc'], {
      cwd: stage, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    });
    const modules = join(stage, 'node_modules');
    // Only this platform's binaries: onnxruntime-node ships every platform's, aws-crt too.
    const [os, arch] = platform.onnxruntime.split('/');
    const napi = join(modules, 'onnxruntime-node', 'bin');
    for (const version of readdirSync(napi)) {
      keepOnly(join(napi, version), os);
      keepOnly(join(napi, version, os), arch);
    }
    keepOnly(join(modules, 'aws-crt', 'dist', 'bin'), platform.crt);
    const koffi = `koffi-linux-${platform.cpu}`;
    if (!existsSync(join(modules, '@koromix', koffi))) throw new Error(`npm installed no @koromix/${koffi}: koffi has no binary for linux ${platform.cpu}`);
    rmSync(join(stage, 'package-lock.json'));
    const file = join(out, `runtime-linux-${platform.architecture}.tar.gz`);
    // Reproducible: sorted names, fixed owner and times, gzip without a timestamp.
    execFileSync('sh', ['-c', `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - node_modules | gzip -n -9 > "${file}"`], { cwd: stage });
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    return { architecture: platform.architecture, file: `runtime-linux-${platform.architecture}.tar.gz`, sha256, bytes: statSync(file).size, packages: readdirSync(modules).filter((n) => !n.startsWith('.')).sort() };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

mkdirSync(out, { recursive: true });
const runtimes = PLATFORMS.map(build);
writeFileSync(join(out, 'runtimes.json'), `${JSON.stringify({ lock: createHash('sha256').update(readFileSync(join(here, 'package-lock.json'))).digest('hex'), runtimes }, null, 2)}\n`);
console.log(`built the edge agent's runtimes: ${runtimes.map((r) => `linux ${r.architecture} ${(r.bytes / 1048576).toFixed(1)} MiB`).join(', ')}`);
