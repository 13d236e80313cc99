import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { ArtifactStore, EdgeAgentComponent, EdgeFleet } from '../../lib';
import { FIXTURES } from '../../test/support/archives';

/**
 * The agent component as a device installs it: the synthesized recipe's manifest for this
 * machine's architecture, its artifacts laid out as the nucleus lays them out (the bundle
 * unpacked under {artifacts:decompressedPath}, the runtimes file under {artifacts:path}), its
 * Install step run in an empty work folder with no network, then its Run step, which benchmarks
 * the fixture model with the runtimes Install unpacked. No npm, no registry.
 */

interface Manifest { Platform: { os: string; architecture: string }; Lifecycle: Record<string, { Script: string }>; Artifacts: { URI: string; Unarchive?: string }[] }

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'aarch64' };

/** Runs `script` with sh in `cwd`, with no network when this machine can make a network namespace. */
function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const isolated = spawnSync('unshare', ['-rn', 'true']).status === 0;
  const [cmd, args] = isolated ? ['unshare', ['-rn', 'sh', '-c', script]] : ['sh', ['-c', script]];
  const r = spawnSync(cmd, args as string[], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

let root: string;
let manifest: Manifest;
let configuration: Record<string, string>;
const paths: Record<string, string> = {};

beforeAll(() => {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'agent-asm-')) });
  const stack = new Stack(app, 'Agent', { env: { account: '111122223333', region: 'eu-west-1' } });
  const store = new ArtifactStore(stack, 'Store');
  new EdgeAgentComponent(stack, 'Agent', { fleets: [new EdgeFleet(stack, 'Fleet', { deviceClass: 'gw', thingNamePrefix: 'gw-', store })] });
  const assembly = app.synth();
  const template = assembly.getStackByName('Agent').template as { Resources: Record<string, { Type: string; Properties: { InlineRecipe: string } }> };
  const recipe = JSON.parse(Object.values(template.Resources).find((r) => r.Type === 'AWS::GreengrassV2::ComponentVersion')!.Properties.InlineRecipe) as {
    Manifests: Manifest[]; ComponentConfiguration: { DefaultConfiguration: Record<string, string> };
  };
  const arch = ARCH[process.arch];
  if (!arch) throw new Error(`the agent has no runtimes for ${process.arch}: this test runs on x64 or arm64`);
  manifest = recipe.Manifests.find((m) => m.Platform.os === 'linux' && m.Platform.architecture === arch)!;
  configuration = { ...recipe.ComponentConfiguration.DefaultConfiguration };

  // The nucleus's folders: artifacts downloaded, ZIPs unpacked, and the component's work folder (empty).
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'greengrass-'));
  for (const k of ['artifacts', 'decompressed', 'work']) fs.mkdirSync(paths[k] = path.join(root, k));
  for (const artifact of manifest.Artifacts) {
    const key = path.basename(artifact.URI);
    // The staged asset of the object's hash (CDK keeps the source's full extension, .tar.gz).
    const hash = key.replace(/\..*$/, '');
    const staged = path.join(assembly.directory, fs.readdirSync(assembly.directory).find((f) => f === `asset.${hash}` || f.startsWith(`asset.${hash}.`))!);
    if (artifact.Unarchive === 'ZIP') fs.cpSync(staged, path.join(paths.decompressed, hash), { recursive: true });
    else fs.copyFileSync(staged, path.join(paths.artifacts, key));
  }
}, 120_000);

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** A lifecycle script with the nucleus's recipe variables filled in. */
function script(step: string, config: Record<string, string>): string {
  return manifest.Lifecycle[step].Script
    .replace(/\{artifacts:path\}/g, paths.artifacts)
    .replace(/\{artifacts:decompressedPath\}/g, paths.decompressed)
    .replace(/\{work:path\}/g, paths.work)
    .replace(/\{configuration:\/([A-Za-z]+)\}/g, (_m, k: string) => config[k]);
}

// The device's tools: sh, tar, gzip and Node.js; no npm, no registry, no proxy.
const deviceEnv = (): NodeJS.ProcessEnv => ({ PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: root, npm_config_registry: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9' });

test('the recipe installs the agent\'s runtimes from its own artifact: Install unpacks them into the empty work folder, with no network', () => {
  expect(manifest.Lifecycle.Install.Script).not.toMatch(/\bnpm\b|\bnpx\b|https?:/);
  const install = sh(script('Install', configuration), paths.work, deviceEnv());
  expect(install.out).toBe('');
  expect(install.status).toBe(0);
  for (const pkg of ['onnxruntime-node', 'koffi', 'aws-iot-device-sdk-v2', 'aws-crt']) expect(fs.existsSync(path.join(paths.work, 'node_modules', pkg, 'package.json'))).toBe(true);
  // Only this architecture's binaries.
  const other = process.arch === 'x64' ? 'arm64' : 'x64';
  expect(fs.existsSync(path.join(paths.work, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', other))).toBe(false);
}, 120_000);

test('the Run step benchmarks a model with the runtimes Install unpacked (ONNX Runtime loads, the IoT SDK\'s native part too)', () => {
  const model = path.join(FIXTURES, 'digits', 'cnn.onnx');
  const dataset = path.join(FIXTURES, 'digits', 'validation', 'dataset.json');
  const run = sh(script('Run', { ...configuration, modelPath: model, datasetPath: dataset, runId: 'install-test', variant: 'onnx', iterations: '5' }), paths.work, deviceEnv());
  expect(run.out).not.toMatch(/RUNTIME_MISSING/);
  expect(run.status).toBe(0);
  expect(run.out).toMatch(/accuracy/i);
  // The publisher's runtime (aws-crt's native module) loads from the same folder.
  const env = { ...deviceEnv(), NODE_PATH: path.join(paths.work, 'node_modules') };
  expect(execFileSync(process.execPath, ['-e', "require('aws-iot-device-sdk-v2'); require('koffi'); process.stdout.write('loaded')"], { cwd: paths.work, env, encoding: 'utf8' })).toBe('loaded');
}, 120_000);
