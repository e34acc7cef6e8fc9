import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerVivid } from '../../src/drivers/index.ts';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { registerIsp } from '../../src/drivers/media/platform/isp.ts';
import { registerJpeg } from '../../src/drivers/media/platform/jpeg.ts';
import { registerVideoDecoder } from '../../src/drivers/media/platform/vdec.ts';
import { JPEG_MIN_SIZE, jpegMaxSize, frameFormat } from '../../src/formats/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  O_RDWR,
  V4L2_BUF_FLAG_TIMESTAMP_COPY,
  V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_CAP_TIMEPERFRAME,
  V4L2_FMT_FLAG_COMPRESSED,
  V4L2_FRMIVAL_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_STEPWISE,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_H264,
  V4L2_COLORSPACE_JPEG,
  V4L2_PIX_FMT_JPEG,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_RGB24,
  V4L2_PIX_FMT_UVD1,
  V4L2_PIX_FMT_XBGR32,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_ENUM_FMT,
  VIDIOC_ENUM_FRAMEINTERVALS,
  VIDIOC_ENUM_FRAMESIZES,
  VIDIOC_G_FMT,
  VIDIOC_G_PARM,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_S_PARM,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Fract,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { mediaSystem } from './camera-system.ts';
import { v4l2buf } from './v4l2-helpers.ts';

/** Every V4L2 node of the SoC at the numbers the platform gives them: vivid 0, camera 8, ISP 9, JPEG 10/11, decoder 12. */
function system(cameraFps?: number) {
  const s = mediaSystem();
  const base = { vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock };
  const vivid = registerVivid({ ...base, instances: [{ allocator: 'vmalloc' }] })[0]!;
  const camera = registerCamera({ ...base, device: s.camDev, nr: 8, fps: cameraFps });
  const isp = registerIsp({ ...base, device: s.isp, nr: 9 });
  const jpeg = registerJpeg({ ...base, device: s.isp, nr: 10 });
  const vdec = registerVideoDecoder({ ...base, device: s.isp, nr: 12 });
  return { ...s, vivid, camera, isp, jpeg, vdec };
}

type Desc = [pixelformat: number, description: string, flags: number];

/** ENUM_FMT from index 0 until EINVAL; checks the kernel keeps index and type. */
async function enumAll(sys: Sys, fd: number, type: number): Promise<Desc[]> {
  const out: Desc[] = [];
  for (let index = 0; ; index++) {
    const f: V4l2Fmtdesc = { index, type, flags: 0xff, description: 'junk', pixelformat: 0xdead, mbus_code: 0 };
    const e = await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, f));
    if (e === 'EINVAL') return out;
    expect(e).toBe('ok');
    expect([f.index, f.type]).toEqual([index, type]);
    out.push([f.pixelformat, f.description, f.flags]);
    if (index > 16) throw new Error('ENUM_FMT never ends');
  }
}

function fmtOf(type: number, width: number, height: number, pixelformat: number, sizeimage = 0): V4l2Format {
  return { type, fmt: { pix: { width, height, pixelformat, field: 0, bytesperline: 0, sizeimage } as V4l2PixFormat } };
}

async function gFmt(sys: Sys, fd: number, type: number): Promise<V4l2PixFormat> {
  const f = { type } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_G_FMT, f);
  return f.fmt.pix;
}

async function tryFmt(sys: Sys, fd: number, f: V4l2Format): Promise<V4l2PixFormat> {
  await sys.ioctl(fd, VIDIOC_TRY_FMT, f);
  return f.fmt.pix;
}

function parm(numerator: number, denominator: number, type = CAP): V4l2Streamparm {
  return { type, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator, denominator }, extendedmode: 0, readbuffers: 0 } } };
}

async function gParm(sys: Sys, fd: number): Promise<V4l2Streamparm> {
  const p = parm(0, 0);
  await sys.ioctl(fd, VIDIOC_G_PARM, p);
  return p;
}

async function sParm(sys: Sys, fd: number, numerator: number, denominator: number): Promise<V4l2Fract> {
  const p = parm(numerator, denominator);
  await sys.ioctl(fd, VIDIOC_S_PARM, p);
  expect(p.parm.capture!.capability & V4L2_CAP_TIMEPERFRAME).toBe(V4L2_CAP_TIMEPERFRAME);
  return p.parm.capture!.timeperframe;
}

/** REQBUFS of `n` MMAP capture buffers, all queued, STREAMON. */
async function startCapture(sys: Sys, fd: number, n: number): Promise<void> {
  const r = { count: n, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 };
  await sys.ioctl(fd, VIDIOC_REQBUFS, r);
  for (let i = 0; i < r.count; i++) await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i));
  await sys.ioctl(fd, VIDIOC_STREAMON, CAP);
}

/** DQBUF then QBUF again; returns the buffer's sequence and timestamp in µs. */
async function cycle(sys: Sys, fd: number): Promise<{ seq: number; us: number; flags: number }> {
  const b: V4l2Buffer = v4l2buf(0);
  await sys.ioctl(fd, VIDIOC_DQBUF, b);
  const r = { seq: b.sequence, us: b.timestamp.tv_sec * 1e6 + b.timestamp.tv_usec, flags: b.flags };
  await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(b.index));
  return r;
}

const YUYV: Desc = [V4L2_PIX_FMT_YUYV, 'YUYV 4:2:2', 0];
const NV12: Desc = [V4L2_PIX_FMT_NV12, 'Y/UV 4:2:0', 0];
const XR24: Desc = [V4L2_PIX_FMT_XBGR32, '32-bit BGRX 8-8-8-8', 0];
const JPEG: Desc = [V4L2_PIX_FMT_JPEG, 'JFIF JPEG', V4L2_FMT_FLAG_COMPRESSED];
const UVD1: Desc = [V4L2_PIX_FMT_UVD1, 'unimem UVD1 video', V4L2_FMT_FLAG_COMPRESSED];

describe('VIDIOC_ENUM_FMT on every node', () => {
  it('lists each queue’s formats in order until EINVAL, named by the core, compressed ones flagged; another buffer type is EINVAL', async () => {
    const s = system();
    const expected: [string, number, Desc[]][] = [
      ['/dev/video0', CAP, [YUYV]],
      ['/dev/video8', CAP, [YUYV, XR24]],
      ['/dev/video9', OUT, [YUYV, NV12]],
      ['/dev/video9', CAP, [NV12, XR24]],
      ['/dev/video10', OUT, [YUYV, NV12, XR24]],
      ['/dev/video10', CAP, [JPEG]],
      ['/dev/video11', OUT, [JPEG]],
      ['/dev/video11', CAP, [YUYV, NV12, XR24]],
      ['/dev/video12', OUT, [UVD1]],
      ['/dev/video12', CAP, [NV12, XR24]],
    ];
    await run(s, async (sys) => {
      for (const [path, type, list] of expected) {
        const fd = await sys.open(path, O_RDWR);
        expect([path, type, await enumAll(sys, fd, type)]).toEqual([path, type, list]);
        const bad: V4l2Fmtdesc = { index: 0, type: V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, flags: 0, description: '', pixelformat: 0, mbus_code: 0 };
        expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, bad))).toBe('EINVAL');
        await sys.close(fd);
      }
      // capture-only nodes have no OUTPUT queue
      for (const path of ['/dev/video0', '/dev/video8']) {
        const fd = await sys.open(path, O_RDWR);
        expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, { index: 0, type: OUT, flags: 0, description: '', pixelformat: 0, mbus_code: 0 }))).toBe('EINVAL');
        await sys.close(fd);
      }
    });
  });
});

describe('VIDIOC_TRY_FMT', () => {
  it('corrects as S_FMT would and changes nothing, even while S_FMT is EBUSY', async () => {
    const s = system();
    await run(s, async (sys) => {
      const cam = await sys.open('/dev/video8', O_RDWR);
      const before = await gFmt(sys, cam, CAP);
      const t = await tryFmt(sys, cam, fmtOf(CAP, 1001, 5000, V4L2_PIX_FMT_RGB24));
      expect([t.width, t.height, t.pixelformat, t.bytesperline, t.sizeimage]).toEqual([1000, 3072, V4L2_PIX_FMT_YUYV, 2000, 1000 * 3072 * 2]);
      const x = await tryFmt(sys, cam, fmtOf(CAP, 2, 2, V4L2_PIX_FMT_XBGR32));
      expect([x.width, x.height, x.pixelformat, x.bytesperline]).toEqual([16, 16, V4L2_PIX_FMT_XBGR32, 64]);
      expect(await gFmt(sys, cam, CAP)).toEqual(before);
      expect(await errno(sys.ioctl(cam, VIDIOC_TRY_FMT, fmtOf(OUT, 64, 64, V4L2_PIX_FMT_YUYV)))).toBe('EINVAL');
      await sys.ioctl(cam, VIDIOC_REQBUFS, { count: 2, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
      expect(await errno(sys.ioctl(cam, VIDIOC_S_FMT, fmtOf(CAP, 320, 240, V4L2_PIX_FMT_YUYV)))).toBe('EBUSY');
      expect((await tryFmt(sys, cam, fmtOf(CAP, 320, 240, V4L2_PIX_FMT_YUYV))).sizeimage).toBe(320 * 240 * 2);
      expect(await gFmt(sys, cam, CAP)).toEqual(before);

      const viv = await sys.open('/dev/video0', O_RDWR);
      const v = await tryFmt(sys, viv, fmtOf(CAP, 5001, 3000, V4L2_PIX_FMT_NV12));
      expect([v.width, v.height, v.pixelformat]).toEqual([4096, 2304, V4L2_PIX_FMT_YUYV]);
      expect([(await gFmt(sys, viv, CAP)).width, s.vivid.format.width]).toEqual([640, 640]);

      const isp = await sys.open('/dev/video9', O_RDWR);
      const io = await tryFmt(sys, isp, fmtOf(OUT, 1023, 30, V4L2_PIX_FMT_NV12));
      expect([io.width, io.height, io.pixelformat, io.sizeimage]).toEqual([1020, 28, V4L2_PIX_FMT_NV12, 1020 * 28 * 1.5]);
      const ic = await tryFmt(sys, isp, fmtOf(CAP, 100, 100, V4L2_PIX_FMT_XBGR32));
      expect([ic.width, ic.height, ic.pixelformat]).toEqual([320, 240, V4L2_PIX_FMT_XBGR32]);
      expect([(await gFmt(sys, isp, OUT)).pixelformat, (await gFmt(sys, isp, CAP)).width]).toEqual([V4L2_PIX_FMT_YUYV, 640]);

      const dec = await sys.open('/dev/video11', O_RDWR);
      expect((await tryFmt(sys, dec, fmtOf(OUT, 0, 0, V4L2_PIX_FMT_JPEG, 10))).sizeimage).toBe(JPEG_MIN_SIZE);
      const dr = await tryFmt(sys, dec, fmtOf(CAP, 99, 51, V4L2_PIX_FMT_NV12));
      expect([dr.width, dr.height, dr.pixelformat]).toEqual([98, 50, V4L2_PIX_FMT_NV12]);
      expect((await gFmt(sys, dec, CAP)).pixelformat).toBe(V4L2_PIX_FMT_YUYV);
      const enc = await sys.open('/dev/video10', O_RDWR);
      const ec = await tryFmt(sys, enc, fmtOf(CAP, 32, 32, V4L2_PIX_FMT_YUYV));
      expect([ec.width, ec.pixelformat]).toEqual([640, V4L2_PIX_FMT_JPEG]);
      // JFIF: full-range BT.601 Y'CbCr, sRGB primaries; sizeimage the headers and the picture's samples uncompressed
      expect([ec.colorspace, ec.sizeimage]).toEqual([V4L2_COLORSPACE_JPEG, jpegMaxSize(frameFormat(640, 480, 'YUYV'))]);

      const vd = await sys.open('/dev/video12', O_RDWR);
      const vo = await tryFmt(sys, vd, fmtOf(OUT, 33, 17, V4L2_PIX_FMT_H264));
      expect([vo.width, vo.height, vo.pixelformat]).toEqual([32, 16, V4L2_PIX_FMT_UVD1]);
      expect((await gFmt(sys, vd, OUT)).width).toBe(640);
    });
  });

  it('the camera: TRY_FMT is what S_FMT then sets, and trying that again changes nothing (property)', async () => {
    const s = system();
    const cases = fc.sample(fc.tuple(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 0, max: 9000 }), fc.constantFrom(V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_NV12, 0)), { numRuns: 40, seed: 7 });
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video8', O_RDWR);
      for (const [w, h, pf] of cases) {
        const t = await tryFmt(sys, fd, fmtOf(CAP, w, h, pf));
        const again = await tryFmt(sys, fd, fmtOf(CAP, t.width, t.height, t.pixelformat));
        expect(again).toEqual(t);
        const f = fmtOf(CAP, w, h, pf);
        await sys.ioctl(fd, VIDIOC_S_FMT, f);
        expect(f.fmt.pix).toEqual(t);
        expect(await gFmt(sys, fd, CAP)).toEqual(t);
      }
    });
  });
});

describe('the camera’s frame interval (G_PARM / S_PARM)', () => {
  it('defaults to 1/30 with V4L2_CAP_TIMEPERFRAME; S_PARM takes the nearest supported interval and writes it back; zero resets', async () => {
    const s = system();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video8', O_RDWR);
      const p = await gParm(sys, fd);
      expect(p.parm.capture).toMatchObject({ capability: V4L2_CAP_TIMEPERFRAME, capturemode: 0, timeperframe: { numerator: 1, denominator: 30 }, extendedmode: 0, readbuffers: 0 });
      expect(await sParm(sys, fd, 1, 20)).toEqual({ numerator: 1, denominator: 24 });
      expect(await sParm(sys, fd, 1, 1000)).toEqual({ numerator: 1, denominator: 60 });
      expect(await sParm(sys, fd, 10, 1)).toEqual({ numerator: 1, denominator: 15 });
      expect(await sParm(sys, fd, 1001, 30000)).toEqual({ numerator: 1, denominator: 30 });
      expect(await sParm(sys, fd, 1, 15)).toEqual({ numerator: 1, denominator: 15 });
      expect((await gParm(sys, fd)).parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 15 });
      expect(await sParm(sys, fd, 0, 0)).toEqual({ numerator: 1, denominator: 30 });
      expect(await errno(sys.ioctl(fd, VIDIOC_G_PARM, parm(1, 30, OUT)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_S_PARM, parm(1, 30, OUT)))).toBe('EINVAL');
      expect(s.camera.timeperframe).toEqual({ numerator: 1, denominator: 30 });
    });
  });

  it('S_PARM 1/15 makes DQBUF timestamps 1/15 s apart, frames numbered on; S_PARM while streaming is EBUSY and changes nothing', async () => {
    const s = system();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video8', O_RDWR);
      await sys.ioctl(fd, VIDIOC_S_FMT, fmtOf(CAP, 64, 48, V4L2_PIX_FMT_YUYV));
      expect(await sParm(sys, fd, 1, 15)).toEqual({ numerator: 1, denominator: 15 });
      await startCapture(sys, fd, 3);
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await cycle(sys, fd));
      expect(got.map((g) => g.seq)).toEqual([0, 1, 2, 3, 4]);
      for (let i = 1; i < got.length; i++) expect(Math.abs(got[i]!.us - got[i - 1]!.us - 1e6 / 15)).toBeLessThanOrEqual(1);
      expect(got[0]!.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK).toBe(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
      const busy = parm(1, 60);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_PARM, busy))).toBe('EBUSY');
      expect(busy.parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 15 });
      const more = [await cycle(sys, fd), await cycle(sys, fd)];
      expect(Math.abs(more[1]!.us - more[0]!.us - 1e6 / 15)).toBeLessThanOrEqual(1);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, CAP);
      // stopped: 1/60 now takes, and the next stream runs at it
      expect(await sParm(sys, fd, 1, 60)).toEqual({ numerator: 1, denominator: 60 });
      await sys.ioctl(fd, VIDIOC_STREAMON, CAP);
      for (let i = 0; i < 3; i++) await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i));
      const a = await cycle(sys, fd);
      const b = await cycle(sys, fd);
      expect([a.seq, b.seq]).toEqual([0, 1]);
      expect(Math.abs(b.us - a.us - 1e6 / 60)).toBeLessThanOrEqual(1);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, CAP);
      await sys.close(fd);
    });
  });

  it('ENUM_FRAMESIZES is one stepwise range; ENUM_FRAMEINTERVALS lists the intervals for a size S_FMT takes; a probe rate outside the table joins it', async () => {
    const s = system(25);
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video8', O_RDWR);
      const fs: V4l2Frmsizeenum = { index: 0, pixel_format: V4L2_PIX_FMT_XBGR32, type: 0 };
      await sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, fs);
      expect([fs.type, fs.stepwise]).toEqual([V4L2_FRMSIZE_TYPE_STEPWISE, { min_width: 16, max_width: 4096, step_width: 2, min_height: 16, max_height: 3072, step_height: 1 }]);
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, { index: 1, pixel_format: V4L2_PIX_FMT_YUYV, type: 0 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, { index: 0, pixel_format: V4L2_PIX_FMT_JPEG, type: 0 }))).toBe('EINVAL');
      const ivals: V4l2Fract[] = [];
      for (let index = 0; ; index++) {
        const fi: V4l2Frmivalenum = { index, pixel_format: V4L2_PIX_FMT_YUYV, width: 640, height: 480, type: 0 };
        if ((await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, fi))) === 'EINVAL') break;
        expect(fi.type).toBe(V4L2_FRMIVAL_TYPE_DISCRETE);
        ivals.push(fi.discrete!);
      }
      expect(ivals.map((t) => `${t.numerator}/${t.denominator}`)).toEqual(['1/60', '1/30', '1/25', '1/24', '1/15']);
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, { index: 0, pixel_format: V4L2_PIX_FMT_YUYV, width: 641, height: 480, type: 0 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, { index: 0, pixel_format: V4L2_PIX_FMT_NV12, width: 640, height: 480, type: 0 }))).toBe('EINVAL');
      expect((await gParm(sys, fd)).parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 25 });
      expect(await sParm(sys, fd, 1, 26)).toEqual({ numerator: 1, denominator: 25 });
    });
  });
});

describe('vivid’s frame interval (its webcam input)', () => {
  it('G_PARM reports the interval and one read buffer; S_PARM picks from the table the frame size allows, also while streaming, and the cadence follows', async () => {
    const s = system();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      expect((await gParm(sys, fd)).parm.capture).toMatchObject({ capability: V4L2_CAP_TIMEPERFRAME, timeperframe: { numerator: 1, denominator: 30 }, readbuffers: 1 });
      // 640x480 offers 1/1 .. 1/25: the longest interval not longer than asked, else the shortest
      expect(await sParm(sys, fd, 1, 30)).toEqual({ numerator: 1, denominator: 25 });
      expect(await sParm(sys, fd, 1, 12)).toEqual({ numerator: 2, denominator: 25 });
      expect(await sParm(sys, fd, 3, 1)).toEqual({ numerator: 1, denominator: 1 });
      expect(await sParm(sys, fd, 1, 0)).toEqual({ numerator: 1, denominator: 25 });
      await sys.ioctl(fd, VIDIOC_S_FMT, fmtOf(CAP, 320, 180, V4L2_PIX_FMT_YUYV));
      expect(await sParm(sys, fd, 1, 60)).toEqual({ numerator: 1, denominator: 60 });
      // a larger frame offers fewer intervals: the chosen one becomes the last it offers
      await sys.ioctl(fd, VIDIOC_S_FMT, fmtOf(CAP, 1920, 1080, V4L2_PIX_FMT_YUYV));
      expect((await gParm(sys, fd)).parm.capture!.timeperframe).toEqual({ numerator: 1, denominator: 5 });
      await sys.ioctl(fd, VIDIOC_S_FMT, fmtOf(CAP, 320, 180, V4L2_PIX_FMT_YUYV));
      expect(await sParm(sys, fd, 1, 50)).toEqual({ numerator: 1, denominator: 50 });
      await startCapture(sys, fd, 2);
      const a = await cycle(sys, fd);
      const b = await cycle(sys, fd);
      expect(Math.abs(b.us - a.us - 20_000)).toBeLessThanOrEqual(1);
      expect(await sParm(sys, fd, 1, 10)).toEqual({ numerator: 1, denominator: 10 });
      const c = await cycle(sys, fd);
      const d = await cycle(sys, fd);
      expect(Math.abs(d.us - c.us - 100_000)).toBeLessThanOrEqual(1);
      expect([b.seq > a.seq, c.seq > b.seq, d.seq]).toEqual([true, true, c.seq + 1]);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, CAP);
    });
  });
});

describe('ioctls a driver lacks', () => {
  it('are ENOTTY: frame intervals on the m2m nodes, frame sizes on vivid\'s output node (vivid disables them there); the m2m queues report copied timestamps', async () => {
    const s = system();
    await run(s, async (sys) => {
      for (const path of ['/dev/video9', '/dev/video10', '/dev/video11', '/dev/video12']) {
        const fd = await sys.open(path, O_RDWR);
        expect([path, await errno(sys.ioctl(fd, VIDIOC_G_PARM, parm(0, 0)))]).toEqual([path, 'ENOTTY']);
        expect(await errno(sys.ioctl(fd, VIDIOC_S_PARM, parm(1, 30)))).toBe('ENOTTY');
        expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, { index: 0, pixel_format: V4L2_PIX_FMT_NV12, type: 0 }))).toBe('ENOTTY');
        await sys.ioctl(fd, VIDIOC_REQBUFS, { count: 1, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 });
        const q = v4l2buf(0);
        await sys.ioctl(fd, VIDIOC_QUERYBUF, q);
        expect(q.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK).toBe(V4L2_BUF_FLAG_TIMESTAMP_COPY);
        await sys.close(fd);
      }
      const viv = await sys.open('/dev/video1', O_RDWR);
      expect(await errno(sys.ioctl(viv, VIDIOC_ENUM_FRAMESIZES, { index: 0, pixel_format: V4L2_PIX_FMT_YUYV, type: 0 }))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(viv, VIDIOC_ENUM_FRAMEINTERVALS, { index: 0, pixel_format: V4L2_PIX_FMT_YUYV, width: 640, height: 480, type: 0 }))).toBe('ENOTTY');
    });
  });
});
