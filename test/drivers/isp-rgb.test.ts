import { describe, expect, it } from 'vitest';
import { registerIsp } from '../../src/drivers/media/platform/isp.ts';
import { nv12ToNv12, nv12ToXrgb8888, yuyvToNv12, yuyvToXrgb8888 } from '../../src/formats/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_RGB565,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_ENUM_FMT,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, fragmentHighmem, heapAlloc, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { mediaSystem } from './camera-system.ts';

/** BT.601 limited range to RGB written from the formula, independently of the driver: [B, G, R, X]. */
function rgb(Y: number, U: number, V: number): number[] {
  const c = Y - 16;
  const d = U - 128;
  const e = V - 128;
  const cl = (n: number) => Math.min(255, Math.max(0, Math.floor(n / 256)));
  return [cl(298 * c + 516 * d + 128), cl(298 * c - 100 * d - 208 * e + 128), cl(298 * c + 409 * e + 128), 0xff];
}

/** Reference: output pixel (x, y) from source pixel (x*scale, y*scale), chroma by the source layout. */
function refXrgb(src: Uint8Array, fourcc: 'NV12' | 'YUYV', sw: number, sh: number, scale: number): Uint8Array {
  const dw = sw / scale;
  const dh = sh / scale;
  const out = new Uint8Array(dw * dh * 4);
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++) {
      const sx = x * scale;
      const sy = y * scale;
      let yuv: [number, number, number];
      if (fourcc === 'NV12') {
        const c = sw * sh + Math.floor(sy / 2) * sw + Math.floor(sx / 2) * 2;
        yuv = [src[sy * sw + sx]!, src[c]!, src[c + 1]!];
      } else {
        const p = sy * sw * 2 + Math.floor(sx / 2) * 4;
        yuv = [src[sy * sw * 2 + sx * 2]!, src[p + 1]!, src[p + 3]!];
      }
      out.set(rgb(...yuv), (y * dw + x) * 4);
    }
  return out;
}

const W = 64;
const H = 48;

function buf(type: number, index: number, memory: number, m: V4l2Buffer['m'] = {}, bytesused = 0): V4l2Buffer {
  return { index, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length: 0 };
}

async function sFmt(sys: Sys, fd: number, type: number, width: number, height: number, pixelformat: number): Promise<V4l2Format> {
  const f = { type, fmt: { pix: { width, height, pixelformat, field: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

const FOURCC = { NV12: V4L2_PIX_FMT_NV12, YUYV: V4L2_PIX_FMT_YUYV, XR24: V4L2_PIX_FMT_XBGR32 } as const;

describe('ISP mem-to-mem: NV12 / YUYV in, XBGR32 or NV12 out, through the m2m ioctls', () => {
  const jobs: { in: 'NV12' | 'YUYV'; out: 'NV12' | 'XR24'; scale: 1 | 2 }[] = [
    { in: 'NV12', out: 'XR24', scale: 1 },
    { in: 'NV12', out: 'XR24', scale: 2 },
    { in: 'YUYV', out: 'XR24', scale: 1 },
    { in: 'YUYV', out: 'XR24', scale: 2 },
    { in: 'NV12', out: 'NV12', scale: 2 },
  ];
  for (const j of jobs)
    it(`${j.in} -> ${j.out} at 1/${j.scale}: formats reported, each frame equals the pure function's output, nothing leaks`, async () => {
      const s = mediaSystem();
      fragmentHighmem(s.mm);
      const isp = registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
      const free0 = s.mm.pages.freeCount();
      const SRC = j.in === 'NV12' ? W * H * 1.5 : W * H * 2;
      const dw = W / j.scale;
      const dh = H / j.scale;
      const DST = j.out === 'XR24' ? dw * dh * 4 : dw * dh * 1.5;
      const pure = (src: Uint8Array) => {
        const out = new Uint8Array(DST);
        if (j.in === 'NV12') (j.out === 'XR24' ? nv12ToXrgb8888 : nv12ToNv12)(src, W, H, j.scale, out);
        else (j.out === 'XR24' ? yuyvToXrgb8888 : yuyvToNv12)(src, W, H, j.scale, out);
        return out;
      };
      await run(s, async (sys) => {
        const v = await sys.open('/dev/video20', O_RDWR);
        const of = await sFmt(sys, v, OUT, W, H, FOURCC[j.in]);
        expect([of.fmt.pix.pixelformat, of.fmt.pix.bytesperline, of.fmt.pix.sizeimage]).toEqual([FOURCC[j.in], j.in === 'NV12' ? W : W * 2, SRC]);
        const cf = await sFmt(sys, v, CAP, dw, dh, FOURCC[j.out]);
        const g = { type: CAP, fmt: { pix: {} } } as V4l2Format;
        await sys.ioctl(v, VIDIOC_G_FMT, g);
        for (const p of [cf.fmt.pix, g.fmt.pix])
          expect([p.width, p.height, p.pixelformat, p.bytesperline, p.sizeimage, p.colorspace]).toEqual([
            dw,
            dh,
            FOURCC[j.out],
            j.out === 'XR24' ? dw * 4 : dw,
            DST,
            V4L2_COLORSPACE_SMPTE170M,
          ]);
        await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
        await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
        const bo = buf(OUT, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_QUERYBUF, bo);
        const bc = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(v, VIDIOC_QUERYBUF, bc);
        expect(bc.length).toBeGreaterThanOrEqual(DST);
        const inp = await sys.mmap(0, bo.length, PROT_READ | PROT_WRITE, MAP_SHARED, v, bo.m.offset!);
        const out = await sys.mmap(0, bc.length, PROT_READ, MAP_SHARED, v, bc.m.offset!);
        for (const t of [OUT, CAP]) await sys.ioctl(v, VIDIOC_STREAMON, t);
        for (let n = 0; n < 3; n++) {
          const frame = pattern(SRC, 7 + n);
          await sys.store(inp, frame);
          await sys.ioctl(v, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_MMAP));
          await sys.ioctl(v, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_MMAP, {}, SRC));
          const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
          await sys.ioctl(v, VIDIOC_DQBUF, d);
          expect([d.bytesused, d.flags & 0x40, d.sequence]).toEqual([DST, 0, n]);
          const got = await sys.load(out, DST);
          expect(mismatches(got, pure(frame))).toBe(0);
          if (j.out === 'XR24') expect(mismatches(got, refXrgb(frame, j.in, W, H, j.scale))).toBe(0);
          await sys.ioctl(v, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_MMAP));
        }
        for (const t of [CAP, OUT]) await sys.ioctl(v, VIDIOC_STREAMOFF, t);
        await sys.munmap(inp, bo.length);
        await sys.munmap(out, bc.length);
        await sys.close(v);
      });
      expect(isp.m2m.jobsRun).toBe(3);
      expect(s.mm.pages.freeCount()).toBe(free0);
      expect(s.soc.clock.pending).toBe(0);
    });

  it('NV12 -> XR24 into a dma-heap buffer imported as DMABUF (what the GPU or display would scan out): the CPU reads the converted frame', async () => {
    const s = mediaSystem();
    registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
    const SRC = W * H * 1.5;
    const DST = W * H * 4;
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video20', O_RDWR);
      await sFmt(sys, v, OUT, W, H, V4L2_PIX_FMT_NV12);
      await sFmt(sys, v, CAP, W, H, V4L2_PIX_FMT_XBGR32);
      const small = await heapAlloc(sys, 'system', W * H * 2);
      const fb = await heapAlloc(sys, 'system', DST);
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      // a buffer sized for NV12 is too small for XR24
      expect(await errno(sys.ioctl(v, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_DMABUF, { fd: small })))).toBe('EINVAL');
      const bo = buf(OUT, 0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_QUERYBUF, bo);
      const inp = await sys.mmap(0, bo.length, PROT_READ | PROT_WRITE, MAP_SHARED, v, bo.m.offset!);
      const frame = pattern(SRC, 42);
      await sys.store(inp, frame);
      for (const t of [OUT, CAP]) await sys.ioctl(v, VIDIOC_STREAMON, t);
      await sys.ioctl(v, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_DMABUF, { fd: fb }));
      await sys.ioctl(v, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_MMAP, {}, SRC));
      const d = buf(CAP, 0, V4L2_MEMORY_DMABUF);
      await sys.ioctl(v, VIDIOC_DQBUF, d);
      expect([d.bytesused, d.flags & 0x40]).toEqual([DST, 0]);
      const va = await sys.mmap(0, DST, PROT_READ, MAP_SHARED, fb, 0);
      await sys.ioctl(fb, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ });
      const expected = new Uint8Array(DST);
      nv12ToXrgb8888(frame, W, H, 1, expected);
      expect(mismatches(await sys.load(va, DST), expected)).toBe(0);
      await sys.ioctl(fb, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ });
      await sys.munmap(va, DST);
      await sys.munmap(inp, bo.length);
      await sys.close(v);
      await sys.close(small);
      await sys.close(fb);
    });
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('formats: ENUM_FMT lists YUYV, NV12 / NV12, XBGR32; unsupported pixelformats are corrected to the first; TRY_FMT corrects without setting', async () => {
    const s = mediaSystem();
    const isp = registerIsp({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 20 });
    const list = async (type: number) => {
      const r: number[] = [];
      for (let i = 0; i < 2; i++) r.push(isp.enumFmt(type, i).pixelformat);
      expect(await errno(() => isp.enumFmt(type, 2))).toBe('EINVAL');
      return r;
    };
    expect(await list(OUT)).toEqual([V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_NV12]);
    expect(await list(CAP)).toEqual([V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32]);
    expect(await errno(() => isp.enumFmt(9, 0))).toBe('EINVAL');
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video20', O_RDWR);
      const st = [...isp.node.contexts][0]!.state;
      // TRY_FMT: an NV12 source of 100x50 becomes 100x48; the state stays YUYV 640x480
      const t = { type: OUT, fmt: { pix: { width: 101, height: 50, pixelformat: V4L2_PIX_FMT_NV12 } } } as V4l2Format;
      await sys.ioctl(v, VIDIOC_TRY_FMT, t);
      expect([t.fmt.pix.width, t.fmt.pix.height, t.fmt.pix.pixelformat, t.fmt.pix.sizeimage]).toEqual([100, 48, V4L2_PIX_FMT_NV12, 100 * 72]);
      const tc = { type: CAP, fmt: { pix: { width: 320, height: 240, pixelformat: V4L2_PIX_FMT_XBGR32 } } } as V4l2Format;
      await sys.ioctl(v, VIDIOC_TRY_FMT, tc);
      expect([tc.fmt.pix.width, tc.fmt.pix.height, tc.fmt.pix.pixelformat, tc.fmt.pix.sizeimage]).toEqual([320, 240, V4L2_PIX_FMT_XBGR32, 320 * 240 * 4]);
      expect(await errno(() => isp.tryFmt(st, { type: 9, fmt: { pix: {} } } as V4l2Format))).toBe('EINVAL');
      expect(await errno(sys.ioctl(v, VIDIOC_TRY_FMT, { type: 9, fmt: { pix: {} } } as V4l2Format))).toBe('EINVAL');
      const d = { index: 1, type: CAP, flags: 0, description: '', pixelformat: 0, mbus_code: 0 };
      await sys.ioctl(v, VIDIOC_ENUM_FMT, d);
      expect([d.pixelformat, d.description]).toEqual([V4L2_PIX_FMT_XBGR32, '32-bit BGRX 8-8-8-8']);
      expect(await errno(sys.ioctl(v, VIDIOC_ENUM_FMT, { ...d, index: 2 }))).toBe('EINVAL');
      const g = { type: OUT, fmt: { pix: {} } } as V4l2Format;
      await sys.ioctl(v, VIDIOC_G_FMT, g);
      expect([g.fmt.pix.width, g.fmt.pix.height, g.fmt.pix.pixelformat]).toEqual([640, 480, V4L2_PIX_FMT_YUYV]);
      // S_FMT with RGB565 (not supported) on either side: the first format of that side
      expect((await sFmt(sys, v, OUT, 64, 48, V4L2_PIX_FMT_RGB565)).fmt.pix.pixelformat).toBe(V4L2_PIX_FMT_YUYV);
      expect((await sFmt(sys, v, CAP, 64, 48, V4L2_PIX_FMT_RGB565)).fmt.pix.pixelformat).toBe(V4L2_PIX_FMT_NV12);
      // XR24 at half size, then a new source size: the capture keeps XR24 and the scale, and follows the size
      await sFmt(sys, v, CAP, 32, 24, V4L2_PIX_FMT_XBGR32);
      await sFmt(sys, v, OUT, 128, 96, V4L2_PIX_FMT_NV12);
      const gc = { type: CAP, fmt: { pix: {} } } as V4l2Format;
      await sys.ioctl(v, VIDIOC_G_FMT, gc);
      expect([gc.fmt.pix.width, gc.fmt.pix.height, gc.fmt.pix.pixelformat, gc.fmt.pix.sizeimage]).toEqual([64, 48, V4L2_PIX_FMT_XBGR32, 64 * 48 * 4]);
      // the buffers are sized by the current formats
      await sys.ioctl(v, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const bc = buf(CAP, 0, V4L2_MEMORY_MMAP);
      await sys.ioctl(v, VIDIOC_QUERYBUF, bc);
      expect(bc.length).toBe(Math.ceil((64 * 48 * 4) / PAGE_SIZE) * PAGE_SIZE);
      await sys.close(v);
    });
  });
});
