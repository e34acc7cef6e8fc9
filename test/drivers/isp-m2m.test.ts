import { describe, expect, it } from 'vitest';
import { M2M_DST_QUEUE_OFF_BASE } from '../../src/drivers/media/v4l2-core/v4l2-mem2mem.ts';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { registerIsp } from '../../src/drivers/media/platform/isp.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  MAP_SHARED,
  POLLIN,
  POLLOUT,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_CAP_VIDEO_M2M,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_NV12,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  type V4l2Buffer,
  type V4l2Capability,
  type V4l2ExportBuffer,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, fragmentHighmem, heapAlloc, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { mediaSystem } from './camera-system.ts';

const W = 64;
const H = 48;

function buf(type: number, index: number, memory: number, m: V4l2Buffer['m'] = {}, bytesused = 0): V4l2Buffer {
  return { index, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length: 0 };
}

/** The reference conversion, written independently of the driver: pixel by pixel from YUYV samples. */
function reference(yuyv: Uint8Array, sw: number, sh: number, scale: number): Uint8Array {
  const dw = sw / scale;
  const dh = sh / scale;
  const Y = (x: number, y: number) => yuyv[y * sw * 2 + x * 2]!;
  const U = (x: number, y: number) => yuyv[y * sw * 2 + (x - (x % 2)) * 2 + 1]!;
  const V = (x: number, y: number) => yuyv[y * sw * 2 + (x - (x % 2)) * 2 + 3]!;
  const out = new Uint8Array(dw * dh + dw * (dh / 2));
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) out[y * dw + x] = Y(x * scale, y * scale);
  for (let cy = 0; cy < dh / 2; cy++)
    for (let cx = 0; cx < dw / 2; cx++) {
      const sx = 2 * cx * scale;
      const y0 = 2 * cy * scale;
      const y1 = (2 * cy + 1) * scale;
      out[dw * dh + cy * dw + 2 * cx] = Math.round((U(sx, y0) + U(sx, y1)) / 2 + 1e-9);
      out[dw * dh + cy * dw + 2 * cx + 1] = Math.round((V(sx, y0) + V(sx, y1)) / 2 + 1e-9);
    }
  return out;
}

async function fmt(sys: Sys, fd: number, type: number, width: number, height: number): Promise<V4l2Format> {
  const f = { type, fmt: { pix: { width, height, pixelformat: 0, field: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

describe('ISP mem-to-mem: YUYV in, NV12 out, by DMA through the IOMMU', () => {
  for (const scale of [1, 2] as const) {
    it(`MMAP both sides at scale 1/${scale}: the output equals the reference conversion; offsets tell the queues apart; nothing leaks`, async () => {
      const s = mediaSystem();
      fragmentHighmem(s.mm);
      const isp = registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
      const free0 = s.mm.pages.freeCount();
      const read0 = s.soc.bus.port('isp').bytesRead;
      const SRC = W * H * 2;
      const DST = (W / scale) * (H / scale) * 1.5;
      await run(s, async (sys) => {
        const v = await sys.open('/dev/video20', O_RDWR);
        const cap = {} as V4l2Capability;
        await sys.ioctl(v, VIDIOC_QUERYCAP, cap);
        expect([cap.driver, cap.device_caps & V4L2_CAP_VIDEO_M2M]).toEqual(['unimem-isp', V4L2_CAP_VIDEO_M2M]);
        expect((await fmt(sys, v, OUT, W + 3, H + 2)).fmt.pix.sizeimage).toBe(SRC); // rounded down to multiples of 4
        const cf = await fmt(sys, v, CAP, W / scale, H / scale);
        expect([cf.fmt.pix.width, cf.fmt.pix.height, cf.fmt.pix.pixelformat, cf.fmt.pix.sizeimage]).toEqual([W / scale, H / scale, V4L2_PIX_FMT_NV12, DST]);
        expect(await errno(sys.ioctl(v, VIDIOC_G_FMT, { type: 9, fmt: { pix: {} } }))).toBe('EINVAL');
        await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: OUT, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
        await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
        expect(await errno(fmt(sys, v, OUT, 32, 32))).toBe('EBUSY');
        const ins: number[] = [];
        const outs: number[] = [];
        for (const i of [0, 1]) {
          const bo = buf(OUT, i, V4L2_MEMORY_MMAP);
          await sys.ioctl(v, VIDIOC_QUERYBUF, bo);
          expect(bo.m.offset! < M2M_DST_QUEUE_OFF_BASE).toBe(true);
          ins.push(await sys.mmap(0, bo.length, PROT_READ | PROT_WRITE, MAP_SHARED, v, bo.m.offset!));
          const bc = buf(CAP, i, V4L2_MEMORY_MMAP);
          await sys.ioctl(v, VIDIOC_QUERYBUF, bc);
          expect(bc.m.offset! >= M2M_DST_QUEUE_OFF_BASE).toBe(true);
          outs.push(await sys.mmap(0, bc.length, PROT_READ, MAP_SHARED, v, bc.m.offset!));
        }
        await sys.ioctl(v, VIDIOC_STREAMON, OUT);
        await sys.ioctl(v, VIDIOC_STREAMON, CAP);
        for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_MMAP));
        for (let n = 0; n < 4; n++) {
          const frame = pattern(SRC, 100 + n);
          const i = n % 2;
          await sys.store(ins[i]!, frame);
          if (n === 0) {
            const idle = [{ fd: v, events: POLLIN | POLLOUT, revents: 0 }];
            expect(await sys.poll(idle, 0)).toBe(0); // nothing done yet
          }
          await sys.ioctl(v, VIDIOC_QBUF, buf(OUT, i, V4L2_MEMORY_MMAP, {}, SRC));
          if (n === 0) {
            // poll sleeps until the job completes both buffers
            const pfd = [{ fd: v, events: POLLIN | POLLOUT, revents: 0 }];
            expect(await sys.poll(pfd, -1)).toBe(1);
            expect(pfd[0]!.revents & (POLLIN | POLLOUT)).toBe(POLLIN | POLLOUT);
          }
          const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
          await sys.ioctl(v, VIDIOC_DQBUF, d);
          expect([d.bytesused, d.flags & 0x40]).toEqual([DST, 0]);
          expect(mismatches(await sys.load(outs[d.index]!, DST), reference(frame, W, H, scale))).toBe(0);
          const o = buf(OUT, 0, V4L2_MEMORY_MMAP);
          await sys.ioctl(v, VIDIOC_DQBUF, o);
          expect(o.index).toBe(i);
          await sys.ioctl(v, VIDIOC_QBUF, buf(CAP, d.index, V4L2_MEMORY_MMAP));
        }
        await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
        await sys.ioctl(v, VIDIOC_STREAMOFF, OUT);
        for (const va of [...ins, ...outs]) await sys.munmap(va, PAGE_SIZE);
        await sys.close(v);
      });
      expect(isp.m2m.jobsRun).toBe(4);
      expect(s.soc.bus.port('isp').bytesRead - read0).toBeGreaterThanOrEqual(4 * SRC);
      expect(s.mm.pages.freeCount()).toBe(free0);
      expect(s.soc.clock.pending).toBe(0);
    });
  }

  it('camera -> ISP without copies: the camera buffer is exported (EXPBUF) and queued on the ISP OUTPUT as DMABUF; the ISP reads the camera pages by DMA', async () => {
    const s = mediaSystem();
    fragmentHighmem(s.mm);
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H });
    const isp = registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
    const SRC = W * H * 2;
    const DST = (W / 2) * (H / 2) * 1.5;
    await run(s, async (sys) => {
      const c = await sys.open('/dev/video10', O_RDWR);
      const v = await sys.open('/dev/video20', O_RDWR);
      await sys.ioctl(c, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const fds: number[] = [];
      for (const i of [0, 1]) {
        const e: V4l2ExportBuffer = { type: CAP, index: i, plane: 0, flags: O_CLOEXEC | O_RDWR, fd: -1 };
        await sys.ioctl(c, VIDIOC_EXPBUF, e);
        fds.push(e.fd);
      }
      await fmt(sys, v, OUT, W, H);
      await fmt(sys, v, CAP, W / 2, H / 2);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 2, type: OUT, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const small = await heapAlloc(sys, 'system', PAGE_SIZE);
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF, { fd: small })))).toBe('EINVAL');
      const bc = buf(CAP, 0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_QUERYBUF, bc);
      const out = await sys.mmap(0, bc.length, PROT_READ, MAP_SHARED, v, bc.m.offset!);
      await sys.ioctl(v, VIDIOC_STREAMON, OUT);
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      for (const i of [0, 1]) await sys.ioctl(c, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_MMAP));
      await sys.ioctl(c, VIDIOC_STREAMON, CAP);
      const exports = s.dbs.buffers.length;
      for (let n = 0; n < 3; n++) {
        const f = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(c, VIDIOC_DQBUF, f);
        await sys.ioctl(v, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_MMAP));
        const ob = buf(OUT, f.index, V4L2_MEMORY_DMABUF, { fd: fds[f.index] }, SRC);
        ob.timestamp = f.timestamp;
        await sys.ioctl(v, VIDIOC_QBUF, ob);
        const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_DQBUF, d);
        expect([d.bytesused, d.sequence, d.timestamp]).toEqual([DST, n, f.timestamp]); // the camera's timestamp travels with the frame
        expect(mismatches(await sys.load(out, DST), reference(cam.expectedFrame(f.sequence), W, H, 2))).toBe(0);
        const o = buf(OUT, 0, V4L2_MEMORY_DMABUF);
        await sys.ioctl(v, VIDIOC_DQBUF, o);
        expect(o.m.fd).toBe(fds[f.index]);
        await sys.ioctl(c, VIDIOC_QBUF, buf(CAP, f.index, V4L2_MEMORY_MMAP));
      }
      expect(s.dbs.buffers.length).toBe(exports); // no new buffer: the same pages went from camera to ISP
      await sys.munmap(out, bc.length);
      await sys.close(c);
      await sys.close(v);
      for (const fd of [...fds, small]) await sys.close(fd);
    });
    expect(isp.m2m.jobsRun).toBe(3);
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.soc.clock.pending).toBe(0);
  });
  it('closing the file during a job waits for it, gives every buffer back and frees them; other files keep their own queues', async () => {
    const s = mediaSystem();
    const isp = registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const a = await sys.open('/dev/video20', O_RDWR);
      const b = await sys.open('/dev/video20', O_RDWR);
      await fmt(sys, a, OUT, W, H);
      // b's formats are its own: still 640x480
      const g = { type: OUT, fmt: { pix: {} } } as V4l2Format;
      await sys.ioctl(b, VIDIOC_G_FMT, g);
      expect([g.fmt.pix.width, g.fmt.pix.height]).toEqual([640, 480]);
      for (const t of [OUT, CAP]) await sys.ioctl(a, VIDIOC_REQBUFS, { count: 2, type: t, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      await sys.ioctl(b, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 }); // no EBUSY: another context
      for (const t of [OUT, CAP]) await sys.ioctl(a, VIDIOC_STREAMON, t);
      for (const i of [0, 1]) await sys.ioctl(a, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_MMAP));
      await sys.ioctl(a, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_MMAP, {}, W * H * 2));
      expect(isp.m2m.jobsRun).toBe(0); // the job is on the engine, not finished
      await sys.close(a);
      expect(isp.m2m.jobsRun).toBe(1);
      expect(isp.node.contexts.size).toBe(1);
      await sys.close(b);
    });
    expect(isp.node.contexts.size).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });
});
