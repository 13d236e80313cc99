import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DlrModel } from './dlr-runtime';
import { AgentError, AgentErrorCode } from './errors';
import { OnnxRuntimeModel } from './onnx-runtime';
import { CompatibilityCheck } from './result';
import { ModelRuntime } from './runtime';

/** The package's manifest.json, as the packaging step writes it. */
export interface PackageManifest {
  readonly schemaVersion: number;
  readonly variant: string;
  readonly target: string;
  readonly runtime: 'dlr' | 'onnxruntime';
  readonly model: { library: string | null; params: string | null; graph: string | null; onnx: string | null };
  readonly files: { path: string; size: number; sha256: string }[];
}

/** A model on disk: an `.onnx` file, or a package folder with manifest.json. */
export interface ModelLocation {
  readonly path: string;
  readonly manifest: PackageManifest | null;
  readonly runtime: 'dlr' | 'onnxruntime';
  /** The file or folder the runtime loads. */
  readonly loadPath: string;
}

export function locateModel(modelPath: string): ModelLocation {
  if (!fs.existsSync(modelPath)) throw new AgentError(AgentErrorCode.MODEL_INVALID, `${modelPath} does not exist`);
  if (fs.statSync(modelPath).isDirectory()) {
    const manifestPath = path.join(modelPath, 'manifest.json');
    if (!fs.existsSync(manifestPath)) {
      throw new AgentError(AgentErrorCode.MODEL_INVALID, `${modelPath} is a folder without manifest.json: give an .onnx file or an unpacked package`);
    }
    let manifest: PackageManifest;
    try {
      manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as PackageManifest;
    } catch (err) {
      throw new AgentError(AgentErrorCode.MODEL_INVALID, `${manifestPath} is not JSON: ${(err as Error).message}`);
    }
    if (manifest.runtime === 'onnxruntime' && manifest.model?.onnx) {
      return { path: modelPath, manifest, runtime: 'onnxruntime', loadPath: path.join(modelPath, manifest.model.onnx) };
    }
    if (manifest.runtime === 'dlr') return { path: modelPath, manifest, runtime: 'dlr', loadPath: modelPath };
    throw new AgentError(AgentErrorCode.MODEL_INVALID, `${manifestPath} names runtime ${JSON.stringify(manifest.runtime)}; the agent runs dlr and onnxruntime`);
  }
  return { path: modelPath, manifest: null, runtime: 'onnxruntime', loadPath: modelPath };
}

export async function loadRuntime(location: ModelLocation): Promise<ModelRuntime> {
  return location.runtime === 'dlr' ? DlrModel.load(location.loadPath) : OnnxRuntimeModel.load(location.loadPath);
}

/** The sha256 of a model file (null for a package folder: its manifest lists each file's). */
export function modelSha256(location: ModelLocation): string | null {
  if (fs.statSync(location.loadPath).isDirectory()) return null;
  return createHash('sha256').update(fs.readFileSync(location.loadPath)).digest('hex');
}

/** Node's architecture names for the targets Neo compiles for. */
const TARGET_ARCH: Record<string, string[]> = {
  jetson_tx1: ['arm64'], jetson_tx2: ['arm64'], jetson_nano: ['arm64'], jetson_xavier: ['arm64'],
  rasp3b: ['arm', 'arm64'], rasp4b: ['arm64', 'arm'], imx8qm: ['arm64'], imx8mplus: ['arm64'], rk3399: ['arm64'], rk3288: ['arm'],
  x86_win32: ['ia32'], x86_win64: ['x64'],
};

function platformArch(target: string): string[] | undefined {
  if (TARGET_ARCH[target]) return TARGET_ARCH[target];
  if (/x86[-_]64/.test(target)) return ['x64'];
  if (/arm64/.test(target)) return ['arm64'];
  if (/arm[-_]eabi/.test(target)) return ['arm'];
  if (/(^|-)x86($|-)/.test(target)) return ['ia32'];
  return undefined;
}

/**
 * Does this device have what the package needs: its architecture, and every
 * file the manifest lists, unchanged.
 */
export function checkCompatibility(location: ModelLocation, arch = os.arch()): CompatibilityCheck[] {
  const checks: CompatibilityCheck[] = [];
  const manifest = location.manifest;
  if (!manifest) {
    checks.push({ name: 'manifest', ok: true, detail: 'a bare model file: nothing to check against' });
    return checks;
  }
  const wanted = manifest.runtime === 'onnxruntime' ? undefined : platformArch(manifest.target);
  checks.push(wanted === undefined
    ? { name: 'architecture', ok: true, detail: `${manifest.target} runs on any architecture with ${manifest.runtime}` }
    : { name: 'architecture', ok: wanted.includes(arch), detail: `${manifest.target} needs ${wanted.join(' or ')}; this device is ${arch}` });
  for (const file of manifest.files ?? []) {
    const p = path.join(location.path, file.path);
    if (!fs.existsSync(p)) {
      checks.push({ name: `file ${file.path}`, ok: false, detail: 'missing' });
      continue;
    }
    const sha = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    checks.push({ name: `file ${file.path}`, ok: sha === file.sha256, detail: sha === file.sha256 ? 'sha256 matches the manifest' : `sha256 ${sha} is not the manifest's ${file.sha256}` });
  }
  return checks;
}
