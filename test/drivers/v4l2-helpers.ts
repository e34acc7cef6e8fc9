import { registerVivid, type VividDevice } from '../../src/drivers/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_MMAP,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  type V4l2Buffer,
  type V4l2ExportBuffer,
  type V4l2RequestBuffers,
} from '../../src/uapi/index.ts';
import { testSystem, type TestSystem } from '../dmabuf/helpers.ts';

/** vivid's frame size at its default format (640x480 YUYV). */
export const VIVID_SIZE = 614400;

/**
 * Registers vivid's two instances on a test system: vb2-vmalloc on
 * /dev/video0 and vb2-dma-contig on the camera device at /dev/video4.
 */
export function withVivid<S extends TestSystem>(s: S, seed?: number): S & { vivid: VividDevice[] } {
  const vivid = registerVivid({
    vfs: s.k.vfs,
    dbs: s.dbs,
    mm: s.mm,
    clock: s.soc.clock,
    instances: [{ allocator: 'vmalloc' }, { allocator: 'dma-contig', device: s.cam }],
    seed,
  });
  return { ...s, vivid };
}

/** The dma-buf test SoC with vivid's two instances (see withVivid), pattern seed 5 unless told. */
export function vividSystem(seed = 5): TestSystem & { vivid: VividDevice[] } {
  return withVivid(testSystem(), seed);
}

/** A single-planar v4l2_buffer for QBUF/DQBUF/QUERYBUF. */
export function v4l2buf(index: number, memory = V4L2_MEMORY_MMAP, m: V4l2Buffer['m'] = {}, length = 0, type = CAP): V4l2Buffer {
  return { index, type, bytesused: 0, flags: 0, field: 0, timestamp: { tv_sec: 0, tv_usec: 0 }, sequence: 0, memory, m, length };
}

/** VIDIOC_REQBUFS; returns the struct as the kernel filled it in. */
export async function reqbufs(sys: Sys, fd: number, count: number, memory = V4L2_MEMORY_MMAP, type = CAP): Promise<V4l2RequestBuffers> {
  const r: V4l2RequestBuffers = { count, type, memory, capabilities: 0, flags: 0 };
  await sys.ioctl(fd, VIDIOC_REQBUFS, r);
  return r;
}

/** VIDIOC_QUERYBUF of an MMAP capture buffer. */
export async function querybuf(sys: Sys, fd: number, index: number): Promise<V4l2Buffer> {
  const b = v4l2buf(index);
  await sys.ioctl(fd, VIDIOC_QUERYBUF, b);
  return b;
}

/** VIDIOC_EXPBUF; returns the new dma-buf fd. */
export async function expbuf(sys: Sys, fd: number, index: number, flags = O_CLOEXEC | O_RDWR, type = CAP): Promise<number> {
  const e: V4l2ExportBuffer = { type, index, plane: 0, flags, fd: -1 };
  await sys.ioctl(fd, VIDIOC_EXPBUF, e);
  return e.fd;
}

/** VIDIOC_DQBUF of a capture buffer; returns what the kernel wrote. */
export async function dqbuf(sys: Sys, fd: number, memory = V4L2_MEMORY_MMAP): Promise<V4l2Buffer> {
  const b = v4l2buf(0, memory);
  await sys.ioctl(fd, VIDIOC_DQBUF, b);
  return b;
}

/** Maps MMAP buffer `index` read-write at the offset QUERYBUF gives. */
export async function mapV4l2(sys: Sys, fd: number, index: number): Promise<number> {
  const b = await querybuf(sys, fd, index);
  return sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset!);
}

/** The inode number behind `fd`. */
export async function ino(sys: Sys, fd: number): Promise<number> {
  return (await sys.fstat(fd)).st_ino;
}
