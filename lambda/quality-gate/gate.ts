/**
 * The quality gate: from the result documents the canary devices sent, decide
 * per device class which variant (if any) may go to the fleet, and say
 * exactly which number failed by how much.
 */

/** The fields of an edge agent result document the gate reads. */
export interface DeviceResult {
  readonly status: 'OK' | 'ERROR';
  readonly thingName: string;
  readonly variant: string | null;
  readonly latencyMs: { p90: number; p99: number } | null;
  readonly peakRssMb: number;
  readonly accuracy: { top1: number; referenceTop1?: number | null } | null;
  readonly parity: { top1Agreement: number } | null;
  readonly compatibility: { ok: boolean; checks: { name: string; ok: boolean; detail: string }[] } | null;
  readonly error: { code: string; message: string } | null;
}

/** The thresholds, as the construct renders them (null: not checked). */
export interface Thresholds {
  readonly minAccuracy: number | null;
  readonly maxAccuracyDrop: number | null;
  /** 'fixed' uses baselineAccuracy; 'device' uses the reference outputs' accuracy measured on each device. */
  readonly baseline: 'fixed' | 'device' | null;
  readonly baselineAccuracy: number | null;
  readonly minTop1Agreement: number | null;
  readonly maxP90LatencyMs: number | null;
  readonly maxP99LatencyMs: number | null;
  readonly maxPeakMemoryMb: number | null;
  readonly requireCompatible: boolean;
  readonly minDevicesReporting: number;
  readonly maxFailedDevices: number;
}

/** One threshold's figure, limit and verdict. */
export interface Check {
  readonly name: string;
  readonly figure: number | boolean | null;
  readonly limit: number | boolean;
  readonly comparison: '>=' | '<=' | '==';
  readonly pass: boolean;
  /** How far the figure is from the limit, in the figure's unit (positive: inside). */
  readonly margin: number | null;
  readonly detail: string;
}

export interface VariantDecision {
  readonly variant: string;
  readonly pass: boolean;
  readonly devices: number;
  readonly failedDevices: { thingName: string; code: string; message: string }[];
  readonly figures: { accuracy: number | null; p90LatencyMs: number | null; p99LatencyMs: number | null; peakMemoryMb: number | null; top1Agreement: number | null };
  readonly checks: Check[];
  /** Extra sort key for ties: the package size in bytes, when known. */
  readonly sizeBytes: number | null;
}

export interface ClassDecision {
  readonly deviceClass: string;
  readonly pass: boolean;
  /** The chosen variant: the fastest p90 that passes, ties broken by the smaller package. */
  readonly chosen: string | null;
  readonly variants: VariantDecision[];
  /** Why each other variant lost. */
  readonly notChosen: { variant: string; reason: string }[];
}

const round = (v: number, digits = 4) => Math.round(v * 10 ** digits) / 10 ** digits;
const worst = (values: (number | null | undefined)[], pick: (a: number, b: number) => number): number | null => {
  const present = values.filter((v): v is number => typeof v === 'number');
  return present.length ? present.reduce((a, b) => pick(a, b)) : null;
};

function check(name: string, figure: number | null, limit: number, comparison: '>=' | '<=', unit: string): Check {
  if (figure === null) {
    return { name, figure, limit, comparison, pass: false, margin: null, detail: `${name}: no device reported a figure (limit ${comparison} ${limit}${unit})` };
  }
  const pass = comparison === '>=' ? figure >= limit : figure <= limit;
  const margin = round(comparison === '>=' ? figure - limit : limit - figure);
  const detail = pass
    ? `${name} ${figure}${unit} is within the limit ${comparison} ${limit}${unit} (by ${Math.abs(margin)}${unit})`
    : `${name} ${figure}${unit} misses the limit ${comparison} ${limit}${unit} by ${Math.abs(margin)}${unit}`;
  return { name, figure, limit, comparison, pass, margin, detail };
}

/** The gate's verdict on one variant of a class, from its devices' results (the worst device counts). */
export function judgeVariant(variant: string, results: DeviceResult[], t: Thresholds, sizeBytes: number | null = null): VariantDecision {
  const ok = results.filter((r) => r.status === 'OK');
  const failedDevices = results.filter((r) => r.status !== 'OK').map((r) => ({ thingName: r.thingName, code: r.error?.code ?? 'UNKNOWN', message: r.error?.message ?? 'no reason given' }));
  const accuracy = worst(ok.map((r) => r.accuracy?.top1), Math.min);
  const figures = {
    accuracy,
    p90LatencyMs: worst(ok.map((r) => r.latencyMs?.p90), Math.max),
    p99LatencyMs: worst(ok.map((r) => r.latencyMs?.p99), Math.max),
    peakMemoryMb: worst(ok.map((r) => r.peakRssMb), Math.max),
    top1Agreement: worst(ok.map((r) => r.parity?.top1Agreement), Math.min),
  };
  const checks: Check[] = [];
  checks.push({
    name: 'devices reporting',
    figure: ok.length,
    limit: t.minDevicesReporting,
    comparison: '>=',
    pass: ok.length >= t.minDevicesReporting,
    margin: ok.length - t.minDevicesReporting,
    detail: `devices reporting: ${ok.length} device(s) reported results, ${t.minDevicesReporting} needed`,
  });
  checks.push({
    name: 'failed devices',
    figure: failedDevices.length,
    limit: t.maxFailedDevices,
    comparison: '<=',
    pass: failedDevices.length <= t.maxFailedDevices,
    margin: t.maxFailedDevices - failedDevices.length,
    detail: failedDevices.length
      ? `failed devices: ${failedDevices.length} device(s) failed: ${failedDevices.map((f) => `${f.thingName} (${f.code}: ${f.message})`).join('; ')}`
      : 'failed devices: none',
  });
  if (t.minAccuracy !== null) checks.push(check('accuracy', accuracy, t.minAccuracy, '>=', ''));
  if (t.maxAccuracyDrop !== null) {
    let baseline: number | null = null;
    if (t.baseline === 'fixed') baseline = t.baselineAccuracy;
    else if (t.baseline === 'device') baseline = worst(ok.map((r) => r.accuracy?.referenceTop1 ?? null), Math.max);
    const drop = baseline !== null && accuracy !== null ? round(baseline - accuracy) : null;
    const c = check('accuracy drop', drop, t.maxAccuracyDrop, '<=', '');
    checks.push({ ...c, detail: `${c.detail} (baseline ${baseline ?? 'unknown'}${t.baseline === 'device' ? ', the reference outputs measured on the device' : ''})` });
  }
  if (t.minTop1Agreement !== null) checks.push(check('top-1 agreement with the reference', figures.top1Agreement, t.minTop1Agreement, '>=', ''));
  if (t.maxP90LatencyMs !== null) checks.push(check('p90 latency', figures.p90LatencyMs, t.maxP90LatencyMs, '<=', ' ms'));
  if (t.maxP99LatencyMs !== null) checks.push(check('p99 latency', figures.p99LatencyMs, t.maxP99LatencyMs, '<=', ' ms'));
  if (t.maxPeakMemoryMb !== null) checks.push(check('peak memory', figures.peakMemoryMb, t.maxPeakMemoryMb, '<=', ' MB'));
  if (t.requireCompatible) {
    const incompatible = ok.filter((r) => r.compatibility && !r.compatibility.ok);
    checks.push({
      name: 'compatibility',
      figure: incompatible.length === 0,
      limit: true,
      comparison: '==',
      pass: incompatible.length === 0,
      margin: null,
      detail: incompatible.length === 0
        ? 'compatibility: every device has what the package needs'
        : 'compatibility: ' + incompatible.map((r) => `${r.thingName}: ${r.compatibility!.checks.filter((c) => !c.ok).map((c) => `${c.name} ${c.detail}`).join(', ')}`).join('; '),
    });
  }
  return { variant, pass: checks.every((c) => c.pass), devices: results.length, failedDevices, figures, checks, sizeBytes };
}

/** Picks the variant of a class that goes to the fleet: the fastest p90 that passes, ties broken by the smaller package. */
export function chooseVariant(deviceClass: string, variants: VariantDecision[]): ClassDecision {
  const passing = variants.filter((v) => v.pass).sort((a, b) =>
    (a.figures.p90LatencyMs ?? Infinity) - (b.figures.p90LatencyMs ?? Infinity) || (a.sizeBytes ?? Infinity) - (b.sizeBytes ?? Infinity) || a.variant.localeCompare(b.variant));
  const chosen = passing[0] ?? null;
  const notChosen = variants.filter((v) => v !== chosen).map((v) => ({
    variant: v.variant,
    reason: !v.pass
      ? `failed the gate: ${v.checks.filter((c) => !c.pass).map((c) => c.detail).join('; ')}`
      : v.figures.p90LatencyMs === chosen!.figures.p90LatencyMs
        ? `as fast as ${chosen!.variant} (p90 ${v.figures.p90LatencyMs} ms) but its package is larger (${v.sizeBytes ?? 'unknown'} vs ${chosen!.sizeBytes ?? 'unknown'} bytes)`
        : `slower than ${chosen!.variant}: p90 ${v.figures.p90LatencyMs} ms vs ${chosen!.figures.p90LatencyMs} ms`,
  }));
  return { deviceClass, pass: chosen !== null, chosen: chosen?.variant ?? null, variants, notChosen };
}
