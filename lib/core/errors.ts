import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * One problem found in the props of a construct of this library.
 */
export interface PropProblem {
  /** The prop, as a path from the props object (`targets[2].compilerOptions`). */
  readonly prop: string;
  /** The value the construct got, rendered for a human. */
  readonly value: string;
  /** What is wrong and how to fix it. */
  readonly fix: string;
}

/**
 * The error every construct of this library throws for invalid props.
 *
 * It records the construct path and every problem found, so one synth shows
 * the user all that is wrong at once.
 */
export class EdgePipelineValidationError extends Error {
  /** The path of the construct whose props are invalid. */
  public readonly constructPath: string;
  /** Every problem found. */
  public readonly problems: PropProblem[];

  constructor(constructPath: string, problems: PropProblem[]) {
    super(renderMessage(constructPath, problems));
    this.name = 'EdgePipelineValidationError';
    this.constructPath = constructPath;
    this.problems = problems;
  }
}

function renderMessage(constructPath: string, problems: PropProblem[]): string {
  const lines = problems.map((p) => `  - ${p.prop}: got ${p.value}. ${p.fix}`);
  const noun = problems.length === 1 ? 'problem' : 'problems';
  return `Invalid props for ${constructPath} (${problems.length} ${noun}):\n${lines.join('\n')}`;
}

/** Renders a prop value for an error message, short enough to read. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Collects prop problems while a constructor validates its props, then throws
 * them all at once.
 */
export class ProblemCollector {
  private readonly problems: PropProblem[] = [];

  /** Records a problem with `prop`, which got `value`. */
  public add(prop: string, value: unknown, fix: string): void {
    this.problems.push({ prop, value: describeValue(value), fix });
  }

  /** Merges problems found by a helper, with their props under `prefix`. */
  public addAll(prefix: string, problems: PropProblem[]): void {
    for (const p of problems) {
      this.problems.push({ ...p, prop: prefix ? `${prefix}.${p.prop}` : p.prop });
    }
  }

  /** The problems collected so far. */
  public get all(): PropProblem[] {
    return [...this.problems];
  }

  /** Throws an EdgePipelineValidationError naming `scope` if anything was collected. */
  public throwIfAny(scope: IConstruct): void {
    if (this.problems.length > 0) {
      throw new EdgePipelineValidationError(scope.node.path, this.problems);
    }
  }
}

/** True when `value` is a token that cannot be validated at synth time. */
export function isUnresolved(value: unknown): boolean {
  return Token.isUnresolved(value);
}

/**
 * Checks an integer-valued number prop against an inclusive range, skipping tokens.
 */
export function checkIntegerRange(
  problems: ProblemCollector,
  prop: string,
  value: number | undefined,
  min: number,
  max: number,
  unit = '',
): void {
  if (value === undefined || isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.add(prop, value, `Use a whole number from ${min} to ${max}${unit ? ` ${unit}` : ''}.`);
  }
}
