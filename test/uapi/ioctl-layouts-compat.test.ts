import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as U from '../../src/uapi/index.ts';
import type { StructLayout, UserMemory } from '../../src/uapi/index.ts';

/*
 * The fixture was printed by test/uapi/ioctl-layouts-32.c, built for wasm32
 * from the machine's headers (Linux 6.1's linux-libc-dev) and run by
 * unimem: `npx unimem exec test/uapi/ioctl-layouts-32.c`. Each line names
 * the C struct, the compat layout it must match, and the size or offset.
 * The time32 figures below are what clang computes for armhf with a
 * 32-bit time_t (--target=armv7-linux-gnueabihf, _Static_assert over
 * <linux/videodev2.h> with `struct timeval { long tv_sec, tv_usec; }`).
 */
const fixture = readFileSync(new URL('./ioctl-layouts-32.txt', import.meta.url), 'utf8').trim().split('\n');

const byName = new Map<string, StructLayout>(
  [U.v4l2Format32Layout, U.v4l2CreateBuffers32Layout, U.v4l2Buffer32Layout, U.v4l2Plane32Layouts.get(U.V4L2_MEMORY_MMAP)!].map((l) => [l.name, l]),
);

describe('V4L2 compat layouts', () => {
  it('sizes, offsets and request numbers match what a 32-bit program computes from the headers', () => {
    let checked = 0;
    for (const line of fixture) {
      const parts = line.split(' ');
      if (parts[0] === 'request') {
        expect((U as unknown as Record<string, number>)[parts[1]!]! >>> 0, parts[1]).toBe(Number(parts[2]));
        checked++;
        continue;
      }
      const [path, name, n] = parts as [string, string, string];
      const l = byName.get(name);
      expect(l, name).toBeDefined();
      const rest = path.split('.').slice(1);
      if (rest.length === 0) expect(l!.size, path).toBe(Number(n));
      else expect(U.fieldAt(l!, rest.join('.'))?.offset, path).toBe(Number(n));
      checked++;
    }
    expect(checked).toBe(30);
  });

  it('lays v4l2_buffer32_time32 out as armhf with a 32-bit time_t does (68 bytes)', () => {
    const l = U.v4l2Buffer32Time32Layout;
    const at = (f: string) => U.fieldAt(l, f)?.offset;
    expect([l.size, at('timestamp'), at('timestamp.tv_usec'), at('timecode'), at('sequence'), at('memory'), at('m'), at('length'), at('request_fd')]).toEqual([
      68, 20, 24, 28, 44, 48, 52, 56, 64,
    ]);
    expect(U.VIDIOC_DQBUF32_TIME32 >>> 0).toBe(0xc0445611);
  });

  it('every compat request becomes its native one, over a struct of its own size and direction', () => {
    expect(U.V4L2_COMPAT_IOCTLS).toHaveLength(12);
    for (const c of U.V4L2_COMPAT_IOCTLS) {
      expect(c.spec.layout.size, c.spec.name).toBe(U._IOC_SIZE(c.spec.cmd));
      expect(c.spec.cmd >>> 0, c.spec.name).not.toBe(c.native >>> 0);
      expect(U._IOC_NR(c.spec.cmd), c.spec.name).toBe(U._IOC_NR(c.native));
      expect(U._IOC_DIR(c.spec.cmd), c.spec.name).toBe(U._IOC_DIR(c.native));
      expect(U.compatIoctl(c.spec.cmd)).toBe(c);
      expect(U.ioctlName(c.spec.cmd)).toBe(c.spec.name);
    }
    expect(U.compatIoctl(U.VIDIOC_QBUF32_TIME32)!.native).toBe(U.VIDIOC_QBUF);
    // arm64 lays a u64 out as ARM EABI does: v4l2_input keeps its number, no compat form
    expect(U.compatIoctl(U.VIDIOC_ENUMINPUT)).toBeUndefined();
  });

  it('reads a 32-bit caller’s multi-planar buffer through its v4l2_plane32 array and writes the planes back', () => {
    const spec = U.compatIoctl(U.VIDIOC_QBUF32)!.spec;
    const plane = U.v4l2Plane32Layouts.get(U.V4L2_MEMORY_DMABUF)!;
    const user = new Uint8Array(0x200);
    const dv = new DataView(user.buffer);
    const planesAt = 0x100;
    // two planes of 60 bytes: an LP64 reader would take the second plane's fields from 64
    for (let i = 0; i < 2; i++) {
      dv.setUint32(planesAt + i * 60 + 4, 4096 * (i + 1), true); // length
      dv.setInt32(planesAt + i * 60 + 8, 20 + i, true); // m.fd
    }
    const mem: UserMemory = {
      read: (a, n) => user.slice(Number(a), Number(a) + n),
      write: (a, b) => user.set(b, Number(a)),
      fail: (code, why) => new Error(`${code}: ${why}`),
    };
    const bufBytes = new Uint8Array(spec.layout.size);
    U.encodeStruct(spec.layout, { type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory: U.V4L2_MEMORY_DMABUF, m: { planes: planesAt }, length: 2 }, bufBytes);
    const s = U.decodeStruct(spec.layout, bufBytes);
    const ctx = {};
    const arg = spec.toArg!(s, mem, 0n, ctx);
    const planes = (arg.m as { planes: { length: number; m: { fd: number } }[] }).planes;
    expect(planes.map((p) => [p.length, p.m.fd])).toEqual([
      [4096, 20],
      [8192, 21],
    ]);
    (planes[1] as unknown as { bytesused: number }).bytesused = 777;
    spec.fromArg!(arg, s, mem, true, ctx);
    expect(dv.getUint32(planesAt + 60, true)).toBe(777);
    expect(dv.getInt32(planesAt + 60 + 8, true)).toBe(21);
    expect(plane.size).toBe(60);
  });
});
