import { describe, expect, it } from 'vitest';
import type { ProcessRunResult } from '../../src/sim/run-processes.ts';
import { loadPlatform, loadScenario, parseScenario, runScenario, type RunResult } from '../../src/sim/index.ts';

async function run(name: string, platform: string, frames: number): Promise<ProcessRunResult> {
  const s = loadScenario(name);
  return (await runScenario(s, loadPlatform(platform), { frames })) as ProcessRunResult;
}

function steady(r: RunResult, kind: string) {
  return r.costs.steady.find((e) => e.kind === kind);
}

describe('what a pipeline costs in CPU time', () => {
  it('video-playback: cache maintenance costs CPU time per frame on the non-coherent SoC and none on the coherent one, and it shows in the processes that did it', async () => {
    const nc = await run('video-playback', 'armv7-mobile', 12);
    const co = await run('video-playback', 'coherent-soc', 12);
    // the coherent SoC still flushes once at setup, when the composer maps a buffer write-combined (a memory-type change)
    expect(co.cache.maintenanceNs).toBeLessThan(nc.cache.maintenanceNs / 10);
    expect(co.costs.setup.find((e) => e.kind === 'cache-clean')?.sites[0]?.site).toMatch(/^composer: mmap/);
    const maint = (r: RunResult) => r.costs.steady.filter((e) => e.kind.startsWith('cache-')).reduce((n, e) => n + e.perFrame.meanNs, 0);
    expect(maint(nc)).toBeGreaterThan(0);
    expect(maint(co)).toBe(0);
    // the time was paid by someone: the maintenance shows as system time
    const sysNs = (r: RunResult) => r.cpu.processes.reduce((n, p) => n + p.sysNs, 0) + r.cpu.kernel.reduce((n, k) => n + k.ns, 0);
    expect(sysNs(nc)).toBeGreaterThan(sysNs(co));
    for (const name of ['player', 'isp', 'composer', 'display']) expect(nc.cpu.processes.find((p) => p.name === name)?.sysNs).toBeGreaterThan(0);
    expect(nc.cpu.cores).toBe(2);
    expect(nc.cpu.busyNs).toBeCloseTo(nc.cpu.processes.reduce((n, p) => n + p.userNs + p.sysNs, 0) + nc.cpu.kernel.reduce((n, k) => n + k.ns, 0), -1);
  }, 120_000);

  it('attributes each steady cost to devices, processes, buffers and call sites that add up to it', async () => {
    const r = await run('video-playback', 'armv7-mobile', 12);
    const clean = steady(r, 'cache-clean')!;
    expect(clean.count).toBeGreaterThan(0);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((n, x) => n + x, 0);
    expect(sum(clean.byProcess)).toBeCloseTo(clean.ns, 0);
    expect(sum(clean.byDevice)).toBeLessThanOrEqual(clean.ns + 1);
    expect(Object.keys(clean.byBuffer).some((b) => /^inode \d+ \(/.test(b))).toBe(true);
    expect(clean.sites[0]!.site).toMatch(/dma_(map|sync)_sg/);
    expect(clean.perFrame.p99Ns).toBeGreaterThanOrEqual(clean.perFrame.meanNs);
    // buffers are allocated and mapped before the first frame: setup has its own costs
    expect(r.costs.setup.map((e) => e.kind)).toContain('syscall');
    expect(r.costs.steadyFrames).toBeGreaterThan(0);
  }, 120_000);

  it('camera-preview zero-copy takes a small share of a core; a process reading every frame with the CPU takes far more', async () => {
    const zero = await run('camera-preview', 'armv7-mobile', 30);
    const text = `name: camera-cpu-read
platform: armv7-mobile
frames: 30
fps: 60
format: { width: 1280, height: 720, fourcc: XR24 }
buffers: 4
processes:
  - { name: camera, stage: capture }
  - { name: reader, stage: cpu }
  - { name: display, stage: display }
`;
    const s = { spec: parseScenario('camera-cpu-read.yaml', text), file: 'camera-cpu-read.yaml', text };
    const copy = (await runScenario(s, loadPlatform('armv7-mobile'))) as ProcessRunResult;
    const pct = (r: RunResult) => r.cpu.processes.reduce((n, p) => n + p.percent, 0);
    expect(pct(zero)).toBeLessThan(5);
    expect(pct(copy)).toBeGreaterThan(5 * pct(zero));
    expect(copy.cpu.processes.find((p) => p.name === 'reader')!.userNs).toBeGreaterThan(0);
    expect(steady(copy, 'cpu-copy')!.perFrame.meanNs).toBeGreaterThan(0);
  }, 120_000);

  it('the same seed gives the same costs, to the nanosecond', async () => {
    const a = await run('camera-preview', 'armv7-mobile', 8);
    const b = await run('camera-preview', 'armv7-mobile', 8);
    expect(a.costs).toEqual(b.costs);
    expect(a.cpu).toEqual(b.cpu);
  }, 120_000);
});
