import { describe, expect, it } from 'vitest';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { registerJpeg } from '../../src/drivers/media/platform/jpeg.ts';
import { frameFormat, ujpgEncode, ujpgMaxSize } from '../../src/formats/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  V4L2_PIX_FMT_JPEG,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  type V4l2Buffer,
  type V4l2ExportBuffer,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno, mismatches, pattern, run } from '../dmabuf/helpers.ts';
import { mediaSystem } from './camera-system.ts';

const W = 64;
const H = 48;
const RAW = W * H * 2;
const FLAG_ERROR = 0x40;

function buf(type: number, index: number, memory: number, m: V4l2Buffer['m'] = {}, bytesused = 0, length = 0): V4l2Buffer {
  return { index, type, bytesused, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length };
}

async function fmt(sys: Sys, fd: number, type: number, width: number, height: number, pixelformat = V4L2_PIX_FMT_YUYV): Promise<V4l2Format> {
  const f = { type, fmt: { pix: { width, height, pixelformat, field: 0 } } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_S_FMT, f);
  return f;
}

/** Incompressible bytes (an LCG), so the coder's literal path carries the frame. */
function noise(len: number, seed: number): Uint8Array {
  const a = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x >>> 24;
  }
  return a;
}

describe('JPEG codec mem-to-mem (encoder /dev/video30, decoder /dev/video31)', () => {
  it('camera -> encoder -> decoder by dma-buf fds only: the decoded frame equals the camera frame byte for byte', async () => {
    const s = mediaSystem();
    const cam = registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 10, width: W, height: H });
    const codec = registerJpeg({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 30 });
    const free0 = s.mm.pages.freeCount();
    await run(s, async (sys) => {
      const c = await sys.open('/dev/video10', O_RDWR);
      const enc = await sys.open('/dev/video30', O_RDWR);
      const dec = await sys.open('/dev/video31', O_RDWR);
      const expbuf = async (fd: number, type: number, index: number) => {
        const e: V4l2ExportBuffer = { type, index, plane: 0, flags: O_CLOEXEC | O_RDWR, fd: -1 };
        await sys.ioctl(fd, VIDIOC_EXPBUF, e);
        return e.fd;
      };
      await sys.ioctl(c, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const camFds = [await expbuf(c, CAP, 0), await expbuf(c, CAP, 1)];
      await fmt(sys, enc, OUT, W, H);
      const cf = { type: CAP, fmt: { pix: {} } } as V4l2Format;
      await sys.ioctl(enc, VIDIOC_G_FMT, cf);
      expect([cf.fmt.pix.pixelformat, cf.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_JPEG, ujpgMaxSize(RAW)]);
      await sys.ioctl(enc, VIDIOC_REQBUFS, { count: 2, type: OUT, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      await sys.ioctl(enc, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const bitsFd = await expbuf(enc, CAP, 0);
      await fmt(sys, dec, CAP, W, H);
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const qb = buf(CAP, 0, V4L2_MEMORY_MMAP);
      await sys.ioctl(dec, VIDIOC_QUERYBUF, qb);
      const decoded = await sys.mmap(0, qb.length, PROT_READ, MAP_SHARED, dec, qb.m.offset!);
      for (const fd of [c, enc, dec]) for (const t of fd === c ? [CAP] : [OUT, CAP]) await sys.ioctl(fd, VIDIOC_STREAMON, t);
      for (const i of [0, 1]) await sys.ioctl(c, VIDIOC_QBUF, buf(CAP, i, V4L2_MEMORY_MMAP));
      const exports = s.dbs.buffers.length;
      for (let n = 0; n < 3; n++) {
        const f = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(c, VIDIOC_DQBUF, f);
        await sys.ioctl(enc, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_MMAP));
        await sys.ioctl(enc, VIDIOC_QBUF, buf(OUT, f.index, V4L2_MEMORY_DMABUF, { fd: camFds[f.index] }, RAW));
        const e = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(enc, VIDIOC_DQBUF, e);
        expect(e.flags & FLAG_ERROR).toBe(0);
        expect(e.bytesused).toBeGreaterThan(32);
        await sys.ioctl(enc, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_MMAP));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF, { fd: bitsFd }, e.bytesused));
        const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(dec, VIDIOC_DQBUF, d);
        expect([d.flags & FLAG_ERROR, d.bytesused]).toEqual([0, RAW]);
        expect(mismatches(await sys.load(decoded, RAW), cam.expectedFrame(f.sequence))).toBe(0);
        await sys.ioctl(dec, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF));
        await sys.ioctl(c, VIDIOC_QBUF, buf(CAP, f.index, V4L2_MEMORY_MMAP));
      }
      expect(s.dbs.buffers.length).toBe(exports);
      await sys.munmap(decoded, qb.length);
      for (const fd of [c, enc, dec, ...camFds, bitsFd]) await sys.close(fd);
    });
    expect(codec.m2m.jobsRun).toBe(6); // one engine ran both nodes' jobs
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('the decoder takes USERPTR bitstreams and frames from a process; a corrupt stream or one of another format fails the buffers with ERROR', async () => {
    const s = mediaSystem();
    registerJpeg({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 30 });
    const NV = W * H * 1.5;
    const raw = noise(NV, 9);
    const bits = new Uint8Array(ujpgMaxSize(NV));
    const len = ujpgEncode(raw, frameFormat(W, H, 'NV12'), V4L2_PIX_FMT_NV12, bits);
    await run(s, async (sys) => {
      const dec = await sys.open('/dev/video31', O_RDWR);
      const cf = await fmt(sys, dec, CAP, W, H, V4L2_PIX_FMT_NV12);
      expect([cf.fmt.pix.pixelformat, cf.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_NV12, NV]);
      expect(await errno(fmt(sys, dec, 9, W, H))).toBe('EINVAL');
      expect(await errno(sys.ioctl(dec, 0x12345678, {}))).toBe('ENOTTY');
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      const bsz = Math.ceil(bits.length / PAGE_SIZE) * PAGE_SIZE;
      const fsz = Math.ceil(NV / PAGE_SIZE) * PAGE_SIZE;
      const inp = await sys.mmap(0, bsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const out = await sys.mmap(0, fsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(inp, bits);
      await sys.store(out, new Uint8Array(NV).fill(0xee));
      await sys.ioctl(dec, VIDIOC_STREAMON, OUT);
      await sys.ioctl(dec, VIDIOC_STREAMON, CAP);
      const decodeOnce = async () => {
        await sys.ioctl(dec, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_USERPTR, { userptr: out }, 0, NV));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR, { userptr: inp }, len, bits.length));
        const d = buf(CAP, 0, V4L2_MEMORY_USERPTR);
        await sys.ioctl(dec, VIDIOC_DQBUF, d);
        const o = buf(OUT, 0, V4L2_MEMORY_USERPTR);
        await sys.ioctl(dec, VIDIOC_DQBUF, o);
        return [d, o] as const;
      };
      let [d, o] = await decodeOnce();
      expect([d.flags & FLAG_ERROR, d.bytesused, d.m.userptr, o.flags & FLAG_ERROR]).toEqual([0, NV, out, 0]);
      expect(mismatches(await sys.load(out, NV), raw)).toBe(0);
      // flip a payload byte: the checksum no longer matches
      await sys.store(inp + 100, new Uint8Array([bits[100]! ^ 0xff]));
      [d, o] = await decodeOnce();
      expect([d.flags & FLAG_ERROR, d.bytesused, o.flags & FLAG_ERROR]).toEqual([FLAG_ERROR, 0, FLAG_ERROR]);
      // a YUYV stream for an NV12 capture format
      const yuyv = new Uint8Array(ujpgMaxSize(RAW));
      const ylen = ujpgEncode(pattern(RAW, 1), frameFormat(W, H, 'YUYV'), V4L2_PIX_FMT_YUYV, yuyv);
      await sys.store(inp, yuyv.subarray(0, Math.min(ylen, bits.length)));
      [d] = await decodeOnce();
      expect(d.flags & FLAG_ERROR).toBe(FLAG_ERROR);
      await sys.close(dec);
      await sys.munmap(inp, bsz);
      await sys.munmap(out, fsz);
    });
    expect(s.soc.clock.pending).toBe(0);
  });
});
