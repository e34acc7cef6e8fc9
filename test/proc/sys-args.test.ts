import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/lib/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { ProcessUnwind } from '../../src/proc/errors.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import {
  CLOCK_MONOTONIC,
  CLONE_THREAD_FLAGS,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_READ,
  EPOLL_CTL_ADD,
  EPOLLIN,
  FUTEX_WAKE,
  F_GETFD,
  MAP_SHARED,
  MSG_DONTWAIT,
  O_RDONLY,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  SEEK_SET,
  SIGUSR1,
  AT_FDCWD,
  F_OK,
  AT_PAGESZ,
  FIONREAD,
} from '../../src/uapi/index.ts';

/**
 * The shapes of a system call's arguments, each with values of the wrong
 * shape and the errno Linux gives for the C equivalent: a bad pointer is
 * EFAULT, a bad value EINVAL, a bad descriptor EBADF.
 */
const GARBAGE = {
  fd: { errno: 'EBADF', values: [-1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 53, '3', null, {}, 3n, true] },
  int: { errno: 'EINVAL', values: [1.5, NaN, Infinity, -Infinity, '1', null, {}, 1n, [], true] },
  len: { errno: 'EINVAL', values: [-1, 1.5, NaN, Infinity, '4', null, {}, 4n, [4]] },
  timeout: { errno: 'EINVAL', values: [NaN, '1', null, {}, 1n] },
  ptr: { errno: 'EFAULT', values: [1.5, NaN, Infinity, '4096', null, {}, [], true] },
  path: { errno: 'EFAULT', values: [null, 5, {}, 5n, true, ['/proc/self/maps'], new Uint8Array(2)] },
  bytes: { errno: 'EFAULT', values: [null, 5, [1, 2], 'ab', {}, new Uint16Array(2), 5n, new ArrayBuffer(2)] },
  struct: { errno: 'EFAULT', values: [null, 5, 'x', 5n, true] },
  optStruct: { errno: 'EFAULT', values: [5, 'x', 5n, true] },
  fn: { errno: 'EINVAL', values: [null, 5, 'x', {}] },
  request: { errno: 'ENOTTY', values: [5n, '5', null, 1.5, NaN, {}, -1, 2 ** 32] },
} as const;
type Kind = keyof typeof GARBAGE;

/** What the table's calls work on: descriptors and a mapping made once per process. */
interface Ctx {
  memfd: number;
  sock: [number, number];
  pipe: [number, number];
  ep: number;
  dmabuf: number;
  map: number;
}

interface Case {
  call: keyof Sys;
  kinds: (Kind | null)[];
  args: (c: Ctx) => unknown[];
  /** An errno other than the kind's, per argument position, where Linux gives another. */
  errno?: Record<number, string>;
  /** Values that are of the right shape here (an absolute path ignores dirfd, so -1 is no error). */
  skip?: unknown[];
}

const nop = async (): Promise<number> => 0;

const CASES: Case[] = [
  { call: 'clone', kinds: ['fn', 'int', 'optStruct'], args: () => [nop, CLONE_THREAD_FLAGS, {}] },
  { call: 'threadCreate', kinds: ['fn'], args: () => [nop] },
  { call: 'threadJoin', kinds: ['int'], args: () => [1] , errno: { 0: 'ESRCH' } },
  { call: 'futex', kinds: ['ptr', 'int', 'int', 'optStruct', 'int'], args: (c) => [c.map, FUTEX_WAKE, 1, null, 0] },
  { call: 'set_tid_address', kinds: ['ptr'], args: () => [0] },
  { call: 'open', kinds: ['path', 'int', 'int'], args: () => ['/dev/null', O_RDONLY, 0] },
  { call: 'close', kinds: ['fd'], args: () => [999] },
  { call: 'dup', kinds: ['fd'], args: (c) => [c.memfd] },
  { call: 'dup2', kinds: ['fd', 'fd'], args: (c) => [c.memfd, c.memfd] },
  { call: 'fcntl', kinds: ['fd', 'int', 'int'], args: (c) => [c.memfd, F_GETFD, 0] },
  { call: 'read', kinds: ['fd', 'len'], args: (c) => [c.memfd, 4] },
  { call: 'pread', kinds: ['fd', 'len', 'len'], args: (c) => [c.memfd, 4, 0] },
  { call: 'write', kinds: ['fd', 'bytes'], args: (c) => [c.memfd, new Uint8Array(1)] },
  { call: 'pwrite', kinds: ['fd', 'bytes', 'len'], args: (c) => [c.memfd, new Uint8Array(1), 0] },
  { call: 'lseek', kinds: ['fd', 'int', 'int'], args: (c) => [c.memfd, 0, SEEK_SET] },
  { call: 'fstat', kinds: ['fd'], args: (c) => [c.memfd] },
  { call: 'stat', kinds: ['path'], args: () => ['/dev/null'] },
  { call: 'lstat', kinds: ['path'], args: () => ['/dev/null'] },
  { call: 'fstatat', kinds: ['fd', 'path', 'int'], args: () => [AT_FDCWD, '/dev/null', 0], skip: [-1] },
  { call: 'access', kinds: ['path', 'int'], args: () => ['/dev/null', F_OK] },
  { call: 'faccessat', kinds: ['fd', 'path', 'int', 'int'], args: () => [AT_FDCWD, '/dev/null', F_OK, 0], skip: [-1] },
  { call: 'getdents64', kinds: ['fd', 'len'], args: (c) => [c.memfd, 4096] },
  { call: 'fallocate', kinds: ['fd', 'int', 'len', 'len'], args: (c) => [c.memfd, 0, 0, 4096] },
  { call: 'ftruncate', kinds: ['fd', 'len'], args: (c) => [c.memfd, 8192] },
  { call: 'fsync', kinds: ['fd'], args: (c) => [c.memfd] },
  { call: 'fdatasync', kinds: ['fd'], args: (c) => [c.memfd] },
  { call: 'memfd_create', kinds: ['path', 'int'], args: () => ['x', 0] },
  { call: 'pipe2', kinds: ['int'], args: () => [0] },
  { call: 'epoll_create', kinds: ['len'], args: () => [1] },
  { call: 'epoll_create1', kinds: ['int'], args: () => [0] },
  { call: 'epoll_ctl', kinds: ['fd', 'int', 'fd', 'struct'], args: (c) => [c.ep, EPOLL_CTL_ADD, c.pipe[0], { events: EPOLLIN, data: 1 }] },
  { call: 'epoll_wait', kinds: ['fd', 'len', 'timeout'], args: (c) => [c.ep, 4, 0] },
  { call: 'ioctl', kinds: ['fd', 'request', null], args: (c) => [c.memfd, FIONREAD, { value: 0 }] },
  { call: 'mmap', kinds: ['int', 'len', 'int', 'int', 'fd', 'len'], args: (c) => [0, 4096, PROT_READ, MAP_SHARED, c.memfd, 0] },
  { call: 'munmap', kinds: ['int', 'len'], args: () => [0x7000_0000, 4096] },
  { call: 'mremap', kinds: ['int', 'len', 'len', 'int', 'int'], args: (c) => [c.map, 4096, 4096, 0, 0] },
  { call: 'mprotect', kinds: ['int', 'len', 'int'], args: (c) => [c.map, 4096, PROT_READ | PROT_WRITE] },
  { call: 'load', kinds: ['ptr', 'len'], args: (c) => [c.map, 4] },
  { call: 'store', kinds: ['ptr', 'bytes'], args: (c) => [c.map, new Uint8Array(4)] },
  { call: 'clock_gettime', kinds: ['int'], args: () => [CLOCK_MONOTONIC] },
  { call: 'nanosleep', kinds: ['struct'], args: () => [{ tv_sec: 0, tv_nsec: 1 }] },
  { call: 'clock_nanosleep', kinds: ['int', 'int', 'struct'], args: () => [CLOCK_MONOTONIC, 0, { tv_sec: 0, tv_nsec: 1 }] },
  { call: 'getauxval', kinds: ['int'], args: () => [AT_PAGESZ], errno: { 0: 'ENOENT' } },
  { call: 'poll', kinds: ['struct', 'timeout'], args: (c) => [[{ fd: c.pipe[0], events: POLLIN }], 0] },
  { call: 'socketpair', kinds: ['int'], args: () => [0] },
  { call: 'sendmsg', kinds: ['fd', 'struct'], args: (c) => [c.sock[0], { data: new Uint8Array(1) }] },
  { call: 'recvmsg', kinds: ['fd', 'optStruct'], args: (c) => [c.sock[1], { flags: MSG_DONTWAIT }] },
  { call: 'fork', kinds: ['fn'], args: () => [nop] },
  { call: 'exec', kinds: ['fn', 'optStruct'], args: () => [nop, []] },
  { call: 'wait', kinds: ['int'], args: () => [-1] },
  { call: 'kill', kinds: ['int', 'int'], args: (c) => [c.map > 0 ? 99999 : 0, 0], errno: { 0: 'EINVAL' } },
  { call: 'sigaction', kinds: ['int', 'optStruct'], args: () => [SIGUSR1, null] },
  { call: 'alarm', kinds: ['len'], args: () => [0] },
  { call: 'exit', kinds: ['int'], args: () => [0] },
  { call: 'exit_group', kinds: ['int'], args: () => [0] },
  { call: 'readFile', kinds: ['path'], args: () => ['/proc/self/maps'] },
  { call: 'readlink', kinds: ['path'], args: () => ['/proc/self/exe'] },
];

/** Garbage in struct fields and array entries, where the call reads them: each must fail with an errno, never a raw error. */
const NESTED: { name: string; run: (sys: Sys, c: Ctx) => Promise<unknown> }[] = [
  ...[5, 'x', [1.5], [null], [-1], ['3'], {}].map((fds) => ({ name: `sendmsg fds ${String(fds)}`, run: (sys: Sys, c: Ctx) => sys.sendmsg(c.sock[0], { fds } as never) })),
  ...[5, 'x', [1], {}].map((data) => ({ name: `sendmsg data ${String(data)}`, run: (sys: Sys, c: Ctx) => sys.sendmsg(c.sock[0], { data } as never) })),
  ...[{ flags: 'x' }, { maxFds: -1 }, { maxLen: -1 }, { maxLen: 1.5 }, { maxFds: NaN }].map((o) => ({ name: `recvmsg ${JSON.stringify(o)}`, run: (sys: Sys, c: Ctx) => sys.recvmsg(c.sock[1], o as never) })),
  ...[[null], [5], ['x'], [{ fd: 'x', events: POLLIN }], [{ fd: 0, events: 'x' }], [{}]].map((fds) => ({ name: `poll ${JSON.stringify(fds)}`, run: (sys: Sys) => sys.poll(fds as never, 0) })),
  ...[{ tv_sec: 'x', tv_nsec: 0 }, { tv_sec: 0 }, { tv_sec: 1.5, tv_nsec: 0 }, {}].map((ts) => ({ name: `nanosleep ${JSON.stringify(ts)}`, run: (sys: Sys) => sys.nanosleep(ts as never) })),
  ...[{ events: 'x' }, { events: null }].map((ev) => ({ name: `epoll_ctl ${JSON.stringify(ev)}`, run: (sys: Sys, c: Ctx) => sys.epoll_ctl(c.ep, EPOLL_CTL_ADD, c.pipe[1], ev as never) })),
  ...[{ handler: 5 }, { handler: 'x' }, { handler: null }, { handler: () => 0, mask: 5 }, { handler: () => 0, flags: 'x' }].map((act) => ({ name: `sigaction ${JSON.stringify(act)}`, run: (sys: Sys) => sys.sigaction(SIGUSR1, act as never) })),
  ...[{ parent_tid: 'x' }, { child_tid: 1.5 }].map((a) => ({ name: `clone ${JSON.stringify(a)}`, run: (sys: Sys) => sys.clone(nop, CLONE_THREAD_FLAGS, a as never) })),
  ...[[5], 'x', [null]].map((args) => ({ name: `exec args ${JSON.stringify(args)}`, run: (sys: Sys) => sys.exec(nop, args as never) })),
  ...[null, 5, 'x', {}, { flags: 'x' }, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ, x: 1 }, { flags: 1.5 }].map((a) => ({ name: `DMA_BUF_IOCTL_SYNC ${JSON.stringify(a)}`, run: (sys: Sys, c: Ctx) => sys.ioctl(c.dmabuf, DMA_BUF_IOCTL_SYNC, a) })),
];

/** The errno a call rejects with; a raw JavaScript error (TypeError, RangeError) fails the test with its own stack. */
async function errnoOf(p: () => Promise<unknown>): Promise<string> {
  try {
    await p();
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    if (e instanceof ProcessUnwind) throw e;
    return `raw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  if (v instanceof Uint16Array || v instanceof Uint8Array || v instanceof ArrayBuffer) return v.constructor.name;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Runs `body` in a process of the reference platform with the table's descriptors open; returns its exit status and what the kernel has left. */
async function inProcess(body: (sys: Sys, c: Ctx) => Promise<void>): Promise<{ status: number; openFiles: number; dmabufs: number }> {
  const s = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
  let thrown: unknown;
  const sp = spawnProcess(s.proc, async (sys: Sys) => {
    try {
      const memfd = await sys.memfd_create('args', 0);
      await sys.ftruncate(memfd, 8192);
      const sock = await sys.socketpair(O_NONBLOCK);
      const pipe = await sys.pipe();
      const ep = await sys.epoll_create1(0);
      const heap = await sys.open('/dev/dma_heap/system', O_RDWR);
      const a = { len: 4096, fd: 0, fd_flags: O_RDWR, heap_flags: 0 };
      const { DMA_HEAP_IOCTL_ALLOC } = await import('../../src/uapi/index.ts');
      await sys.ioctl(heap, DMA_HEAP_IOCTL_ALLOC, a);
      const map = await sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
      await body(sys, { memfd, sock, pipe, ep, dmabuf: a.fd, map });
    } catch (e) {
      thrown = e;
    }
    return 0;
  }, [], undefined, { stdio: false });
  const status = await s.soc.clock.runUntilSettled(sp.exitCode);
  if (thrown) throw thrown;
  return { status, openFiles: s.proc.vfs.openFileCount, dmabufs: s.dmabuf.buffers.length };
}

describe('sys: an argument of the wrong shape', () => {
  it('gives the errno Linux gives for the C equivalent, for every call and argument position, and the process goes on', async () => {
    const wrong: string[] = [];
    let last = '';
    const r = await inProcess(async (sys, c) => {
      const pid = await sys.getpid();
      for (const cs of CASES) {
        const base = cs.args(c);
        for (const [i, kind] of cs.kinds.entries()) {
          if (kind === null) continue;
          const g = GARBAGE[kind];
          const want = cs.errno?.[i] ?? g.errno;
          for (const v of g.values) {
            if (cs.skip?.includes(v)) continue;
            const args = [...base];
            args[i] = v;
            last = `${cs.call} arg ${i} = ${show(v)}`;
            const got = await errnoOf(() => (sys[cs.call] as (...a: unknown[]) => Promise<unknown>)(...args));
            if (got !== want) wrong.push(`${cs.call} arg ${i} = ${show(v)}: ${got}, want ${want}`);
          }
        }
        expect(await sys.getpid()).toBe(pid);
      }
    }).catch((e: unknown) => {
      throw new Error(`after ${last}: ${String(e)}`);
    });
    expect(wrong).toEqual([]);
    expect(r.status).toBe(0);
    expect(r).toEqual({ status: 0, openFiles: 0, dmabufs: 0 });
  });

  it('in a struct field or an array entry gives an errno too', async () => {
    const raw: string[] = [];
    let last = '';
    await inProcess(async (sys, c) => {
      for (const n of NESTED) {
        last = n.name;
        try {
          await n.run(sys, c);
        } catch (e) {
          if (!(e instanceof SyscallError)) raw.push(`${n.name}: ${String(e)}`);
          continue;
        }
      }
      expect(await sys.fcntl(c.memfd, F_GETFD)).toBe(0);
    }).catch((e: unknown) => {
      throw new Error(`after ${last}: ${String(e)}`);
    });
    expect(raw).toEqual([]);
  });

  it('the issue\'s examples fail with the errno named for them', async () => {
    await inProcess(async (sys, c) => {
      expect(await errnoOf(() => sys.load(c.map, -1))).toBe('EINVAL');
      expect(await errnoOf(() => sys.store(c.map, [1, 2] as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.store(c.map, null as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.sendmsg(c.sock[0], { fds: 5 } as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.sendmsg(c.sock[0], null as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.poll([null] as never, 0))).toBe('EFAULT');
      expect(await errnoOf(() => sys.recvmsg(c.sock[1], null as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.readFile(null as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.readlink(5 as never))).toBe('EFAULT');
      expect(await errnoOf(() => sys.ioctl(c.memfd, 5n as never, {}))).toBe('ENOTTY');
      // valid arguments still work: a bigint ioctl argument is a user address
      expect(await sys.load(c.map, 0)).toEqual(new Uint8Array(0));
      expect(await errnoOf(() => sys.ioctl(c.dmabuf, DMA_BUF_IOCTL_SYNC, BigInt(c.map)))).toBe('EINVAL');
    });
  });
});
