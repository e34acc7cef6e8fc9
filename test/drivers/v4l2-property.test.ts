import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerVivid } from '../../src/drivers/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  MAP_SHARED,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  PROT_READ,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_MMAP,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
} from '../../src/uapi/index.ts';
import { errno, mismatches, run, testSystem } from '../dmabuf/helpers.ts';
import { VIVID_SIZE as SIZE, v4l2buf } from './v4l2-helpers.ts';


type Op =
  | { op: 'reqbufs'; count: number }
  | { op: 'qbuf'; index: number }
  | { op: 'dqbuf' }
  | { op: 'wait' }
  | { op: 'streamon' }
  | { op: 'streamoff' }
  | { op: 'expbuf'; index: number }
  | { op: 'mmap'; index: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('reqbufs' as const), count: fc.integer({ min: 0, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('qbuf' as const), index: fc.integer({ min: 0, max: 3 }) }), weight: 6 },
  { arbitrary: fc.constant({ op: 'dqbuf' as const }), weight: 3 },
  { arbitrary: fc.constant({ op: 'wait' as const }), weight: 4 },
  { arbitrary: fc.constant({ op: 'streamon' as const }), weight: 2 },
  { arbitrary: fc.constant({ op: 'streamoff' as const }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('expbuf' as const), index: fc.integer({ min: 0, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('mmap' as const), index: fc.integer({ min: 0, max: 3 }) }), weight: 2 },
);

/** Most runs start streaming with mapped buffers, so that captures happen; the rest start from nothing. */
const setup: Op[] = [{ op: 'reqbufs', count: 3 }, { op: 'mmap', index: 0 }, { op: 'mmap', index: 1 }, { op: 'mmap', index: 2 }, { op: 'qbuf', index: 0 }, { op: 'qbuf', index: 1 }, { op: 'streamon' }];
const opsArb = fc.tuple(fc.boolean(), fc.array(opArb, { minLength: 10, maxLength: 40 })).map(([pre, ops]) => (pre ? [...setup, ...ops] : ops));

describe('videobuf2 queue under random call sequences', () => {
  it('errnos follow the queue state, buffers come back in QBUF order with the frame of their sequence, and nothing leaks', async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => {
        const s = testSystem();
        const [dev] = registerVivid({ vfs: s.k.vfs, dbs: s.dbs, mm: s.mm, clock: s.soc.clock });
        const free0 = s.mm.pages.freeCount();
        const vm0 = s.mm.kas.vmallocAreas();
        await run(s, async (sys: Sys) => {
          const v = await sys.open('/dev/video0', O_RDWR | O_NONBLOCK);
          let n = 0;
          let streaming = false;
          let fifo: number[] = []; // queued by us, in order
          let lastSeq = -1;
          const maps = new Map<number, number>();
          for (const o of ops) {
            switch (o.op) {
              case 'reqbufs': {
                const r = { count: o.count, type: CAP, memory: V4L2_MEMORY_MMAP, capabilities: 0, flags: 0 };
                const e = await errno(sys.ioctl(v, VIDIOC_REQBUFS, r));
                expect(e).toBe(streaming ? 'EBUSY' : 'ok');
                if (e === 'ok') {
                  n = o.count === 0 ? 0 : Math.max(2, o.count);
                  expect(r.count).toBe(n);
                  fifo = [];
                  maps.clear();
                }
                break;
              }
              case 'qbuf': {
                const e = await errno(sys.ioctl(v, VIDIOC_QBUF, v4l2buf(o.index)));
                expect(e).toBe(o.index >= n || fifo.includes(o.index) ? 'EINVAL' : 'ok');
                if (e === 'ok') fifo.push(o.index);
                break;
              }
              case 'wait':
              case 'dqbuf': {
                // (a poll without buffers would start read() emulation, which the model leaves out)
                if (o.op === 'wait' && n > 0) await sys.poll([{ fd: v, events: POLLIN }], 100);
                const b = v4l2buf(0);
                const e = await errno(sys.ioctl(v, VIDIOC_DQBUF, b));
                if (!streaming) expect(e).toBe('EINVAL');
                else expect(['ok', 'EAGAIN']).toContain(e);
                if (e === 'ok') {
                  expect(b.index).toBe(fifo.shift());
                  expect(b.sequence).toBeGreaterThan(lastSeq);
                  lastSeq = b.sequence;
                  expect(b.bytesused).toBe(SIZE);
                  const va = maps.get(b.index);
                  if (va !== undefined) expect(mismatches(await sys.load(va, SIZE), dev!.expectedFrame(b.sequence))).toBe(0);
                }
                break;
              }
              case 'streamon': {
                const e = await errno(sys.ioctl(v, VIDIOC_STREAMON, CAP));
                expect(e).toBe(n === 0 ? 'EINVAL' : 'ok');
                if (e === 'ok' && !streaming) {
                  streaming = true;
                  lastSeq = -1;
                }
                break;
              }
              case 'streamoff':
                expect(await errno(sys.ioctl(v, VIDIOC_STREAMOFF, CAP))).toBe('ok');
                streaming = false;
                fifo = [];
                break;
              case 'expbuf': {
                const eb = { type: CAP, index: o.index, plane: 0, flags: O_RDWR | O_CLOEXEC, fd: -1 };
                const e = await errno(sys.ioctl(v, VIDIOC_EXPBUF, eb));
                expect(e).toBe(o.index < n ? 'ok' : 'EINVAL');
                break;
              }
              case 'mmap': {
                if (o.index >= n || maps.has(o.index)) break;
                const q = v4l2buf(o.index);
                await sys.ioctl(v, VIDIOC_QUERYBUF, q);
                maps.set(o.index, await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, v, q.m.offset!));
                break;
              }
            }
          }
          // the process exits with its fds, mappings and exported buffers still open
        });
        expect(s.dbs.buffers.length).toBe(0);
        expect(s.mm.kas.vmallocAreas()).toBe(vm0);
        expect(s.mm.pages.freeCount()).toBe(free0);
        expect(s.soc.clock.pending).toBe(0);
      }),
      { numRuns: 40, seed: 42 },
    );
  }, 60000);
});
