import { PropProblem } from '../core/errors';

/** Props for {@link Rollout.exponential}. */
export interface ExponentialRolloutProps {
  /** Devices notified per minute at the start: 1 to 1000. */
  readonly baseRatePerMinute: number;
  /** The factor the rate grows by each step: 1 to 5 (one decimal place). */
  readonly incrementFactor: number;
  /**
   * Grow the rate after this many devices succeeded. Give this or `afterNotified`.
   *
   * @default - none
   */
  readonly afterSucceeded?: number;
  /**
   * Grow the rate after this many devices were notified. Give this or `afterSucceeded`.
   *
   * @default - none
   */
  readonly afterNotified?: number;
  /**
   * The highest rate: 1 to 1000 devices a minute.
   *
   * @default 1000
   */
  readonly maximumPerMinute?: number;
}

/**
 * How fast a deployment reaches the devices of a thing group
 * (`IotJobConfiguration.JobExecutionsRolloutConfig`).
 */
export class Rollout {
  /** Start slowly, grow the rate by a factor each time enough devices succeed (or were notified). */
  public static exponential(props: ExponentialRolloutProps): Rollout {
    return new Rollout(props, undefined);
  }

  /** A constant rate: at most `perMinute` devices notified a minute (1 to 1000). */
  public static constant(perMinute: number): Rollout {
    return new Rollout(undefined, perMinute);
  }

  private constructor(
    private readonly exponentialProps: ExponentialRolloutProps | undefined,
    private readonly perMinute: number | undefined,
  ) {}

  /** The rollout config as the Step Functions aws-sdk integration takes it (PascalCase). */
  public render(): { [key: string]: unknown } {
    const e = this.exponentialProps;
    if (!e) return { MaximumPerMinute: this.perMinute };
    return {
      ExponentialRate: {
        BaseRatePerMinute: e.baseRatePerMinute,
        IncrementFactor: e.incrementFactor,
        RateIncreaseCriteria: e.afterSucceeded !== undefined
          ? { NumberOfSucceededThings: e.afterSucceeded }
          : { NumberOfNotifiedThings: e.afterNotified },
      },
      MaximumPerMinute: e.maximumPerMinute ?? 1000,
    };
  }

  /** @internal */
  public _problems(prop: string): PropProblem[] {
    const problems: PropProblem[] = [];
    const range = (name: string, v: number | undefined, min: number, max: number, integer = true) => {
      if (v === undefined) return;
      if ((integer && !Number.isInteger(v)) || v < min || v > max) {
        problems.push({ prop: `${prop}.${name}`, value: String(v), fix: `Use ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.` });
      }
    };
    const e = this.exponentialProps;
    if (!e) {
      range('perMinute', this.perMinute, 1, 1000);
      return problems;
    }
    range('baseRatePerMinute', e.baseRatePerMinute, 1, 1000);
    range('incrementFactor', e.incrementFactor, 1, 5, false);
    if (Math.round(e.incrementFactor * 10) !== e.incrementFactor * 10) {
      problems.push({ prop: `${prop}.incrementFactor`, value: String(e.incrementFactor), fix: 'IoT jobs take one decimal place, such as 1.5.' });
    }
    range('maximumPerMinute', e.maximumPerMinute, 1, 1000);
    range('afterSucceeded', e.afterSucceeded, 1, 1_000_000);
    range('afterNotified', e.afterNotified, 1, 1_000_000);
    if ((e.afterSucceeded === undefined) === (e.afterNotified === undefined)) {
      problems.push({ prop, value: JSON.stringify({ afterSucceeded: e.afterSucceeded, afterNotified: e.afterNotified }), fix: 'Give exactly one of afterSucceeded and afterNotified.' });
    }
    if (e.maximumPerMinute !== undefined && e.maximumPerMinute < e.baseRatePerMinute) {
      problems.push({ prop: `${prop}.maximumPerMinute`, value: String(e.maximumPerMinute), fix: `Use at least the base rate (${e.baseRatePerMinute}).` });
    }
    return problems;
  }
}

/** Which device failures count toward an abort. */
export enum RolloutFailureType {
  /** Devices whose update failed. */
  FAILED = 'FAILED',
  /** Devices that rejected the update. */
  REJECTED = 'REJECTED',
  /** Devices that did not finish in time. */
  TIMED_OUT = 'TIMED_OUT',
  /** All of the above. */
  ALL = 'ALL',
}

/** When IoT cancels the rollout (`AbortConfig.CriteriaList`). */
export interface AbortCriteria {
  /**
   * The failures that count.
   *
   * @default RolloutFailureType.ALL
   */
  readonly failureType?: RolloutFailureType;
  /** Cancel when more than this percentage of executed devices failed: 0 to 100. */
  readonly thresholdPercentage: number;
  /** ...but only once at least this many devices ran the update: 1 or more. */
  readonly minExecutedThings: number;
}

/** Error names the rollout fragment ends with. */
export enum FleetRolloutError {
  /** The rollout failed (abort, failures over the limit, or the time budget) and the group was put back on its last good release. */
  REVERTED = 'RolloutReverted',
  /** The first rollout to the group failed: there is no last good release, so the deployment was canceled. */
  CANCELED = 'RolloutCanceled',
}
