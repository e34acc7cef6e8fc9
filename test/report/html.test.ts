import { describe, expect, it } from 'vitest';
import { spawnProcess } from '../../src/proc/index.ts';
import { renderReportHtml, ReportCollector } from '../../src/report/index.ts';
import { bufferGraph, processList } from '../../src/report/collect.ts';
import { bufferGraphSvg } from '../../src/report/graph-svg.ts';
import { buildPlots } from '../../src/report/plots.ts';
import { Colors } from '../../src/report/svg.ts';
import type { BufferNode, ProcessNode, ReportCapture } from '../../src/report/report-data.ts';
import { bootSystem, loadPlatform, loadScenario, runScenario, type RunResult } from '../../src/sim/index.ts';
import { DMA_HEAP_IOCTL_ALLOC, DRM_IOCTL_PRIME_FD_TO_HANDLE, O_CLOEXEC, O_RDWR } from '../../src/uapi/index.ts';

const FRAMES = 6;

async function run(name: string, collector?: ReportCollector): Promise<RunResult> {
  const s = loadScenario(name);
  const r = await runScenario(s, loadPlatform(s.spec.platform), { frames: FRAMES, observer: collector });
  return { ...r, wallMs: 0 };
}

describe('ReportCollector', () => {
  it('only reads: a run with it gives the same result as one without', async () => {
    const plain = await run('camera-preview');
    const watched = await run('camera-preview', new ReportCollector());
    expect(watched).toEqual(plain);
  });

  it('samples counters over the whole run and snapshots memory, IOVA spaces and buffers before teardown', async () => {
    const c = new ReportCollector();
    const r = await run('camera-preview', c);
    const cap: ReportCapture = c.capture();
    const s = cap.samples;
    const period = Math.round(1e9 / 60);
    expect(s.intervalNs).toBe(period);
    expect(s.t[0]).toBe(0);
    // Samples run to the end; the snapshot was taken halfway, with every process alive.
    expect(s.t[s.t.length - 1]).toBe(r.simTimeNs);
    for (let i = 1; i < s.t.length; i++) expect(s.t[i]!).toBeGreaterThan(s.t[i - 1]!);
    // Every byte the camera wrote is in its counter by the end: FRAMES frames of 1280x720 XR24.
    const cam = s.masters.indexOf('camera');
    expect(s.masterBytes[cam]![s.t.length - 1]).toBe(FRAMES * 1280 * 720 * 4);
    expect(s.masterBytes[cam]![0]).toBe(0);
    // CMA use: nothing at boot, the camera process's four frame buffers in the display's area while it runs, nothing once the processes have exited.
    const disp = s.cmaAreas.indexOf('display');
    const bufBytes = Math.ceil((1280 * 720 * 4) / 4096) * 4096;
    expect(s.cmaUsedBytes[disp]![0]).toBe(0);
    expect(Math.max(...s.cmaUsedBytes[disp]!)).toBe(4 * bufBytes);
    expect(s.cmaUsedBytes[disp]![s.t.length - 1]).toBe(0);
    expect(cap.frames.map((f) => f.frame)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const f of cap.frames) expect(f.shownAtNs - f.capturedAtNs).toBeGreaterThan(0);

    // Memory map: each frame buffer is one run of its own inside the display's CMA area.
    const area = cap.memory.cma.find((a) => a.name === 'display')!;
    expect(area.usedBytes).toBe(4 * bufBytes);
    const bufRegions = cap.memory.regions.filter((g) => g.owner.startsWith('dma-buf'));
    expect(bufRegions).toHaveLength(4);
    for (const g of bufRegions) {
      expect(g.size).toBe(bufBytes);
      expect(g.base).toBeGreaterThanOrEqual(area.base);
      expect(g.base + g.size).toBeLessThanOrEqual(area.base + area.size);
    }
    for (let i = 1; i < cap.memory.regions.length; i++) {
      const a = cap.memory.regions[i - 1]!;
      expect(cap.memory.regions[i]!.base).toBeGreaterThanOrEqual(a.base + a.size);
    }

    // IOVA: the display has no domain; vb2 maps an imported buffer for the camera only while it is queued.
    expect(cap.iova.find((v) => v.device === 'display')).toBeUndefined();

    // Buffer graph: four buffers from the display's CMA heap; halfway through, the display has imported (attached and mapped) those it has been sent.
    expect(cap.buffers).toHaveLength(4);
    for (const b of cap.buffers) expect(b.exporter).toBe('display');
    const shown = cap.buffers.filter((b) => b.attachments.some((a) => a.device === 'display'));
    expect(shown.length).toBeGreaterThanOrEqual(3);
    for (const b of shown) for (const a of b.attachments.filter((x) => x.device === 'display')) expect(a.mapped).toHaveLength(1);
  });

  it('never keeps a stuck run alive: with nothing else pending the sampler stops, and the clock reports the deadlock', async () => {
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    const c = new ReportCollector();
    c.booted(sys, 1_000_000);
    // A thread whose last event comes at 5.5 ms and which then waits forever.
    const stuck = sys.soc.clock.spawn(async () => {
      await sys.soc.clock.sleep(5_500_000);
      await new Promise<void>(() => {});
    });
    await expect(sys.soc.clock.runUntilSettled(stuck)).rejects.toThrow(/deadlock/);
    expect(sys.soc.clock.now).toBeLessThanOrEqual(6_500_000);
    c.finished(sys);
    const t = c.capture().samples.t;
    expect(t.slice(0, 6)).toEqual([0, 500_000, 1_500_000, 2_500_000, 3_500_000, 4_500_000]);
  });

  it('throws when asked for a capture before the run finished', () => {
    expect(() => new ReportCollector().capture()).toThrow(/not finished/);
  });
});

describe('renderReportHtml', () => {
  it('writes one self-contained page: inlined chart library, data for every plot, SVG maps and graph', async () => {
    const c = new ReportCollector();
    const r = await run('overlay', c);
    const cap = c.capture();
    const html = renderReportHtml({ result: r, capture: cap });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    // Nothing is fetched at view time.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:/i);
    expect(html).toContain('uPlot');
    const data = JSON.parse(/<script id="plot-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
    expect(data.map((p: { id: string }) => p.id)).toEqual(['plot-bandwidth', 'plot-cache', 'plot-smmu', 'plot-cma', 'plot-latency', 'plot-cpu']);
    // The run measured CPU use: its chart is drawn.
    expect(data.find((p: { id: string }) => p.id === 'plot-cpu').empty).toBeUndefined();
    for (const p of data.filter((q: { empty?: string }) => !q.empty)) {
      expect(p.xLabel).toMatch(/\(ms\)/);
      expect(p.yLabel).toMatch(/\((MB\/s|KiB|MiB|ms|count|% of one core)\)/);
      expect(p.x.length).toBeGreaterThan(1);
      for (const s of p.series) expect(s.values).toHaveLength(p.x.length);
    }
    for (const id of ['plot-bandwidth', 'plot-cache', 'plot-smmu', 'plot-cma', 'plot-latency', 'plot-cpu']) expect(html).toContain(`<div class="chart plot" id="${id}">`);
    // One bar per memory bank and per CMA area, one per IOMMU device, and the graph.
    const bars = html.match(/<svg class="bar"/g)!.length;
    expect(bars).toBe(cap.memory.banks.length + cap.memory.cma.length + cap.iova.filter((v) => v.ranges.length > 0).length);
    expect(html).toContain('<svg class="graph"');
    // Heap buffers are named after the process that allocated them, as the kernel's dma-buf debug output does.
    expect(html).toContain('dma-buf 1 (camera[2])');
  });

  it('plots rates that add up to the counters: bandwidth x interval = bytes moved', async () => {
    const c = new ReportCollector();
    await run('camera-preview', c);
    const cap = c.capture();
    const [bw] = buildPlots(cap);
    const cam = bw!.series.find((s) => s.label === 'camera')!;
    let bytes = 0;
    // values[0] repeats the first interval's rate (the step drawn before it).
    for (let i = 1; i < bw!.x.length; i++) bytes += cam.values[i]! * 1e6 * ((bw!.x[i]! - bw!.x[i - 1]!) / 1e3);
    expect(bytes).toBeCloseTo(FRAMES * 1280 * 720 * 4, -2);
    const lat = buildPlots(cap).find((p) => p.id === 'plot-latency')!;
    expect(lat.series[0]!.values).toHaveLength(FRAMES);
  });
});

describe('bufferGraph', () => {
  it('lists the processes holding fds to each buffer, a forked child included, and draws an edge per holder', async () => {
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    let seen: BufferNode[] = [];
    let procs: ProcessNode[] = [];
    const child = spawnProcess(
      sys.proc,
      async (u) => {
        const heap = await u.open('/dev/dma_heap/system', O_RDWR);
        const a = { len: 64 * 1024, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
        await u.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
        const dup = await u.dup(a.fd);
        const pid = await u.fork(async () => {
          // Only the parent reads the graph; the child holds its inherited fds until it exits.
          await new Promise<void>((r) => sys.soc.clock.after(1000, r));
          return 0;
        });
        seen = bufferGraph(sys);
        procs = processList(sys);
        await u.wait(pid);
        return dup > a.fd ? 0 : 1;
      },
      [],
      undefined,
      { comm: 'holder', stdio: false },
    );
    expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
    expect(seen).toHaveLength(1);
    const b = seen[0]!;
    expect(b.size).toBe(64 * 1024);
    expect(b.exporter).toBe('system');
    expect(b.attachments).toEqual([]);
    // The parent's two fds and the child's two inherited ones.
    expect(b.holders.map((h) => h.pid)).toEqual([child.pid, child.pid, child.pid + 1, child.pid + 1]);
    expect(b.holders.filter((h) => h.pid === child.pid).map((h) => h.comm)).toEqual(['holder', 'holder']);
    const svg = bufferGraphSvg(seen, procs, new Colors());
    expect(svg.match(/class="node proc"/g)).toHaveLength(2);
    // Each process's handle on the buffer (its two fds): process -> handle -> buffer.
    expect(svg.match(/class="node handle"/g)).toHaveLength(2);
    expect(svg.match(/class="edge/g)).toHaveLength(4);
    // After exit nothing holds it and the buffer is gone.
    expect(bufferGraph(sys)).toEqual([]);
  });

  it('draws the kernel\'s own references on a buffer, each named with the call that took it', async () => {
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    let seen: BufferNode[] = [];
    const child = spawnProcess(
      sys.proc,
      async (u) => {
        const heap = await u.open('/dev/dma_heap/system', O_RDWR);
        const a = { len: 64 * 1024, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0 };
        await u.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
        const card = await u.open('/dev/dri/card0', O_RDWR);
        await u.ioctl(card, DRM_IOCTL_PRIME_FD_TO_HANDLE, { fd: a.fd, flags: 0, handle: 0 });
        seen = bufferGraph(sys);
        return 0;
      },
      [],
      undefined,
      { comm: 'importer', stdio: false },
    );
    expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
    const b = seen[0]!;
    expect(b.kernelRefs!.map((r) => r.kind).sort()).toEqual(['gem-import', 'gem-object', 'prime-handle']);
    expect(b.kernelRefs!.find((r) => r.kind === 'gem-import')!.site).toBe('importer: ioctl DRM_IOCTL_PRIME_FD_TO_HANDLE › drm_gem_prime_import');
    const svg = bufferGraphSvg(seen, [], new Colors());
    expect(svg.match(/class="node kref"/g)).toHaveLength(1);
    expect(svg).toContain('data-krefs="3"');
    expect(svg).toContain('gem-import: gem object 1 of vgem, taken by importer: ioctl DRM_IOCTL_PRIME_FD_TO_HANDLE › drm_gem_prime_import at ');
  });
});
