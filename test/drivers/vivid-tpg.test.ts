import { describe, expect, it } from 'vitest';
import { vividAutogain, vividFrameJiffies, vividOsdLines, type VividOsd } from '../../src/drivers/media/test-drivers/vivid-kthread-cap.ts';
import { Tpg } from '../../src/formats/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import {
  CLOCK_BOOTTIME,
  MAP_SHARED,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  TIMER_ABSTIME,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_DMABUF,
  V4L2_PIX_FMT_YUYV,
  VIDIOC_DQBUF,
  VIDIOC_QBUF,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_S_INPUT,
  VIDIOC_S_PARM,
  type V4l2Format,
  type V4l2Streamparm,
} from '../../src/uapi/index.ts';
import { mismatches, run } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, mapV4l2, reqbufs, v4l2buf, vividSystem } from './v4l2-helpers.ts';
import { dumb, mapDumb, toFd } from './vgem-helpers.ts';

/** 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193), the reference rows' fnv. */
function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Boots linux-6.1-reference and runs `main` as its first process; returns what main returns. */
async function onReference<T>(main: (sys: Sys) => Promise<T>): Promise<T> {
  const sys = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
  let out: T | undefined;
  const child = spawnProcess(sys.proc, async (s) => {
    out = await main(s);
    return 0;
  }, []);
  const code = await sys.soc.clock.runUntilSettled(child.exitCode);
  if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
  expect(code).toBe(0);
  return out!;
}

/**
 * vivid_capture_into_vgem_dmabuf as the reference test ran it: two vgem
 * dumb buffers prefilled with 0xAA, imported into vivid's vmalloc queue,
 * STREAMON, DQBUF; returns the first frame's bytes.
 */
async function captureFirstFrame(sys: Sys, uptimeSec: number): Promise<Uint8Array> {
  await sys.clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, { tv_sec: uptimeSec, tv_nsec: 0 });
  const card = await sys.open('/dev/dri/card0', O_RDWR);
  const fds: number[] = [];
  const maps: number[] = [];
  for (let i = 0; i < 2; i++) {
    const d = await dumb(sys, card, 640, 480, 16);
    const va = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, card, await mapDumb(sys, card, d.handle));
    await sys.store(va, new Uint8Array(SIZE).fill(0xaa));
    maps.push(va);
    fds.push(await toFd(sys, card, d.handle));
  }
  const v = await sys.open('/dev/video0', O_RDWR);
  const f = { type: CAP, fmt: { pix: { width: 640, height: 480, pixelformat: V4L2_PIX_FMT_YUYV, field: 0 } } } as V4l2Format;
  await sys.ioctl(v, VIDIOC_S_FMT, f);
  expect((await reqbufs(sys, v, 2, V4L2_MEMORY_DMABUF)).count).toBe(2);
  for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: fds[i] }));
  await sys.ioctl(v, VIDIOC_STREAMON, CAP);
  const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
  await sys.ioctl(v, VIDIOC_DQBUF, b);
  expect([b.index, b.bytesused, b.sequence, b.m.fd]).toEqual([0, SIZE, 0, fds[0]]);
  const got = await sys.load(maps[0]!, SIZE);
  await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
  await sys.close(v);
  return got;
}

describe('vivid draws the kernel test-pattern generator\'s frame, byte for byte', () => {
  it('vivid_capture_into_vgem_dmabuf: the first 640x480 YUYV frame after STREAMON hashes to fnv=0547b14e and changes all 614400 bytes of the 0xAA prefill (captured 5 s after boot, as the reference was)', async () => {
    // the OSD's autogain line prints jiffies_to_msecs(jiffies) / 1000 & 0xff: the reference frame's 16 puts its capture at 4.7-5.7 s of uptime
    const got = await onReference((sys) => captureFirstFrame(sys, 5));
    expect(fnv1a(got)).toBe('0547b14e');
    expect(mismatches(got, new Uint8Array(SIZE).fill(0xaa))).toBe(SIZE);
  });

  it('the same capture right after boot differs only in the gain digits of the OSD\'s fourth line', async () => {
    const early = await onReference((sys) => captureFirstFrame(sys, 0));
    const late = await onReference((sys) => captureFirstFrame(sys, 5));
    expect(fnv1a(early)).not.toBe('0547b14e');
    // line 4 is rows 64..79; " autogain 1, gain  11" -> " 16": the digits sit at characters 19 and 20, pixels 16 + 8*19 on
    const stride = 640 * 2;
    const rows = (a: Uint8Array, from: number, to: number) => a.subarray(from * stride, to * stride);
    expect(mismatches(rows(early, 0, 64), rows(late, 0, 64))).toBe(0);
    expect(mismatches(rows(early, 80, 480), rows(late, 80, 480))).toBe(0);
    for (let y = 64; y < 80; y++) {
      const line = (a: Uint8Array) => a.subarray(y * stride, (y + 1) * stride);
      expect(mismatches(line(early).subarray(0, (16 + 8 * 19) * 2), line(late).subarray(0, (16 + 8 * 19) * 2))).toBe(0);
      expect(mismatches(line(early).subarray((16 + 8 * 21) * 2), line(late).subarray((16 + 8 * 21) * 2))).toBe(0);
    }
    expect(mismatches(rows(early, 64, 80), rows(late, 64, 80))).toBeGreaterThan(0);
  });
});

describe('vivid\'s OSD text (vivid_fillbuff at the default OSD mode)', () => {
  const osd = (k: number, epochMs = 0, interval = { numerator: 1, denominator: 30 }): VividOsd => ({ k, sequence: 40 + k, epochNs: epochMs * 1e6, interval, width: 640, height: 480, input: 0 });

  it('prints the time since STREAMON on vivid\'s jiffy grid, the sequence, the size and input, then the controls\' defaults', () => {
    expect(vividOsdLines(osd(0))).toEqual([
      ' 00:00:00:000 40',
      ' 640x480, input 0 ',
      ' brightness 128, contrast 128, saturation 128, hue 0 ',
      ' autogain 1, gain  11, alpha 0x00 ',
      ' volume 200, mute 0 ',
      ' int32 0, ro_int32 40, int64 0, bitmask 80002000 ',
      ' boolean 1, menu Menu Item 3, string "  " ',
      ' integer_menu 5, value 4 ',
    ]);
    // at 30 fps and HZ=250 frame k is due round(k * 250 / 30) jiffies in, 4 ms each
    expect([1, 2, 3, 30].map((k) => vividOsdLines(osd(k))[0])).toEqual([' 00:00:00:032 41', ' 00:00:00:068 42', ' 00:00:00:100 43', ' 00:00:01:000 70']);
    expect(vividOsdLines({ ...osd(0), k: 3600 * 30 + 1, sequence: 300 })[0]).toBe(' 01:00:00:032 300');
    expect(vividOsdLines({ ...osd(0), sequence: 0x1ff })[5]).toBe(' int32 0, ro_int32 255, int64 0, bitmask 80002000 ');
  });

  it('frame times round to the nearest jiffy of k intervals (next_jiffies_since_start)', () => {
    expect([0, 1, 2, 3].map((k) => vividFrameJiffies(k, { numerator: 1, denominator: 30 }))).toEqual([0, 8, 17, 25]);
    expect([0, 1, 2].map((k) => vividFrameJiffies(k, { numerator: 1001, denominator: 30000 }))).toEqual([0, 8, 17]);
    expect(vividFrameJiffies(1, { numerator: 1, denominator: 1 })).toBe(250);
  });

  it('autogain\'s gain is the 32-bit millisecond count in seconds, mod 256: 11 at boot (jiffies start 300 s short of wrapping), +1 a second, 0 when the count wraps', () => {
    expect(vividAutogain(0)).toBe(11);
    expect(vividAutogain(1250)).toBe(16);
    // (2^32 - 300000 + ms) / 1000 crosses a second when ms = 704, 1704, ...
    expect([175, 176, 426].map(vividAutogain)).toEqual([11, 12, 13]);
    expect(vividAutogain(300 * 250 - 1)).toBe(Math.floor((2 ** 32 - 4) / 1000) & 0xff);
    expect(vividAutogain(300 * 250)).toBe(0);
    expect(vividOsdLines(osd(0, 5000))[3]).toBe(' autogain 1, gain  16, alpha 0x00 ');
  });

  it('the OSD sits from row 16 on, 16 pixels in, one 16-row line each: nothing above, left of it or below row 144 changes', () => {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 640, height: 480 });
    const bars = tpg.patternFrame();
    const f = bars.slice();
    for (const [i, s] of vividOsdLines(osd(0)).entries()) tpg.genText(f, (i + 1) * 16, 16, s);
    const stride = 1280;
    expect(mismatches(f.subarray(0, 16 * stride), bars.subarray(0, 16 * stride))).toBe(0);
    expect(mismatches(f.subarray(144 * stride), bars.subarray(144 * stride))).toBe(0);
    for (let y = 16; y < 144; y++) expect(mismatches(f.subarray(y * stride, y * stride + 32), bars.subarray(y * stride, y * stride + 32))).toBe(0);
    // the first line's leading space is background: rows 16..31, pixels 16..23 are black
    for (let y = 16; y < 32; y++) for (let x = 16; x < 24; x++) expect(f[y * stride + 2 * x]).toBe(16);
  });
});

describe('vivid\'s OSD clock through the capture path', () => {
  /** Rows 16..31 (the OSD's first line) of a 640x480 YUYV frame showing `text` there. */
  function firstLine(text: string): Uint8Array {
    const tpg = new Tpg({ pixelformat: V4L2_PIX_FMT_YUYV, width: 640, height: 480 });
    const f = tpg.patternFrame();
    tpg.genText(f, 16, 16, text);
    return f.subarray(16 * 1280, 32 * 1280);
  }

  it('counts from STREAMON in frame periods on the jiffy grid, and starts again from 0 when S_PARM changes the interval while streaming', async () => {
    const s = vividSystem();
    await run(s, async (sys) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await reqbufs(sys, v, 2);
      const maps = [await mapV4l2(sys, v, 0), await mapV4l2(sys, v, 1)];
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const grab = async (): Promise<{ seq: number; line: Uint8Array }> => {
        const b = v4l2buf(0);
        await sys.ioctl(v, VIDIOC_DQBUF, b);
        const bytes = await sys.load(maps[b.index]!, SIZE);
        await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(b.index));
        return { seq: b.sequence, line: bytes.subarray(16 * 1280, 32 * 1280) };
      };
      const f0 = await grab();
      const f1 = await grab();
      expect([f0.seq, f1.seq]).toEqual([0, 1]);
      expect(mismatches(f0.line, firstLine(' 00:00:00:000 0'))).toBe(0);
      expect(mismatches(f1.line, firstLine(' 00:00:00:032 1'))).toBe(0);
      const p: V4l2Streamparm = { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1, denominator: 15 }, extendedmode: 0, readbuffers: 0 } } };
      await sys.ioctl(v, VIDIOC_S_PARM, p);
      const g0 = await grab();
      const g1 = await grab();
      expect(g1.seq).toBe(g0.seq + 1);
      // the sequence goes on; the clock restarts, and at 15 fps frame 1 is due round(250 / 15) = 17 jiffies in
      expect(mismatches(g0.line, firstLine(` 00:00:00:000 ${g0.seq}`))).toBe(0);
      expect(mismatches(g1.line, firstLine(` 00:00:00:068 ${g1.seq}`))).toBe(0);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      await sys.close(v);
    });
  });
});

describe('vivid draws in its input\'s colorspace', () => {
  it('the HDMI input\'s Rec. 709 frames take the 709 Y\'CbCr encoding: the 75% yellow bar\'s luma is BT.709\'s there, BT.601\'s on the sRGB webcam', async () => {
    // textbook limited-range luma of R'G'B' = 0.75 * (1, 1, 0): 16 + 219 * 0.75 * (Kr + Kg)
    const yellow = (kr: number, kg: number) => Math.round(16 + 219 * 0.75 * (kr + kg));
    const lumaOfBar = async (sys: Sys, input: number, width: number, height: number) => {
      const v = await sys.open('/dev/video0', O_RDWR);
      await sys.ioctl(v, VIDIOC_S_INPUT, { value: input });
      expect((await reqbufs(sys, v, 2)).count).toBe(2);
      for (const i of [0, 1]) await sys.ioctl(v, VIDIOC_QBUF, v4l2buf(i));
      await sys.ioctl(v, VIDIOC_STREAMON, CAP);
      const b = v4l2buf(0);
      await sys.ioctl(v, VIDIOC_DQBUF, b);
      const m = await mapV4l2(sys, v, b.index);
      // the second of eight bars, in a line below the OSD text; YUYV: luma at even bytes
      const line = Math.floor(height * 0.8);
      const at = line * width * 2 + Math.floor(width / 8 + width / 16) * 2;
      const y = (await sys.load(m + at, 2))[0]!;
      // the mapping holds the file, and so the queue, until it goes
      await sys.munmap(m, b.length);
      await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
      await sys.close(v);
      return y;
    };
    const [webcam, hdmi] = await onReference(async (sys) => [await lumaOfBar(sys, 0, 640, 480), await lumaOfBar(sys, 3, 1280, 720)]);
    // the TPG's fixed-point path lands within 2 of the textbook value; the two encodings are 7 apart
    expect(Math.abs(webcam - yellow(0.299, 0.587))).toBeLessThanOrEqual(2);
    expect(Math.abs(hdmi - yellow(0.2126, 0.7152))).toBeLessThanOrEqual(2);
    expect(hdmi - webcam).toBeGreaterThanOrEqual(5);
  });
});
