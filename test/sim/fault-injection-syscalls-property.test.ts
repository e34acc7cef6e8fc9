import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAULT_POINTS, SyscallError } from '../../src/lib/index.ts';
import { dmaHeaps } from '../../src/dmabuf/dma-heap.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_HEAP_IOCTL_ALLOC,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  PROT_WRITE,
  SIGKILL,
} from '../../src/uapi/index.ts';
import { checkInvariants } from './fault-invariants.ts';

type Op =
  | { op: 'heap'; heap: number; pages: number }
  | { op: 'mmapBuf'; fd: number; pages: number }
  | { op: 'anon'; pages: number }
  | { op: 'touch'; which: number }
  | { op: 'sync'; fd: number }
  | { op: 'close'; fd: number }
  | { op: 'dup'; fd: number }
  | { op: 'send'; fds: number[] }
  | { op: 'knob'; point: number; probability: number }
  | { op: 'child'; ops: number; kill: boolean };

const fdArb = fc.nat({ max: 15 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('heap' as const), heap: fc.nat(3), pages: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mmapBuf' as const), fd: fdArb, pages: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('anon' as const), pages: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('touch' as const), which: fc.nat() }) },
  fc.record({ op: fc.constant('sync' as const), fd: fdArb }),
  fc.record({ op: fc.constant('close' as const), fd: fdArb }),
  fc.record({ op: fc.constant('dup' as const), fd: fdArb }),
  fc.record({ op: fc.constant('send' as const), fds: fc.array(fdArb, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('knob' as const), point: fc.nat(FAULT_POINTS.length - 1), probability: fc.constantFrom(0, 5, 30) }),
  fc.record({ op: fc.constant('child' as const), ops: fc.integer({ min: 1, max: 8 }), kill: fc.boolean() }),
);

/** Runs `ops` in a process: every call either works or fails with an errno; nothing else may escape. */
async function play(sys: Sys, ops: readonly Op[], heaps: readonly string[], errnos: Map<string, number>): Promise<number> {
  const fds: number[] = [];
  const maps: { addr: number; len: number }[] = [];
  const [sa, sb] = await sys.socketpair();
  const pick = (i: number) => (fds.length > 0 ? fds[i % fds.length]! : 99);
  for (const [k, o] of ops.entries()) {
    try {
      switch (o.op) {
        case 'heap': {
          const h = await sys.open(`/dev/dma_heap/${heaps[o.heap % heaps.length]}`, O_RDWR);
          try {
            const a = { len: o.pages * 4096, fd: 0, fd_flags: O_RDWR, heap_flags: 0 };
            await sys.ioctl(h, DMA_HEAP_IOCTL_ALLOC, a);
            fds.push(a.fd);
          } finally {
            await sys.close(h);
          }
          break;
        }
        case 'mmapBuf':
          maps.push({ addr: await sys.mmap(0, o.pages * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, pick(o.fd), 0), len: o.pages * 4096 });
          break;
        case 'anon':
          maps.push({ addr: await sys.mmap(0, o.pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), len: o.pages * 4096 });
          break;
        case 'touch': {
          // a store into a mapping of a buffer that is smaller than the mapping is SIGBUS in Linux too: touch only the first page
          const m = maps[o.which % Math.max(1, maps.length)];
          if (m) await sys.store(m.addr, new Uint8Array(64).fill(k & 0xff));
          break;
        }
        case 'sync':
          await sys.ioctl(pick(o.fd), DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW });
          await sys.ioctl(pick(o.fd), DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW });
          break;
        case 'close': {
          const fd = pick(o.fd);
          fds.splice(fds.indexOf(fd), 1);
          await sys.close(fd);
          break;
        }
        case 'dup':
          fds.push(await sys.dup(pick(o.fd)));
          break;
        case 'send':
          await sys.sendmsg(sa, { data: new Uint8Array([1]), fds: o.fds.map(pick) });
          break;
        case 'knob': {
          const fd = await sys.open(`/sys/kernel/debug/${FAULT_POINTS[o.point]}/probability`, O_WRONLY);
          await sys.write(fd, new TextEncoder().encode(`${o.probability}\n`));
          await sys.close(fd);
          break;
        }
        case 'child': {
          const pid = await sys.fork(async (c) => play(c, ops.slice(k + 1, k + 1 + o.ops).filter((x) => x.op !== 'child'), heaps, errnos));
          if (o.kill) await sys.kill(pid, SIGKILL);
          await sys.wait(pid);
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      errnos.set(e.code, (errnos.get(e.code) ?? 0) + 1);
    }
  }
  // what the peer never received is dropped with the socket
  void sb;
  return 0;
}

describe('fault injection under random syscall sequences', () => {
  it('every failure is an errno or an OOM kill; after exit nothing leaks and the allocators are consistent', { timeout: 60_000 }, async () => {
    const platform = loadPlatform('armv7-mobile');
    const errnos = new Map<string, number>();
    let injected = 0;
    let ooms = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000 }), fc.constantFrom(5, 20, 50), fc.array(opArb, { minLength: 5, maxLength: 40 }), async (seed, probability, ops) => {
        const sys = bootSystem(platform, { seed });
        const heaps = [...dmaHeaps(sys.dmabuf).keys()];
        for (const name of FAULT_POINTS) {
          const a = sys.soc.faults.attr(name);
          a.probability = probability;
          a.times = -1;
          a.verbose = 1;
          if (name === 'fail_page_alloc') a.extra.set('min-order', 0);
        }
        const free0 = sys.mm.pages.freeCount();
        const files0 = sys.proc.vfs.openFileCount;
        const child = spawnProcess(sys.proc, (s) => play(s, ops, heaps, errnos), []);
        const code = await sys.soc.clock.runUntilSettled(child.exitCode);
        expect(child.process.group.uncaughtError, 'nothing but an errno escapes a call').toBeUndefined();
        const oom = sys.soc.findings.ofKind('oom');
        ooms += oom.length;
        // a process ends normally, or the OOM killer ended it (SIGKILL, reported)
        if (code !== 0) {
          expect(code).toBe(128 + SIGKILL);
          expect(oom.length).toBeGreaterThan(0);
        }
        expect(sys.soc.findings.findings.filter((f) => f.kind !== 'fault-injection' && f.kind !== 'oom')).toEqual([]);
        expect(sys.soc.findings.ofKind('fault-injection')).toHaveLength(sys.soc.faults.injected);
        injected += sys.soc.faults.injected;
        expect(sys.dmabuf.buffers.length, 'dma-bufs').toBe(0);
        expect(sys.proc.vfs.openFileCount, 'open files').toBe(files0);
        expect(sys.dma.debug.liveMappings(), 'dma-debug mappings').toBe(0);
        expect([...sys.mm.cma.values()].reduce((n, a) => n + a.stats().usedPages, 0), 'CMA pages').toBe(0);
        expect(sys.mm.pages.freeCount(), 'pages').toBe(free0);
        checkInvariants(sys);
      }),
      { numRuns: 40 },
    );
    expect(injected).toBeGreaterThan(0);
    expect(errnos.get('ENOMEM') ?? 0).toBeGreaterThan(0);
    expect(ooms, "some page fault went to the OOM killer").toBeGreaterThan(0);
  });
});
