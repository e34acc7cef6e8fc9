import { describe, expect, it } from 'vitest';
import type { CameraDevice, KmsDisplay } from '../../src/drivers/index.ts';
import { bootSystem, InputError, parsePlatform, parseScenario, type System } from '../../src/sim/index.ts';
import { runProcessScenario, type ProcessRunResult } from '../../src/sim/run-processes.ts';

/** A phone SoC with a front and a back camera, an ISP, and two displays (the panel and an HDMI output), each with its own CMA area. */
const TWO_OF_EACH = `
name: two-of-each
memory:
  - { name: dram0, base: 0x40000000, size: 1GiB }
cma:
  areas:
    - { name: lcd, size: 64MiB, devices: [lcd] }
    - { name: hdmi, size: 64MiB, devices: [hdmi] }
iommus:
  - { name: smmu0, contexts: 4 }
devices:
  - { name: front, kind: camera, iommu: smmu0 }
  - { name: back, kind: camera, iommu: smmu0 }
  - { name: isp, kind: isp, iommu: smmu0 }
  - { name: lcd, kind: display, needsContiguous: true, maxSegmentSize: 4GiB }
  - { name: hdmi, kind: display, needsContiguous: true, maxSegmentSize: 4GiB }
`;

const platform = () => parsePlatform('two-of-each.yaml', TWO_OF_EACH);

const preview = (camera: string, display: string, extra = '') => `
name: ${camera}-on-${display}
frames: 6
format: { width: 320, height: 240, fourcc: XR24 }
processes:
  - { name: cam, stage: capture, device: ${camera} }
${extra}  - { name: show, stage: display, device: ${display} }
`;

/** Runs a scenario on the platform; `sys` is the booted system, to see which devices did the work. */
async function run(text: string): Promise<ProcessRunResult & { sys: System }> {
  let sys: System | null = null;
  const r = await runProcessScenario({ spec: parseScenario('s.yaml', text), file: 's.yaml', text }, platform(), {}, (p, seed, spec) => {
    const [w, h] = [spec.format.width, spec.format.height];
    sys = bootSystem(p, { seed, kmsMode: { width: w, height: h } });
    return sys;
  });
  return { ...r, sys: sys! };
}

/** Frames each camera captured and scanouts each display made, by device name. */
function work(sys: System): Record<string, number> {
  return Object.fromEntries(
    sys.bound.map((b) => [b.name, b.kind === 'camera' ? (b.data as CameraDevice).framesCaptured : b.kind === 'display' ? (b.data as { kms: KmsDisplay }).kms.stats.scanouts : 0]),
  );
}

describe('a platform with two cameras and two displays', () => {
  it('boots a driver per device, numbering nodes as Linux does: each camera its own /dev/videoN, the ISP the next free one, each display its own card', () => {
    const sys = bootSystem(platform(), { seed: 1 });
    const nodes = Object.fromEntries(sys.bound.map((b) => [b.name, b.nodes.map((n) => n.path)]));
    expect(nodes).toEqual({
      // vgem is card0; the display driver binds both displays in platform-file order.
      lcd: ['/dev/dri/card1'],
      hdmi: ['/dev/dri/card2'],
      // The camera driver asks for video8 each time: the second gets the next free number, and the ISP's wish (9) is taken.
      front: ['/dev/video8'],
      back: ['/dev/video9'],
      isp: ['/dev/video10'],
    });
  });

  it('runs a preview pipeline on each camera and display, every frame right and nothing leaked', async () => {
    for (const [camera, display] of [
      ['front', 'lcd'],
      ['back', 'hdmi'],
    ]) {
      const r = await run(preview(camera!, display!));
      expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 6 });
      expect(r.processes.map((p) => p.status)).toEqual([0, 0]);
      expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
      // The camera's buffers come from the CMA area of the display that shows them.
      expect(r.placement[0]).toContain(`/dev/dma_heap/${display}, placed in cma:${display}`);
      // The named camera captured and the named display scanned out; the others stayed idle.
      const w = work(r.sys);
      for (const name of ['front', 'back', 'lcd', 'hdmi']) {
        if (name === camera || name === display) expect(w[name], name).toBeGreaterThan(0);
        else expect(w[name], name).toBe(0);
      }
    }
  });

  it('the back camera through the ISP on the HDMI display, while the front camera node stays free', async () => {
    const r = await run(preview('back', 'hdmi', '  - { name: isp, stage: convert }\n').replace('fourcc: XR24', 'fourcc: YUYV'));
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 6 });
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  });

  it('a process naming a device that is not there, or one of another kind, is bad input with its field', async () => {
    const err = async (text: string) => {
      try {
        await run(text);
      } catch (e) {
        if (e instanceof InputError) return e;
        throw e;
      }
      throw new Error('no error');
    };
    const missing = await err(preview('side', 'lcd'));
    expect(missing.field).toBe('processes[0].device');
    expect(missing.message).toContain("no device named 'side' (its camera devices: front, back)");
    const wrongKind = await err(preview('lcd', 'hdmi'));
    expect(wrongKind.field).toBe('processes[0].device');
    expect(wrongKind.message).toContain("device 'lcd' is a display; a capture process drives a camera");
  });
});
