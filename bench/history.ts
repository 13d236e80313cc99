/**
 * The worst-case history of one execution of a pipeline, measured: every ring of every class
 * rolls out healthy, but only at the last poll its time budget allows (the longest run that
 * still succeeds), run in the local executor against the fakes, its history events counted
 * (test/support/state-machine.ts `historyEvents`). Rings and classes repeat the same states, so
 * the history of C classes x R rings is H(1x1) + (C-1) x (a class more) + C x x (a ring
 * more), each measured; a 2 x 2 run checks the formula.
 *
 * npx tsx bench/history.ts
 */
import '../test/support/polyfills';
import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EdgeModelPipeline } from '../lib';
import { addShapedPipeline, Shape } from './fleet-size';
import type { PipelineShape } from '../device/test/support/pipeline-world';

/** Step Functions' limit on one Standard execution's history. */
export const HISTORY_LIMIT = 25_000;

/** The pipeline of shape `shape`, as the pipeline worlds drive it (the world names its stack by the letters of the shape's name). */
function worldShape(shape: Shape): PipelineShape {
  const name = `sized ${shape.classes}x${shape.rings}`;
  const stackName = name.replace(/[^A-Za-z]/g, '');
  return {
    name,
    stack: class extends Stack {
      public readonly pipeline: EdgeModelPipeline;
      constructor(scope: Construct, id: string) {
        super(scope, id, { env: { account: '111122223333', region: 'eu-west-1' } });
        this.pipeline = addShapedPipeline(this, shape);
      }
    },
    model: { key: 'models/digits/model.onnx', fixture: 'digits/cnn.onnx' },
    classes: Array.from({ length: shape.classes }, (_, c) => ({
      name: `class-${c}`, variants: [], canary: `${stackName}-c${c}-canary`, rings: Array.from({ length: shape.rings }, (_r, r) => `${stackName}-c${c}-ring${r}`),
    })),
  };
}

/** The history events of the slowest run of `shape` that still releases. */
export async function slowestRun(shape: Shape, polls = 355): Promise<number> {
  const { PipelineWorld } = await import('../device/test/support/pipeline-world');
  const world = new PipelineWorld(worldShape(shape));
  const rolling = { queued: 3, inProgress: 2, succeeded: 1 };
  const slow = [[...Array.from({ length: polls }, () => rolling), { queued: 0, inProgress: 0, succeeded: 6 }]];
  const result = await world.run('slowest-run', Object.fromEntries(world.rings.map((g) => [g, slow])));
  if (result.status !== 'SUCCEEDED') throw new Error(`the slowest run of ${shape.classes}x${shape.rings} ${result.status} ${result.error}: ${result.cause}`);
  return result.historyEvents;
}

export interface HistoryModel {
  readonly base: number;
  readonly perClass: number;
  readonly perRing: number;
  /** The 2 x 2 run, measured and as the model predicts it. */
  readonly check: { measured: number; predicted: number };
}

export async function historyModel(): Promise<HistoryModel> {
  const base = await slowestRun({ classes: 1, rings: 1 });
  const perRing = (await slowestRun({ classes: 1, rings: 2 })) - base;
  const perClass = (await slowestRun({ classes: 2, rings: 1 })) - base;
  const model = { base, perClass, perRing };
  return { ...model, check: { measured: await slowestRun({ classes: 2, rings: 2 }), predicted: predictHistory(model, { classes: 2, rings: 2 }) } };
}

export function predictHistory(m: Pick<HistoryModel, 'base' | 'perClass' | 'perRing'>, shape: Shape): number {
  return m.base + (shape.classes - 1) * m.perClass + shape.classes * (shape.rings - 1) * m.perRing;
}

if (require.main === module) {
  void historyModel().then((m) => console.log(JSON.stringify(m)));
}
