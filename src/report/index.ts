/**
 * DOC: report — what a run tells its user
 *
 * Formatting of a RunResult: the summary table, the findings list, and the
 * self-contained HTML report. The only part that touches a live system is
 * the ReportCollector, a RunObserver the run calls: it reads counters on a
 * timer of the simulated clock and snapshots memory, IOVA spaces and
 * buffers once the pipeline finishes, before teardown; it never changes
 * state, so a run with a report gives the same result as one without.
 * Nothing here re-runs the simulation.
 */
export { ReportCollector } from './collect.ts';
export { renderReportHtml } from './html.ts';
export type { ReportInput } from './report-data.ts';
export { formatFinding, formatFindings, formatSummary, integrityText } from './summary.ts';
export { compareResults, formatComparison, type Comparison } from './compare.ts';
export { renderCompareHtml } from './compare-html.ts';
export { renderSweepHtml } from './sweep-html.ts';
export { axesOf, formatSweepTable, humanBytes, sweepBoundaries } from './sweep-text.ts';
