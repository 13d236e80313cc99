import * as fs from 'node:fs';
import * as os from 'node:os';

/** What the device is, as the result document records it. */
export interface DeviceFingerprint {
  readonly os: string;
  readonly release: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryMb: number;
  readonly node: string;
  readonly runtime: { name: string; version: string };
  readonly greengrass: boolean;
  /** The Jetson/Pi board model from the device tree, when there is one. */
  readonly board: string | null;
}

function board(): string | null {
  try {
    return fs.readFileSync('/proc/device-tree/model', 'utf8').replace(/\0/g, '').trim() || null;
  } catch {
    return null;
  }
}

export function fingerprint(runtime: { name: string; version: string }, env: NodeJS.ProcessEnv = process.env): DeviceFingerprint {
  const cpus = os.cpus();
  return {
    os: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryMb: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    runtime,
    greengrass: Boolean(env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT),
    board: board(),
  };
}
