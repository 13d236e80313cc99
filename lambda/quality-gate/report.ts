import { ClassDecision, Thresholds } from './gate';

/** The run report: what the gate decided, per class, with every figure. */
export interface RunReport {
  readonly schemaVersion: 1;
  readonly runId: string;
  readonly generatedAt: string;
  readonly pass: boolean;
  readonly thresholds: Thresholds;
  readonly classes: ClassDecision[];
}

const escape = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
const fmt = (v: number | null | boolean, unit = '') => (v === null ? '–' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : `${v}${unit}`);

/** An accuracy-vs-p90-latency plot of every variant, thresholds drawn, as inline SVG. */
export function plot(report: RunReport): string {
  const points = report.classes.flatMap((c) => c.variants.map((v) => ({ c: c.deviceClass, v })))
    .filter((p) => p.v.figures.accuracy !== null && p.v.figures.p90LatencyMs !== null);
  const W = 640, H = 400, L = 60, R = 20, T = 20, B = 50;
  const pointMax = Math.max(...points.map((p) => p.v.figures.p90LatencyMs!), 0.001);
  const limit = report.thresholds.maxP90LatencyMs;
  // Keep the points readable: the latency limit sets the scale only when it is near them.
  const limitOnScale = limit !== null && limit <= pointMax * 3;
  const maxLatency = Math.max(pointMax, limitOnScale ? limit! : 0) * 1.15;
  const x = (ms: number) => L + (ms / maxLatency) * (W - L - R);
  const y = (acc: number) => T + (1 - acc) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" id="accuracy-latency" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="Accuracy against p90 latency of every variant">`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  for (let i = 0; i <= 4; i++) {
    const acc = i / 4;
    parts.push(`<text x="${L - 8}" y="${y(acc) + 4}" text-anchor="end" font-size="11">${acc.toFixed(2)}</text>`);
    const ms = (maxLatency * i) / 4;
    parts.push(`<text x="${x(ms)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${ms.toPrecision(3)}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">p90 latency (ms)</text>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(T + H - B) / 2})">top-1 accuracy</text>`);
  const t = report.thresholds;
  if (t.minAccuracy !== null) {
    parts.push(`<line class="threshold" data-threshold="minAccuracy" x1="${L}" y1="${y(t.minAccuracy)}" x2="${W - R}" y2="${y(t.minAccuracy)}" stroke="#c00" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - R}" y="${y(t.minAccuracy) - 4}" text-anchor="end" font-size="11" fill="#c00">min accuracy ${t.minAccuracy}</text>`);
  }
  if (t.maxP90LatencyMs !== null) {
    const lx = limitOnScale ? x(t.maxP90LatencyMs) : W - R;
    parts.push(`<line class="threshold" data-threshold="maxP90LatencyMs" x1="${lx}" y1="${T}" x2="${lx}" y2="${H - B}" stroke="#c00" stroke-dasharray="${limitOnScale ? '6 4' : '2 6'}"/>`);
    parts.push(`<text x="${lx - 4}" y="${H - B - 6}" text-anchor="end" font-size="11" fill="#c00">max p90 ${t.maxP90LatencyMs} ms${limitOnScale ? '' : ' (off scale, to the right)'}</text>`);
  }
  const labels: { x: number; y: number }[] = [];
  for (const { c, v } of points) {
    const cx = x(v.figures.p90LatencyMs!);
    const cy = y(v.figures.accuracy!);
    parts.push(`<circle class="variant-point" data-class="${escape(c)}" data-variant="${escape(v.variant)}" data-pass="${v.pass}" cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="6" fill="${v.pass ? '#2a7' : '#d33'}"><title>${escape(c)} / ${escape(v.variant)}: accuracy ${v.figures.accuracy}, p90 ${v.figures.p90LatencyMs} ms</title></circle>`);
    // Points that sit together get their labels stacked, not drawn over each other.
    let ly = cy + 4;
    while (labels.some((l) => Math.abs(l.x - cx) < 80 && Math.abs(l.y - ly) < 12)) ly += 12;
    labels.push({ x: cx, y: ly });
    const right = cx > W * 0.6;
    parts.push(`<text x="${(right ? cx - 9 : cx + 9).toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="${right ? 'end' : 'start'}" font-size="11">${escape(c)} / ${escape(v.variant)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** The self-contained HTML page: a table per device class and the plot. No script, no external resource. */
export function renderHtml(report: RunReport): string {
  const sections = report.classes.map((c) => {
    const rows = c.variants.map((v) => {
      const checks = v.checks.map((k) => `<li class="${k.pass ? 'pass' : 'fail'}">${escape(k.detail)}</li>`).join('');
      return `<tr class="${v.pass ? 'pass' : 'fail'}"><td>${escape(v.variant)}${c.chosen === v.variant ? ' <strong>(chosen)</strong>' : ''}</td><td>${v.pass ? 'pass' : 'FAIL'}</td>`
        + `<td>${fmt(v.figures.accuracy)}</td><td>${fmt(v.figures.top1Agreement)}</td><td>${fmt(v.figures.p90LatencyMs, ' ms')}</td><td>${fmt(v.figures.p99LatencyMs, ' ms')}</td>`
        + `<td>${fmt(v.figures.peakMemoryMb, ' MB')}</td><td>${v.devices}</td><td><ul>${checks}</ul></td></tr>`;
    }).join('\n');
    const lost = c.notChosen.map((n) => `<li>${escape(n.variant)}: ${escape(n.reason)}</li>`).join('');
    return `<section data-class="${escape(c.deviceClass)}"><h2>${escape(c.deviceClass)}: ${c.pass ? `release ${escape(c.chosen)}` : 'stopped at the gate'}</h2>`
      + '<table><thead><tr><th>variant</th><th>verdict</th><th>accuracy</th><th>agreement</th><th>p90</th><th>p99</th><th>peak memory</th><th>devices</th><th>checks</th></tr></thead>'
      + `<tbody>${rows}</tbody></table>${lost ? `<p>Not chosen:</p><ul>${lost}</ul>` : ''}</section>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Run ${escape(report.runId)}: ${report.pass ? 'passed' : 'stopped'} at the quality gate</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top;text-align:left}tr.fail td:nth-child(2){color:#c00;font-weight:bold}li.fail{color:#c00}li.pass{color:#275}</style>
</head><body>
<h1>Run ${escape(report.runId)}: ${report.pass ? 'passed the quality gate' : 'stopped at the quality gate'}</h1>
<p>Generated ${escape(report.generatedAt)} by cdk-edge-model-pipeline.</p>
${plot(report)}
${sections}
</body></html>
`;
}
