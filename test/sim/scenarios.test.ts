import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinScenarios, loadPlatform, loadScenario, parseScenario, runScenario } from '../../src/sim/index.ts';

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

describe('iommu-fault', () => {
  async function runWith(over: Partial<{ faultHandler: 'none' | 'map-scratch'; onFault: 'continue' | 'stop' }>) {
    const s = loadScenario('iommu-fault');
    Object.assign(s.spec, over);
    return runScenario(s, loadPlatform(s.spec.platform), { frames: 6 });
  }

  it('without a handler the SMMU reports every fault, terminates the DMA and the frames are lost; the pipeline goes on', async () => {
    const r = await runWith({});
    expect(r.iommu.faults).toBe(6);
    expect(r.findings.filter((f) => f.kind === 'iommu-fault')).toHaveLength(6);
    expect(r.findings[0]!.message).toMatch(/translation fault .* DMA write at iova 0x[0-9a-f]+; transaction terminated/);
    // Each is blamed on the scenario line of the capture stage whose DMA faulted (line 17: `- { role: capture, ...}`).
    expect(new Set(r.findings.map((f) => f.site))).toEqual(new Set(['examples/scenarios/iommu-fault.yaml:18:5']));
    expect(r.droppedFrames).toBe(6);
  });

  it('onFault: stop ends the pipeline at the first fault', async () => {
    const r = await runWith({ onFault: 'stop' });
    expect(r.iommu.faults).toBe(1);
    expect(r.simTimeNs).toBeLessThan(100e6);
  });

  it('a handler that maps a scratch page and retries keeps every frame intact', async () => {
    const r = await runWith({ faultHandler: 'map-scratch' });
    expect(r.iommu.faults).toBeGreaterThan(0);
    expect(r.integrity.ok).toBe(true);
    expect(r.integrity.framesChecked).toBe(6);
    expect(r.findings.filter((f) => f.kind === 'iommu-fault')).toEqual([]);
  });
});

describe('late-strict-attach', () => {
  it('the display attaches late; the exporter moves each buffer into its CMA area and every frame it shows is intact', async () => {
    const s = loadScenario('late-strict-attach');
    const r = await runScenario(s, loadPlatform(s.spec.platform), { frames: 10 });
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
