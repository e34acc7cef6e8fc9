import { describe, expect, it } from 'vitest';
import type { Sys } from '../../src/proc/index.ts';
import {
  O_RDWR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_COLORSPACE_SRGB,
  V4L2_FIELD_ALTERNATE,
  V4L2_FIELD_BOTTOM,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_NONE,
  V4L2_FIELD_TOP,
  V4L2_FRMIVAL_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_STEPWISE,
  V4L2_PIX_FMT_NV12,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_ENUM_FRAMEINTERVALS,
  VIDIOC_ENUM_FRAMESIZES,
  VIDIOC_G_FMT,
  VIDIOC_S_FMT,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Format,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
  V4L2_INPUT_TYPE_CAMERA,
  V4L2_INPUT_TYPE_TUNER,
  V4L2_IN_CAP_DV_TIMINGS,
  V4L2_IN_CAP_STD,
  V4L2_STD_ALL,
  VIDIOC_ENUMINPUT,
  VIDIOC_G_INPUT,
  VIDIOC_G_PARM,
  VIDIOC_QBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_STREAMON,
  VIDIOC_S_INPUT,
  VIDIOC_S_PARM,
  type V4l2Capability,
  type V4l2Fract,
  type V4l2Input,
  type V4l2Streamparm,
} from '../../src/uapi/index.ts';
import { registerCamera } from '../../src/drivers/media/platform/camera.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { mediaSystem } from './camera-system.ts';
import { reqbufs, v4l2buf, vividSystem } from './v4l2-helpers.ts';

const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;

/** ENUMINPUT of `index`, starting from a struct full of junk so that what the kernel clears shows. */
async function enumInput(sys: Sys, fd: number, index: number): Promise<V4l2Input> {
  const inp: V4l2Input = { index, name: 'junk', type: 99, audioset: 99, tuner: 99, std: 99, status: 99, capabilities: 99, reserved: [9, 9, 9] };
  await sys.ioctl(fd, VIDIOC_ENUMINPUT, inp);
  return inp;
}

async function gInput(sys: Sys, fd: number): Promise<number> {
  const v = { value: -1 };
  await sys.ioctl(fd, VIDIOC_G_INPUT, v);
  return v.value;
}

async function interval(sys: Sys, fd: number, req = 'G_PARM', ask: V4l2Fract = { numerator: 0, denominator: 0 }): Promise<V4l2Fract> {
  const p: V4l2Streamparm = { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: ask, extendedmode: 0, readbuffers: 0 } } };
  await sys.ioctl(fd, req === 'G_PARM' ? VIDIOC_G_PARM : VIDIOC_S_PARM, p);
  return p.parm.capture!.timeperframe;
}

describe("vivid's inputs (vidioc_enum_input, g_input, s_input with the default input_types 0xe4)", () => {
  it('ENUMINPUT lists Webcam 0, TV 0, S-Video 0 and HDMI 0 with their types, audio, standards and caps; EINVAL from index 4', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      const rows = [];
      for (let i = 0; i < 4; i++) {
        const inp = await enumInput(sys, fd, i);
        rows.push([inp.index, inp.name, inp.type, inp.audioset, inp.tuner, inp.std, inp.status, inp.capabilities, inp.reserved]);
      }
      expect(rows).toEqual([
        [0, 'Webcam 0', V4L2_INPUT_TYPE_CAMERA, 0, 0, 0, 0, 0, [0, 0, 0]],
        [1, 'TV 0', V4L2_INPUT_TYPE_TUNER, 3, 0, V4L2_STD_ALL, 0, V4L2_IN_CAP_STD, [0, 0, 0]],
        [2, 'S-Video 0', V4L2_INPUT_TYPE_CAMERA, 3, 0, V4L2_STD_ALL, 0, V4L2_IN_CAP_STD, [0, 0, 0]],
        [3, 'HDMI 0', V4L2_INPUT_TYPE_CAMERA, 0, 0, 0, 0, V4L2_IN_CAP_DV_TIMINGS, [0, 0, 0]],
      ]);
      expect([rows[1]![5], rows[1]![7]]).toEqual([0xffffff, 4]);
      expect(await errno(enumInput(sys, fd, 4))).toBe('EINVAL');
      expect(await errno(enumInput(sys, fd, -1))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_ENUMINPUT, null))).toBe('EFAULT');
      await sys.close(fd);
    });
  });

  it('G_INPUT starts at 0; S_INPUT selects 0..3, EINVAL from 4 (input unchanged); the choice is the device\'s, seen by other files', async () => {
    await run(vividSystem(), async (sys) => {
      const a = await sys.open('/dev/video0', O_RDWR);
      const b = await sys.open('/dev/video0', O_RDWR);
      expect(await gInput(sys, a)).toBe(0);
      await sys.ioctl(a, VIDIOC_S_INPUT, { value: 3 });
      expect([await gInput(sys, a), await gInput(sys, b)]).toEqual([3, 3]);
      expect(await errno(sys.ioctl(a, VIDIOC_S_INPUT, { value: 4 }))).toBe('EINVAL');
      expect(await errno(sys.ioctl(a, VIDIOC_S_INPUT, { value: -1 }))).toBe('EINVAL');
      expect(await gInput(sys, a)).toBe(3);
      await sys.ioctl(b, VIDIOC_S_INPUT, 1);
      expect(await gInput(sys, a)).toBe(1);
      expect(await errno(sys.ioctl(a, VIDIOC_G_INPUT, 0))).toBe('EFAULT');
      await sys.close(a);
      await sys.close(b);
    });
  });

  it('S_INPUT to another input is EBUSY while buffers exist or stream, the current one still succeeds', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, fd, 2);
      expect(await errno(sys.ioctl(fd, VIDIOC_S_INPUT, { value: 1 }))).toBe('EBUSY');
      for (let i = 0; i < 2; i++) await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      expect(await errno(sys.ioctl(fd, VIDIOC_S_INPUT, { value: 2 }))).toBe('EBUSY');
      expect(await errno(sys.ioctl(fd, VIDIOC_S_INPUT, { value: 0 }))).toBe('ok');
      expect(await gInput(sys, fd)).toBe(0);
      await sys.close(fd);
      // closing the owner frees the buffers, so the switch is allowed again
      const again = await sys.open('/dev/video0', O_RDWR);
      expect(await errno(sys.ioctl(again, VIDIOC_S_INPUT, { value: 2 }))).toBe('ok');
      await sys.close(again);
    });
  });

  it('a TV or S-Video input runs PAL at 1000/25000 s, HDMI 720p60 at 12375/742500 s, S_PARM cannot change them; the webcam gets its interval back', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      expect(await interval(sys, fd, 'S_PARM', { numerator: 1, denominator: 15 })).toEqual({ numerator: 1, denominator: 15 });
      const seen: V4l2Fract[] = [];
      for (const i of [1, 2, 3]) {
        await sys.ioctl(fd, VIDIOC_S_INPUT, { value: i });
        seen.push(await interval(sys, fd));
        seen.push(await interval(sys, fd, 'S_PARM', { numerator: 1, denominator: 60 }));
      }
      expect(seen).toEqual([
        { numerator: 1000, denominator: 25000 },
        { numerator: 1000, denominator: 25000 },
        { numerator: 1000, denominator: 25000 },
        { numerator: 1000, denominator: 25000 },
        { numerator: 12375, denominator: 742500 },
        { numerator: 12375, denominator: 742500 },
      ]);
      await sys.ioctl(fd, VIDIOC_S_INPUT, { value: 0 });
      expect(await interval(sys, fd)).toEqual({ numerator: 1, denominator: 15 });
      await sys.close(fd);
    });
  });
});

describe("vivid's QUERYCAP bits (vivid_set_capabilities, default node_types 0xe1d3d)", () => {
  it('device_caps 0x05230005 (capture, overlay, tuner, audio, read/write, streaming, ext pix format); capabilities 0x9dbf0ff7, every node\'s', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 } as V4l2Capability;
      await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
      expect([cap.device_caps.toString(16), cap.capabilities.toString(16), cap.card, cap.version]).toEqual(['5230005', '9dbf0ff7', 'vivid', 0x060100]);
      await sys.close(fd);
    });
  });
});

describe('the input ioctls in the V4L2 core (video_ioctl2)', () => {
  it('are ENOTTY on a node whose driver has no input handlers (the platform camera), after the argument is read', async () => {
    const s = mediaSystem();
    registerCamera({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock, device: s.camDev, nr: 8 });
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/video8', O_RDWR);
      const inp: V4l2Input = { index: 0, name: '', type: 0, audioset: 0, tuner: 0, std: 0, status: 0, capabilities: 0 };
      expect([
        await errno(sys.ioctl(fd, VIDIOC_ENUMINPUT, inp)),
        await errno(sys.ioctl(fd, VIDIOC_G_INPUT, { value: 0 })),
        await errno(sys.ioctl(fd, VIDIOC_S_INPUT, { value: 0 })),
        await errno(sys.ioctl(fd, VIDIOC_G_INPUT, null)),
      ]).toEqual(['ENOTTY', 'ENOTTY', 'ENOTTY', 'EFAULT']);
      await sys.close(fd);
    });
  });
});

async function framesizes(sys: Sys, fd: number, pixel_format = V4L2_PIX_FMT_YUYV): Promise<string[]> {
  const out: string[] = [];
  for (let index = 0; ; index++) {
    const fs: V4l2Frmsizeenum = { index, pixel_format, type: 0 };
    const e = await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMESIZES, fs));
    if (e !== 'ok') {
      out.push(e);
      return out;
    }
    const w = fs.stepwise;
    out.push(fs.type === V4L2_FRMSIZE_TYPE_DISCRETE ? `${fs.discrete!.width}x${fs.discrete!.height}` : fs.type === V4L2_FRMSIZE_TYPE_STEPWISE ? `${w!.min_width}-${w!.max_width}/${w!.step_width}x${w!.min_height}-${w!.max_height}/${w!.step_height}` : `type ${fs.type}`);
  }
}

async function frameintervals(sys: Sys, fd: number, width: number, height: number, pixel_format = V4L2_PIX_FMT_YUYV): Promise<string[]> {
  const out: string[] = [];
  for (let index = 0; ; index++) {
    const fi: V4l2Frmivalenum = { index, pixel_format, width, height, type: 0 };
    const e = await errno(sys.ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, fi));
    if (e !== 'ok') {
      out.push(e);
      return out;
    }
    expect(fi.type).toBe(V4L2_FRMIVAL_TYPE_DISCRETE);
    out.push(`${fi.discrete!.numerator}/${fi.discrete!.denominator}`);
  }
}

async function gFmt(sys: Sys, fd: number): Promise<number[]> {
  const f = { type: CAP, fmt: { pix: {} } } as V4l2Format;
  await sys.ioctl(fd, VIDIOC_G_FMT, f);
  const p = f.fmt.pix;
  return [p.width, p.height, p.field, p.bytesperline, p.sizeimage, p.colorspace];
}

function capFmt(width: number, height: number, field: number): V4l2Format {
  return { type: CAP, fmt: { pix: { width, height, pixelformat: V4L2_PIX_FMT_YUYV, field, bytesperline: 0, sizeimage: 0, colorspace: 0, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 } } };
}

describe("vivid's frame sizes and intervals per input (vidioc_enum_framesizes, vidioc_enum_frameintervals)", () => {
  it('the webcam lists its six discrete sizes, each with the intervals its size allows; EINVAL for a size it lacks or a format vivid lacks', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      expect(await framesizes(sys, fd)).toEqual(['320x180', '640x360', '640x480', '1280x720', '1920x1080', '3840x2160', 'EINVAL']);
      expect(await framesizes(sys, fd, V4L2_PIX_FMT_NV12)).toEqual(['EINVAL']);
      expect(await frameintervals(sys, fd, 320, 180)).toEqual(['1/1', '1/2', '1/4', '1/5', '1/10', '2/25', '1/15', '1/25', '1/30', '1/40', '1/50', '1/60', 'EINVAL']);
      expect(await frameintervals(sys, fd, 640, 480)).toEqual(['1/1', '1/2', '1/4', '1/5', '1/10', '2/25', '1/15', '1/25', 'EINVAL']);
      expect(await frameintervals(sys, fd, 3840, 2160)).toEqual(['1/1', '1/2', 'EINVAL']);
      expect(await frameintervals(sys, fd, 641, 480)).toEqual(['EINVAL']);
      expect(await frameintervals(sys, fd, 640, 480, V4L2_PIX_FMT_NV12)).toEqual(['EINVAL']);
      await sys.close(fd);
    });
  });

  it('TV, S-Video and HDMI (scaler on by default) give one stepwise range and, for any size in it, their one interval', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      const rows = [];
      for (const i of [1, 2, 3]) {
        await sys.ioctl(fd, VIDIOC_S_INPUT, { value: i });
        rows.push([i, ...(await framesizes(sys, fd)), ...(await frameintervals(sys, fd, 100, 100)), ...(await frameintervals(sys, fd, 16384, 9216)), ...(await frameintervals(sys, fd, 15, 100)), ...(await frameintervals(sys, fd, 100, 9218))]);
      }
      expect(rows).toEqual([
        [1, '16-16384/2x16-9216/2', 'EINVAL', '1000/25000', 'EINVAL', '1000/25000', 'EINVAL', 'EINVAL', 'EINVAL'],
        [2, '16-16384/2x16-9216/2', 'EINVAL', '1000/25000', 'EINVAL', '1000/25000', 'EINVAL', 'EINVAL', 'EINVAL'],
        [3, '16-16384/2x16-9216/2', 'EINVAL', '12375/742500', 'EINVAL', '12375/742500', 'EINVAL', 'EINVAL', 'EINVAL'],
      ]);
      expect(await framesizes(sys, fd, V4L2_PIX_FMT_NV12)).toEqual(['EINVAL']);
      await sys.close(fd);
    });
  });
});

describe("S_INPUT resets the capture format to the input's (vivid_vid_cap_s_input, vivid_update_format_cap)", () => {
  it('TV and S-Video: 720x576 interlaced SMPTE 170M (PAL); HDMI: 1280x720 progressive Rec. 709; back on the webcam its last size, progressive sRGB', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      expect(await gFmt(sys, fd)).toEqual([640, 480, V4L2_FIELD_NONE, 1280, 614400, V4L2_COLORSPACE_SRGB]);
      await sys.ioctl(fd, VIDIOC_S_FMT, capFmt(320, 180, V4L2_FIELD_NONE));
      const seen = [];
      for (const i of [1, 2, 3, 0]) {
        await sys.ioctl(fd, VIDIOC_S_INPUT, { value: i });
        seen.push(await gFmt(sys, fd));
      }
      expect(seen).toEqual([
        [720, 576, V4L2_FIELD_INTERLACED, 1440, 829440, V4L2_COLORSPACE_SMPTE170M],
        [720, 576, V4L2_FIELD_INTERLACED, 1440, 829440, V4L2_COLORSPACE_SMPTE170M],
        [1280, 720, V4L2_FIELD_NONE, 2560, 1843200, V4L2_COLORSPACE_REC709],
        [320, 180, V4L2_FIELD_NONE, 640, 115200, V4L2_COLORSPACE_SRGB],
      ]);
      await sys.close(fd);
    });
  });

  it('on TV, TRY_FMT keeps an interlaced or one-field order (else INTERLACED, the asked height then a field\'s); the webcam and HDMI are progressive', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      const tryField = async (w: number, h: number, field: number): Promise<number[]> => {
        const f = capFmt(w, h, field);
        await sys.ioctl(fd, VIDIOC_TRY_FMT, f);
        return [f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.field, f.fmt.pix.colorspace];
      };
      expect(await tryField(640, 480, V4L2_FIELD_INTERLACED)).toEqual([640, 480, V4L2_FIELD_NONE, V4L2_COLORSPACE_SRGB]);
      await sys.ioctl(fd, VIDIOC_S_INPUT, { value: 1 });
      expect(await tryField(720, 576, V4L2_FIELD_NONE)).toEqual([720, 576, V4L2_FIELD_INTERLACED, V4L2_COLORSPACE_SMPTE170M]);
      expect(await tryField(720, 288, V4L2_FIELD_ALTERNATE)).toEqual([720, 288, V4L2_FIELD_ALTERNATE, V4L2_COLORSPACE_SMPTE170M]);
      expect(await tryField(720, 288, V4L2_FIELD_BOTTOM)).toEqual([720, 288, V4L2_FIELD_BOTTOM, V4L2_COLORSPACE_SMPTE170M]);
      await sys.ioctl(fd, VIDIOC_S_INPUT, { value: 3 });
      expect(await tryField(1280, 720, V4L2_FIELD_INTERLACED)).toEqual([1280, 720, V4L2_FIELD_NONE, V4L2_COLORSPACE_REC709]);
      await sys.close(fd);
    });
  });

  it('frames captured from the TV input are 720x576 interlaced at 40 ms; with ALTERNATE each buffer is one field, TOP first, the sequence counting frames', async () => {
    await run(vividSystem(), async (sys) => {
      const fd = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(fd, VIDIOC_S_INPUT, { value: 1 });
      await reqbufs(sys, fd, 2);
      for (let i = 0; i < 2; i++) await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      const a: V4l2Buffer = v4l2buf(0);
      await sys.ioctl(fd, VIDIOC_DQBUF, a);
      expect([a.bytesused, a.field, a.sequence]).toEqual([829440, V4L2_FIELD_INTERLACED, 0]);
      await sys.close(fd);
      const g = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(g, VIDIOC_S_FMT, capFmt(720, 288, V4L2_FIELD_ALTERNATE));
      await reqbufs(sys, g, 3);
      for (let i = 0; i < 3; i++) await sys.ioctl(g, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(g, VIDIOC_STREAMON, { value: CAP });
      const got = [];
      for (let i = 0; i < 3; i++) {
        const b = v4l2buf(0);
        await sys.ioctl(g, VIDIOC_DQBUF, b);
        got.push([b.bytesused, b.field, b.sequence]);
      }
      expect(got).toEqual([
        [414720, V4L2_FIELD_TOP, 0],
        [414720, V4L2_FIELD_BOTTOM, 0],
        [414720, V4L2_FIELD_TOP, 1],
      ]);
      await sys.close(g);
    });
  });
});
