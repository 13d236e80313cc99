/**
 * The worst-case history of one execution of a pipeline, measured: every ring of every class
 * rolls out healthy, but only at the last poll its time budget allows (the longest run that
 * still succeeds), run in the local executor against the fakes, its history events counted
 * (test/support/state-machine.ts `historyEvents`). A run is two kinds of execution: the
 * pipeline's own, whose history grows by a class's few states per class (H(1x1) + (C-1) x (a
 * class more)), and one class-rollout execution per class, whose history grows by the polls of
 * a ring per ring (R(1) + (R-1) x (a ring more)); each measured, and a 2 x 2 run checks both.
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

/** The history events of the slowest run of `shape` that still releases: the pipeline's execution, and the largest class rollout's. */
export async function slowestRun(shape: Shape, polls = 355): Promise<{ run: number; classRollout: number }> {
  const { PipelineWorld } = await import('../device/test/support/pipeline-world');
  const world = new PipelineWorld(worldShape(shape));
  const rolling = { queued: 3, inProgress: 2, succeeded: 1 };
  const slow = [[...Array.from({ length: polls }, () => rolling), { queued: 0, inProgress: 0, succeeded: 6 }]];
  const result = await world.run('slowest-run', Object.fromEntries(world.rings.map((g) => [g, slow])));
  if (result.status !== 'SUCCEEDED') throw new Error(`the slowest run of ${shape.classes}x${shape.rings} ${result.status} ${result.error}: ${result.cause}`);
  return { run: result.historyEvents, classRollout: Math.max(...result.children.map((c) => c.historyEvents)) };
}

export interface HistoryModel {
  /** The pipeline's execution: 1 class, and each class more. */
  readonly base: number;
  readonly perClass: number;
  /** A class rollout's execution: 1 ring, and each ring more. */
  readonly classBase: number;
  readonly perRing: number;
  /** The 2 x 2 run, measured and as the model predicts it. */
  readonly check: { measured: { run: number; classRollout: number }; predicted: { run: number; classRollout: number } };
}

export async function historyModel(): Promise<HistoryModel> {
  const one = await slowestRun({ classes: 1, rings: 1 });
  const perRing = (await slowestRun({ classes: 1, rings: 2 })).classRollout - one.classRollout;
  const perClass = (await slowestRun({ classes: 2, rings: 1 })).run - one.run;
  const model = { base: one.run, perClass, classBase: one.classRollout, perRing };
  return { ...model, check: { measured: await slowestRun({ classes: 2, rings: 2 }), predicted: predictHistory(model, { classes: 2, rings: 2 }) } };
}

/** The history of the pipeline's execution and of one class's rollout for `shape`, by the model. */
export function predictHistory(m: Pick<HistoryModel, 'base' | 'perClass' | 'classBase' | 'perRing'>, shape: Shape): { run: number; classRollout: number } {
  return { run: m.base + (shape.classes - 1) * m.perClass, classRollout: m.classBase + (shape.rings - 1) * m.perRing };
}

if (require.main === module) {
  void historyModel().then((m) => console.log(JSON.stringify(m)));
}
