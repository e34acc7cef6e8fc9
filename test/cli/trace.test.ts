import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem run --trace', () => {
  it('writes Chrome trace-event JSON: named lanes, complete events with durations, in simulated time', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'unimem-')), 'trace.json');
    const r = await unimem(['run', 'camera-preview', '--frames', '4', '--trace', f]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`unimem: trace written to ${f}\n`);
    const t = JSON.parse(readFileSync(f, 'utf8'));
    expect(Array.isArray(t.traceEvents)).toBe(true);
    expect(t.displayTimeUnit).toBe('ns');
    for (const e of t.traceEvents) {
      expect(typeof e.name).toBe('string');
      expect(['X', 'i', 'C', 'M', 'b', 'e']).toContain(e.ph);
      expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
      expect(e.ts).toBeGreaterThanOrEqual(0);
      if (e.ph === 'X') expect(e.dur).toBeGreaterThanOrEqual(0);
    }
    const names = t.traceEvents.filter((e: { ph: string }) => e.ph === 'M').map((e: { args: { name: string } }) => e.args.name);
    // Hardware lanes, and one lane per process: the session and the two stage processes it forked.
    expect(names).toEqual(expect.arrayContaining(['hardware', 'camera', 'display', 'cpu cache', 'smmu0', 'frames', 'session']));
    const captures = t.traceEvents.filter((e: { name: string }) => /^camera frame \d+$/.test(e.name));
    expect(captures).toHaveLength(4);
    // Frames overlap in flight, so each is an async span: a begin and an end joined by its number.
    const frames = t.traceEvents.filter((e: { cat: string; ph: string }) => e.cat === 'frame' && e.ph === 'b');
    expect(frames.map((e: { id2: { local: string }; args: { frame: number } }) => [e.id2.local, e.args.frame])).toEqual([['0', 0], ['1', 1], ['2', 2], ['3', 3]]);
    expect(t.traceEvents.filter((e: { cat: string; ph: string }) => e.cat === 'frame' && e.ph === 'e')).toHaveLength(4);
    // The processes' ioctls are on their lanes.
    const ioctls = t.traceEvents.filter((e: { cat: string; name: string }) => e.cat === 'syscall' && e.name.startsWith('ioctl '));
    expect(ioctls.length).toBeGreaterThan(8);
    // each names its request as the uapi header does, with the fd, the file and the result
    const qbuf = ioctls.find((e: { name: string }) => e.name === 'ioctl VIDIOC_QBUF');
    expect(qbuf.args).toMatchObject({ fd: expect.any(Number), path: expect.stringMatching(/^\/dev\/video\d+$/), result: 0 });
    // The camera process's four frame buffers come from the display's CMA heap.
    const cma = t.traceEvents.filter((e: { cat: string }) => e.cat === 'cma');
    expect(cma.map((e: { name: string }) => e.name)).toEqual(Array(4).fill('cma_alloc 900 pages'));
    // Simulated time: the sensor gives frame n at (n+1)/60 s after STREAMON, on a fixed cadence.
    expect(captures[3].ts - captures[0].ts).toBeCloseTo((3 * 1e6) / 60, 0);
  });
});

describe('unimem run --trace: IOMMU', () => {
  it('records table walks on the SMMU lane with their descriptor-fetch time, and each fault as an instant', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'unimem-')), 'trace.json');
    const r = await unimem(['run', 'iommu-fault', '--frames', '3', '--trace', f, '--json']);
    const t = JSON.parse(readFileSync(f, 'utf8'));
    const json = JSON.parse(r.stdout);
    type Ev = { name: string; ph: string; cat: string; pid: number; tid: number; dur?: number; args: Record<string, unknown> };
    const ev: Ev[] = t.traceEvents;
    const smmuLane = ev.find((e) => e.ph === 'M' && e.args.name === 'smmu0')!;
    expect(smmuLane).toBeDefined();
    const walks = ev.filter((e) => e.cat === 'iommu' && e.ph === 'X');
    expect(walks.length).toBeGreaterThan(0);
    for (const w of walks) {
      expect(w.tid).toBe(smmuLane.tid);
      expect(w.dur).toBeGreaterThan(0);
    }
    // Every TLB miss of the run is a walk in the trace.
    expect(walks.reduce((s, w) => s + (w.args.walks as number), 0)).toBeGreaterThanOrEqual(json.iommu.tlbMisses);
    const faults = ev.filter((e) => e.cat === 'iommu' && e.ph === 'i');
    expect(faults).toHaveLength(json.iommu.faults);
    expect(faults[0]!.name).toBe('translation fault');
  });
});

describe('unimem exec --trace', () => {
  it('records every syscall on its process lane, parent and child apart', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'unimem-')), 'exec-trace.json');
    const r = await unimem(['exec', 'examples/programs/heap-share.ts', '--trace', f]);
    expect(r.code).toBe(0);
    const t = JSON.parse(readFileSync(f, 'utf8'));
    const sys = t.traceEvents.filter((e: { cat: string }) => e.cat === 'syscall');
    const names = sys.map((e: { name: string }) => e.name);
    expect(names).toEqual(expect.arrayContaining(['open', 'ioctl DMA_HEAP_IOCTL_ALLOC', 'ioctl DMA_BUF_IOCTL_SYNC', 'socketpair', 'fork', 'sendmsg', 'recvmsg', 'mmap', 'store', 'load', 'wait']));
    // Each process is on the track of its own pid, named by its comm, as in a kernel trace.
    const lanes = t.traceEvents.filter((e: { ph: string; name: string }) => e.ph === 'M' && e.name === 'process_name').map((e: { pid: number; args: { name: string } }) => [e.pid, e.args.name]);
    expect(lanes).toEqual(expect.arrayContaining([[1, 'main'], [2, 'main']]));
    expect(new Set(sys.map((e: { pid: number }) => e.pid))).toEqual(new Set([1, 2]));
    expect(sys.find((e: { name: string }) => e.name === 'ioctl DMA_HEAP_IOCTL_ALLOC').args).toMatchObject({ fd: 3, path: '/dev/dma_heap/system', result: 0 });
    // The parent's wait spans the child's work.
    const wait = sys.find((e: { name: string }) => e.name === 'wait');
    expect(wait.dur).toBeGreaterThan(0);
  });
});
