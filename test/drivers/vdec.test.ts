import { describe, expect, it } from 'vitest';
import { registerVideoDecoder } from '../../src/drivers/media/platform/vdec.ts';
import { TestPattern, UvdEncoder, frameFormat, uvdMaxPacketSize, type FrameFormat } from '../../src/formats/index.ts';
import { addSystemHeap, createDmaBufSystem } from '../../src/dmabuf/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { createProcSystem, type Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_FLAG_TIMESTAMP_COPY,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_CAP_STREAMING,
  V4L2_CAP_VIDEO_M2M,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_UVD1,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_ENUM_FMT,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Capability,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, heapAlloc, mismatches, run, testSystem } from '../dmabuf/helpers.ts';
import { pinCount } from '../../src/mm/index.ts';

const NR = 12;
const DEV = `/dev/video${NR}`;
const TIMESTAMP_COPY = V4L2_BUF_FLAG_TIMESTAMP_COPY;

/** The dma-buf test SoC with a process kernel over its mm, a system heap, and the decoder on the 'isp' master (behind the test IOMMU). */
function system() {
  const s0 = testSystem();
  const k = createProcSystem({ soc: s0.soc, mm: s0.mm });
  const dbs = createDmaBufSystem({ vfs: k.vfs, soc: s0.soc });
  addSystemHeap(dbs, s0.mm);
  const vdec = registerVideoDecoder({ vfs: k.vfs, dbs, mm: s0.mm, clock: s0.soc.clock, device: s0.isp, nr: NR });
  return { ...s0, k, dbs, vdec };
}

/** A GOP of TestPattern frames and their packets. */
function stream(fmt: FrameFormat, gop: number, count: number, seed = 3) {
  const tp = new TestPattern(fmt, seed);
  const enc = new UvdEncoder(fmt, { gop });
  const frames = Array.from({ length: count }, (_, n) => tp.frame(n));
  return { frames, packets: frames.map((f) => enc.encode(f)) };
}

function buf(type: number, index: number, memory: number, m: V4l2Buffer['m'] = {}, bytesused = 0, length = 0, usec = 0): V4l2Buffer {
  return { index, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 1, tv_usec: usec }, sequence: 0, memory, m, length };
}

async function setFmt(sys: Sys, fd: number, type: number, width: number, height: number, pixelformat: number): Promise<V4l2Format> {
  const f = { type, fmt: { pix: { width, height, pixelformat, field: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

async function reqbufs(sys: Sys, fd: number, type: number, memory: number, count: number): Promise<number> {
  const r = { count, type, memory, capabilities: 0, flags: 0 };
  await sys.ioctl(fd, VIDIOC_REQBUFS, r);
  return r.count;
}

/** Maps MMAP buffer `index` of queue `type` into the process. */
async function mapBuf(sys: Sys, fd: number, type: number, index: number): Promise<{ addr: number; length: number }> {
  const q = buf(type, index, V4L2_MEMORY_MMAP);
  await sys.ioctl(fd, VIDIOC_QUERYBUF, q);
  const addr = await sys.mmap(0, q.length, type === OUT ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, q.m.offset!);
  return { addr, length: q.length };
}

describe('video decoder (stateful m2m, UVD1 -> NV12/XBGR32)', () => {
  it('decodes a GOP of TestPattern frames into MMAP buffers byte for byte: sequence = frame number, timestamps copied, P-jobs cost the reference read; nothing leaks', async () => {
    const s = system();
    const W = 160;
    const H = 120;
    const fmt = frameFormat(W, H, 'NV12');
    const { frames, packets } = stream(fmt, 4, 9);
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const fd = await sys.open(DEV, O_RDWR);
      const cap: V4l2Capability = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0, reserved: [] } as unknown as V4l2Capability;
      await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
      expect([cap.driver, cap.card, cap.device_caps]).toEqual(['unimem-vdec', 'video decoder', V4L2_CAP_VIDEO_M2M | V4L2_CAP_STREAMING]);
      const of = await setFmt(sys, fd, OUT, W, H, V4L2_PIX_FMT_YUYV);
      expect([of.fmt.pix.pixelformat, of.fmt.pix.width, of.fmt.pix.height, of.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_UVD1, W, H, uvdMaxPacketSize(frameFormat(W, H, 'XR24'))]);
      // the capture size follows the coded size; an unsupported format is corrected to NV12
      const cf = await setFmt(sys, fd, CAP, 999, 3, V4L2_PIX_FMT_YUYV);
      expect([cf.fmt.pix.pixelformat, cf.fmt.pix.width, cf.fmt.pix.height, cf.fmt.pix.bytesperline, cf.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_NV12, W, H, W, fmt.size]);
      const g = { type: CAP, fmt: { pix: {} } } as V4l2Format;
      await sys.ioctl(fd, VIDIOC_G_FMT, g);
      expect(g.fmt.pix.sizeimage).toBe(fmt.size);
      expect(await reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 2)).toBe(2);
      expect(await reqbufs(sys, fd, CAP, V4L2_MEMORY_MMAP, 3)).toBe(3);
      const outs = [await mapBuf(sys, fd, OUT, 0), await mapBuf(sys, fd, OUT, 1)];
      const caps = [await mapBuf(sys, fd, CAP, 0), await mapBuf(sys, fd, CAP, 1), await mapBuf(sys, fd, CAP, 2)];
      await sys.ioctl(fd, VIDIOC_STREAMON, OUT);
      await sys.ioctl(fd, VIDIOC_STREAMON, CAP);
      for (const i of [0, 1, 2]) await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_MMAP));
      const port = s.isp.master;
      for (let n = 0; n < frames.length; n++) {
        const o = outs[n % 2]!;
        await sys.store(o.addr, packets[n]!);
        const t0 = s.soc.clock.now;
        await sys.ioctl(fd, VIDIOC_QBUF, buf(OUT, n % 2, V4L2_MEMORY_MMAP, {}, packets[n]!.length, 0, 1000 + n));
        const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(fd, VIDIOC_DQBUF, d);
        const took = s.soc.clock.now - t0;
        expect([d.flags & V4L2_BUF_FLAG_ERROR, d.flags & 0xe000, d.bytesused, d.sequence, d.timestamp.tv_usec, d.index]).toEqual([0, TIMESTAMP_COPY, fmt.size, n, 1000 + n, n % 3]);
        expect(mismatches(await sys.load(caps[d.index]!.addr, fmt.size), frames[n]!)).toBe(0);
        // a P-job reads the packet and the reference and writes the picture on the device's port
        const dmaNs = port.timeFor(packets[n]!.length) + port.timeFor(fmt.size) * (n % 4 === 0 ? 1 : 2);
        expect(took).toBeGreaterThanOrEqual(dmaNs);
        const sb = buf(OUT, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(fd, VIDIOC_DQBUF, sb);
        expect(sb.flags & V4L2_BUF_FLAG_ERROR).toBe(0);
        await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, d.index, V4L2_MEMORY_MMAP));
      }
      expect(s.vdec.heldReferences).toBe(1);
      // the last decoded frame's buffer is also the reference; querying it reports its frame number
      const q = buf(CAP, (frames.length - 1) % 3, V4L2_MEMORY_MMAP);
      await sys.ioctl(fd, VIDIOC_QUERYBUF, q);
      expect([q.flags & TIMESTAMP_COPY, q.sequence]).toEqual([TIMESTAMP_COPY, frames.length - 1]);
      expect(await errno(reqbufs(sys, fd, CAP, V4L2_MEMORY_MMAP, 0))).toBe('EBUSY');
      await sys.ioctl(fd, VIDIOC_STREAMOFF, CAP);
      expect(s.vdec.heldReferences).toBe(0);
      for (const m of [...outs, ...caps]) await sys.munmap(m.addr, m.length);
      await sys.close(fd);
    });
    expect([s.vdec.framesDecoded, s.vdec.framesFailed]).toEqual([frames.length, 0]);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('decodes into DMABUF capture buffers from /dev/dma_heap/system; the reference keeps its own attachment and mapping until replaced; scribbling on it fails the next P-frame, the next I-frame recovers', async () => {
    const s = system();
    const W = 64;
    const H = 48;
    const fmt = frameFormat(W, H, 'XR24');
    const { frames, packets } = stream(fmt, 5, 12);
    const free0 = s.mm.pages.freeCount();
    const attachments = () => s.dbs.buffers.reduce((a, d) => a + d.attachments.length, 0);
    await run(s, async (sys) => {
      const fd = await sys.open(DEV, O_RDWR);
      await setFmt(sys, fd, OUT, W, H, V4L2_PIX_FMT_UVD1);
      expect((await setFmt(sys, fd, CAP, W, H, V4L2_PIX_FMT_XBGR32)).fmt.pix.sizeimage).toBe(fmt.size);
      // OUTPUT from the process's own memory
      const pktMax = uvdMaxPacketSize(fmt);
      const usz = Math.ceil(pktMax / PAGE_SIZE) * PAGE_SIZE;
      const upkt = await sys.mmap(0, usz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await reqbufs(sys, fd, OUT, V4L2_MEMORY_USERPTR, 1);
      await reqbufs(sys, fd, CAP, V4L2_MEMORY_DMABUF, 3);
      const size = Math.ceil(fmt.size / PAGE_SIZE) * PAGE_SIZE;
      const heap = [await heapAlloc(sys, 'system', size), await heapAlloc(sys, 'system', size), await heapAlloc(sys, 'system', size)];
      const maps = await Promise.all(heap.map((h) => sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, h, 0)));
      await sys.ioctl(fd, VIDIOC_STREAMON, OUT);
      await sys.ioctl(fd, VIDIOC_STREAMON, CAP);
      for (const i of [0, 1, 2]) await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_DMABUF, { fd: heap[i] }));
      const imports = attachments();
      expect(imports).toBe(3);
      const decode = async (n: number, scribble = false) => {
        await sys.store(upkt, packets[n]!);
        await sys.ioctl(fd, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR, { userptr: upkt }, packets[n]!.length, usz));
        const d = buf(CAP, 0, V4L2_MEMORY_DMABUF);
        await sys.ioctl(fd, VIDIOC_DQBUF, d);
        await sys.ioctl(fd, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR));
        const ok = (d.flags & V4L2_BUF_FLAG_ERROR) === 0;
        if (ok) {
          expect([d.bytesused, d.sequence, d.m.fd]).toEqual([fmt.size, n, heap[d.index]]);
          await sys.ioctl(heap[d.index]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
          expect(mismatches(await sys.load(maps[d.index]!, fmt.size), frames[n]!)).toBe(0);
          await sys.ioctl(heap[d.index]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
          // the dequeued reference is still attached and mapped for the decoder besides the queue's import
          expect(attachments()).toBe(imports + 1);
          const held = s.dbs.buffers.find((b) => b.attachments.length === 2)!;
          expect(held.liveMappings).toBe(2);
          expect([held.expName, held.attachments.every((a) => a.dev === s.isp)]).toEqual(['system', true]);
        } else expect([d.bytesused, d.sequence]).toEqual([0, n]);
        if (scribble) {
          // a program drawing on the frame it still shares with the decoder, with correct cache maintenance
          await sys.ioctl(heap[d.index]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW });
          await sys.store(maps[d.index]! + 100, new Uint8Array(64).fill(0x5a));
          await sys.ioctl(heap[d.index]!, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW });
        }
        await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, d.index, V4L2_MEMORY_DMABUF, { fd: heap[d.index] }));
        return ok;
      };
      const results: boolean[] = [];
      for (let n = 0; n < frames.length; n++) results.push(await decode(n, n === 2));
      // frame 3 read the scribbled reference: ERROR; frame 4 has no reference: ERROR; frame 5 is an I-frame
      expect(results).toEqual([true, true, true, false, false, true, true, true, true, true, true, true]);
      expect(s.vdec.heldReferences).toBe(1);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, OUT);
      expect(attachments()).toBe(imports);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, CAP);
      await sys.close(fd);
      expect(attachments()).toBe(0);
      for (const a of maps) await sys.munmap(a, size);
      for (const h of heap) await sys.close(h);
      await sys.munmap(upkt, usz);
    });
    expect([s.vdec.framesDecoded, s.vdec.framesFailed]).toEqual([10, 2]);
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });

  for (const memory of [V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR]) {
    it(`decodes in place into the reference buffer (${memory === V4L2_MEMORY_MMAP ? 'MMAP' : 'USERPTR'}); a corrupt packet fails, P-frames without a reference fail, the next I-frame recovers; closing while streaming frees everything`, async () => {
      const s = system();
      const W = 96;
      const H = 64;
      const fmt = frameFormat(W, H, 'NV12');
      const { frames, packets } = stream(fmt, 4, 10);
      const free0 = s.mm.pages.freeCount();
      await run(s, async (sys) => {
        const fd = await sys.open(DEV, O_RDWR);
        await setFmt(sys, fd, OUT, W, H, V4L2_PIX_FMT_UVD1);
        await setFmt(sys, fd, CAP, W, H, V4L2_PIX_FMT_NV12);
        await reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 1);
        await reqbufs(sys, fd, CAP, memory, 1);
        const o = await mapBuf(sys, fd, OUT, 0);
        const csz = Math.ceil(fmt.size / PAGE_SIZE) * PAGE_SIZE;
        const c = memory === V4L2_MEMORY_MMAP ? (await mapBuf(sys, fd, CAP, 0)).addr : await sys.mmap(0, csz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        const m = memory === V4L2_MEMORY_MMAP ? {} : { userptr: c };
        await sys.ioctl(fd, VIDIOC_STREAMON, OUT);
        await sys.ioctl(fd, VIDIOC_STREAMON, CAP);
        const flags: number[] = [];
        for (let n = 0; n < frames.length; n++) {
          const p = packets[n]!.slice();
          if (n === 2) p[60] ^= 0x33; // a corrupt P-frame
          await sys.store(o.addr, p);
          // the only capture buffer holds frame n-1, the reference of frame n
          await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, 0, memory, m, 0, memory === V4L2_MEMORY_MMAP ? 0 : fmt.size));
          await sys.ioctl(fd, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_MMAP, {}, p.length));
          const d = buf(CAP, 0, memory);
          await sys.ioctl(fd, VIDIOC_DQBUF, d);
          const sb = buf(OUT, 0, V4L2_MEMORY_MMAP);
          await sys.ioctl(fd, VIDIOC_DQBUF, sb);
          flags.push(d.flags & V4L2_BUF_FLAG_ERROR);
          expect(sb.flags & V4L2_BUF_FLAG_ERROR).toBe(d.flags & V4L2_BUF_FLAG_ERROR);
          if (!(d.flags & V4L2_BUF_FLAG_ERROR)) expect(mismatches(await sys.load(c, fmt.size), frames[n]!)).toBe(0);
        }
        const E = V4L2_BUF_FLAG_ERROR;
        expect(flags).toEqual([0, 0, E, E, 0, 0, 0, 0, 0, 0]);
        expect(s.vdec.heldReferences).toBe(1);
        if (memory === V4L2_MEMORY_USERPTR) {
          // the reference's pages are pinned by the queue and by the decoder
          const vma = s.k.processes.get(await sys.getpid())!.mm.find(c)!;
          expect(pinCount(s.mm.pages, vma.pfns[(c - vma.start) / PAGE_SIZE]!)).toBe(2);
        }
        // close while both queues stream and the reference is held
        await sys.close(fd);
        await sys.munmap(o.addr, o.length);
        await sys.munmap(c, csz);
      });
      expect(s.vdec.heldReferences).toBe(0);
      expect(s.mm.pages.freeCount()).toBe(free0);
      expect(s.soc.clock.pending).toBe(0);
    });
  }

  it('errno for misuse: bad buffer type or index EINVAL, REQBUFS while streaming EBUSY, S_FMT with buffers EBUSY; ENUM_FMT and TRY_FMT', async () => {
    const s = system();
    await run(s, async (sys) => {
      const fd = await sys.open(DEV, O_RDWR);
      expect(await errno(setFmt(sys, fd, 9, 64, 48, V4L2_PIX_FMT_UVD1))).toBe('EINVAL');
      await setFmt(sys, fd, OUT, 64, 48, V4L2_PIX_FMT_UVD1);
      await reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 2);
      await reqbufs(sys, fd, CAP, V4L2_MEMORY_MMAP, 2);
      expect(await errno(setFmt(sys, fd, CAP, 64, 48, V4L2_PIX_FMT_XBGR32))).toBe('EBUSY');
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, buf(9, 0, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, 5, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_QUERYBUF, buf(OUT, 2, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_DMABUF, { fd: 0 })))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_DQBUF, buf(CAP, 0, V4L2_MEMORY_MMAP)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_STREAMON, 9))).toBe('EINVAL');
      await sys.ioctl(fd, VIDIOC_STREAMON, OUT);
      expect(await errno(reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 0))).toBe('EBUSY');
      expect(await errno(reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 4))).toBe('EBUSY');
      await sys.ioctl(fd, VIDIOC_STREAMOFF, OUT);
      expect(await reqbufs(sys, fd, OUT, V4L2_MEMORY_MMAP, 0)).toBe(0);
      await sys.close(fd);
    });
    expect(s.vdec.enumFmt(OUT, 0)).toMatchObject({ pixelformat: V4L2_PIX_FMT_UVD1, flags: 1 });
    expect([s.vdec.enumFmt(CAP, 0).pixelformat, s.vdec.enumFmt(CAP, 1).pixelformat]).toEqual([V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32]);
    expect(() => s.vdec.enumFmt(CAP, 2)).toThrow(/EINVAL/);
    expect(() => s.vdec.enumFmt(OUT, 1)).toThrow(/EINVAL/);
    expect(() => s.vdec.enumFmt(9, 0)).toThrow(/EINVAL/);
    const ctx = [...s.vdec.node.contexts][0];
    expect(ctx).toBeUndefined();
    // VIDIOC_TRY_FMT corrects without setting: a fresh file's state
    let st!: Parameters<typeof s.vdec.tryFmt>[0];
    await run(s, async (sys) => {
      const fd = await sys.open(DEV, O_RDWR);
      st = [...s.vdec.node.contexts][0]!.state;
      const d = { index: 0, type: OUT, flags: 0, description: '', pixelformat: 0, mbus_code: 0 };
      await sys.ioctl(fd, VIDIOC_ENUM_FMT, d);
      expect([d.pixelformat, d.flags, d.description]).toEqual([V4L2_PIX_FMT_UVD1, 1, 'unimem UVD1 video']);
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, { ...d, index: 1 }))).toBe('EINVAL');
      const f = { type: OUT, fmt: { pix: { width: 5000, height: 33, pixelformat: V4L2_PIX_FMT_NV12 } } } as V4l2Format;
      await sys.ioctl(fd, VIDIOC_TRY_FMT, f);
      expect([f.fmt.pix.pixelformat, f.fmt.pix.width, f.fmt.pix.height]).toEqual([V4L2_PIX_FMT_UVD1, 4096, 32]);
      const c = { type: CAP, fmt: { pix: { width: 1, height: 1, pixelformat: V4L2_PIX_FMT_XBGR32 } } } as V4l2Format;
      await sys.ioctl(fd, VIDIOC_TRY_FMT, c);
      expect([c.fmt.pix.pixelformat, c.fmt.pix.width, c.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_XBGR32, 640, 640 * 480 * 4]);
      expect([st.width, st.capPixelformat]).toEqual([640, V4L2_PIX_FMT_NV12]);
      await sys.close(fd);
    });
  });
});
