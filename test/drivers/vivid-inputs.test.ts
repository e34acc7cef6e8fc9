import { describe, expect, it } from 'vitest';
import type { Sys } from '../../src/proc/index.ts';
import {
  O_RDWR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
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
