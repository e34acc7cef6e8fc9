import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { registerJpeg } from '../../src/drivers/media/platform/jpeg.ts';
import { frameFormat, jpegDecode, jpegEncode, jpegMaxSize, psnr, syntheticPhoto } from '../../src/formats/index.ts';
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
import { errno, mismatches, run } from '../dmabuf/helpers.ts';
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

/** Incompressible bytes (an LCG): the hardest picture for JPEG. */
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
  it('camera -> encoder -> decoder by dma-buf fds only: each JPEG holds the camera frame within 32 dB and the decoder gives the codec\'s decode of it byte for byte', async () => {
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
      expect([cf.fmt.pix.pixelformat, cf.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_JPEG, jpegMaxSize(frameFormat(W, H, 'YUYV'))]);
      await sys.ioctl(enc, VIDIOC_REQBUFS, { count: 2, type: OUT, memory: V4L2_MEMORY_DMABUF, capabilities: 0, flags: 0 });
      await sys.ioctl(enc, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      const bitsFd = await expbuf(enc, CAP, 0);
      const eb = buf(CAP, 0, V4L2_MEMORY_MMAP);
      await sys.ioctl(enc, VIDIOC_QUERYBUF, eb);
      const jpegs = await sys.mmap(0, eb.length, PROT_READ, MAP_SHARED, enc, eb.m.offset!);
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
        const file = await sys.load(jpegs, e.bytesused);
        expect([...file.subarray(0, 2), ...file.subarray(e.bytesused - 2)]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
        await sys.ioctl(enc, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_MMAP));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF, { fd: bitsFd }, e.bytesused));
        const d = buf(CAP, 0, V4L2_MEMORY_MMAP);
        await sys.ioctl(dec, VIDIOC_DQBUF, d);
        expect([d.flags & FLAG_ERROR, d.bytesused]).toEqual([0, RAW]);
        const pixels = await sys.load(decoded, RAW);
        const yuyv = frameFormat(W, H, 'YUYV');
        expect(psnr(cam.expectedFrame(f.sequence), pixels, yuyv)).toBeGreaterThan(32);
        const ref = new Uint8Array(RAW);
        jpegDecode(file, file.length, yuyv, ref);
        expect(mismatches(pixels, ref)).toBe(0);
        await sys.ioctl(dec, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_DMABUF));
        await sys.ioctl(c, VIDIOC_QBUF, buf(CAP, f.index, V4L2_MEMORY_MMAP));
      }
      expect(s.dbs.buffers.length).toBe(exports);
      await sys.munmap(decoded, qb.length);
      await sys.munmap(jpegs, eb.length);
      for (const fd of [c, enc, dec, ...camFds, bitsFd]) await sys.close(fd);
    });
    expect(codec.m2m.jobsRun).toBe(6); // one engine ran both nodes' jobs
    expect(s.dbs.buffers.length).toBe(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('the decoder takes USERPTR files and frames from a process and gives the codec\'s decode; a progressive file or one of another size fails the buffers with ERROR', async () => {
    const s = mediaSystem();
    registerJpeg({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 30 });
    const nv12 = frameFormat(W, H, 'NV12');
    const NV = nv12.size;
    const file = (f: typeof nv12, raw: Uint8Array) => {
      const b = new Uint8Array(jpegMaxSize(f));
      return b.slice(0, jpegEncode(raw, f, b));
    };
    const bits = file(nv12, noise(NV, 9));
    const want = new Uint8Array(NV);
    jpegDecode(bits, bits.length, nv12, want);
    await run(s, async (sys) => {
      const dec = await sys.open('/dev/video31', O_RDWR);
      const cf = await fmt(sys, dec, CAP, W, H, V4L2_PIX_FMT_NV12);
      expect([cf.fmt.pix.pixelformat, cf.fmt.pix.sizeimage]).toEqual([V4L2_PIX_FMT_NV12, NV]);
      expect(await errno(fmt(sys, dec, 9, W, H))).toBe('EINVAL');
      expect(await errno(sys.ioctl(dec, 0x12345678, {}))).toBe('ENOTTY');
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: OUT, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      await sys.ioctl(dec, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
      const bsz = Math.ceil(jpegMaxSize(nv12) / PAGE_SIZE) * PAGE_SIZE;
      const fsz = Math.ceil(NV / PAGE_SIZE) * PAGE_SIZE;
      const inp = await sys.mmap(0, bsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const out = await sys.mmap(0, fsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(inp, bits);
      await sys.store(out, new Uint8Array(NV).fill(0xee));
      await sys.ioctl(dec, VIDIOC_STREAMON, OUT);
      await sys.ioctl(dec, VIDIOC_STREAMON, CAP);
      const decodeOnce = async (len: number) => {
        await sys.ioctl(dec, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_USERPTR, { userptr: out }, 0, NV));
        await sys.ioctl(dec, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR, { userptr: inp }, len, bsz));
        const d = buf(CAP, 0, V4L2_MEMORY_USERPTR);
        await sys.ioctl(dec, VIDIOC_DQBUF, d);
        const o = buf(OUT, 0, V4L2_MEMORY_USERPTR);
        await sys.ioctl(dec, VIDIOC_DQBUF, o);
        return [d, o] as const;
      };
      let [d, o] = await decodeOnce(bits.length);
      expect([d.flags & FLAG_ERROR, d.bytesused, d.m.userptr, o.flags & FLAG_ERROR]).toEqual([0, NV, out, 0]);
      expect(mismatches(await sys.load(out, NV), want)).toBe(0);
      // SOF0 made SOF2: a progressive file, which a baseline decoder refuses
      const sof = bits.findIndex((b, i) => b === 0xff && bits[i + 1] === 0xc0);
      await sys.store(inp + sof + 1, new Uint8Array([0xc2]));
      [d, o] = await decodeOnce(bits.length);
      expect([d.flags & FLAG_ERROR, d.bytesused, o.flags & FLAG_ERROR]).toEqual([FLAG_ERROR, 0, FLAG_ERROR]);
      // a picture of another size than the capture format
      const small = frameFormat(W / 2, H / 2, 'NV12');
      const other = file(small, syntheticPhoto(small, 1, 0));
      await sys.store(inp, other);
      [d] = await decodeOnce(other.length);
      expect(d.flags & FLAG_ERROR).toBe(FLAG_ERROR);
      await sys.close(dec);
      await sys.munmap(inp, bsz);
      await sys.munmap(out, fsz);
    });
    expect(s.soc.clock.pending).toBe(0);
  });
});

const DJPEG = '/usr/bin/djpeg';
const CJPEG = '/usr/bin/cjpeg';
const PW = 160;
const PH = 120;

/** The luma of a PGM (P5) or the RGB of a PPM (P6) that djpeg wrote. */
function pnmSamples(file: string): Uint8Array {
  const b = readFileSync(file);
  // header: magic, width, height, maxval, each followed by one whitespace byte
  let at = 0;
  for (let fields = 0; fields < 4; at++) if (b[at] === 0x0a || b[at] === 0x20) fields++;
  return new Uint8Array(b.buffer, b.byteOffset + at, b.length - at);
}

/** PSNR of two sample arrays of the same length. */
function psnrOf(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}

/** Runs one job on the m2m node `fd`: `input` (USERPTR, `used` bytes) in, the output (USERPTR of `outLen`) out; returns its bytesused and flags. */
async function userptrJob(sys: Sys, fd: number, input: number, inLen: number, used: number, output: number, outLen: number): Promise<V4l2Buffer> {
  await sys.ioctl(fd, VIDIOC_QBUF, buf(CAP, 0, V4L2_MEMORY_USERPTR, { userptr: output }, 0, outLen));
  await sys.ioctl(fd, VIDIOC_QBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR, { userptr: input }, used, inLen));
  const d = buf(CAP, 0, V4L2_MEMORY_USERPTR);
  await sys.ioctl(fd, VIDIOC_DQBUF, d);
  await sys.ioctl(fd, VIDIOC_DQBUF, buf(OUT, 0, V4L2_MEMORY_USERPTR));
  return d;
}

async function userptrNode(sys: Sys, path: string, out: number, cap: number): Promise<{ fd: number; out: V4l2Format; cap: V4l2Format }> {
  const fd = await sys.open(path, O_RDWR);
  const o = await fmt(sys, fd, OUT, PW, PH, out);
  const c = await fmt(sys, fd, CAP, PW, PH, cap);
  for (const type of [OUT, CAP]) await sys.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type, memory: V4L2_MEMORY_USERPTR, capabilities: 0, flags: 0 });
  for (const type of [OUT, CAP]) await sys.ioctl(fd, VIDIOC_STREAMON, type);
  return { fd, out: o, cap: c };
}

const anon = (sys: Sys, len: number) => sys.mmap(0, Math.ceil(len / PAGE_SIZE) * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

// Debian's libjpeg-turbo-progs; .ci/run installs it. Skipped only where it is absent, and the title says so.
const NO_LIBJPEG = !existsSync(DJPEG) || !existsSync(CJPEG);
describe.skipIf(NO_LIBJPEG)(`JPEG files and an independent codec (libjpeg-turbo djpeg/cjpeg)${NO_LIBJPEG ? `: SKIPPED, no ${DJPEG} or ${CJPEG} (apt-get install libjpeg-turbo-progs)` : ''}`, () => {
  it('a JPEG the encoder wrote through V4L2 opens in djpeg: its luma and its colour are the source photo\'s within 32 dB', async () => {
    const s = mediaSystem();
    registerJpeg({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 30 });
    const yuyv = frameFormat(PW, PH, 'YUYV');
    const photo = syntheticPhoto(yuyv, 4, 2);
    let file: Uint8Array = new Uint8Array(0);
    await run(s, async (sys) => {
      const enc = await userptrNode(sys, '/dev/video30', V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_JPEG);
      const max = enc.cap.fmt.pix.sizeimage;
      const src = await anon(sys, yuyv.size);
      const bits = await anon(sys, max);
      await sys.store(src, photo);
      const e = await userptrJob(sys, enc.fd, src, yuyv.size, yuyv.size, bits, max);
      expect(e.flags & FLAG_ERROR).toBe(0);
      file = await sys.load(bits, e.bytesused);
      await sys.close(enc.fd);
    });
    const dir = mkdtempSync(join(tmpdir(), 'unimem-jpeg-'));
    try {
      writeFileSync(join(dir, 'enc.jpg'), file);
      execFileSync(DJPEG, ['-grayscale', '-pnm', '-outfile', join(dir, 'y.pgm'), join(dir, 'enc.jpg')]);
      execFileSync(DJPEG, ['-nosmooth', '-ppm', '-outfile', join(dir, 'rgb.ppm'), join(dir, 'enc.jpg')]);
      const luma = new Uint8Array(PW * PH);
      const rgb = new Uint8Array(PW * PH * 3);
      const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
      for (let i = 0; i < PW * PH; i++) {
        const p = (i >> 1) * 4;
        const y = photo[i * 2]!;
        const u = photo[p + 1]! - 128;
        const v = photo[p + 3]! - 128;
        luma[i] = y;
        rgb.set([clamp(y + 1.402 * v), clamp(y - 0.344136 * u - 0.714136 * v), clamp(y + 1.772 * u)], i * 3);
      }
      expect(psnrOf(luma, pnmSamples(join(dir, 'y.pgm')))).toBeGreaterThan(32);
      expect(psnrOf(rgb, pnmSamples(join(dir, 'rgb.ppm')))).toBeGreaterThan(32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a photo cjpeg made (4:2:0, quality 85) decodes through V4L2 to the codec\'s decode of it, and to djpeg\'s luma within 40 dB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-jpeg-'));
    let file: Uint8Array;
    let djpegLuma: Uint8Array;
    try {
      const xr = frameFormat(PW, PH, 'XR24');
      const bgrx = syntheticPhoto(xr, 9, 1);
      const rgb = new Uint8Array(PW * PH * 3);
      for (let i = 0; i < PW * PH; i++) rgb.set([bgrx[i * 4 + 2]!, bgrx[i * 4 + 1]!, bgrx[i * 4]!], i * 3);
      writeFileSync(join(dir, 'photo.ppm'), Buffer.concat([Buffer.from(`P6\n${PW} ${PH}\n255\n`), rgb]));
      execFileSync(CJPEG, ['-quality', '85', '-outfile', join(dir, 'photo.jpg'), join(dir, 'photo.ppm')]);
      execFileSync(DJPEG, ['-grayscale', '-pnm', '-outfile', join(dir, 'y.pgm'), join(dir, 'photo.jpg')]);
      file = new Uint8Array(readFileSync(join(dir, 'photo.jpg')));
      djpegLuma = pnmSamples(join(dir, 'y.pgm')).slice();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const yuyv = frameFormat(PW, PH, 'YUYV');
    const want = new Uint8Array(yuyv.size);
    jpegDecode(file, file.length, yuyv, want);
    const s = mediaSystem();
    registerJpeg({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.isp, nr: 30 });
    await run(s, async (sys) => {
      const dec = await userptrNode(sys, '/dev/video31', V4L2_PIX_FMT_JPEG, V4L2_PIX_FMT_YUYV);
      const max = dec.out.fmt.pix.sizeimage;
      expect(max).toBeGreaterThanOrEqual(file.length);
      const bits = await anon(sys, max);
      const pixels = await anon(sys, yuyv.size);
      await sys.store(bits, file);
      const d = await userptrJob(sys, dec.fd, bits, max, file.length, pixels, yuyv.size);
      expect([d.flags & FLAG_ERROR, d.bytesused]).toEqual([0, yuyv.size]);
      const got = await sys.load(pixels, yuyv.size);
      expect(mismatches(got, want)).toBe(0);
      expect(psnrOf(got.filter((_, i) => i % 2 === 0), djpegLuma)).toBeGreaterThan(40);
      await sys.close(dec.fd);
    });
  });
});
