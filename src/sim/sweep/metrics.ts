/**
 * Fields of a run's result that are not metrics of the design: who ran
 * (scenario, platform, seed, frames: the row says so itself), what varies
 * from run to run of the same inputs (wallMs), and lists kept whole
 * elsewhere (findings, placement, and buffers: every reference on every
 * buffer at one moment, a listing rather than a measure of the design).
 */
const NOT_METRICS = new Set(['scenario', 'platform', 'seed', 'frames', 'wallMs', 'findings', 'placement', 'buffers']);

/**
 * Every numeric leaf of a run's result, by its dotted path: `cma.peakBytes`,
 * `frameLatencyNs.p99`. Booleans count as 0 and 1. A list of objects is
 * keyed by each entry's name (or kind, or site) so that the same process
 * or cost kind has the same path in every run: `processes.camera.status`,
 * `costs.steady.cache-clean.ns`. Lists of bare numbers are time series, not
 * metrics, and are left out. Nothing here knows the result's fields, so a
 * field added to the result is a metric without a change here.
 */
export function flattenMetrics(result: object): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'number') {
      if (Number.isFinite(v)) out[path] = v;
    } else if (typeof v === 'boolean') out[path] = v ? 1 : 0;
    else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        if (x && typeof x === 'object' && !Array.isArray(x)) walk(x, `${path}.${entryName(x as Record<string, unknown>, i)}`);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  for (const [k, v] of Object.entries(result)) if (!NOT_METRICS.has(k)) walk(v, k);
  return out;
}

function entryName(x: Record<string, unknown>, i: number): string {
  for (const k of ['name', 'kind', 'site', 'thread']) if (typeof x[k] === 'string' && x[k] !== '') return x[k];
  return String(i);
}
