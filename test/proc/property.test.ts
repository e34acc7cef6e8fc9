import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PAGE_SIZE, SyscallError } from '../../src/lib/index.ts';
import type { Process, Sys } from '../../src/proc/index.ts';
import {
  EPOLLIN,
  EPOLLOUT,
  EPOLL_CTL_ADD,
  F_DUPFD_CLOEXEC,
  MAP_PRIVATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  SIGKILL,
} from '../../src/uapi/index.ts';
import { TEST_IOC_EXPORT, setup, type Setup } from './helpers.ts';

type Op =
  | { op: 'openTmp'; ro: boolean }
  | { op: 'openDev' }
  | { op: 'export'; fd: number; pages: number; ro: boolean }
  | { op: 'close'; fd: number }
  | { op: 'dup'; fd: number }
  | { op: 'dup2'; fd: number; to: number }
  | { op: 'dupfd'; fd: number; min: number }
  | { op: 'mmap'; fd: number; pages: number; shared: boolean; write: boolean }
  | { op: 'munmap'; which: number; firstPageOnly: boolean }
  | { op: 'touch'; which: number; write: boolean }
  | { op: 'socketpair' }
  | { op: 'send'; fd: number; fds: number[] }
  | { op: 'recv'; fd: number; maxFds: number }
  | { op: 'kill'; victim: number }
  | { op: 'pipe' }
  | { op: 'pipeIo'; fd: number; write: boolean; pages: number }
  | { op: 'memfd'; pages: number }
  | { op: 'truncate'; fd: number; pages: number }
  | { op: 'epoll'; fd: number }
  | { op: 'exit' };

/** Below 12: the n-th open fd (mod the count); 12 and up: that raw number, usually not open. */
const fdArb = fc.integer({ min: 0, max: 15 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('openTmp' as const), ro: fc.boolean() }),
  fc.record({ op: fc.constant('openDev' as const) }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('export' as const), fd: fdArb, pages: fc.integer({ min: 1, max: 3 }), ro: fc.boolean() }) },
  fc.record({ op: fc.constant('close' as const), fd: fdArb }),
  fc.record({ op: fc.constant('dup' as const), fd: fdArb }),
  fc.record({ op: fc.constant('dup2' as const), fd: fdArb, to: fdArb }),
  fc.record({ op: fc.constant('dupfd' as const), fd: fdArb, min: fdArb }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mmap' as const), fd: fdArb, pages: fc.integer({ min: 1, max: 3 }), shared: fc.boolean(), write: fc.boolean() }) },
  fc.record({ op: fc.constant('munmap' as const), which: fc.nat(), firstPageOnly: fc.boolean() }),
  fc.record({ op: fc.constant('touch' as const), which: fc.nat(), write: fc.boolean() }),
  fc.record({ op: fc.constant('socketpair' as const) }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('send' as const), fd: fdArb, fds: fc.array(fdArb, { maxLength: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('recv' as const), fd: fdArb, maxFds: fc.integer({ min: 0, max: 3 }) }) },
  fc.record({ op: fc.constant('kill' as const), victim: fc.nat() }),
  fc.record({ op: fc.constant('pipe' as const) }),
  fc.record({ op: fc.constant('pipeIo' as const), fd: fdArb, write: fc.boolean(), pages: fc.integer({ min: 1, max: 20 }) }),
  { weight: 2, arbitrary: fc.record({ op: fc.constant('memfd' as const), pages: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('truncate' as const), fd: fdArb, pages: fc.integer({ min: 0, max: 3 }) }) },
  fc.record({ op: fc.constant('epoll' as const), fd: fdArb }),
  fc.record({ op: fc.constant('exit' as const) }),
);

/**
 * Every file's count equals the references fd tables, mappings and
 * messages in flight hold. Checked while no process is inside a system
 * call: one that sleeps (a memfd read copying in simulated time) holds a
 * reference of its own meanwhile, as fget does in Linux.
 */
function checkRefs(s: Setup): void {
  for (const p of s.k.processes.values()) if (p.inSyscall > 0) return;
  const acc = s.k.accountedRefs();
  for (const f of s.k.vfs.openFiles()) {
    if (f.count !== (acc.get(f) ?? 0)) throw new Error(`file #${f.id} ${f.pathName()} count ${f.count}, accounted ${acc.get(f) ?? 0}`);
  }
  for (const f of acc.keys()) if (f.released) throw new Error(`released file #${f.id} still referenced`);
}

/** Which open fds an operation prefers. */
type Kind = 'any' | 'dev' | 'buf' | 'sock' | 'pipe' | 'memfd';

/** Calls per operation ("op") and failures per errno ("op:ECODE") over the whole run. */
const tally = new Map<string, number>();

async function script(s: Setup, sys: Sys, ops: Op[], pids: number[]): Promise<number> {
  const maps: { addr: number; len: number }[] = [];
  const me = s.k.processes.get(await sys.getpid())!;
  /** The n-th open fd of the wanted kind (any kind when none is open); 12 and up stay raw numbers. */
  const fdOf = (n: number, kind: Kind = 'any'): number => {
    if (n >= 12) return n;
    const open = me.files.fds();
    const want = open.filter((fd) => {
      const name = me.files.lookup(fd).pathName();
      switch (kind) {
        case 'any':
          return true;
        case 'dev':
          return name === '/dev/testbuf';
        case 'buf':
          return name.startsWith('/dmabuf:') || name.startsWith('/memfd:');
        case 'sock':
          return name.startsWith('socket:');
        case 'pipe':
          return name.startsWith('pipe:');
        case 'memfd':
          return name.startsWith('/memfd:');
      }
    });
    const from = want.length > 0 ? want : open;
    return from.length > 0 ? from[n % from.length]! : n;
  };
  const kindOf: Partial<Record<Op['op'], Kind>> = { export: 'dev', mmap: 'buf', send: 'sock', recv: 'sock', pipeIo: 'pipe', truncate: 'memfd' };
  let epfd = -1;
  for (const raw of ops) {
    const o = { ...raw } as Op & { fd?: number; to?: number; fds?: number[] };
    if ('fd' in raw) o.fd = fdOf(raw.fd, kindOf[raw.op]);
    if ('to' in raw) o.to = fdOf(raw.to);
    if ('fds' in raw) o.fds = raw.fds.map((n) => fdOf(n));
    try {
      switch (o.op) {
        case 'openTmp':
          await sys.open('/tmp/f', O_CREAT | (o.ro ? O_RDONLY : O_RDWR));
          break;
        case 'openDev':
          await sys.open('/dev/testbuf', O_RDWR | O_CLOEXEC);
          break;
        case 'export':
          await sys.ioctl(o.fd, TEST_IOC_EXPORT, { size: o.pages * PAGE_SIZE, fd: -1, flags: o.ro ? O_RDONLY : O_RDWR });
          break;
        case 'close':
          await sys.close(o.fd);
          break;
        case 'dup':
          await sys.dup(o.fd);
          break;
        case 'dup2':
          await sys.dup2(o.fd, o.to);
          break;
        case 'dupfd':
          await sys.fcntl(o.fd, F_DUPFD_CLOEXEC, o.min);
          break;
        case 'mmap': {
          const len = o.pages * PAGE_SIZE;
          const addr = await sys.mmap(0, len, PROT_READ | (o.write ? PROT_WRITE : 0), o.shared ? MAP_SHARED : MAP_PRIVATE, o.fd, 0);
          maps.push({ addr, len });
          break;
        }
        case 'munmap': {
          if (maps.length === 0) break;
          const i = o.which % maps.length;
          const m = maps[i]!;
          if (o.firstPageOnly && m.len > PAGE_SIZE) {
            await sys.munmap(m.addr, PAGE_SIZE);
            maps[i] = { addr: m.addr + PAGE_SIZE, len: m.len - PAGE_SIZE };
          } else {
            await sys.munmap(m.addr, m.len);
            maps.splice(i, 1);
          }
          break;
        }
        case 'touch': {
          if (maps.length === 0) break;
          const m = maps[o.which % maps.length]!;
          await sys.load(m.addr, 16);
          break;
        }
        case 'socketpair':
          await sys.socketpair(O_NONBLOCK);
          break;
        case 'send':
          await sys.sendmsg(o.fd, { data: new Uint8Array([1, 2, 3]), fds: o.fds });
          break;
        case 'recv':
          await sys.recvmsg(o.fd, { maxFds: o.maxFds });
          break;
        case 'kill': {
          const others = pids.filter((p) => p !== 0);
          if (others.length > 0) await sys.kill(others[o.victim % others.length]!, SIGKILL);
          break;
        }
        case 'pipe':
          await sys.pipe2(O_NONBLOCK);
          break;
        case 'pipeIo':
          if (o.write) await sys.write(o.fd, new Uint8Array(o.pages * 1000).fill(o.pages));
          else await sys.read(o.fd, o.pages * 1000);
          break;
        case 'memfd': {
          const fd = await sys.memfd_create('prop');
          await sys.ftruncate(fd, o.pages * PAGE_SIZE);
          break;
        }
        case 'truncate':
          await sys.ftruncate(o.fd, o.pages * PAGE_SIZE);
          break;
        case 'epoll':
          if (epfd < 0 || !me.files.peek(epfd)) epfd = await sys.epoll_create1();
          await sys.epoll_ctl(epfd, EPOLL_CTL_ADD, o.fd, { events: EPOLLIN | EPOLLOUT, data: o.fd });
          await sys.epoll_wait(epfd, 8, 0);
          break;
        case 'exit':
          await sys.exit(0);
      }
      tally.set(o.op, (tally.get(o.op) ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      tally.set(o.op + ':' + e.code, (tally.get(o.op + ':' + e.code) ?? 0) + 1);
    }
    checkRefs(s);
  }
  return 0;
}

describe('random system-call sequences across processes', () => {
  it('never leak a file, never leave a reference count wrong, and release everything once all processes exit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 8, maxLength: 30 }), { minLength: 1, maxLength: 3 }), async (scripts) => {
        const s = setup({ rlimitNofile: 10 });
        const free0 = s.mm.pages.freeCount();
        const pids: number[] = [];
        const procs: Process[] = [];
        const root = s.k.spawn(async (sys) => {
          await sys.socketpair(O_NONBLOCK);
          await sys.socketpair(O_NONBLOCK);
          const dev = await sys.open('/dev/testbuf', O_RDWR);
          await sys.ioctl(dev, TEST_IOC_EXPORT, { size: 2 * PAGE_SIZE, fd: -1 });
          for (let i = 1; i < scripts.length; i++) {
            const ops = scripts[i]!;
            const pid = await sys.fork((c) => script(s, c, ops, pids));
            pids.push(pid);
            procs.push(s.k.processes.get(pid)!);
          }
          return script(s, sys, scripts[0]!, pids);
        }, [], { stdio: false });
        pids.push(root.pid);
        procs.push(root.process);
        await s.soc.clock.run();
        await root.exitCode;
        for (const p of procs) expect(p.group.uncaughtError).toBeUndefined();
        expect(s.k.processes.size).toBe(0);
        expect(s.k.vfs.openFileCount).toBe(0);
        expect(s.k.sockets.count).toBe(0);
        for (const b of s.dev.bufs) {
          expect(b.released).toBe(1);
          expect(b.vmas).toBe(0);
          for (let pa = b.pa; pa < b.pa + b.size; pa += PAGE_SIZE) expect(s.soc.cpu.cacheableMappings(pa)).toBe(0);
        }
        expect(s.dev.releases).toBe(s.dev.opens);
        // every memfd page went back to the allocator
        expect(s.k.shmem.inodeCount).toBe(0);
        expect(s.k.shmem.nrPages).toBe(0);
        expect(s.mm.pages.freeCount()).toBe(free0);
      }),
      { numRuns: 100, seed: 424242 },
    );
    // the sequences did real work: every kind of call tally many times
    for (const op of ['openDev', 'export', 'close', 'dup', 'dup2', 'mmap', 'munmap', 'touch', 'socketpair', 'send', 'recv', 'pipe', 'pipeIo', 'memfd', 'truncate', 'epoll']) {
      expect(tally.get(op) ?? 0, op).toBeGreaterThan(10);
    }
  });
});
