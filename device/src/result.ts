import { DeviceFingerprint } from './fingerprint';
import { LatencyStats } from './stats';

/** The version of the result document's schema (schema/benchmark-result.schema.json). */
export const RESULT_SCHEMA_VERSION = 1;

export interface CompatibilityCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** One benchmark run on one device: what the canary gate decides on. */
export interface BenchmarkResult {
  readonly schemaVersion: 1;
  readonly kind: 'benchmark';
  readonly status: 'OK' | 'ERROR';
  readonly runId: string;
  readonly thingName: string;
  readonly variant: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly model: { path: string; sha256: string | null; runtime: string | null; runtimeVersion: string | null } | null;
  readonly dataset: { name: string; samples: number } | null;
  readonly loadMs: number | null;
  readonly firstInferenceMs: number | null;
  readonly latencyMs: LatencyStats | null;
  readonly throughputPerSecond: number | null;
  readonly peakRssMb: number;
  /** referenceTop1: the reference outputs' own accuracy on the labels, a baseline measured on the device. */
  /** top5 is null for a model of 5 classes or fewer: every label would be in its top 5. */
  readonly accuracy: { top1: number; top5: number | null; referenceTop1: number | null; samples: number } | null;
  readonly parity: { top1Agreement: number; maxAbsDiff: number; samples: number } | null;
  readonly device: DeviceFingerprint | null;
  readonly compatibility: { ok: boolean; checks: CompatibilityCheck[] } | null;
  readonly error: { code: string; message: string } | null;
}
