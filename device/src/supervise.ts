import { fork } from 'node:child_process';
import { BenchmarkOptions, BenchmarkProgress, DEFAULT_INFERENCE_TIMEOUT_MS, errorResult, inferenceTimeoutMessage, runBenchmark } from './benchmark';
import { AgentErrorCode } from './errors';
import { BenchmarkResult } from './result';

/** The agent's internal command: run one benchmark for the supervising process. */
export const WORKER_COMMAND = '__benchmark-worker';

type ToSupervisor = { progress: BenchmarkProgress } | { result: BenchmarkResult };

/**
 * Runs the benchmark in a child process of the agent (`script`, the agent's own file) and
 * watches it: ONNX Runtime's native run holds the JavaScript thread, so a model that never
 * returns cannot be timed out from inside. The child reports before every inference; when one
 * runs past `inferenceTimeoutMs`, the child is killed and the document says INFERENCE_TIMEOUT,
 * with what the run knew (model, data set, device). The child's peak memory is the benchmark's.
 */
export function superviseBenchmark(options: BenchmarkOptions, script: string): Promise<BenchmarkResult> {
  const limitMs = options.inferenceTimeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
  const child = fork(script, [WORKER_COMMAND], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => {
    let last: BenchmarkProgress | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const settle = (result: BenchmarkResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const before = () => last?.partial ?? {
      runId: options.runId, thingName: options.thingName, variant: options.variant ?? null, startedAt: new Date().toISOString(),
      model: null, dataset: null, loadMs: null, device: null, compatibility: null,
    };
    child.on('message', (message: ToSupervisor) => {
      if ('result' in message) {
        settle(message.result);
        return;
      }
      last = message.progress;
      clearTimeout(timer);
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        // The child's memory is not known any more: 0, as for a run that never measured it.
        settle(errorResult(before(), { code: AgentErrorCode.INFERENCE_TIMEOUT, message: inferenceTimeoutMessage(message.progress.what, limitMs) }, 0));
      }, limitMs);
    });
    child.on('exit', (code, signal) => {
      settle(errorResult(before(), { code: AgentErrorCode.INTERNAL, message: `the benchmark process ended (${signal ?? `exit ${code}`}) before it reported a result` }, 0));
    });
    child.send(options);
  });
}

/** The child's side: one benchmark, reporting before every inference, then the result. */
export function runWorker(): void {
  process.once('message', (options: BenchmarkOptions) => {
    const send = (message: ToSupervisor) => process.send!(message);
    void runBenchmark({ ...options, onInference: (progress) => send({ progress }) }).then((result) => {
      process.send!({ result } satisfies ToSupervisor, () => process.exit(0));
    });
  });
}
