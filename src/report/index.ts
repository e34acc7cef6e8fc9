/**
 * DOC: report — what a run tells its user
 *
 * Formatting of a RunResult: the summary table, the findings list, and the
 * self-contained HTML report. The only part that touches a live system is
 * the ReportCollector, a RunObserver the run calls: it reads counters on a
 * timer of the simulated clock, snapshots memory, IOVA spaces, buffers and
 * processes once the pipeline is in flow, and, through a BusRecorder,
 * notes when the interconnect counted bytes and when each DMA engine was
 * busy (it taps the bus's transfer accounting and the masters' trace hook,
 * passing every trace event on, and puts both back when the run
 * finishes). It never changes state, so a run with a report gives the same
 * result and the same trace as one without. The page is laid out here, in
 * Node, before it is written: the buffer graph by dagre, the charts' data
 * and legends; the browser only draws the charts with the inlined uPlot.
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
