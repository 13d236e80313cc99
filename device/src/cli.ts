import * as fs from 'node:fs';
import { BenchmarkOptions, runBenchmark } from './benchmark';
import { AgentError, AgentErrorCode } from './errors';
import { checkTopicRoot, connectIpc, DEFAULT_TOPIC_ROOT, IpcClient, publishDocument, resultTopic } from './publish';
import { BenchmarkResult } from './result';
import { Server } from './serve';
import { runWorker, superviseBenchmark, WORKER_COMMAND } from './supervise';

const USAGE = `usage:
  edge-agent benchmark --model <file.onnx | package folder> --dataset <dataset.json>
                       [--run-id ID] [--thing NAME] [--variant NAME] [--out result.json]
                       [--iterations N (at least 1)] [--warmup N] [--inference-timeout SECONDS]
                       [--publish | --no-publish] [--topic-root ROOT]
  edge-agent serve     --model <...> --inbox <folder> [--interval SECONDS] [--thing NAME]
                       [--topic-root ROOT] [--device-class NAME]
  edge-agent --help

Inside Greengrass the thing name comes from AWS_IOT_THING_NAME and results are
published through IPC; outside it, --out writes the result document to a file.
Results go to {ROOT}/results/{run id}/{thing}, telemetry to
{ROOT}/telemetry/{device class}/{thing}; ROOT is the pipeline's own topic root
(its agent component's configuration), ${DEFAULT_TOPIC_ROOT} by default.

Exit status: 0 when the benchmark ran (status OK); 1 when it failed (status ERROR:
the result document, with its error code, was still printed, written and published);
2 for a wrong command line. Greengrass marks a component whose run exits non-zero
as errored, so a failed benchmark shows on the device's component status too.`;

/** Exit statuses of the agent (USAGE documents them). */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

function parseArgs(argv: string[]): { command: string; flags: Record<string, string | boolean> } {
  const [command, ...rest] = argv;
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith('--')) throw new AgentError(AgentErrorCode.USAGE, `unexpected argument ${arg}\n${USAGE}`);
    const name = arg.slice(2);
    if (name === 'publish' || name === 'no-publish') flags.publish = name === 'publish';
    else {
      const value = rest[++i];
      if (value === undefined) throw new AgentError(AgentErrorCode.USAGE, `--${name} needs a value\n${USAGE}`);
      flags[name] = value;
    }
  }
  return { command: command ?? '', flags };
}

function required(flags: Record<string, string | boolean>, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string') throw new AgentError(AgentErrorCode.USAGE, `--${name} is required\n${USAGE}`);
  return v;
}

function count(flags: Record<string, string | boolean>, name: string, fallback: number, min = 0): number {
  if (flags[name] === undefined) return fallback;
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min) throw new AgentError(AgentErrorCode.USAGE, `--${name} must be a whole number of at least ${min}, not ${flags[name]}`);
  return n;
}

/** The readable table `benchmark` prints. */
export function formatResult(r: BenchmarkResult): string {
  if (r.status === 'ERROR') return `benchmark FAILED (${r.error?.code}): ${r.error?.message}`;
  const rows: [string, string][] = [
    ['model', `${r.model?.path} (${r.model?.runtime} ${r.model?.runtimeVersion})`],
    ['data set', `${r.dataset?.name}, ${r.dataset?.samples} samples`],
    ['load', `${r.loadMs} ms; first inference ${r.firstInferenceMs} ms`],
    ['latency', `p50 ${r.latencyMs?.p50} ms, p90 ${r.latencyMs?.p90} ms, p99 ${r.latencyMs?.p99} ms, mean ${r.latencyMs?.mean} ms`],
    ['throughput', `${r.throughputPerSecond} inferences/s`],
    ['accuracy', r.accuracy ? `top-1 ${(r.accuracy.top1 * 100).toFixed(2)} %${r.accuracy.top5 === null ? '' : `, top-5 ${(r.accuracy.top5 * 100).toFixed(2)} %`}` : 'no labels'],
    ['parity', r.parity ? `top-1 agreement ${(r.parity.top1Agreement * 100).toFixed(2)} %, max |diff| ${r.parity.maxAbsDiff}` : 'no reference outputs'],
    ['peak RSS', `${r.peakRssMb} MB`],
    ['device', `${r.device?.os}/${r.device?.arch}, ${r.device?.cores} × ${r.device?.cpuModel}`],
    ['compatible', r.compatibility ? `${r.compatibility.ok ? 'yes' : 'NO'} (${r.compatibility.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ') || 'all checks pass'})` : 'not checked'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  ipc: () => Promise<IpcClient & { close(): Promise<void> }> = connectIpc,
  print: (text: string) => void = (text) => process.stdout.write(text),
  benchmark: (options: BenchmarkOptions) => Promise<BenchmarkResult> = runBenchmark,
): Promise<number> {
  if (argv.some((a) => a === '--help' || a === '-h') || argv[0] === 'help') {
    print(`${USAGE}\n`);
    return EXIT.OK;
  }
  const { command, flags } = parseArgs(argv);
  const thingName = (flags.thing as string | undefined) ?? env.AWS_IOT_THING_NAME ?? 'local';
  const inGreengrass = Boolean(env.AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT);
  const topicRoot = checkTopicRoot(typeof flags['topic-root'] === 'string' ? flags['topic-root'] : DEFAULT_TOPIC_ROOT);
  if (command === 'benchmark') {
    const runId = (flags['run-id'] as string | undefined) ?? 'manual';
    // A topic IoT Core would refuse is a wrong command line, found before the benchmark runs.
    const topic = resultTopic(topicRoot, runId, thingName);
    const result = await benchmark({
      modelPath: required(flags, 'model'),
      datasetPath: required(flags, 'dataset'),
      runId,
      thingName,
      variant: flags.variant as string | undefined,
      iterations: count(flags, 'iterations', 200, 1),
      warmup: count(flags, 'warmup', 10),
      inferenceTimeoutMs: count(flags, 'inference-timeout', 30, 1) * 1000,
    });
    print(`${formatResult(result)}\n`);
    if (typeof flags.out === 'string') fs.writeFileSync(flags.out, `${JSON.stringify(result, null, 2)}\n`);
    if (flags.publish ?? inGreengrass) {
      const client = await ipc();
      try {
        const n = await publishDocument(client, topic, result, `${result.runId}/${thingName}`);
        print(`published the result to ${topic} in ${n} message(s)\n`);
      } finally {
        await client.close();
      }
    }
    // A bad model is a result, not a crash: the error document was written and published; the status says it failed.
    return result.status === 'OK' ? EXIT.OK : EXIT.FAILED;
  }
  if (command === 'serve') {
    const client = inGreengrass ? await ipc() : undefined;
    const deviceClass = typeof flags['device-class'] === 'string' ? flags['device-class'] : '';
    const server = new Server({ modelPath: required(flags, 'model'), inbox: required(flags, 'inbox'), thingName, client, topicRoot, deviceClass });
    await server.start();
    const interval = count(flags, 'interval', 60) * 1000;
    let lastTelemetry = Date.now();
    for (;;) {
      await server.processInbox();
      if (server.errored) return 1;
      if (Date.now() - lastTelemetry >= interval) {
        await server.telemetry();
        lastTelemetry = Date.now();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new AgentError(AgentErrorCode.USAGE, `unknown command ${JSON.stringify(command)}\n${USAGE}`);
}

if (require.main === module && process.argv[2] === WORKER_COMMAND) {
  runWorker();
} else if (require.main === module) {
  // The benchmark runs in a watched child process of this file: see superviseBenchmark.
  main(process.argv.slice(2), process.env, connectIpc, undefined, (options) => superviseBenchmark(options, __filename)).then((code) => process.exit(code), (err) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(err instanceof AgentError && err.code === AgentErrorCode.USAGE ? EXIT.USAGE : EXIT.FAILED);
  });
}
