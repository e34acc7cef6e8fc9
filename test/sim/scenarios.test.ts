import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinScenarios, loadPlatform, loadScenario, parseScenario, runScenario } from '../../src/sim/index.ts';
import type { ProcessRunResult } from '../../src/sim/run-processes.ts';

async function run(name: string, frames = 4) {
  const s = loadScenario(name);
  return runScenario(s, loadPlatform(s.spec.platform), { frames });
}

describe('built-in scenarios', () => {
  it('every built-in scenario is valid and runs on its platform', async () => {
    for (const name of builtinScenarios()) {
      const r = await run(name, 2);
      expect(r.frames).toBe(2);
      // fence-deadlock is a hang by design: its processes deadlock before the first frame
      if (name === 'fence-deadlock') {
        expect(r.findings.map((f) => f.kind)).toContain('fence-deadlock');
        continue;
      }
      // Every frame reaches the display, unless the scenario's device faults on each one.
      expect(r.integrity.framesChecked + r.droppedFrames).toBe(2);
      // No scenario but the deadlock trips the fence wait-for graph.
      expect(r.findings.filter((f) => f.kind.startsWith('fence-')), name).toEqual([]);
    }
  });

  it('camera-preview is zero copy, clean, and places buffers in the display CMA area', async () => {
    const r = await run('camera-preview');
    expect(r.integrity).toMatchObject({ ok: true, mismatches: 0 });
    expect(r.copies).toEqual({ cpuBytes: 0, bounceBytes: 0 });
    expect(r.findings).toEqual([]);
    expect(r.iommu.tlbMisses).toBeGreaterThan(0);
    expect(r.placement.join('\n')).toMatch(/placed in cma:display/);
  });

  it('overlay: a CPU writer that syncs shows every frame intact', async () => {
    const r = await run('overlay');
    expect(r.integrity.ok).toBe(true);
    expect(r.findings).toEqual([]);
  });

  it('missing-sync: the display shows corrupted frames and the finding names the missing call', async () => {
    // Each buffer's first trip is clean: the display's first map of it cleans the cache. The bug shows from the second.
    const r = await run('missing-sync', 8);
    expect(r.integrity.ok).toBe(false);
    expect(r.integrity.mismatches).toBeGreaterThan(0);
    const f = r.findings.filter((x) => x.kind === 'missing-sync');
    expect(f.length).toBeGreaterThan(0);
    expect(f.some((x) => /mapped for display/.test(x.message) && /DMA_BUF_IOCTL_SYNC/.test(x.message))).toBe(true);
    // The site is the line of the userspace program that wrote without the ioctl: its sys.store.
    const src = readFileSync('src/sim/stages/cpu.ts', 'utf8').split('\n');
    const line = src.findIndex((l) => l.includes('await sys.store('));
    expect(new Set(f.map((x) => x.site))).toEqual(new Set([`src/sim/stages/cpu.ts:${line + 1}:${src[line]!.indexOf('await sys.store(') + 1}`]));
  });

  it('the same seed gives the same result', async () => {
    const a = await run('missing-sync', 6);
    const b = await run('missing-sync', 6);
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
  });
});

describe('iommu-fault (a process pipeline)', () => {
  async function runWith(camera: Record<string, unknown>, frames = 6) {
    const s = loadScenario('iommu-fault');
    Object.assign(s.spec.processes![0]!, camera);
    return runScenario(s, loadPlatform(s.spec.platform), { frames });
  }

  it("the camera process sets the driver's dma_overrun; each fault reaches the driver's handler, the frame comes back with V4L2_BUF_FLAG_ERROR and the pipeline goes on", async () => {
    const r = (await runWith({})) as ProcessRunResult;
    // Every frame the sensor gave (and the one after the stream's end) faulted once, past the end of its buffer.
    expect(r.iommu.faults).toBeGreaterThanOrEqual(6);
    const f = r.findings.filter((x) => x.kind === 'iommu-fault');
    expect(f).toHaveLength(r.iommu.faults);
    expect(f[0]!.message).toMatch(/^camera: translation fault on DMA write at iova 0x[0-9a-f]+, outside every buffer mapped for it; transaction terminated, the frame fails \(V4L2_BUF_FLAG_ERROR\)$/);
    // Blamed on the scenario line of the camera process.
    expect(new Set(f.map((x) => x.site))).toEqual(new Set(['examples/scenarios/iommu-fault.yaml:20:3']));
    // No frame reached the display: every one failed at the camera and was counted, none lost unseen.
    expect(r.integrity.framesChecked).toBe(0);
    expect(r.droppedFrames).toBe(6);
    expect(r.lostFrames).toBe(0);
    expect(r.placement.join('\n')).toMatch(/camera faults: \d+ IOMMU fault\(s\) reached the driver's fault handler: \d+ terminated \(\d+ frame\(s\) failed and came back with V4L2_BUF_FLAG_ERROR\); its DMA ran 4096 bytes past each buffer \(debugfs dma_overrun\)/);
    expect(r.processes.map((p) => p.status)).toEqual([0, 0]);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  });

  it('with fault_scratch the handler maps a scratch page and retries: every frame arrives intact, only the faults are counted, and nothing leaks', async () => {
    const r = (await runWith({ faultScratch: true })) as ProcessRunResult;
    expect(r.iommu.faults).toBeGreaterThan(0);
    expect(r.integrity).toMatchObject({ ok: true, mismatches: 0, framesChecked: 6 });
    expect(r.droppedFrames + r.lostFrames).toBe(0);
    expect(r.findings).toEqual([]);
    expect(r.placement.join('\n')).toMatch(/camera faults: \d+ IOMMU fault\(s\) reached the driver's fault handler: \d+ retried over a scratch page/);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  });

  it('without the hook the same pipeline has no fault at all', async () => {
    const r = await runWith({ dmaOverrun: 0 }, 3);
    expect(r.iommu.faults).toBe(0);
    expect(r.integrity).toMatchObject({ ok: true, framesChecked: 3 });
  });
});

describe('iommu faults in a kernel-level pipeline', () => {
  const text = (handler: string, onFault: string) =>
    `name: k-fault\nframes: 6\nfps: 30\nformat: { width: 1280, height: 720, fourcc: XR24 }\nbuffers: 3\nfaultHandler: ${handler}\nonFault: ${onFault}\npipeline:\n  - { role: capture, device: camera, overrun: 4096 }\n  - { role: scanout, device: display }\n`;
  const runText = (t: string) => runScenario({ spec: parseScenario('k.yaml', t), file: 'k.yaml', text: t }, loadPlatform('armv7-mobile'));

  it('the camera driver\'s handler terminates each faulting DMA, the frame is lost and the pipeline goes on; stop ends it at the first', async () => {
    const r = await runText(text('none', 'continue'));
    expect(r.iommu.faults).toBe(6);
    expect(r.findings.filter((f) => f.kind === 'iommu-fault')).toHaveLength(6);
    expect(new Set(r.findings.map((f) => f.site))).toEqual(new Set(['k.yaml:9:5']));
    expect(r.droppedFrames).toBe(6);
    const stop = await runText(text('none', 'stop'));
    expect(stop.iommu.faults).toBe(1);
  });

  it('a handler that maps a scratch page and retries keeps every frame intact', async () => {
    const r = await runText(text('map-scratch', 'continue'));
    expect(r.iommu.faults).toBeGreaterThan(0);
    expect(r.integrity).toMatchObject({ ok: true, framesChecked: 6 });
    expect(r.findings.filter((f) => f.kind === 'iommu-fault')).toEqual([]);
  });
});

describe('late-strict-attach (a process pipeline)', () => {
  async function runWith(mobility: 'movable' | 'pinned', frames = 10) {
    const s = loadScenario('late-strict-attach');
    s.spec.processes![0]!.movableBuffers = mobility;
    return (await runScenario(s, loadPlatform(s.spec.platform), { frames })) as ProcessRunResult;
  }

  it("the display imports late; the exporter moves each of the camera's buffers into the display's CMA area once the camera's mapping is back, and every frame shown is intact", async () => {
    const r = await runWith('movable');
    // Frames 0-4 were handed back before the display came up; 5-9 were shown, the first of each buffer right after its move.
    expect(r.integrity).toMatchObject({ ok: true, mismatches: 0, framesChecked: 5 });
    expect(r.droppedFrames).toBe(5);
    const lines = r.placement.filter((l) => l.startsWith('camera buffer '));
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).toMatch(/^camera buffer \d: a movable dma-buf, 1 move\(s\): allocated at first use by camera's map: system pages /);
      expect(l).toMatch(/moved for display's pin: system pages .* -> cma:display pfn 0x[0-9a-f]+\+900 \(1 run\(s\)\); display attached: display (addresses memory below 0x80000000 only|needs one contiguous range).*contiguity required \(display: no IOMMU and no scatter-gather\)/);
    }
    expect(r.findings).toEqual([]);
    expect(r.processes.map((p) => p.status)).toEqual([0, 0]);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  });

  it('with the buffers pinned by the camera the import is refused with EBUSY, and the lines say why', async () => {
    const r = await runWith('pinned');
    const lines = r.placement.filter((l) => l.startsWith('camera buffer ')).join('\n');
    expect(lines).toMatch(/refused display: display (addresses memory below 0x80000000 only|needs one contiguous range)[^\n]*, and the storage cannot move: camera pinned it \(dma_buf_pin\)/);
    // Refused frames are counted, not shown: at most the last one, imported after the camera stopped and unpinned, reaches the screen.
    expect(r.integrity.framesChecked).toBeLessThanOrEqual(1);
    expect(r.integrity.mismatches).toBe(0);
    expect(r.droppedFrames + r.integrity.framesChecked).toBe(10);
    expect(r.processes.map((p) => p.status)).toEqual([0, 0]);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  });
});

describe('late attach in a kernel-level pipeline', () => {
  it('the display attaches late; the exporter moves each buffer into its CMA area and every frame it shows is intact', async () => {
    const t = 'name: k-late\nframes: 10\nfps: 30\nformat: { width: 1280, height: 720, fourcc: XR24 }\nbuffers: 3\nscanoutAttachAfter: 5\npipeline:\n  - { role: capture, device: camera }\n  - { role: scanout, device: display }\n';
    const r = await runScenario({ spec: parseScenario('k.yaml', t), file: 'k.yaml', text: t }, loadPlatform('armv7-mobile'));
    expect(r.integrity.ok).toBe(true);
    expect(r.integrity.framesChecked).toBe(5);
    expect(r.droppedFrames).toBe(5);
    const text = r.placement.join('\n');
    expect(text).toMatch(/allocated at first use by camera's map: system pages/);
    expect(text).toMatch(/display attached; the storage must move before the next map \(display addresses memory below 0x80000000 only/);
    expect(text).toMatch(/moves: 1 \(3686400 bytes copied\)/);
    expect(r.findings).toEqual([]);
  });
});

describe('usb-display without a bounce pool', () => {
  it('the USB host cannot map its transfer buffer: the finding says which device, at which address, with which mask', async () => {
    const s = loadScenario('usb-display');
    const r = await runScenario(s, loadPlatform('docs/guides/files/usb-no-bounce.yaml'), { frames: 3 });
    expect(r.integrity.framesChecked).toBe(0);
    const f = r.findings.filter((x) => x.kind === 'capacity');
    expect(f.map((x) => x.message).join('\n')).toMatch(/usb cannot reach the buffer at 0x[0-9a-f]+ \([0-9.]+ KiB\): its 30-bit DMA mask 0x3fffffff ends below it, and it has no IOMMU and bouncing is off/);
  });
});

describe('kernel-level pipelines with a CPU stage (a kernel user drawing through dma_buf_vmap)', () => {
  const text = (sync: boolean) =>
    `name: kernel-osd\nframes: 8\nfps: 30\nformat: { width: 320, height: 240, fourcc: XR24 }\nbuffers: 3\npipeline:\n  - { role: capture, device: camera }\n  - { role: overlay, rows: 16, sync: ${sync} }\n  - { role: scanout, device: display }\n`;
  const runText = (t: string) => runScenario({ spec: parseScenario('osd.yaml', t), file: 'osd.yaml', text: t }, loadPlatform('armv7-mobile'));

  it('with begin/end_cpu_access every frame shows the drawing; without, the display misses it and the finding names the call and the line', async () => {
    const good = await runText(text(true));
    expect(good.integrity).toMatchObject({ ok: true, framesChecked: 8 });
    expect(good.findings).toEqual([]);
    const bad = await runText(text(false));
    expect(bad.integrity.ok).toBe(false);
    const f = bad.findings.filter((x) => x.kind === 'missing-sync');
    expect(f.length).toBeGreaterThan(0);
    // Blamed on the scenario's line of the overlay stage (line 8 of the text), not on the simulator.
    expect(new Set(f.map((x) => x.site))).toEqual(new Set(['osd.yaml:8:5']));
  });

  it('a USB display is not a kernel-level scanout: the file is refused with the way to do it', async () => {
    const t = 'name: k\npipeline:\n  - { role: capture, device: camera }\n  - { role: scanout, device: usb }\n';
    const s = { spec: parseScenario('k.yaml', t), file: 'k.yaml', text: t };
    await expect(runScenario(s, loadPlatform('armv7-mobile'))).rejects.toThrow(/usb-display stage/);
  });
});

describe('usb-display', () => {
  it('the CPU reads each frame under begin/end_cpu_access, the 30-bit USB host DMAs the compressed frame, and it arrives intact', async () => {
    const s = loadScenario('usb-display');
    const r = await runScenario(s, loadPlatform(s.spec.platform), { frames: 4 });
    expect(r.integrity).toMatchObject({ ok: true, framesChecked: 4 });
    expect(r.zeroCopy).toBe(false);
    expect(r.copies.cpuBytes).toBe(4 * 640 * 480 * 4);
    expect(r.findings).toEqual([]);
  });
});

describe('onFrame: a progress report for each shown frame, with the simulated time it was shown at', () => {
  const kernelLevel = 'name: k-progress\nframes: 6\nfps: 30\nformat: { width: 320, height: 240, fourcc: XR24 }\nbuffers: 3\npipeline:\n  - { role: capture, device: camera }\n  - { role: scanout, device: display }\n';
  const cases = [
    ['a kernel-level pipeline', () => ({ spec: parseScenario('k.yaml', kernelLevel), file: 'k.yaml', text: kernelLevel })],
    ['a process pipeline', () => loadScenario('camera-preview')],
  ] as const;
  it.each(cases)('%s: frames counted up once each, at increasing times a frame period apart, none after the run', async (_name, load) => {
    const s = load();
    const calls: [number, number, number][] = [];
    const r = await runScenario(s, loadPlatform('armv7-mobile'), { frames: 6, onFrame: (done, total, at) => void calls.push([done, total, at]) });
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 6 });
    expect(calls.map(([done, total]) => [done, total])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 6]));
    const times = calls.map(([, , at]) => at);
    const period = 1e9 / s.spec.fps;
    for (let i = 1; i < times.length; i++) {
      // the camera paces the frames: each is shown one frame period after the one before, give or take the pipeline's jitter
      expect(times[i]! - times[i - 1]!).toBeGreaterThan(period / 2);
      expect(times[i]! - times[i - 1]!).toBeLessThan(period * 1.5);
    }
    expect(times[0]).toBeGreaterThan(0);
    expect(times.at(-1)).toBeLessThanOrEqual(r.simTimeNs);
  });
});
