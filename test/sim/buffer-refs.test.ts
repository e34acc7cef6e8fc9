import { describe, expect, it } from 'vitest';
import { PLATFORM_DRIVERS } from '../../src/drivers/index.ts';
import { STAGES } from '../../src/sim/pipeline/stage-table.ts';
import { bootSystem, loadPlatform, loadScenario, parsePlatform, parseScenario } from '../../src/sim/index.ts';
import { runProcessScenario } from '../../src/sim/run-processes.ts';
import { ReportCollector, renderReportHtml } from '../../src/report/index.ts';
import { invertDescriptor } from './fixtures/invert-stage.ts';
import { leakyInvertPlatformDriver } from './fixtures/leaky-invert-device.ts';

const NO_LEAKS = { dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 };

describe('run results list every reference on every buffer with its call site', () => {
  it('process-crash: at the snapshot (just before the kill) every buffer lists its fds, attachments and kernel references, each with the call that took it', async () => {
    const s = loadScenario('process-crash');
    const c = new ReportCollector();
    const r = await runProcessScenario(s, loadPlatform(s.spec.platform), { observer: c });
    expect(r.leaks).toEqual(NO_LEAKS);
    const b = r.buffers;
    // the snapshot comes when the display has shown the 10 frames after which the compositor is killed
    expect(b.atNs).toBeGreaterThan(0);
    expect(b.atNs).toBeLessThan(r.simTimeNs);
    // player's decode buffers, isp's output, composer's display-heap buffers: 4 each
    expect(b.buffers).toHaveLength(12);
    expect(new Set(b.buffers.map((x) => x.heap))).toEqual(new Set(['system', 'display']));
    for (const buf of b.buffers) {
      expect(buf.refs.length).toBeGreaterThan(0);
      // every reference on the buffer's file is accounted for: fds, mappings, messages in flight, the kernel's own
      expect(buf.fileRefs, `ino ${buf.ino}`).toBe(buf.refs.filter((ref) => ref.kind !== 'attachment' && ref.via === undefined).length);
      for (const ref of buf.refs) {
        expect(ref.site, `${ref.kind} ${ref.holder}`).toMatch(/^[\w/-]+(: [^›@]+)? › \w+ @ examples\/scenarios\/process-crash\.yaml:\d+:\d+$/);
        expect(ref.timeNs).toBeLessThanOrEqual(b.atNs);
      }
    }
    const kinds = new Set(b.buffers.flatMap((x) => x.refs.map((ref) => ref.kind)));
    for (const k of ['fd', 'attachment', 'vb2-slot', 'gem-import', 'gem-object', 'prime-handle', 'kms-framebuffer', 'kms-scanout']) expect(kinds).toContain(k);
    // a decoder queue slot names its queue and the QBUF that filled it
    const slot = b.buffers.flatMap((x) => x.refs).find((ref) => ref.kind === 'vb2-slot' && ref.holder.startsWith('vb2 queue of video (capture)'))!;
    expect(slot.site).toMatch(/^player: ioctl VIDIOC_QBUF › vb2_core_qbuf @ /);
    // the scanout is on one of the display's framebuffers
    const shown = b.buffers.filter((x) => x.refs.some((ref) => ref.kind === 'kms-scanout'));
    expect(shown).toHaveLength(1);
    expect(shown[0]!.refs.some((ref) => ref.kind === 'kms-framebuffer')).toBe(true);
    // ... held through the display's GEM object, whose import holds the file
    const scan = shown[0]!.refs.find((ref) => ref.kind === 'kms-scanout')!;
    expect(scan.via).toMatch(/^gem object \d+ of unimem-display$/);
    expect(shown[0]!.refs.some((ref) => ref.kind === 'gem-import' && ref.holder === scan.via)).toBe(true);
    // attachments say which device, whether mapped, and the direction
    const att = b.buffers.flatMap((x) => x.refs).find((ref) => ref.kind === 'attachment' && ref.device === 'video')!;
    expect(att).toMatchObject({ mapped: true, direction: 'DMA_FROM_DEVICE' });
    // dmabuf_dump's table: shares add up to the size of the buffers processes hold
    const held = b.buffers.filter((x) => x.refs.some((ref) => ref.kind === 'fd' || ref.kind === 'mapping'));
    expect(b.totals.userspacePssBytes).toBeLessThanOrEqual(held.reduce((n, x) => n + x.size, 0));
    expect(b.totals.userspacePssBytes).toBeGreaterThan(held.reduce((n, x) => n + x.size, 0) - b.processes.length);
    for (const p of b.processes) expect(p.pssBytes).toBe(p.buffers.reduce((n, x) => n + x.pssBytes, 0));
    expect(r.findings.filter((f) => f.kind === 'leak')).toEqual([]);
    // the report's graph shows the same moment: kernel references on every buffer, and dmabuf_dump's table under it
    const html = renderReportHtml({ result: r, capture: c.capture() });
    expect(html.match(/class="node kref"/g)).toHaveLength(b.buffers.filter((x) => x.refs.some((ref) => !['fd', 'mapping', 'in-flight', 'attachment'].includes(ref.kind))).length);
    expect(html).toContain('data-table="dmabuf-dump"');
    expect(html).toMatch(/composer:4 +\|/);
  });

  it('a driver that keeps a kernel reference leaks the buffer: the finding names the reference and the call that took it', async () => {
    const drivers = [...PLATFORM_DRIVERS, leakyInvertPlatformDriver];
    const stages = [...STAGES, invertDescriptor];
    const PLATFORM = `
name: with-inverter
memory:
  - { name: dram0, base: 0x40000000, size: 512MiB }
cma:
  areas:
    - { name: display, size: 32MiB, devices: [display] }
iommus:
  - { name: smmu0, contexts: 4 }
devices:
  - { name: camera, kind: camera, iommu: smmu0 }
  - { name: inv, kind: inverter, iommu: smmu0 }
  - { name: display, kind: display, needsContiguous: true, maxSegmentSize: 4GiB }
`;
    const SCENARIO = `
name: inverted-preview
frames: 6
format: { width: 320, height: 240, fourcc: XR24 }
processes:
  - { name: camera, stage: capture }
  - { name: inverter, stage: invert }
  - { name: display, stage: display }
`;
    const s = { spec: parseScenario('s.yaml', SCENARIO, stages), file: 's.yaml', text: SCENARIO, stages };
    const r = await runProcessScenario(s, parsePlatform('p.yaml', PLATFORM, drivers), {}, (p, seed) => bootSystem(p, { seed, drivers, kmsMode: { width: 320, height: 240 } }));
    expect(r.integrity.ok).toBe(true);
    expect(r.leaks.dmabufs).toBe(1);
    const leaks = r.findings.filter((f) => f.kind === 'leak');
    const named = leaks.filter((f) => f.message.startsWith('dma-buf ino'));
    expect(named).toHaveLength(1);
    const f = named[0]!;
    expect(f.call).toBe('invert_keep_source');
    expect(f.site).toBe('s.yaml:7:5');
    expect(f.message).toMatch(/^dma-buf ino \d+ \(system, 307200 bytes\) outlived every process: never dropped: device-job inv inverter's kept source for a repeat, taken by inverter: ioctl 0x400c4901 › invert_keep_source @ s\.yaml:7:5 at [\d.]+ ms$/);
    // (an out-of-tree ioctl has no name in the uapi table: its request number stands for it)
    // the summary finding still counts what is left
    expect(leaks.some((x) => x.message.startsWith('after every process exited, still allocated: 1 dma-buf(s)'))).toBe(true);
  });
});
