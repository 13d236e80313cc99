import { isUnresolved, PropProblem } from '../core/errors';
import { Framework } from './framework';

/** An image input: Neo's layout (NCHW or NHWC) is chosen from the framework. */
export interface ImageInputProps {
  /**
   * The input name in the model graph.
   *
   * @default - a positional input (PyTorch only)
   */
  readonly name?: string;
  /**
   * The batch size.
   *
   * @default 1
   */
  readonly batch?: number;
  /** Channels (3 for RGB). */
  readonly channels: number;
  /** Height in pixels. */
  readonly height: number;
  /** Width in pixels. */
  readonly width: number;
}

/** Frameworks whose image inputs Neo expects channel-last. */
const NHWC_FRAMEWORKS = new Set<Framework>([Framework.TENSORFLOW, Framework.TFLITE]);
const MAX_RANK = 8;

/**
 * The name and shape of one model input, rendered into `DataInputConfig` in
 * the layout each framework expects.
 */
export class InputShape {
  /** A named input with its dimensions as the model expects them. */
  public static named(name: string, dims: number[]): InputShape {
    return new InputShape(name, dims, false);
  }

  /** An input known only by its position (PyTorch's list format). */
  public static positional(dims: number[]): InputShape {
    return new InputShape(undefined, dims, false);
  }

  /** An image input: rendered NHWC for TensorFlow and TFLite, NCHW for the rest. */
  public static image(props: ImageInputProps): InputShape {
    return new InputShape(props.name, [props.batch ?? 1, props.channels, props.height, props.width], true);
  }

  private constructor(
    /** The input name, when the input is named. */
    public readonly name: string | undefined,
    private readonly nchw: number[],
    /** True for an image input. */
    public readonly isImage: boolean,
  ) {}

  /** The dimensions in the layout `framework` expects. */
  public dimsFor(framework: Framework): number[] {
    if (this.isImage && NHWC_FRAMEWORKS.has(framework)) {
      const [n, c, h, w] = this.nchw;
      return [n, h, w, c];
    }
    return [...this.nchw];
  }

  /** @internal */
  public _problems(framework: Framework, prop: string): PropProblem[] {
    const problems: PropProblem[] = [];
    const dims = this.nchw;
    const value = JSON.stringify({ name: this.name, dims: this.dimsFor(framework) });
    if (dims.length < 1 || dims.length > MAX_RANK) {
      problems.push({ prop, value, fix: `Give 1 to ${MAX_RANK} dimensions.` });
    }
    if (dims.some((d) => !isUnresolved(d) && (!Number.isInteger(d) || d < 1))) {
      problems.push({ prop, value, fix: 'Every dimension is a whole number of at least 1 (Neo compiles static shapes).' });
    }
    if (framework === Framework.DARKNET && dims.length !== 4) {
      problems.push({ prop, value, fix: `DARKNET models take NCHW images: give 4 dimensions, not ${dims.length} (use InputShape.image()).` });
    }
    if (this.name === undefined && framework !== Framework.PYTORCH) {
      problems.push({ prop, value, fix: `${framework} inputs need the input name from the model graph: use InputShape.named() or give image({ name }).` });
    }
    if (this.name !== undefined && !isUnresolved(this.name) && !isPrintableName(this.name)) {
      problems.push({ prop: `${prop}.name`, value: JSON.stringify(this.name), fix: 'Use 1-256 printable characters without quotes or backslashes.' });
    }
    return problems;
  }
}

/**
 * Problems with a whole list of inputs for `framework` (counts, names, mixes).
 * @internal
 */
export function inputListProblems(framework: Framework, inputs: InputShape[]): PropProblem[] {
  const problems: PropProblem[] = [];
  const value = JSON.stringify(inputs.map((i) => ({ name: i.name, dims: i.dimsFor(framework) })));
  if (framework === Framework.XGBOOST) {
    if (inputs.length > 0) problems.push({ prop: 'inputs', value, fix: 'XGBoost models take no input shapes: leave inputs out.' });
    return problems;
  }
  if (inputs.length === 0) {
    problems.push({ prop: 'inputs', value: '[]', fix: `${framework} models need the name and shape of every input.` });
  }
  inputs.forEach((input, i) => problems.push(...input._problems(framework, `inputs[${i}]`)));
  const named = inputs.filter((i) => i.name !== undefined);
  if (framework === Framework.PYTORCH && named.length > 0 && named.length < inputs.length) {
    problems.push({ prop: 'inputs', value, fix: 'PyTorch inputs are either all named (dictionary format) or all positional (list format), not a mix.' });
  }
  const seen = new Set<string>();
  for (const input of named) {
    if (seen.has(input.name!)) {
      problems.push({ prop: 'inputs', value, fix: `Input name "${input.name}" appears twice: each input needs its own name.` });
    }
    seen.add(input.name!);
  }
  return problems;
}

/**
 * Renders `DataInputConfig` for a framework; Core ML targets wrap each shape
 * as `{ shape }`. Returns undefined when the framework takes none.
 * @internal
 */
export function renderDataInputConfig(framework: Framework, inputs: InputShape[], coreMl: boolean): string | undefined {
  if (framework === Framework.XGBOOST || inputs.length === 0) return undefined;
  const shape = (input: InputShape) => (coreMl ? { shape: input.dimsFor(framework) } : input.dimsFor(framework));
  if (inputs.every((i) => i.name === undefined)) {
    return JSON.stringify(inputs.map(shape));
  }
  return JSON.stringify(Object.fromEntries(inputs.map((i) => [i.name, shape(i)])));
}

/** 1-256 characters, none a control character, a quote or a backslash. */
function isPrintableName(name: string): boolean {
  if (name.length < 1 || name.length > 256) return false;
  return [...name].every((ch) => ch.charCodeAt(0) >= 0x20 && ch !== '"' && ch !== '\\');
}
