// Not exported from the package: the names the dashboard and the run-metrics handler share.

/** The stages the dashboard shows durations of, in run order; the run-metrics handler names them the same. */
export const RUN_STAGES = ['Compile', 'Publish', 'Canary', 'Gate', 'Approval', 'Rollout'] as const;

/** How a run can end, as its notification names it; the run-metrics handler counts each. */
export const RUN_OUTCOMES = ['RELEASED', 'GATE_FAILED', 'APPROVAL_REJECTED', 'ROLLOUT_REVERTED', 'ROLLOUT_CANCELED', 'REVERT_FAILED', 'RUN_FAILED'] as const;
