/**
 * DOC: report — what a run tells its user
 *
 * Pure formatting of a RunResult: the summary table, the findings list.
 * Nothing here changes or re-runs the simulation.
 */
export * from './summary.ts';
