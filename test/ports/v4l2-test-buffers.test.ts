/**
 * Port of the buffer tests of v4l2-compliance (v4l-utils,
 * utils/v4l2-compliance/v4l2-test-buffers.cpp, with the dequeued-buffer
 * checks of its current version: DONE cleared, sequence not going back), as
 * far as they concern a
 * capture node's buffers, run as the first process of linux-6.1-reference
 * against both vivid instances: /dev/video0 (videobuf2-vmalloc) and
 * /dev/video4 (videobuf2-dma-contig), each at vivid's default 640x480 YUYV.
 *
 * Ported, for the video capture buffer type:
 * - testReqBufs: REQBUFS of type 0 is EINVAL; count 0 frees for MMAP, USERPTR
 *   and DMABUF (USERPTR is EINVAL on the dma-contig instance, whose queue
 *   vivid gives no USERPTR); count 1 gives vivid's minimum of 2; QUERYBUF of each buffer
 *   in the unqueued state, and past the last EINVAL; read() while buffers
 *   are allocated is EBUSY; a second open cannot REQBUFS (EBUSY) while the
 *   first owns the queue, and can once it freed it.
 * - testExpBuf: every MMAP buffer exports.
 * - testMmap: STREAMON without buffers is EINVAL; buffers queued and taken
 *   back by STREAMOFF queue again; REQBUFS again frees them; setupMmap's
 *   checks (mmap at a wrong offset fails, DQBUF while not streaming fails,
 *   QBUF twice and QBUF/QUERYBUF past VIDEO_MAX_FRAME fail, QUERYBUF in the
 *   queued state); STREAMON twice; captureBufs blocking and by poll, each
 *   dequeued buffer checked as buffer::check does (DONE cleared, a later sequence,
 *   field NONE, a timestamp, bytesused within length); STREAMOFF twice.
 * - testDmaBuf: the other vivid instance as the exporting node (as
 *   `v4l2-compliance -e` names one), its MMAP buffers exported and queued as
 *   DMABUF; a bad fd is refused; DQBUF gives back the fd queued; the frames
 *   land in the exporter's buffers.
 * - testReqBufs' VIDIOC_CREATE_BUFS part and setupMmap's VIDIOC_PREPARE_BUF.
 * Left out: USERPTR streaming
 * (testUserPtr, ported elsewhere: test/drivers/vivid-userptr-process.test.ts
 * covers vivid's USERPTR path); the output, VBI, SDR, overlay and m2m
 * branches, which vivid's simulated nodes do not have.
 */
import { describe, expect, it } from 'vitest';
import type { Sys } from '../../src/proc/index.ts';
import {
  F_GETFL,
  F_SETFL,
  MAP_SHARED,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  V4L2_BUF_FLAG_DONE,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_FLAG_QUEUED,
  V4L2_BUF_FLAG_TIMESTAMP_MASK,
  V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_FIELD_NONE,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_MEMORY_USERPTR,
  V4L2_BUF_FLAG_PREPARED,
  VIDIOC_CREATE_BUFS,
  VIDIOC_DQBUF,
  VIDIOC_G_FMT,
  VIDIOC_PREPARE_BUF,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  type V4l2Buffer,
  type V4l2CreateBuffers,
  type V4l2Format,
} from '../../src/uapi/index.ts';
import { errno } from '../dmabuf/helpers.ts';
import { VIVID_SIZE, expbuf, reqbufs, v4l2buf } from '../drivers/v4l2-helpers.ts';
import { runPort } from './port-helpers.ts';

const VIDEO_MAX_FRAME = 32;
/** Frames each captureBufs pass takes (v4l2-compliance -s takes 60 by default). */
const FRAMES = 6;

/** Each node, the node its DMABUF test imports from, and the memory types its queue takes (vivid gives dma-contig no USERPTR). */
const NODES: [string, string, number[]][] = [
  ['/dev/video0', '/dev/video4', [V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, V4L2_MEMORY_DMABUF]],
  ['/dev/video4', '/dev/video0', [V4L2_MEMORY_MMAP, V4L2_MEMORY_DMABUF]],
];
const ALL_MEMORY = [V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR, V4L2_MEMORY_DMABUF];

async function querybuf(sys: Sys, fd: number, index: number, memory: number): Promise<V4l2Buffer> {
  const b = v4l2buf(index, memory);
  await sys.ioctl(fd, VIDIOC_QUERYBUF, b);
  return b;
}

const stateFlags = (b: V4l2Buffer) => b.flags & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE | V4L2_BUF_FLAG_ERROR);

/** buffer::check for the Unqueued and Queued modes: type, memory, index, timestamp type, no sequence or timestamp, the state. */
function checkIdle(b: V4l2Buffer, memory: number, index: number, mode: 'unqueued' | 'queued'): void {
  expect(b).toMatchObject({ type: CAP, memory, index, sequence: 0, timestamp: { tv_sec: 0, tv_usec: 0 } });
  expect(b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK).toBe(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
  expect(b.length).toBe(VIVID_SIZE);
  expect(stateFlags(b)).toBe(mode === 'unqueued' ? 0 : V4L2_BUF_FLAG_QUEUED);
}

/** testQueryBuf: each buffer unqueued, then EINVAL past the last. */
async function testQueryBuf(sys: Sys, fd: number, memory: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) checkIdle(await querybuf(sys, fd, i, memory), memory, i, 'unqueued');
  expect(await errno(querybuf(sys, fd, count, memory))).toBe('EINVAL');
}

/**
 * captureBufs: `frames` buffers dequeued, each checked as a dequeued buffer
 * (DONE cleared, a later sequence, field NONE, a timestamp, bytesused within
 * length), and queued again; with `usePoll` the fd is non-blocking and poll
 * waits for POLLIN. Returns the dequeued buffers.
 */
async function captureBufs(sys: Sys, fd: number, memory: number, seq: { last: number }, frames: number, usePoll: boolean): Promise<V4l2Buffer[]> {
  const flags = await sys.fcntl(fd, F_GETFL);
  if (usePoll) await sys.fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const out: V4l2Buffer[] = [];
  while (out.length < frames) {
    if (usePoll) expect(await sys.poll([{ fd, events: POLLIN }], 2000)).toBe(1);
    const b = v4l2buf(0, memory);
    const r = await errno(sys.ioctl(fd, VIDIOC_DQBUF, b));
    if (r === 'EAGAIN') continue;
    expect(r).toBe('ok');
    // vb2_dqbuf clears DONE on its way out (6.1); current v4l2-compliance fails a dequeued buffer that still has it
    expect(stateFlags(b)).toBe(0);
    expect(b.field).toBe(V4L2_FIELD_NONE);
    expect(b.sequence).toBeGreaterThanOrEqual(seq.last + 1);
    seq.last = b.sequence;
    expect(b.timestamp.tv_sec !== 0 || b.timestamp.tv_usec !== 0).toBe(true);
    expect(b.bytesused).toBeGreaterThan(0);
    expect(b.bytesused).toBeLessThanOrEqual(b.length);
    out.push({ ...b, m: { ...b.m } });
    await sys.ioctl(fd, VIDIOC_QBUF, b);
  }
  if (usePoll) await sys.fcntl(fd, F_SETFL, flags);
  return out;
}

function onNode(body: (sys: Sys, fd: number, node: string, other: string) => Promise<void>) {
  return (node: string, other: string): Promise<unknown> =>
    runPort('linux-6.1-reference', 'v4l2-compliance', async (sys) => {
      const fd = await sys.open(node, O_RDWR);
      await body(sys, fd, node, other);
      await sys.close(fd);
    });
}

describe.each(NODES)('v4l2-compliance buffer tests on vivid %s (linux-6.1-reference)', (node, other, valid) => {
  it('testReqBufs: type 0 is EINVAL; each valid memory frees with 0 and allocates vivid\'s 2, the others are EINVAL; QUERYBUF; read() is EBUSY; a second open is locked out', () =>
    onNode(async (sys, fd) => {
      expect(await errno(reqbufs(sys, fd, 0, 0, 0))).toBe('EINVAL');
      expect(await errno(reqbufs(sys, fd, 1, 0, 0))).toBe('EINVAL');
      for (const memory of ALL_MEMORY) {
        expect(await errno(reqbufs(sys, fd, 0, memory)), `memory ${memory}`).toBe(valid.includes(memory) ? 'ok' : 'EINVAL');
      }
      for (const memory of valid) {
        const r = await reqbufs(sys, fd, 1, memory);
        expect(r).toMatchObject({ count: 2, memory, type: CAP });
        expect((await reqbufs(sys, fd, 1, memory)).count).toBe(2);
        await testQueryBuf(sys, fd, memory, r.count);
        // can_rw: the queue belongs to streaming I/O now
        expect(await errno(sys.read(fd, 1))).toBe('EBUSY');
      }
      expect((await reqbufs(sys, fd, 0)).count).toBe(0);

      const fd2 = await sys.open(node, O_RDWR);
      for (const memory of valid) {
        await reqbufs(sys, fd, 1, memory);
        expect(await errno(reqbufs(sys, fd2, 1, memory))).toBe('EBUSY');
        expect(await errno(reqbufs(sys, fd2, 0, memory))).toBe('EBUSY');
        await reqbufs(sys, fd, 0, memory);
        await reqbufs(sys, fd2, 1, memory);
        await reqbufs(sys, fd2, 0, memory);
        await reqbufs(sys, fd, 0, memory);
      }
      await sys.close(fd2);
    })(node, other));

  it('testReqBufs: CREATE_BUFS with count 0 reports index and capabilities; adds buffers after REQBUFS\'s at the asked size, vivid\'s minimum of 2 on an empty queue; too small, another memory or a second open are refused', () =>
    onNode(async (sys, fd, node) => {
      const create = async (f: number, count: number, memory: number, scale = 1): Promise<V4l2CreateBuffers> => {
        const format: V4l2Format = { type: CAP, fmt: {} as V4l2Format['fmt'] };
        await sys.ioctl(f, VIDIOC_G_FMT, format);
        format.fmt.pix.sizeimage = Math.floor(format.fmt.pix.sizeimage * scale);
        const cb: V4l2CreateBuffers = { index: -1, count, memory, format, capabilities: 0, flags: 0 };
        await sys.ioctl(f, VIDIOC_CREATE_BUFS, cb);
        return cb;
      };
      const caps = (await reqbufs(sys, fd, 0)).capabilities;
      for (const memory of ALL_MEMORY) {
        if (!valid.includes(memory)) {
          expect(await errno(create(fd, 0, memory))).toBe('EINVAL');
          continue;
        }
        const cb = await create(fd, 0, memory);
        expect([cb.index, cb.count, cb.capabilities, cb.format.fmt.pix.priv]).toEqual([0, 0, caps, 0xfeedcafe]);
      }
      const M = V4L2_MEMORY_MMAP;
      expect((await reqbufs(sys, fd, 1, M)).count).toBe(2);
      const added = await create(fd, 1, M, 2);
      expect([added.index, added.count]).toEqual([2, 1]);
      const b = await querybuf(sys, fd, 2, M);
      expect(b.length).toBe(2 * VIVID_SIZE);
      // its memory follows the others' in the mmap offsets
      expect(b.m.offset).toBe(2 * VIVID_SIZE);
      const m = await sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset!);
      await sys.munmap(m, b.length);
      expect(await errno(create(fd, 1, M, 0.5))).toBe('EINVAL');
      if (valid.includes(V4L2_MEMORY_DMABUF)) expect(await errno(create(fd, 1, V4L2_MEMORY_DMABUF))).toBe('EINVAL');
      const fd2 = await sys.open(node, O_RDWR);
      expect(await errno(create(fd2, 1, M))).toBe('EBUSY');
      expect((await create(fd2, 0, M)).index).toBe(3);
      await sys.close(fd2);
      // the queue streams with the buffer CREATE_BUFS added
      for (let i = 0; i < 3; i++) await sys.ioctl(fd, VIDIOC_QBUF, await querybuf(sys, fd, i, M));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      const seq = { last: -1 };
      expect(new Set((await captureBufs(sys, fd, M, seq, 4, false)).map((x) => x.index))).toContain(2);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      await reqbufs(sys, fd, 0, M);
      // on an empty queue vivid's queue_setup raises one to its minimum of two
      expect(await create(fd, 1, M)).toMatchObject({ index: 0, count: 2 });
      await reqbufs(sys, fd, 0, M);
    })(node, other));

  it('testExpBuf: every MMAP buffer exports as a dma-buf of the buffer\'s size', () =>
    onNode(async (sys, fd) => {
      const r = await reqbufs(sys, fd, 1);
      const fds: number[] = [];
      for (let i = 0; i < r.count; i++) fds.push(await expbuf(sys, fd, i));
      for (const f of fds) expect((await sys.fstat(f)).st_size).toBe(VIVID_SIZE);
      for (const f of fds) await sys.close(f);
      await reqbufs(sys, fd, 0);
    })(node, other));

  it('testMmap: STREAMON without buffers is EINVAL; STREAMOFF gives queued buffers back; setupMmap\'s checks; capture blocking and by poll; STREAMON/STREAMOFF twice', () =>
    onNode(async (sys, fd) => {
      const M = V4L2_MEMORY_MMAP;
      expect((await reqbufs(sys, fd, 0, M)).count).toBe(0);
      expect(await errno(sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP }))).toBe('EINVAL');
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });

      const r = await reqbufs(sys, fd, 1, M);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      for (let i = 0; i < r.count; i++) await sys.ioctl(fd, VIDIOC_QBUF, await querybuf(sys, fd, i, M));
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      for (let i = 0; i < r.count; i++) await sys.ioctl(fd, VIDIOC_QBUF, await querybuf(sys, fd, i, M));
      // REQBUFS again frees the queued buffers and allocates new ones
      expect((await reqbufs(sys, fd, r.count, M)).count).toBe(r.count);

      const maps: number[] = [];
      for (let i = 0; i < r.count; i++) {
        const b = await querybuf(sys, fd, i, M);
        checkIdle(b, M, i, 'unqueued');
        expect(await errno(sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset! + 0xdeadb000))).toBe('EINVAL');
        expect(await errno(sys.ioctl(fd, VIDIOC_DQBUF, v4l2buf(0, M)))).toBe('EINVAL');
        await sys.ioctl(fd, VIDIOC_QBUF, b);
        expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i, M)))).toBe('EINVAL');
        expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i + VIDEO_MAX_FRAME, M)))).toBe('EINVAL');
        expect(await errno(querybuf(sys, fd, i + VIDEO_MAX_FRAME, M))).toBe('EINVAL');
        checkIdle(await querybuf(sys, fd, i, M), M, i, 'queued');
        expect(await errno(sys.ioctl(fd, VIDIOC_DQBUF, v4l2buf(0, M)))).toBe('EINVAL');
        maps.push(await sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset!));
      }

      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      const seq = { last: -1 };
      const got = await captureBufs(sys, fd, M, seq, FRAMES, false);
      got.push(...(await captureBufs(sys, fd, M, seq, FRAMES, true)));
      expect(got.map((b) => b.bytesused)).toEqual(new Array<number>(2 * FRAMES).fill(VIVID_SIZE));
      // the frames are in the buffers the process mapped
      expect((await sys.load(maps[got[0]!.index]!, VIVID_SIZE)).some((x) => x !== 0)).toBe(true);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      for (let i = 0; i < r.count; i++) expect(stateFlags(await querybuf(sys, fd, i, M))).toBe(0);
      for (const m of maps) await sys.munmap(m, VIVID_SIZE);
      await reqbufs(sys, fd, 0, M);
    })(node, other));

  it('setupMmap: PREPARE_BUF puts a dequeued buffer in the prepared state, twice or on a queued buffer is EINVAL; QBUF queues it and DQBUF clears the state', () =>
    onNode(async (sys, fd) => {
      const M = V4L2_MEMORY_MMAP;
      const r = await reqbufs(sys, fd, 1, M);
      const prepared = (b: V4l2Buffer) => b.flags & V4L2_BUF_FLAG_PREPARED;
      const b = await querybuf(sys, fd, 0, M);
      await sys.ioctl(fd, VIDIOC_PREPARE_BUF, b);
      expect([prepared(b), stateFlags(b)]).toEqual([V4L2_BUF_FLAG_PREPARED, 0]);
      expect(prepared(await querybuf(sys, fd, 0, M))).toBe(V4L2_BUF_FLAG_PREPARED);
      expect(await errno(sys.ioctl(fd, VIDIOC_PREPARE_BUF, v4l2buf(0, M)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_PREPARE_BUF, v4l2buf(r.count, M)))).toBe('EINVAL');
      expect(await errno(sys.ioctl(fd, VIDIOC_PREPARE_BUF, v4l2buf(1, V4L2_MEMORY_DMABUF)))).toBe('EINVAL');
      await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(0, M));
      const q = await querybuf(sys, fd, 0, M);
      expect([prepared(q), stateFlags(q)]).toEqual([0, V4L2_BUF_FLAG_QUEUED]);
      expect(await errno(sys.ioctl(fd, VIDIOC_PREPARE_BUF, v4l2buf(0, M)))).toBe('EINVAL');
      for (let i = 1; i < r.count; i++) await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i, M));
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      const d = v4l2buf(0, M);
      await sys.ioctl(fd, VIDIOC_DQBUF, d);
      expect(prepared(d)).toBe(0);
      expect(prepared(await querybuf(sys, fd, d.index, M))).toBe(0);
      // prepared and not queued when streaming stops: STREAMOFF forgets the preparation
      await sys.ioctl(fd, VIDIOC_PREPARE_BUF, v4l2buf(d.index, M));
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      expect(prepared(await querybuf(sys, fd, d.index, M))).toBe(0);
      await reqbufs(sys, fd, 0, M);
    })(node, other));

  it('testDmaBuf: the other vivid node\'s exported MMAP buffers are queued as DMABUF; a bad fd is refused; DQBUF gives back the fd; frames land in the exporter\'s buffers', () =>
    onNode(async (sys, fd, _node, expNode) => {
      const D = V4L2_MEMORY_DMABUF;
      const exp = await sys.open(expNode, O_RDWR);
      expect((await reqbufs(sys, fd, 0, D)).count).toBe(0);
      const r = await reqbufs(sys, fd, 1, D);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      const er = await reqbufs(sys, exp, r.count, V4L2_MEMORY_MMAP);
      expect(er.count).toBeGreaterThanOrEqual(r.count);
      const fds: number[] = [];
      for (let i = 0; i < r.count; i++) fds.push(await expbuf(sys, exp, i));

      for (let i = 0; i < r.count; i++) {
        const b = await querybuf(sys, fd, i, D);
        checkIdle(b, D, i, 'unqueued');
        // no MMAP buffers on a DMABUF queue
        expect(await errno(sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EINVAL');
        expect(await errno(sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i, D, { fd: 0xdeadbeef + fds[i]! }, VIVID_SIZE)))).toBe('EINVAL');
        await sys.ioctl(fd, VIDIOC_QBUF, v4l2buf(i, D, { fd: fds[i]! }, VIVID_SIZE));
        checkIdle(await querybuf(sys, fd, i, D), D, i, 'queued');
      }
      const maps: number[] = [];
      for (const f of fds) maps.push(await sys.mmap(0, VIVID_SIZE, PROT_READ, MAP_SHARED, f, 0));

      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      await sys.ioctl(fd, VIDIOC_STREAMON, { value: CAP });
      const seq = { last: -1 };
      const got = await captureBufs(sys, fd, D, seq, FRAMES, false);
      got.push(...(await captureBufs(sys, fd, D, seq, FRAMES, true)));
      // check_planes: the fd a dequeued buffer carries is the one queued at its index
      for (const b of got) expect(b.m.fd).toBe(fds[b.index]);
      expect((await sys.load(maps[got[0]!.index]!, VIVID_SIZE)).some((x) => x !== 0)).toBe(true);
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });
      await sys.ioctl(fd, VIDIOC_STREAMOFF, { value: CAP });

      for (const m of maps) await sys.munmap(m, VIVID_SIZE);
      await reqbufs(sys, fd, 0, D);
      for (const f of fds) await sys.close(f);
      await reqbufs(sys, exp, 0, V4L2_MEMORY_MMAP);
      await sys.close(exp);
    })(node, other));
});
