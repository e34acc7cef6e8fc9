import { describe, expect, it } from 'vitest';
import { bootSystem, InputError, loadPlatform, loadScenario, parseScenario, runScenario, type System } from '../../src/sim/index.ts';
import { runProcessScenario, type ProcessRunResult } from '../../src/sim/run-processes.ts';

async function run(name: string, frames: number, edit?: (s: ReturnType<typeof loadScenario>) => void): Promise<ProcessRunResult> {
  const s = loadScenario(name);
  edit?.(s);
  return (await runScenario(s, loadPlatform(s.spec.platform), { frames })) as ProcessRunResult;
}

const NO_LEAKS = { dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 };

describe('process pipelines: one process per stage, dma-buf fds over Unix sockets', () => {
  it('video-playback: decoder -> ISP -> GPU -> display, every frame checked at the scanout, no copies, nothing leaks', async () => {
    const r = await run('video-playback', 8);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 8 });
    expect(r.processes.map((p) => [p.name, p.status])).toEqual([
      ['player', 0],
      ['isp', 0],
      ['composer', 0],
      ['display', 0],
    ]);
    expect(r.copies).toEqual({ cpuBytes: 0, bounceBytes: 0 });
    expect(r.findings).toEqual([]);
    expect(r.leaks).toEqual(NO_LEAKS);
    // The display has no IOMMU: what it scans out comes from its CMA heap; the rest goes through the SMMU.
    expect(r.placement.join('\n')).toMatch(/composer: compose buffers from \/dev\/dma_heap\/display, placed in cma:display/);
    expect(r.placement.join('\n')).toMatch(/player: decode buffers from \/dev\/dma_heap\/system/);
    expect(r.iommu.tlbMisses).toBeGreaterThan(0);
    expect(r.droppedFrames).toBe(0);
  });

  it('process-crash: the killed compositor ends with SIGKILL, the frames in flight still reach the screen, then everything is released', async () => {
    const s = loadScenario('process-crash');
    let sys: System | null = null;
    let atKill: { composerAlive: boolean; dmabufs: number; teardownNs: number } | null = null;
    const r = await runProcessScenario(
      s,
      loadPlatform(s.spec.platform),
      {
        onFrame: (done) => {
          // Just after the kill, once its teardown's CPU work has run: the compositor is gone, but the buffers it shared and its GPU job live on.
          if (done === s.spec.kill!.afterFrames && sys) {
            const k = sys;
            const killedAt = k.soc.clock.now;
            const probe = (): void => {
              const composer = [...k.proc.processes.values()].find((p) => p.comm === 'composer');
              const alive = composer?.group.state === 'running';
              if (alive && k.soc.clock.now - killedAt < 10_000_000) {
                k.soc.clock.after(1000, probe);
                return;
              }
              atKill = { composerAlive: alive, dmabufs: k.dmabuf.buffers.length, teardownNs: k.soc.clock.now - killedAt };
            };
            k.soc.clock.after(1000, probe);
          }
        },
      },
      (p, seed) => (sys = bootSystem(p, { seed, kmsMode: { width: 640, height: 480 } })),
    );
    expect(atKill).not.toBeNull();
    expect(atKill!.composerAlive).toBe(false);
    // unmapping and closing everything it held takes the dying process well under a millisecond of CPU time
    expect(atKill!.teardownNs).toBeLessThan(1_000_000);
    // The display still holds framebuffers of all four of the compositor's output buffers, and the ISP and player theirs.
    expect(atKill!.dmabufs).toBe(12);
    const status = Object.fromEntries(r.processes.map((p) => [p.name, p.status]));
    expect(status.composer).toBe(128 + 9);
    expect([status.player, status.isp, status.display]).toEqual([0, 0, 0]);
    // Killed after 10 shown frames: the GPU jobs it had submitted finished and were shown.
    expect(r.integrity.framesChecked).toBeGreaterThan(10);
    expect(r.integrity.framesChecked).toBeLessThan(30);
    expect(r.integrity.mismatches).toBe(0);
    expect(r.findings).toEqual([]);
    expect(r.leaks).toEqual(NO_LEAKS);
  });

  it('camera-preview: zero copy into the display CMA area, with the camera and display processes', async () => {
    const r = await run('camera-preview', 6);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 6 });
    expect(r.zeroCopy).toBe(true);
    expect(r.cache.cleanBytes).toBe(0);
    expect(r.leaks).toEqual(NO_LEAKS);
  });

  it('shared-12mb: the decoder, the viewer\'s CPU and the display use one 12 MiB buffer; both readers see the right bytes', async () => {
    const r = await run('shared-12mb', 3);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 3 });
    expect(r.cma.peakBytes).toBe(3 * 12 * 1024 * 1024);
    expect(r.findings).toEqual([]);
    expect(r.leaks).toEqual(NO_LEAKS);
  });

  it('audio-playback: every period the DAC played is what the player wrote into the unmapped ring', async () => {
    const r = await run('audio-playback', 12);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 12 });
    expect(r.placement[0]).toMatch(/NO_KERNEL_MAPPING/);
    expect(r.leaks).toEqual(NO_LEAKS);
  });

  it('gallery-jpeg: JFIF photos decoded by the JPEG block into the app\'s own memory through the IOMMU, each the codec\'s own decode of its file', async () => {
    const r = await run('gallery-jpeg', 2);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 2 });
    expect(r.iommu.tlbMisses).toBeGreaterThan(0);
    expect(r.leaks).toEqual(NO_LEAKS);
  });

  it('still-capture: 12 MP buffers from the default CMA area under memory pressure need migration; each JPEG decodes to its sensor frame within 32 dB PSNR', async () => {
    const r = await run('still-capture', 1);
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 1 });
    expect(r.cma.migrations).toBeGreaterThan(0);
    expect(r.cma.peakBytes).toBeGreaterThanOrEqual(3 * 4000 * 3000 * 2);
    expect(r.leaks.dmabufs + r.leaks.openFiles + r.leaks.dmaMappings + r.leaks.cmaPages).toBe(0);
  });
});

describe('process pipelines that fail', () => {
  it('a display fed the camera\'s own buffers (scattered, in highmem past its 31-bit reach): the display process fails with Linux\'s errno, check reports it, nothing leaks', async () => {
    const text = 'name: scattered\nframes: 4\nformat: { width: 64, height: 48, fourcc: XR24 }\nprocesses:\n  - { name: cam, stage: capture, heap: driver }\n  - { name: disp, stage: display }\n';
    const s = { spec: parseScenario('scattered.yaml', text), file: 'scattered.yaml', text };
    const r = (await runScenario(s, loadPlatform('armv7-mobile'))) as ProcessRunResult;
    expect(r.integrity.ok).toBe(false);
    expect(r.integrity.framesChecked).toBe(0);
    const disp = r.processes.find((p) => p.name === 'disp')!;
    expect(disp.status).toBe(1);
    // vb2-dma-sg's map_dma_buf turns the failed dma_map_sgtable into EIO.
    expect(disp.error).toMatch(/EIO/);
    expect(r.processes.find((p) => p.name === 'cam')!.status).toBe(0);
    const failed = r.findings.filter((f) => f.kind === 'process-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/process disp .* exited with status 1: .*EIO/);
    // The runner saw it end: blamed on the scenario line of the process (line 6), not on the simulator.
    expect(failed[0]!.site).toBe('scattered.yaml:6:5');
    expect(r.leaks).toEqual(NO_LEAKS);
  });
});

describe('process pipeline files', () => {
  const base = 'name: p\nformat: { width: 64, height: 48, fourcc: NV12 }\nprocesses:\n';
  const err = (text: string): InputError => {
    try {
      parseScenario('p.yaml', text);
    } catch (e) {
      if (e instanceof InputError) return e;
      throw e;
    }
    throw new Error('no error');
  };

  it('a display fed NV12 is refused at the process and field that break it, with its line', () => {
    const e = err(base + '  - { name: dec, stage: decode }\n  - { name: isp, stage: convert, fourcc: NV12 }\n  - { name: disp, stage: display }\n');
    expect(e.message).toMatch(/scans out XR24, and gets NV12/);
    expect(e.line).toBe(6);
  });

  it('a kill naming no process, a sink in the middle, and two pipelines are refused', () => {
    expect(err(base + '  - { name: dec, stage: decode }\n  - { name: disp, stage: display }\nkill: { process: nobody, afterFrames: 2 }\n').message).toMatch(/no process is named 'nobody'/);
    expect(err(base + '  - { name: dec, stage: decode }\n  - { name: d, stage: display }\n  - { name: c, stage: cpu }\n').message).toMatch(/ends the pipeline/);
    expect(err(base + '  - { name: a, stage: audio }\n  - { name: d, stage: display }\n').message).toMatch(/runs alone/);
  });
});

describe('a run and the memory of its system', () => {
  it('a system the caller booted stays whole after the run, to look at; one the run booted itself lets the next run reuse its memory', async () => {
    const s = loadScenario('camera-preview');
    let sys: System | null = null;
    const r = await runProcessScenario(s, loadPlatform(s.spec.platform), { frames: 4 }, (p, seed) => (sys = bootSystem(p, { seed, kmsMode: { width: 1280, height: 720 } })));
    expect(r.integrity.ok).toBe(true);
    // the caller's: its memory still holds what the run wrote (the frames, the page tables)
    expect(sys!.soc.mem.materialised).toBeGreaterThan(0);
    // runs of its own, back to back in this thread: each sees memory as a fresh boot would, frame for frame
    for (let i = 0; i < 3; i++) {
      const again = await runScenario(s, loadPlatform(s.spec.platform), { frames: 4, seed: i + 1 });
      expect(again.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 4 });
      expect(again.findings).toEqual([]);
    }
  });
});
