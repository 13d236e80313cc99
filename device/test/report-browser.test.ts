/**
 * @jest-environment ./test/support/native-environment.js
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { runBenchmark } from '../src/benchmark';
import { decide } from '../../lambda/quality-gate/index';
import { renderHtml } from '../../lambda/quality-gate/report';
import { FIXTURES } from '../../test/support/archives';

const CHROMIUM = '/usr/bin/chromium';
const DIGITS = path.join(FIXTURES, 'digits');

test('the run report opens in a real browser without errors, one plot point per variant, thresholds drawn', async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  const results = async (model: string, variant: string) => Promise.all(['cam-01', 'cam-02'].map((thingName) =>
    runBenchmark({ modelPath: path.join(DIGITS, model), datasetPath: path.join(DIGITS, 'validation', 'dataset.json'), runId: 'digits-v7', thingName, variant, warmup: 1, iterations: 20 })));
  const report = decide({
    runId: 'digits-v7',
    thresholds: { minAccuracy: 0.9, maxAccuracyDrop: null, baseline: null, baselineAccuracy: null, minTop1Agreement: null, maxP90LatencyMs: 50, maxP99LatencyMs: null, maxPeakMemoryMb: null, requireCompatible: true, minDevicesReporting: 1, maxFailedDevices: 0 },
    classes: [
      { deviceClass: 'x86-gateway', variants: [{ variant: 'onnx', results: await results('cnn.onnx', 'onnx') }, { variant: 'onnx-pruned', results: await results('cnn-pruned.onnx', 'onnx-pruned') }] },
      { deviceClass: 'rasp4b', variants: [{ variant: 'rasp4b', results: await results('cnn.onnx', 'rasp4b') }] },
    ],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  const file = path.join(dir, 'report.html');
  fs.writeFileSync(file, renderHtml(report));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    expect(errors).toEqual([]);
    // Self-contained: the page asks for nothing but itself.
    expect(requests).toEqual([`file://${file}`]);
    const points = await page.$$eval('svg#accuracy-latency circle.variant-point', (els) => els.map((e) => ({ variant: e.getAttribute('data-variant'), pass: e.getAttribute('data-pass') })));
    expect(points).toEqual([
      { variant: 'onnx', pass: 'true' },
      { variant: 'onnx-pruned', pass: 'false' },
      { variant: 'rasp4b', pass: 'true' },
    ]);
    expect(await page.$$eval('svg#accuracy-latency line.threshold', (els) => els.map((e) => e.getAttribute('data-threshold')))).toEqual(['minAccuracy', 'maxP90LatencyMs']);
    // The pruned point sits below the accuracy line: the plot shows the failure.
    const [good, bad] = await page.$$eval('circle.variant-point', (els) => els.slice(0, 2).map((e) => Number(e.getAttribute('cy'))));
    expect(bad).toBeGreaterThan(good);
    expect(await page.textContent('h1')).toBe('Run digits-v7: passed the quality gate');
    const screenshot = await page.screenshot({ fullPage: true });
    if (process.env.REPORT_SCREENSHOT) fs.writeFileSync(process.env.REPORT_SCREENSHOT, screenshot);
    expect(screenshot.length).toBeGreaterThan(10_000);
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
