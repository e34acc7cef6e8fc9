import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatSummary, integrityText } from '../../src/report/index.ts';
import { STAGES } from '../../src/sim/pipeline/stage-table.ts';
import { loadPlatform, loadScenario, parsePlatform, parseScenario, runScenario, type LoadedScenario, type RunResult } from '../../src/sim/index.ts';
import type { ProcessRunResult } from '../../src/sim/run-processes.ts';

// Each capacity finding names the line of the user's own file that sets the limit: these find those lines in the text.
const ARMV7 = readFileSync(new URL('../../examples/platforms/armv7-mobile.yaml', import.meta.url), 'utf8');

/** `file:line:col` of the value of `field: value` on the first line that contains `line` (a site points at the value, as input errors do); a field without ': ' is found as is. */
function siteOf(file: string, text: string, line: string, field: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.includes(line));
  if (i < 0) throw new Error(`no line with ${line}`);
  const at = lines[i]!.indexOf(field);
  if (at < 0) throw new Error(`no ${field} on line ${i + 1}`);
  const colon = field.indexOf(': ');
  return `${file}:${i + 1}:${at + (colon >= 0 ? colon + 2 : 0) + 1}`;
}

function variant(find: string, replace: string): string {
  if (!ARMV7.includes(find)) throw new Error(`armv7-mobile has no ${find}`);
  return ARMV7.replace(find, replace);
}

function scenario(text: string, stages = STAGES): LoadedScenario {
  return { spec: parseScenario('s.yaml', text, stages), file: 's.yaml', text, stages };
}

const capacity = (r: RunResult) => r.findings.filter((f) => f.kind === 'capacity');

/** The frame line adds up whatever happened. */
function expectFramesAddUp(r: RunResult): void {
  expect(r.integrity.framesChecked + r.droppedFrames + r.lostFrames).toBe(r.frames);
}

describe('capacity findings', () => {
  it('a device over its bandwidth: the camera drops every other frame, and the finding says by how much, at its bandwidth line', async () => {
    // 320x240 XR24 is 300 KiB a frame: 60 fps needs 18.4 MB/s of a camera that moves 12 MB/s.
    const text = variant('bandwidth: 1.6GB/s', 'bandwidth: 12MB/s');
    const p = parsePlatform('p.yaml', text);
    const s = scenario('name: fast\nframes: 12\nfps: 60\nformat: { width: 320, height: 240, fourcc: XR24 }\nbuffers: 4\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n');
    const r = await runScenario(s, p);
    expectFramesAddUp(r);
    expect(r.droppedFrames).toBeGreaterThanOrEqual(5);
    expect(r.lostFrames).toBe(0);
    const [f, ...rest] = capacity(r);
    expect(rest).toEqual([]);
    expect(f!.message).toMatch(new RegExp(`^camera cannot keep up: for cam \\(capture\\) it needs 18\\.4 MB/s \\(0\\.3 MiB out a frame at 60 fps\\), over its bandwidth of 12\\.0 MB/s; .* ${r.droppedFrames} of 12 frames were dropped$`));
    expect(f!.site).toBe(siteOf('p.yaml', text, 'name: camera', 'bandwidth: 12MB/s'));
    expect(formatSummary(r)).toContain(`frames               12 (${r.integrity.framesChecked} shown, ${r.droppedFrames} dropped, 0 lost)`);
  });

  it('the same pipeline within its bandwidth shows every frame and finds nothing', async () => {
    const s = scenario('name: fast\nframes: 12\nfps: 60\nformat: { width: 320, height: 240, fourcc: XR24 }\nbuffers: 4\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n');
    const r = await runScenario(s, parsePlatform('p.yaml', ARMV7));
    expect(r.integrity.framesChecked).toBe(12);
    expect(r.findings).toEqual([]);
  });

  it('a CMA area too small: the arithmetic of which buffer of how many, pages needed, used, largest free run and area size, at the cma line', async () => {
    // 1280x720 YUYV is 1800 KiB = 450 pages, placed on 256-page boundaries: 3 take 2 x 512 + 450 = 1474 pages of the 1024 there are.
    const text = variant('default: 256MiB', 'default: 4MiB');
    const p = parsePlatform('p.yaml', text);
    const s = scenario('name: stills\nframes: 3\nfps: 15\nformat: { width: 1280, height: 720, fourcc: YUYV }\nbuffers: 3\nprocesses:\n  - { name: camera, stage: capture, heap: reserved }\n  - { name: saver, stage: encode }\n');
    const r = await runScenario(s, p);
    expect(r.integrity.framesChecked).toBe(0);
    expectFramesAddUp(r);
    const [f, ...rest] = capacity(r);
    expect(rest).toEqual([]);
    expect(f!.call).toBe('cma_alloc');
    expect(f!.message).toBe(
      "cma area 'reserved' (4.0 MiB, 1024 pages) could not give buffer 3 of the 3 camera (capture) asked for: it needs 450 pages (1.8 MiB) aligned to 256 pages; " +
        '900 pages were used by 2 buffer(s), the largest free run was 62 pages; 3 such buffers need at least 1474 pages (5.8 MiB): the area is too small',
    );
    expect(f!.site).toBe(siteOf('p.yaml', text, 'default: 4MiB', 'default: 4MiB'));
    // The process that got ENOMEM says so too, with the same numbers.
    expect(r.findings.find((x) => x.kind === 'process-failed')!.message).toMatch(/ENOMEM.*area of 1024 pages, 900 used by 2 buffer\(s\), largest free run 62/);
    // Its pipeline ends at an encoder, not a display.
    expect(integrityText(r)).toBe('no frame reached saver (encode)');
  });

  it('a buffer out of a DMA reach with no IOMMU and no bounce: the device, the address, the mask, at its dmaMaskBits line', async () => {
    const text = variant('dmaMaskBits: 30, bounce: true', 'dmaMaskBits: 30, bounce: false');
    const p = parsePlatform('p.yaml', text);
    const s = scenario('name: usb\nframes: 3\nfps: 15\nformat: { width: 64, height: 48, fourcc: XR24 }\nbuffers: 3\nprocesses:\n  - { name: game, stage: render }\n  - { name: compositor, stage: usb-display }\n');
    const r = await runScenario(s, p);
    expect(r.integrity.framesChecked).toBe(0);
    expect(r.lostFrames).toBe(3);
    expectFramesAddUp(r);
    const [f, ...rest] = capacity(r);
    expect(rest).toEqual([]);
    const m = /^usb cannot reach the buffer at (0x[0-9a-f]+) \(([\d.]+) KiB\): its 30-bit DMA mask 0x3fffffff ends below it, and it has no IOMMU and bouncing is off; (\d+) mapping\(s\) refused/.exec(f!.message);
    expect(m).not.toBeNull();
    // The transfer buffer is in lowmem, which lies above the 1 GiB the host reaches; one transfer a frame is tried and refused.
    expect(Number(m![1])).toBeGreaterThanOrEqual(0x40000000);
    expect(Number(m![3])).toBe(3);
    expect(f!.site).toBe(siteOf('p.yaml', text, 'name: usb', 'dmaMaskBits: 30'));
    expect(formatSummary(r)).toContain('frames               3 (0 shown, 0 dropped, 3 lost)');
  });

  it('a CMA area that no device used: reserved for the camera, which sits behind the SMMU and never takes from it', async () => {
    const text = variant('    - { name: display, size: 64MiB, devices: [display] }', '    - { name: display, size: 64MiB, devices: [display] }\n    - { name: camcma, size: 8MiB, devices: [camera] }');
    const p = parsePlatform('p.yaml', text);
    const s = scenario('name: preview\nframes: 4\nfps: 30\nformat: { width: 64, height: 48, fourcc: XR24 }\nbuffers: 3\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n');
    const r = await runScenario(s, p);
    expect(r.integrity).toMatchObject({ ok: true, framesChecked: 4 });
    const [f, ...rest] = capacity(r);
    expect(rest).toEqual([]);
    expect(f!.message).toMatch(/^cma area 'camcma' \(8\.0 MiB\) is reserved for camera, but camera took no buffer from it in this run/);
    expect(f!.site).toBe(siteOf('p.yaml', text, 'name: camcma', '{'));
    // The display's area, which the display used, is not reported.
    expect(r.findings).toHaveLength(1);
  });

  it('frames lost with nothing to explain them: a display stage nobody watches shows 0 of N, and a finding at the frames line says so', async () => {
    // A stage table whose display no one checks: every frame vanishes without any device, process or limit failing.
    const blind = STAGES.map((d) => (d.name === 'display' ? { ...d, watch: undefined } : d));
    const text = 'name: blind\nframes: 4\nfps: 30\nformat: { width: 64, height: 48, fourcc: XR24 }\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n';
    const r = await runScenario(scenario(text, blind), loadPlatform('armv7-mobile'));
    expect(r.integrity.framesChecked).toBe(0);
    expect(r.lostFrames).toBe(4);
    expect(r.findings).toHaveLength(1);
    const f = r.findings[0]!;
    expect(f.kind).toBe('capacity');
    expect(f.message).toBe('4 of 4 frames were lost and nothing explains it: 0 shown, 0 dropped, 4 lost; no device, process or limit reported a failure');
    expect(f.site).toBe('s.yaml:2:9');
  });

  it('usb-display on armv7-mobile bounces (its DRAM lies mostly above the host\'s 1 GiB), says so, and leaks nothing', async () => {
    const s = loadScenario('usb-display');
    const r = (await runScenario(s, loadPlatform('armv7-mobile'), { frames: 3 })) as ProcessRunResult;
    expect(r.integrity).toMatchObject({ ok: true, framesChecked: 3 });
    expect(r.copies.bounceBytes).toBeGreaterThan(0);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
    expect(r.findings).toEqual([]);
    expect(r.placement).toContain('usb: reaches only below 0x40000000 (30-bit DMA mask, no IOMMU): what it reads or writes above that bounces through a 64 KiB dmabounce pool');
  });
});
