import { describe, expect, it } from 'vitest';
import { compareResults, formatComparison, formatSweepTable, renderSweepHtml, sweepBoundaries } from '../../src/report/index.ts';
import { loadPlatform, loadScenario, runScenario, type PointRow, type RunResult } from '../../src/sim/index.ts';

const MiB = 2 ** 20;

/** A row of a still-capture sweep over CMA size x memory pressure: it fails below 72 MiB, needing 68.7 MiB. */
function row(index: number, cma: number, pressure: number): PointRow {
  const ok = cma >= 72;
  return {
    key: `k${index}`,
    version: 't',
    index,
    scenario: 'still-capture',
    platform: 'armv7-mobile',
    seed: 1,
    frames: 1,
    params: [
      ['cma.default', `${cma}MiB`, cma * MiB],
      ['memoryPressure', String(pressure), pressure],
    ],
    status: ok ? 'ok' : 'failed',
    reason: ok ? '' : 'process camera (pid 2) exited with status 1: ioctl: ENOMEM',
    metrics: ok ? { 'cma.peakBytes': 72007680, 'cma.migrations': pressure > 0.9 ? 4528 : 100, simTimeNs: 5 } : { 'cma.peakBytes': 48005120, 'cma.migrations': 0, simTimeNs: 0 },
    findings: ok ? [] : [{ kind: 'process-failed', message: 'process camera (pid 2) exited with status 1: ioctl: ENOMEM' }],
    placement: [],
    wallMs: 1,
  };
}

const grid = [64, 68, 72, 76].flatMap((c, i) => [0.5, 0.95].map((p, j) => row(i * 2 + j, c, p)));

describe('sweep text', () => {
  it('tells where the outcome changes along each axis, with why and what the working side needs', () => {
    expect(sweepBoundaries(grid)).toEqual([
      'cma.default: still-capture fails below 72MiB (at every value of the other parameters): at 68MiB process camera (pid 2) exited with status 1: ioctl: ENOMEM; at 72MiB it runs, with cma.peakBytes 68.7 MiB, cma.migrations 100',
      'memoryPressure: the outcome does not change along it (the other parameters decide: failed; ok)',
    ]);
  });

  it('tells a change that only some lines of an axis have, and where', () => {
    const rows = grid.map((r) => (r.params[0]![1] === '68MiB' && r.params[1]![1] === '0.5' ? { ...row(r.index, 72, 0.5), params: r.params } : r));
    const b = sweepBoundaries(rows);
    expect(b[0]).toMatch(/^cma.default: still-capture fails below 68MiB \(where memoryPressure=0.5\): at 64MiB/);
    expect(b[1]).toMatch(/^cma.default: still-capture fails below 72MiB \(where memoryPressure=0.95\)/);
    expect(b[2]).toMatch(/^memoryPressure: still-capture fails above 0.5 \(where cma.default=68MiB\)/);
  });

  it('prints a table of every point with its parameters, outcome and the metrics about the swept parameters', () => {
    const lines = formatSweepTable(grid).split('\n');
    expect(lines[0]).toMatch(/^cma.default\s+memoryPressure\s+status\s+cma.peakBytes\s+cma.migrations\s+simTimeNs\s+findings\s+reason$/);
    expect(lines).toHaveLength(1 + grid.length);
    expect(lines[1]).toMatch(/^64MiB\s+0.5\s+failed\s+45.8 MiB\s+0\s+0\s+1\s+process camera/);
    expect(lines[5]).toMatch(/^72MiB\s+0.5\s+ok\s+68.7 MiB\s+100\s+5\s+0$/);
  });

  it('writes a self-contained HTML report that can plot every metric against every parameter', () => {
    const html = renderSweepHtml(grid);
    expect(html).toContain('<option selected>cma.peakBytes</option>');
    expect(html).toContain('<option value="1">memoryPressure</option>');
    expect(html).toContain('fails below 72MiB');
    expect(html).not.toMatch(/<script src=/);
  });

  it('says at which value, not below or above, on an axis of names', () => {
    const rows = grid.slice(4, 6).map((r, i): PointRow => ({ ...r, index: i, params: [['platform', i === 0 ? 'armv7-mobile' : 'nope', i === 0 ? 'armv7-mobile' : 'nope']], status: i === 0 ? 'ok' : 'invalid', reason: i === 0 ? '' : "platform: 'nope': no such file" }));
    expect(sweepBoundaries(rows)).toEqual(["platform: still-capture is invalid at nope: at armv7-mobile it runs; at nope platform: 'nope': no such file"]);
  });
});

describe('compare', () => {
  async function run(platform: string, frames = 3): Promise<RunResult> {
    const s = loadScenario('camera-preview');
    return runScenario(s, loadPlatform(platform), { frames });
  }

  it('puts every metric side by side with the difference, and the placement that changed', async () => {
    const [a, b] = [await run('armv7-mobile'), await run('coherent-soc')];
    const c = compareResults(a, b, ['armv7-mobile', 'coherent-soc']);
    const peak = c.metrics.find((m) => m.name === 'cma.peakBytes')!;
    expect(peak.left).toBeGreaterThan(0);
    expect(peak.right).toBe(0);
    expect(c.metrics.map((m) => m.name)).toContain('frameLatencyNs.p99');
    expect(c.placement.map((p) => p.what)).toEqual(['camera']);
    const text = formatComparison(c);
    expect(text).toMatch(/^metric\s+armv7-mobile\s+coherent-soc\s+diff\s+%$/m);
    expect(text).toMatch(/^cma.peakBytes\s+14.1 MiB\s+0 B\s+-14.1 MiB\s+-100.0%$/m);
    expect(text).toMatch(/^integrity.ok\s+1\s+1$/m);
    expect(formatComparison(c, { changedOnly: true })).not.toMatch(/^integrity.ok/m);
    expect(text).toContain('placement choices that changed: \n  camera\n    armv7-mobile: camera: capture buffers from /dev/dma_heap/display');
  });

  it('lists the findings only one side has', async () => {
    const s = loadScenario('missing-sync');
    const bad = await runScenario(s, loadPlatform(s.spec.platform), { frames: 3 });
    const good = await run('armv7-mobile');
    const c = compareResults(good, bad, ['good', 'bad']);
    expect(c.onlyLeft).toEqual([]);
    expect(c.onlyRight.length).toBeGreaterThan(0);
    expect(formatComparison(c)).toContain(`findings only bad has: \n  ${bad.findings[0]!.kind}: ${bad.findings[0]!.message}`);
  });
});
