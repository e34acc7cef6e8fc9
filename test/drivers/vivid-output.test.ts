import { describe, expect, it } from 'vitest';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import {
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  POLLOUT,
  POLLWRNORM,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_QUEUED,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_COLORSPACE_JPEG,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_ALTERNATE,
  V4L2_FIELD_ANY,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_NONE,
  V4L2_FIELD_SEQ_TB,
  V4L2_FIELD_TOP,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  V4L2_OUTPUT_TYPE_ANALOG,
  V4L2_OUT_CAP_DV_TIMINGS,
  V4L2_OUT_CAP_STD,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_YUYV,
  V4L2_STD_ALL,
  VIDIOC_DQBUF,
  VIDIOC_ENUMINPUT,
  VIDIOC_ENUMOUTPUT,
  VIDIOC_ENUM_FMT,
  VIDIOC_ENUM_FRAMESIZES,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_G_OUTPUT,
  VIDIOC_G_PARM,
  VIDIOC_QBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_S_OUTPUT,
  VIDIOC_S_PARM,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Capability,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Output,
  type V4l2PixFormat,
  type V4l2Streamparm,
} from '../../src/uapi/index.ts';
import { errno, pattern, run } from '../dmabuf/helpers.ts';
import { expbuf, reqbufs, v4l2buf, vividSystem, withVivid } from './v4l2-helpers.ts';
import { dumb, mapDumb, toFd, vgemSystem } from './vgem-helpers.ts';

const OUT = V4L2_BUF_TYPE_VIDEO_OUTPUT;
const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;
/** PAL's frame: 720x576 YUYV. */
const PAL_SIZE = 1440 * 576;

function pix(width: number, height: number, over: Partial<V4l2PixFormat> = {}): V4l2Format {
  return {
    type: OUT,
    fmt: { pix: { width, height, pixelformat: V4L2_PIX_FMT_YUYV, field: V4L2_FIELD_ANY, bytesperline: 0, sizeimage: 0, colorspace: 0, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0, ...over } },
  };
}

async function gFmt(sys: Sys, fd: number): Promise<V4l2PixFormat> {
  const f = pix(0, 0);
  await sys.ioctl(fd, VIDIOC_G_FMT, f);
  return f.fmt.pix;
}

async function querycap(sys: Sys, fd: number): Promise<V4l2Capability> {
  const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 } as V4l2Capability;
  await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
  return cap;
}

async function enumOutput(sys: Sys, fd: number, index: number): Promise<V4l2Output> {
  const out: V4l2Output = { index, name: 'junk', type: 99, audioset: 99, modulator: 99, std: 99, capabilities: 99, reserved: [9, 9, 9] };
  await sys.ioctl(fd, VIDIOC_ENUMOUTPUT, out);
  return out;
}

async function outInterval(sys: Sys, fd: number): Promise<string> {
  const p: V4l2Streamparm = { type: OUT, parm: {} };
  await sys.ioctl(fd, VIDIOC_G_PARM, p);
  const o = p.parm.output!;
  return `${o.timeperframe.numerator}/${o.timeperframe.denominator} cap=${o.capability} wb=${o.writebuffers}`;
}

/** An output buffer to queue: `bytesused` bytes filled. */
function outbuf(index: number, bytesused: number, memory = V4L2_MEMORY_MMAP, m: V4l2Buffer['m'] = {}, length = 0): V4l2Buffer {
  return { ...v4l2buf(index, memory, m, length, OUT), bytesused };
}

async function dq(sys: Sys, fd: number, memory = V4L2_MEMORY_MMAP): Promise<V4l2Buffer> {
  const b = v4l2buf(0, memory, {}, 0, OUT);
  await sys.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}

function usOf(b: V4l2Buffer): number {
  return b.timestamp.tv_sec * 1e6 + b.timestamp.tv_usec;
}

describe("vivid's output node on linux-6.1-reference (vivid_create_devnodes, vivid_set_capabilities)", () => {
  it('is /dev/video1 and /dev/video5, after each instance\'s capture; QUERYCAP device_caps 0x05220202, capabilities 0x9dbf0ff7; named vivid-00i-vid-out in sysfs', async () => {
    const sys = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
    const child = spawnProcess(sys.proc, async (s) => {
      const rows = [];
      for (const [path, bus] of [['/dev/video0', 'platform:vivid-000'], ['/dev/video1', 'platform:vivid-000'], ['/dev/video4', 'platform:vivid-001'], ['/dev/video5', 'platform:vivid-001']] as const) {
        const fd = await s.open(path, O_RDWR);
        const cap = await querycap(s, fd);
        rows.push([path, cap.driver, cap.card, cap.bus_info === bus, cap.device_caps.toString(16), cap.capabilities.toString(16)]);
        await s.close(fd);
      }
      expect(rows).toEqual([
        ['/dev/video0', 'vivid', 'vivid', true, '5230005', '9dbf0ff7'],
        ['/dev/video1', 'vivid', 'vivid', true, '5220202', '9dbf0ff7'],
        ['/dev/video4', 'vivid', 'vivid', true, '5230005', '9dbf0ff7'],
        ['/dev/video5', 'vivid', 'vivid', true, '5220202', '9dbf0ff7'],
      ]);
      expect(await s.readFile('/sys/class/video4linux/video1/name')).toBe('vivid-000-vid-out\n');
      expect(await s.readFile('/sys/class/video4linux/video5/name')).toBe('vivid-001-vid-out\n');
      expect(await s.readFile('/sys/devices/platform/vivid.1/video4linux/video5/dev')).toBe('81:5\n');
      return 0;
    }, []);
    expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
    if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
  });
});

describe("vivid's outputs (vidioc_enum_output, g_output, s_output with the default output_types 0x02)", () => {
  it('has the request numbers of 6.1\'s videodev2.h', () => {
    expect([VIDIOC_G_OUTPUT, VIDIOC_S_OUTPUT, VIDIOC_ENUMOUTPUT].map((n) => (n >>> 0).toString(16))).toEqual(['8004562e', 'c004562f', 'c0485630']);
  });

  it('ENUMOUTPUT lists S-Video 0 (standards, two audio outputs) and HDMI 0 (DV timings); EINVAL from 2; the input ioctls are ENOTTY here and the output ones on the capture node', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      const rows = [];
      for (let i = 0; i < 2; i++) {
        const o = await enumOutput(sys, fd, i);
        rows.push([o.index, o.name, o.type, o.audioset, o.modulator, o.std, o.capabilities, o.reserved]);
      }
      expect(rows).toEqual([
        [0, 'S-Video 0', V4L2_OUTPUT_TYPE_ANALOG, 3, 0, V4L2_STD_ALL, V4L2_OUT_CAP_STD, [0, 0, 0]],
        [1, 'HDMI 0', V4L2_OUTPUT_TYPE_ANALOG, 0, 0, 0, V4L2_OUT_CAP_DV_TIMINGS, [0, 0, 0]],
      ]);
      expect(await errno(enumOutput(sys, fd, 2))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUMINPUT, { index: 0, name: '', type: 0, audioset: 0, tuner: 0, std: 0, status: 0, capabilities: 0 }))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, { index: 0, pixel_format: V4L2_PIX_FMT_YUYV, type: 0 }))).toBe('ENOTTY');
      const cap = await sys.open('/dev/video0', O_RDWR);
      expect(await errno(enumOutput(sys, cap, 0))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(cap, VIDIOC_G_OUTPUT, { value: 0 }))).toBe('ENOTTY');
      await sys.close(cap);
      await sys.close(fd);
    });
  });

  it('S_OUTPUT switches the format and interval to the output\'s (PAL S-Video, 720p60 HDMI); EINVAL from 2, EBUSY with buffers; S_PARM is ENOTTY', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      const g = { value: -1 };
      await sys.ioctl(fd, VIDIOC_G_OUTPUT, g);
      expect(g.value).toBe(0);
      const f0 = await gFmt(sys, fd);
      expect([f0.width, f0.height, f0.pixelformat, f0.field, f0.bytesperline, f0.sizeimage, f0.colorspace]).toEqual([720, 576, V4L2_PIX_FMT_YUYV, V4L2_FIELD_INTERLACED, 1440, PAL_SIZE, V4L2_COLORSPACE_SMPTE170M]);
      expect(await outInterval(sys, fd)).toBe('1000/25000 cap=4096 wb=1');
      await sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 1 });
      const f1 = await gFmt(sys, fd);
      expect([f1.width, f1.height, f1.field, f1.bytesperline, f1.sizeimage, f1.colorspace]).toEqual([1280, 720, V4L2_FIELD_NONE, 2560, 2560 * 720, V4L2_COLORSPACE_REC709]);
      expect(await outInterval(sys, fd)).toBe('12375/742500 cap=4096 wb=1');
      expect(await errno(sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 2 }))).toBe('EINVAL');
      await reqbufs(sys, fd, 2, V4L2_MEMORY_MMAP, OUT);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 0 }))).toBe('EBUSY');
      expect(await errno(sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 1 }))).toBe('ok');
      const sp: V4l2Streamparm = { type: OUT, parm: { output: { capability: 0, outputmode: 0, timeperframe: { numerator: 1, denominator: 30 }, extendedmode: 0, writebuffers: 0 } } };
      expect(await errno(sys.ioctl(fd, VIDIOC_S_PARM, sp))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(fd, VIDIOC_S_PARM, { ...sp, type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1, denominator: 30 }, extendedmode: 0, readbuffers: 0 } } }))).toBe('EINVAL');
      await sys.close(fd);
    });
  });
});

describe("vivid's output format (vivid_try_fmt_vid_out, vivid_s_fmt_vid_out)", () => {
  it('ENUM_FMT lists YUYV for VIDEO_OUTPUT; TRY_FMT makes any format YUYV, keeps a bytesperline from the width up, maps the field, and halves lines for ALTERNATE', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      const d = { index: 0, type: OUT } as V4l2Fmtdesc;
      await sys.ioctl(fd, VIDIOC_ENUM_FMT, d);
      expect([d.pixelformat, d.description]).toEqual([V4L2_PIX_FMT_YUYV, 'YUYV 4:2:2']);
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, { index: 1, type: OUT }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUM_FMT, { index: 0, type: CAP }))).toBe('EINVAL');
      const tries: [V4l2Format, number[]][] = [
        [pix(640, 480, { pixelformat: V4L2_PIX_FMT_NV12 }), [640, 480, V4L2_PIX_FMT_YUYV, V4L2_FIELD_INTERLACED, 1280, 1280 * 480, V4L2_COLORSPACE_SMPTE170M]],
        [pix(720, 576, { bytesperline: 2048, field: V4L2_FIELD_SEQ_TB }), [720, 576, V4L2_PIX_FMT_YUYV, V4L2_FIELD_SEQ_TB, 2048, 2048 * 576, V4L2_COLORSPACE_SMPTE170M]],
        // the height asked is a field's: the frame of two is clamped, then halved
        [pix(720, 288, { field: V4L2_FIELD_ALTERNATE }), [720, 288, V4L2_PIX_FMT_YUYV, V4L2_FIELD_ALTERNATE, 1440, 1440 * 288, V4L2_COLORSPACE_SMPTE170M]],
        [pix(720, 6000, { field: V4L2_FIELD_ALTERNATE }), [720, 4608, V4L2_PIX_FMT_YUYV, V4L2_FIELD_ALTERNATE, 1440, 1440 * 4608, V4L2_COLORSPACE_SMPTE170M]],
        [pix(2, 20000, { bytesperline: 1 << 20, field: V4L2_FIELD_NONE }), [16, 9216, V4L2_PIX_FMT_YUYV, V4L2_FIELD_INTERLACED, 32768, 32768 * 9216, V4L2_COLORSPACE_SMPTE170M]],
      ];
      for (const [f, want] of tries) {
        await sys.ioctl(fd, VIDIOC_TRY_FMT, f);
        const p = f.fmt.pix;
        expect([p.width, p.height, p.pixelformat, p.field, p.bytesperline, p.sizeimage, p.colorspace]).toEqual(want);
      }
      expect((await gFmt(sys, fd)).width).toBe(720);
      expect(await errno(sys.ioctl(fd, VIDIOC_TRY_FMT, { ...pix(64, 64), type: CAP }))).toBe('EINVAL');
      await sys.close(fd);
    });
  });

  it('S_FMT sets it; while buffers exist it is EBUSY and writes nothing back, except that HDMI may change only its colorspace (which keeps one a CE sink takes, else Rec. 709)', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      const f = pix(640, 480);
      await sys.ioctl(fd, VIDIOC_S_FMT, f);
      expect([f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.sizeimage]).toEqual([640, 480, 1280 * 480]);
      const r = await reqbufs(sys, fd, 1, V4L2_MEMORY_MMAP, OUT);
      // vb2 raises the count to the queue's minimum of two
      expect([r.count, r.capabilities]).toEqual([2, 0x1f]);
      const busy = pix(320, 240);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_FMT, busy))).toBe('EBUSY');
      expect([busy.fmt.pix.width, busy.fmt.pix.bytesperline]).toEqual([320, 0]);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_FMT, pix(640, 480, { colorspace: V4L2_COLORSPACE_SRGB })))).toBe('EBUSY');
      await reqbufs(sys, fd, 0, V4L2_MEMORY_MMAP, OUT);
      await sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 1 });
      const srgb = pix(1280, 720, { colorspace: V4L2_COLORSPACE_SRGB });
      await sys.ioctl(fd, VIDIOC_S_FMT, srgb);
      expect([srgb.fmt.pix.colorspace, srgb.fmt.pix.field]).toEqual([V4L2_COLORSPACE_SRGB, V4L2_FIELD_NONE]);
      await reqbufs(sys, fd, 2, V4L2_MEMORY_MMAP, OUT);
      await sys.ioctl(fd, VIDIOC_S_FMT, pix(1280, 720, { colorspace: V4L2_COLORSPACE_JPEG }));
      expect((await gFmt(sys, fd)).colorspace).toBe(V4L2_COLORSPACE_REC709);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_FMT, pix(1920, 1080)))).toBe('EBUSY');
      await sys.close(fd);
    });
  });
});

describe("vivid's output thread (vivid_thread_vid_out: frames consumed at the output's interval)", () => {
  it('MMAP: buffers come back in order, one per 40 ms PAL frame, with sequence and timestamp of the tick; the last queued stays until another comes; the bytes and field are kept', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR | O_NONBLOCK);
      await reqbufs(sys, fd, 4, V4L2_MEMORY_MMAP, OUT);
      // output mappings must be writable; a read-only one is refused
      expect(await errno(sys.mmap(0, PAL_SIZE, PROT_READ, MAP_SHARED, fd, 0))).toBe('EINVAL');
      const va = await sys.mmap(0, PAL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      const data = pattern(PAL_SIZE, 3);
      await sys.store(va, data);
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, outbuf(0, 100)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, outbuf(0, PAL_SIZE + 4096 * 3)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, { ...outbuf(0, PAL_SIZE), field: V4L2_FIELD_ALTERNATE }))).toBe('EINVAL');
      for (let i = 0; i < 4; i++) {
        const b = outbuf(i, i === 3 ? 0 : PAL_SIZE);
        await sys.ioctl(fd, VIDIOC_QBUF, b);
        expect(b.flags & V4L2_BUF_FLAG_QUEUED).toBe(V4L2_BUF_FLAG_QUEUED);
      }
      // not streaming: POLLERR
      const idle = [{ fd, events: POLLOUT | POLLIN, revents: 0 }];
      expect([await sys.poll(idle, 0), idle[0]!.revents]).toEqual([1, 0x8]);
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: OUT });
      const t0 = s.soc.clock.now;
      const got: V4l2Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        const p = [{ fd, events: POLLOUT | POLLWRNORM | POLLIN, revents: 0 }];
        expect(await sys.poll(p, 1000)).toBe(1);
        expect(p[0]!.revents).toBe(POLLOUT | POLLWRNORM);
        got.push(await dq(sys, fd));
      }
      expect(got.map((b) => [b.index, b.sequence, b.bytesused, b.field, b.flags & (V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_QUEUED)])).toEqual([
        [0, 0, PAL_SIZE, V4L2_FIELD_INTERLACED, 0],
        [1, 1, PAL_SIZE, V4L2_FIELD_INTERLACED, 0],
        [2, 2, PAL_SIZE, V4L2_FIELD_INTERLACED, 0],
      ]);
      expect(usOf(got[0]!)).toBe(Math.floor(t0 / 1000));
      expect([usOf(got[1]!) - usOf(got[0]!), usOf(got[2]!) - usOf(got[1]!)]).toEqual([40000, 40000]);
      // buffer 3 (bytesused 0: the whole plane) is the last one queued: the thread keeps it
      await sys.poll([], 200);
      expect(await errno(dq(sys, fd))).toBe('EAGAIN');
      await sys.ioctl(fd, VIDIOC_QBUF, outbuf(0, PAL_SIZE));
      const p = [{ fd, events: POLLOUT | POLLWRNORM, revents: 0 }];
      expect(await sys.poll(p, 1000)).toBe(1);
      expect(p[0]!.revents).toBe(POLLOUT | POLLWRNORM);
      const b3 = await dq(sys, fd);
      const tick = Math.round((usOf(b3) - usOf(got[0]!)) / 40000);
      expect([b3.index, b3.sequence, b3.bytesused, usOf(b3) - usOf(got[0]!)]).toEqual([3, tick, PAL_SIZE, tick * 40000]);
      // frame 2 went at tick 2 and the program then slept 200 ms: the QBUF came at tick 7 or later
      expect(tick).toBeGreaterThanOrEqual(7);
      expect(s.vivid[0]!.out.framesConsumed).toBe(4);
      // the driver never touched the frame
      expect(await sys.load(va, PAL_SIZE)).toEqual(data);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: OUT });
      expect(await errno(dq(sys, fd))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP }))).toBe('EINVAL');
      await sys.close(fd);
    });
  });

  it('HDMI with a one-field order is not offered (720p is progressive): ALTERNATE becomes NONE, and frames come at 720p60\'s 16.67 ms', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      await sys.ioctl(fd, VIDIOC_S_OUTPUT, { value: 1 });
      const f = pix(1280, 720, { field: V4L2_FIELD_ALTERNATE });
      await sys.ioctl(fd, VIDIOC_S_FMT, f);
      expect(f.fmt.pix.field).toBe(V4L2_FIELD_NONE);
      await reqbufs(sys, fd, 3, V4L2_MEMORY_MMAP, OUT);
      for (let i = 0; i < 3; i++) await sys.ioctl(fd, VIDIOC_QBUF, { ...outbuf(i, 0), field: V4L2_FIELD_TOP });
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: OUT });
      const a = await dq(sys, fd);
      const b = await dq(sys, fd);
      expect([a.index, a.sequence, a.field, b.index, b.sequence, b.field]).toEqual([0, 0, V4L2_FIELD_NONE, 1, 1, V4L2_FIELD_NONE]);
      // 12375/742500 s: 16666666.7 ns, seen in whole microseconds
      expect(Math.abs(usOf(b) - usOf(a) - 16666.67)).toBeLessThan(1);
      await sys.close(fd);
    });
  });

  it('ALTERNATE on S-Video: buffers must say TOP or BOTTOM, ticks come per field and the sequence counts frames', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      await sys.ioctl(fd, VIDIOC_S_FMT, pix(720, 288, { field: V4L2_FIELD_ALTERNATE }));
      await reqbufs(sys, fd, 4, V4L2_MEMORY_MMAP, OUT);
      const half = 1440 * 288;
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, { ...outbuf(0, half), field: V4L2_FIELD_NONE }))).toBe('EINVAL');
      for (let i = 0; i < 4; i++) await sys.ioctl(fd, VIDIOC_QBUF, { ...outbuf(i, half), field: V4L2_FIELD_TOP + (i & 1) });
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: OUT });
      const got = [await dq(sys, fd), await dq(sys, fd), await dq(sys, fd)];
      expect(got.map((b) => [b.index, b.sequence, b.field])).toEqual([
        [0, 0, V4L2_FIELD_TOP],
        [1, 0, V4L2_FIELD_TOP + 1],
        [2, 1, V4L2_FIELD_TOP],
      ]);
      expect(usOf(got[1]!) - usOf(got[0]!)).toBe(20000);
      await sys.close(fd);
    });
  });

  it('USERPTR on the vmalloc instance, not on dma-contig; EXPBUF of an output buffer works on the output node and not with the capture type', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video1', O_RDWR);
      expect((await reqbufs(sys, fd, 2, V4L2_MEMORY_USERPTR, OUT)).count).toBe(2);
      const va = await sys.mmap(0, PAL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const vb = await sys.mmap(0, PAL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.ioctl(fd, VIDIOC_QBUF, outbuf(0, PAL_SIZE, V4L2_MEMORY_USERPTR, { userptr: va }, PAL_SIZE));
      await sys.ioctl(fd, VIDIOC_QBUF, outbuf(1, PAL_SIZE, V4L2_MEMORY_USERPTR, { userptr: vb }, PAL_SIZE));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: OUT });
      const b = await dq(sys, fd, V4L2_MEMORY_USERPTR);
      expect([b.index, b.m.userptr === va, b.bytesused]).toEqual([0, true, PAL_SIZE]);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: OUT });
      await reqbufs(sys, fd, 0, V4L2_MEMORY_USERPTR, OUT);
      await reqbufs(sys, fd, 2, V4L2_MEMORY_MMAP, OUT);
      expect(await expbuf(sys, fd, 1, O_RDWR, OUT)).toBeGreaterThan(2);
      expect(await errno(sys.ioctl(fd, VIDIOC_EXPBUF, { type: CAP, index: 0, plane: 0, flags: O_RDWR, fd: -1 }))).toBe('EINVAL');
      await sys.close(fd);
      const dc = await sys.open('/dev/video5', O_RDWR);
      expect(await errno(reqbufs(sys, dc, 2, V4L2_MEMORY_USERPTR, OUT))).toBe('EINVAL');
      expect((await reqbufs(sys, dc, 2, V4L2_MEMORY_MMAP, OUT)).capabilities & 0x2).toBe(0);
      await sys.close(dc);
    });
  });

  it('DMABUF: a vgem buffer imported into the output queue is consumed and given back with its fd, its bytes untouched', async () => {
    const s = withVivid(vgemSystem());
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const fd = await sys.open('/dev/video1', O_RDWR);
      // 256x64 YUYV: 512-byte lines, 32 KiB, the size of a 128x64 32-bpp dumb buffer
      const f = pix(256, 64);
      await sys.ioctl(fd, VIDIOC_S_FMT, f);
      expect(f.fmt.pix.sizeimage).toBe(32768);
      const bufs = [];
      for (let i = 0; i < 3; i++) {
        const { handle, size } = await dumb(sys, card, 128, 64, 32);
        expect(size).toBe(32768);
        const va = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, card, await mapDumb(sys, card, handle));
        await sys.store(va, pattern(size, 10 + i));
        bufs.push({ fd: await toFd(sys, card, handle), va });
      }
      expect((await reqbufs(sys, fd, 3, V4L2_MEMORY_DMABUF, OUT)).count).toBe(3);
      const small = await dumb(sys, card, 64, 64, 32);
      const smallFd = await toFd(sys, card, small.handle);
      expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, outbuf(0, 16384, V4L2_MEMORY_DMABUF, { fd: smallFd }, 16384)))).toBe('EINVAL');
      for (let i = 0; i < 3; i++) await sys.ioctl(fd, VIDIOC_QBUF, outbuf(i, 32768, V4L2_MEMORY_DMABUF, { fd: bufs[i]!.fd }, 32768));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: OUT });
      const a = await dq(sys, fd, V4L2_MEMORY_DMABUF);
      const b = await dq(sys, fd, V4L2_MEMORY_DMABUF);
      expect([a.index, a.m.fd, a.sequence, a.bytesused, b.index, b.m.fd, b.sequence]).toEqual([0, bufs[0]!.fd, 0, 32768, 1, bufs[1]!.fd, 1]);
      for (let i = 0; i < 3; i++) expect(await sys.load(bufs[i]!.va, 32768)).toEqual(pattern(32768, 10 + i));
      await sys.close(fd);
      await sys.close(card);
    });
  });
});
