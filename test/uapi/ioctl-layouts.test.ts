import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as U from '../../src/uapi/index.ts';
import { syncFenceInfoLayout } from '../../src/uapi/ioctl-args-dmabuf.ts';
import { v4l2OutputparmLayout, v4l2PlaneLayout, v4l2PlanePixFormatLayout } from '../../src/uapi/ioctl-args-v4l2.ts';
import type { CType, StructLayout } from '../../src/uapi/index.ts';

/*
 * The fixture was printed by test/uapi/ioctl-layouts.c from the machine's
 * real headers (Debian bookworm, x86_64, Linux 6.1's linux-libc-dev,
 * libdrm-dev 2.4.114):
 *   gcc -I/usr/include/libdrm -o /tmp/ioctl-layouts test/uapi/ioctl-layouts.c && /tmp/ioctl-layouts > test/uapi/ioctl-layouts.txt
 */
const fixture = readFileSync(new URL('./ioctl-layouts.txt', import.meta.url), 'utf8').trim().split('\n');

/** Every named struct reachable from the ioctl layouts, plus those only reached through pointers. */
function namedLayouts(): Map<string, StructLayout> {
  const out = new Map<string, StructLayout>();
  const visit = (t: CType): void => {
    if (typeof t === 'string') return;
    if (t.kind === 'struct') {
      if (!out.has(t.name)) out.set(t.name, t);
      for (const f of t.fields) visit(f.type);
    } else if (t.kind === 'array') visit(t.of);
    else if (t.kind === 'union') Object.values(t.members).forEach(visit);
  };
  for (const l of U.IOCTL_ARG_LAYOUTS) visit(l.layout);
  [syncFenceInfoLayout, v4l2PlaneLayout, v4l2OutputparmLayout, v4l2PlanePixFormatLayout].forEach(visit);
  return out;
}

describe('ioctl argument layouts', () => {
  it("every layout's size is the request's _IOC_SIZE", () => {
    const legacy = new Set([U.FIONBIO, U.FIOASYNC, U.FIONREAD]);
    const pointees: string[] = [];
    for (const l of U.IOCTL_ARG_LAYOUTS) {
      if (l.pointee) {
        pointees.push(l.name);
        continue;
      }
      if (legacy.has(l.cmd)) expect(l.layout.size, l.name).toBe(4);
      else expect(l.layout.size, l.name).toBe(U._IOC_SIZE(l.cmd));
    }
    // only SET_NAME takes its pointer as the argument itself; its A variant's size field is historically 4
    expect(pointees.sort()).toEqual(['DMA_BUF_SET_NAME_A', 'DMA_BUF_SET_NAME_B']);
  });

  it('copies in and out as the request encodes it', () => {
    for (const l of U.IOCTL_ARG_LAYOUTS) {
      if ([U.FIONBIO, U.FIOASYNC, U.FIONREAD].includes(l.cmd)) continue;
      expect(l.dir, l.name).toBe(U._IOC_DIR(l.cmd));
    }
  });

  it('covers every family the brief names, each request once', () => {
    const names = U.IOCTL_ARG_LAYOUTS.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    const cmds = U.IOCTL_ARG_LAYOUTS.map((l) => l.cmd >>> 0);
    expect(new Set(cmds).size).toBe(cmds.length);
    for (const n of ['DMA_HEAP_IOCTL_ALLOC', 'SYNC_IOC_FILE_INFO', 'UDMABUF_CREATE_LIST', 'DRM_IOCTL_VERSION', 'DRM_IOCTL_VGEM_FENCE_ATTACH', 'VIDIOC_DQBUF', 'VIDIOC_S_SELECTION', 'SW_SYNC_IOC_INC']) {
      expect(names).toContain(n);
    }
  });

  it('sizes and offsets match the C headers', () => {
    const layouts = namedLayouts();
    let checked = 0;
    for (const line of fixture) {
      const parts = line.split(' ');
      if (parts[0] === 'request') {
        const name = parts[1]!;
        expect((U as unknown as Record<string, number>)[name] >>> 0, name).toBe(Number(parts[2]));
        continue;
      }
      const [path, n] = parts as [string, string];
      const [sname, ...rest] = path.split('.');
      const l = layouts.get(sname!);
      expect(l, `layout of ${sname}`).toBeDefined();
      if (rest.length === 0) expect(l!.size, path).toBe(Number(n));
      else expect(U.fieldAt(l!, rest.join('.'))?.offset, path).toBe(Number(n));
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });
});

describe('struct codec', () => {
  it('decodes little-endian fields, 64-bit ones as bigints past 2^53', () => {
    const b = new Uint8Array(U.IOCTL_ARG_LAYOUTS.find((l) => l.name === 'DMA_HEAP_IOCTL_ALLOC')!.layout.size);
    const dv = new DataView(b.buffer);
    dv.setBigUint64(0, 1n << 60n, true);
    dv.setUint32(8, 7, true);
    dv.setUint32(12, 0x80002, true);
    dv.setBigUint64(16, 4096n, true);
    const l = U.ioctlArgLayout(U.DMA_HEAP_IOCTL_ALLOC)!.layout;
    expect(U.decodeStruct(l, b)).toEqual({ len: 1n << 60n, fd: 7, fd_flags: 0x80002, heap_flags: 4096 });
  });

  it('round-trips char arrays, nested structs and the selected union member', () => {
    const l = U.ioctlArgLayout(U.VIDIOC_S_FMT)!.layout;
    const pix = { width: 640, height: 480, pixelformat: U.V4L2_PIX_FMT_YUYV, field: 1, bytesperline: 1280, sizeimage: 614400, colorspace: 8, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 };
    const b = new Uint8Array(l.size);
    U.encodeStruct(l, { type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE, fmt: { pix } }, b);
    expect(new DataView(b.buffer).getUint32(8, true)).toBe(640);
    expect(new DataView(b.buffer).getUint32(8 + 20, true)).toBe(614400);
    expect(U.decodeStruct(l, b)).toEqual({ type: 1, fmt: { pix } });
    // a multi-planar type reads the packed pix_mp member from the same bytes
    new DataView(b.buffer).setUint32(0, U.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, true);
    const mp = U.decodeStruct(l, b).fmt as { pix_mp: { width: number; plane_fmt: unknown[]; num_planes: number } };
    expect(mp.pix_mp.width).toBe(640);
    expect(mp.pix_mp.plane_fmt).toHaveLength(8);

    const cap = U.ioctlArgLayout(U.VIDIOC_QUERYCAP)!.layout;
    const cb = new Uint8Array(cap.size).fill(0xee);
    U.encodeStruct(cap, { driver: 'vivid', card: 'x'.repeat(40) }, cb);
    expect(U.decodeStruct(cap, cb).driver).toBe('vivid');
    expect(cb.subarray(5, 16).every((x) => x === 0)).toBe(true);
    // a string longer than its array is cut to leave the NUL
    expect(U.decodeStruct(cap, cb).card).toBe('x'.repeat(31));
  });

  it('leaves the bytes of fields equal to the decoded ones untouched', () => {
    const l = U.ioctlArgLayout(U.SYNC_IOC_MERGE)!.layout;
    const b = new Uint8Array(l.size);
    b.set([0x61, 0, 0x7a, 0x7a], 0); // "a", then junk after the NUL
    const prev = U.decodeStruct(l, b);
    const now = { ...prev, fence: 9 };
    U.encodeStruct(l, now, b, prev);
    expect([...b.subarray(0, 4)]).toEqual([0x61, 0, 0x7a, 0x7a]);
    expect(new DataView(b.buffer).getInt32(36, true)).toBe(9);
  });

  it('lays out natural alignment, trailing padding and packed structs as C does', () => {
    const s = U.struct('t', [
      ['a', 'u8'],
      ['b', 'u64'],
      ['c', 'u16'],
    ]);
    expect([s.fields.map((f) => f.offset), s.size, s.align]).toEqual([[0, 8, 16], 24, 8]);
    const p = U.struct('p', [['a', 'u8'], ['b', 'u32']], { packed: true });
    expect([p.fields[1]!.offset, p.size]).toEqual([1, 5]);
  });
});
