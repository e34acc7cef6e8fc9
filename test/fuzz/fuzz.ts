import { Deadlock } from '../../src/hw/index.ts';
import { SyscallError } from '../../src/lib/index.ts';
import { describeBlockedTasks, spawnProcess, type Sys } from '../../src/proc/index.ts';
import { ProcessUnwind } from '../../src/proc/errors.ts';
import { bootSystem, loadPlatform, type System } from '../../src/sim/index.ts';
import * as U from '../../src/uapi/index.ts';
import { checkInvariants } from './invariants.ts';

/*
 * A seeded syscall fuzzer: random call sequences, run by several processes
 * at once, over every device node the platform boots (dma-heaps, vgem,
 * udmabuf with memfds, sw_sync) and the calls around them (Unix sockets
 * with SCM_RIGHTS, mmap/munmap/mremap/mprotect, DMA_BUF_IOCTL_SYNC,
 * sync_file export/merge/info, pipes, epoll, poll), with garbage fds and
 * arguments, forks, exits and SIGKILL at random times. After every process
 * has exited it checks the kernel's own leak counts and the allocators'
 * invariants. A failing sequence shrinks to a minimal one by removing steps.
 */

/** One step: process `p` runs operation `op` with the random words `a`, which it reads as it needs. */
export interface Step {
  p: number;
  op: OpName;
  a: number[];
}

/** A sequence to run: the platform, the number of processes, and each process's steps in order. */
export interface Plan {
  platform: string;
  procs: number;
  steps: Step[];
}

/** What one run gave: the failures (empty when clean) and how many system calls the processes made. */
export interface FuzzResult {
  failures: string[];
  calls: number;
  /** Steps that ran to the end, and those that ended in an errno, by operation. */
  outcomes: Record<string, { ok: number; errno: number }>;
}

/** The platforms the fuzzer boots: the Linux reference and the default one of `unimem run`. */
export const FUZZ_PLATFORMS = ['linux-6.1-reference', 'armv7-mobile'] as const;

/** A small seeded PRNG (mulberry32): the same seed gives the same plan everywhere. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'dmabuf' | 'sync' | 'timeline' | 'memfd' | 'sock' | 'pipe' | 'epoll' | 'card' | 'any';

/** What one process knows: its fds by kind, its mappings, its vgem objects and fences, its children. */
interface State {
  fds: { fd: number; kind: Kind }[];
  maps: { addr: number; len: number }[];
  handles: number[];
  fences: number[];
  children: number[];
  heaps: string[];
}

interface OpCtx {
  sys: Sys;
  st: State;
  a: number[];
  root: boolean;
}

const PAGE = 4096;

function pick<T>(xs: readonly T[], r: number): T | undefined {
  return xs.length === 0 ? undefined : xs[r % xs.length];
}

/** An fd of `kind` (any kind when none of it is open), sometimes a bad one. */
function fdOf(st: State, r: number, ...kinds: Kind[]): number {
  if (r % 23 === 0) return pick([-1, 999, 1.5, NaN, 2 ** 31], r >>> 5)!;
  const of = st.fds.filter((f) => kinds.includes(f.kind));
  return (pick(of.length ? of : st.fds, r >>> 3) ?? { fd: 999 }).fd;
}

function add(st: State, fd: number, kind: Kind): void {
  st.fds = st.fds.filter((f) => f.fd !== fd);
  st.fds.push({ fd, kind });
}

const GARBAGE_ARGS: unknown[] = [null, undefined, 5, -1, 'x', {}, [], 0n, 2n ** 64n, { fd: 'x' }, { flags: -1 }, { len: -1, fd: 0, fd_flags: 0, heap_flags: 0 }, { handle: 1.5 }];

/** Every request the fuzzer's garbage step sends to a random fd. */
const REQUESTS = [
  U.DMA_HEAP_IOCTL_ALLOC, U.DMA_BUF_IOCTL_SYNC, U.DMA_BUF_SET_NAME_A, U.DMA_BUF_IOCTL_EXPORT_SYNC_FILE, U.DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  U.SYNC_IOC_MERGE, U.SYNC_IOC_FILE_INFO, U.SW_SYNC_IOC_CREATE_FENCE, U.SW_SYNC_IOC_INC, U.UDMABUF_CREATE, U.UDMABUF_CREATE_LIST,
  U.DRM_IOCTL_VERSION, U.DRM_IOCTL_GEM_CLOSE, U.DRM_IOCTL_MODE_CREATE_DUMB, U.DRM_IOCTL_MODE_MAP_DUMB, U.DRM_IOCTL_PRIME_HANDLE_TO_FD,
  U.DRM_IOCTL_PRIME_FD_TO_HANDLE, U.DRM_IOCTL_VGEM_FENCE_ATTACH, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, U.FIONREAD, U.FIONBIO, 0, 0xdeadbeef,
];

const OPS = {
  async heap({ sys, st, a }: OpCtx) {
    const h = await sys.open(`/dev/dma_heap/${pick(st.heaps, a[0]!) ?? 'system'}`, U.O_RDWR);
    const len = a[1]! % 17 === 0 ? 2 ** 30 : ((a[1]! % 8) + 1) * PAGE;
    const arg = { len, fd: 0, fd_flags: U.O_RDWR | (a[2]! & 1 ? U.O_CLOEXEC : 0), heap_flags: 0 };
    try {
      await sys.ioctl(h, U.DMA_HEAP_IOCTL_ALLOC, arg);
      add(st, arg.fd, 'dmabuf');
    } finally {
      if (a[2]! & 2) add(st, h, 'any');
      else await sys.close(h);
    }
  },
  async vgem({ sys, st, a }: OpCtx) {
    let card = st.fds.find((f) => f.kind === 'card')?.fd;
    if (card === undefined) {
      // non-blocking: a read of a DRM fd waits for an event that never comes, on Linux too
      card = await sys.open('/dev/dri/card0', U.O_RDWR | U.O_NONBLOCK);
      add(st, card, 'card');
    }
    const d = { width: 16 * ((a[0]! % 8) + 1), height: 8, bpp: 32, flags: 0, handle: 0, pitch: 0, size: 0 as number | bigint };
    await sys.ioctl(card, U.DRM_IOCTL_MODE_CREATE_DUMB, d);
    st.handles.push(d.handle);
    if (a[1]! & 1) {
      const pr = { handle: d.handle, flags: U.DRM_CLOEXEC | U.DRM_RDWR, fd: -1 };
      await sys.ioctl(card, U.DRM_IOCTL_PRIME_HANDLE_TO_FD, pr);
      add(st, pr.fd, 'dmabuf');
    }
    if (a[1]! & 2) {
      const f = { handle: d.handle, flags: a[2]! & 1 ? U.VGEM_FENCE_WRITE : 0, out_fence: 0, pad: 0 };
      await sys.ioctl(card, U.DRM_IOCTL_VGEM_FENCE_ATTACH, f);
      st.fences.push(f.out_fence);
    }
    if (a[1]! & 4) await sys.ioctl(card, U.DRM_IOCTL_GEM_CLOSE, { handle: d.handle, pad: 0 });
  },
  async vgemFence({ sys, st, a }: OpCtx) {
    const card = fdOf(st, a[0]!, 'card');
    if (a[1]! & 1) await sys.ioctl(card, U.DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: pick(st.fences, a[2]!) ?? a[2]! % 4, flags: 0 });
    else await sys.ioctl(card, U.DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: pick(st.handles, a[2]!) ?? 1, flags: a[3]! & 1 ? U.VGEM_FENCE_WRITE : 0, out_fence: 0, pad: 0 });
    if (a[1]! & 2) {
      const pr = { handle: pick(st.handles, a[3]!) ?? 1, flags: U.DRM_RDWR, fd: -1 };
      await sys.ioctl(card, U.DRM_IOCTL_PRIME_HANDLE_TO_FD, pr);
      add(st, pr.fd, 'dmabuf');
    }
    if (a[1]! & 4) await sys.ioctl(card, U.DRM_IOCTL_PRIME_FD_TO_HANDLE, { handle: 0, flags: 0, fd: fdOf(st, a[3]!, 'dmabuf') });
  },
  async udmabuf({ sys, st, a }: OpCtx) {
    const pages = (a[0]! % 4) + 1;
    const mfd = await sys.memfd_create('fuzz', U.MFD_ALLOW_SEALING);
    add(st, mfd, 'memfd');
    await sys.ftruncate(mfd, pages * PAGE);
    if (a[1]! & 1) await sys.fcntl(mfd, U.F_ADD_SEALS, U.F_SEAL_SHRINK);
    const dev = await sys.open('/dev/udmabuf', U.O_RDWR);
    try {
      const off = (a[2]! % 2) * PAGE;
      const fd = await sys.ioctl(dev, U.UDMABUF_CREATE, { memfd: mfd, flags: a[3]! & 1 ? U.UDMABUF_FLAGS_CLOEXEC : 0, offset: off, size: (pages - (a[3]! % 2)) * PAGE });
      add(st, fd, 'dmabuf');
    } finally {
      await sys.close(dev);
    }
  },
  async memfd({ sys, st, a }: OpCtx) {
    const fd = await sys.memfd_create('m', a[0]! & 1 ? U.MFD_CLOEXEC : 0);
    add(st, fd, 'memfd');
    await sys.ftruncate(fd, ((a[1]! % 4) + 1) * PAGE);
    await sys.pwrite(fd, new Uint8Array(a[2]! % 64).fill(a[3]! & 0xff), a[3]! % (2 * PAGE));
  },
  async socketpair({ sys, st, a }: OpCtx) {
    const [x, y] = await sys.socketpair(U.O_NONBLOCK | (a[0]! & 1 ? U.O_CLOEXEC : 0));
    add(st, x, 'sock');
    add(st, y, 'sock');
  },
  async sendmsg({ sys, st, a }: OpCtx) {
    const n = a[1]! % 4;
    const fds: number[] = [];
    for (let i = 0; i < n; i++) fds.push(fdOf(st, a[2]! + i * 7919, 'dmabuf', 'sync', 'memfd', 'any', 'sock'));
    await sys.sendmsg(fdOf(st, a[0]!, 'sock'), { data: new Uint8Array(a[3]! % 9), fds });
  },
  async recvmsg({ sys, st, a }: OpCtx) {
    const r = await sys.recvmsg(fdOf(st, a[0]!, 'sock'), { flags: U.MSG_DONTWAIT | (a[1]! & 1 ? U.MSG_CMSG_CLOEXEC : 0), maxFds: a[2]! % 5 });
    for (const fd of r.fds) add(st, fd, 'any');
  },
  async mmap({ sys, st, a }: OpCtx) {
    const len = ((a[1]! % 4) + 1) * PAGE;
    const prot = [U.PROT_READ, U.PROT_READ | U.PROT_WRITE, U.PROT_NONE, U.PROT_WRITE][a[2]! % 4]!;
    const anon = a[0]! % 5 === 0;
    const addr = anon
      ? await sys.mmap(0, len, prot, U.MAP_PRIVATE | U.MAP_ANONYMOUS, -1, 0)
      : await sys.mmap(0, len, prot, a[3]! % 7 === 0 ? U.MAP_PRIVATE : U.MAP_SHARED, fdOf(st, a[0]!, 'dmabuf', 'memfd'), (a[3]! % 3 === 0 ? 1 : 0) * PAGE);
    st.maps.push({ addr, len });
  },
  async munmap({ sys, st, a }: OpCtx) {
    const m = pick(st.maps, a[0]!);
    if (!m) return;
    const part = a[1]! % 3 === 0 && m.len > PAGE;
    await sys.munmap(part ? m.addr + PAGE : m.addr, part ? PAGE : m.len);
    if (!part) st.maps = st.maps.filter((x) => x !== m);
  },
  async mremap({ sys, st, a }: OpCtx) {
    const m = pick(st.maps, a[0]!);
    if (!m) return;
    const len = ((a[1]! % 4) + 1) * PAGE;
    const addr = await sys.mremap(m.addr, m.len, len, a[2]! & 1 ? U.MREMAP_MAYMOVE : 0);
    m.addr = addr;
    m.len = len;
  },
  async mprotect({ sys, st, a }: OpCtx) {
    const m = pick(st.maps, a[0]!);
    if (m) await sys.mprotect(m.addr, m.len, [U.PROT_READ, U.PROT_READ | U.PROT_WRITE, U.PROT_NONE][a[1]! % 3]!);
  },
  async access({ sys, st, a }: OpCtx) {
    const m = pick(st.maps, a[0]!);
    if (!m) return;
    // now and then past the end: the process dies of SIGSEGV, as one that does so would
    const off = a[1]! % 29 === 0 ? m.len : a[1]! % Math.max(1, m.len - 16);
    if (a[2]! & 1) await sys.store(m.addr + off, new Uint8Array(16).fill(a[3]! & 0xff));
    else await sys.load(m.addr + off, 16);
  },
  async sync({ sys, st, a }: OpCtx) {
    const dir = [U.DMA_BUF_SYNC_READ, U.DMA_BUF_SYNC_WRITE, U.DMA_BUF_SYNC_RW][a[1]! % 3]!;
    const flags = a[2]! % 11 === 0 ? 0xff : (a[2]! & 1 ? U.DMA_BUF_SYNC_END : U.DMA_BUF_SYNC_START) | dir;
    await sys.ioctl(fdOf(st, a[0]!, 'dmabuf'), U.DMA_BUF_IOCTL_SYNC, { flags });
  },
  async exportSync({ sys, st, a }: OpCtx) {
    const arg = { flags: [U.DMA_BUF_SYNC_READ, U.DMA_BUF_SYNC_WRITE, U.DMA_BUF_SYNC_RW][a[1]! % 3]!, fd: -1 };
    await sys.ioctl(fdOf(st, a[0]!, 'dmabuf'), U.DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg);
    add(st, arg.fd, 'sync');
  },
  async merge({ sys, st, a }: OpCtx) {
    const arg = { name: 'merged', fd2: fdOf(st, a[1]!, 'sync'), fence: -1 };
    await sys.ioctl(fdOf(st, a[0]!, 'sync'), U.SYNC_IOC_MERGE, arg);
    add(st, arg.fence, 'sync');
  },
  async info({ sys, st, a }: OpCtx) {
    const arg = { name: '', status: 0, flags: 0, num_fences: a[1]! % 3, pad: 0, sync_fence_info: a[1]! % 3 ? [] : 0 };
    await sys.ioctl(fdOf(st, a[0]!, 'sync'), U.SYNC_IOC_FILE_INFO, arg);
  },
  async swSync({ sys, st, a }: OpCtx) {
    let tl = st.fds.find((f) => f.kind === 'timeline')?.fd;
    if (tl === undefined || a[0]! % 5 === 0) {
      tl = await sys.open('/sys/kernel/debug/sync/sw_sync', U.O_RDWR);
      add(st, tl, 'timeline');
    }
    if (a[1]! & 1) await sys.ioctl(tl, U.SW_SYNC_IOC_INC, { value: a[2]! % 3 });
    else {
      const arg = { value: a[2]! % 4, name: 'f', fence: -1 };
      await sys.ioctl(tl, U.SW_SYNC_IOC_CREATE_FENCE, arg);
      add(st, arg.fence, 'sync');
    }
  },
  async importSync({ sys, st, a }: OpCtx) {
    // only signalled fences go in: an unsignalled one would let a later SYNC wait for ever, as it would on Linux
    const sf = fdOf(st, a[1]!, 'sync');
    const i = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
    await sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, i);
    if (i.status !== 1) return;
    await sys.ioctl(fdOf(st, a[0]!, 'dmabuf'), U.DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: a[2]! & 1 ? U.DMA_BUF_SYNC_WRITE : U.DMA_BUF_SYNC_READ, fd: sf });
  },
  async pipe({ sys, st, a }: OpCtx) {
    const [r, w] = await sys.pipe2(U.O_NONBLOCK | (a[0]! & 1 ? U.O_CLOEXEC : 0));
    add(st, r, 'pipe');
    add(st, w, 'pipe');
  },
  async rw({ sys, st, a }: OpCtx) {
    const fd = fdOf(st, a[0]!, 'pipe', 'memfd', 'dmabuf', 'sync');
    if (a[1]! & 1) await sys.write(fd, new Uint8Array(a[2]! % 300));
    else await sys.read(fd, a[2]! % 300);
  },
  async epoll({ sys, st, a }: OpCtx) {
    let ep = st.fds.find((f) => f.kind === 'epoll')?.fd;
    if (ep === undefined) {
      ep = await sys.epoll_create1(0);
      add(st, ep, 'epoll');
    }
    if (a[1]! & 1) await sys.epoll_ctl(ep, [U.EPOLL_CTL_ADD, U.EPOLL_CTL_DEL, U.EPOLL_CTL_MOD][a[2]! % 3]!, fdOf(st, a[0]!, 'pipe', 'sock', 'sync', 'dmabuf'), { events: U.EPOLLIN | U.EPOLLOUT, data: a[3]! });
    else await sys.epoll_wait(ep, 4, a[3]! % 4);
  },
  async poll({ sys, st, a }: OpCtx) {
    const fds = [0, 1, 2].slice(0, (a[1]! % 3) + 1).map((i) => ({ fd: fdOf(st, a[0]! + i * 31, 'pipe', 'sock', 'sync', 'dmabuf'), events: U.POLLIN | U.POLLOUT }));
    await sys.poll(fds, a[2]! % 5);
  },
  async close({ sys, st, a }: OpCtx) {
    const fd = fdOf(st, a[0]!, 'any', 'dmabuf', 'sync', 'memfd', 'pipe', 'sock');
    st.fds = st.fds.filter((f) => f.fd !== fd);
    await sys.close(fd);
  },
  async dup({ sys, st, a }: OpCtx) {
    const old = fdOf(st, a[0]!, 'dmabuf', 'sync', 'memfd');
    const kind = st.fds.find((f) => f.fd === old)?.kind ?? 'any';
    add(st, a[1]! & 1 ? await sys.dup(old) : await sys.fcntl(old, U.F_DUPFD_CLOEXEC, a[2]! % 20), kind);
  },
  async proc({ sys, st, a }: OpCtx) {
    const fd = fdOf(st, a[0]!, 'dmabuf', 'sync', 'memfd', 'any');
    if (a[1]! & 1) await sys.readFile(`/proc/self/fdinfo/${fd}`);
    else if (a[1]! & 2) await sys.readFile('/proc/self/maps');
    else await sys.readlink(`/proc/self/fd/${fd}`);
  },
  async sleep({ sys, a }: OpCtx) {
    await sys.nanosleep({ tv_sec: 0, tv_nsec: (a[0]! % 20) * 1e6 });
  },
  async garbage({ sys, st, a }: OpCtx) {
    const fd = a[0]! & 1 ? fdOf(st, a[1]!, 'dmabuf', 'sync', 'card', 'timeline', 'memfd', 'any') : pick([-1, 999, 0.5, 2 ** 40], a[1]!)!;
    let arg = pick(GARBAGE_ARGS, a[3]!);
    if (a[3]! % 7 === 0 && st.maps.length) arg = BigInt(st.maps[a[3]! % st.maps.length]!.addr);
    await sys.ioctl(fd, pick(REQUESTS, a[2]!)!, arg);
  },
  async fork({ sys, st, a }: OpCtx) {
    const close = fdOf(st, a[0]!, 'dmabuf', 'sync', 'memfd', 'any');
    const pid = await sys.fork(async (c: Sys) => {
      await c.close(close);
      if (a[1]! & 1) await c.nanosleep({ tv_sec: 0, tv_nsec: (a[2]! % 10) * 1e6 });
      return a[1]! & 2 ? c.exit(3) : 0;
    });
    st.children.push(pid);
  },
  async exit({ sys, a }: OpCtx) {
    await sys.exit(a[0]! % 4);
  },
  async kill({ sys, st, a, root }: OpCtx) {
    const pid = pick(st.children, a[0]!);
    if (pid === undefined || !root) return;
    await sys.kill(pid, a[1]! % 4 === 0 ? 0 : U.SIGKILL);
  },
} satisfies Record<string, (c: OpCtx) => Promise<void>>;

/** The name of one of the fuzzer's operations. */
export type OpName = keyof typeof OPS;
const OP_NAMES = Object.keys(OPS) as OpName[];
/** How often each operation is drawn, relative to the others (default 2). */
const WEIGHT: Partial<Record<OpName, number>> = { exit: 0.3, kill: 1, fork: 1, heap: 3, vgem: 3, sync: 3, sendmsg: 3, recvmsg: 3, mmap: 3, access: 3 };

/** Draws the plan of `seed`: a platform, 2 to 4 processes and 30 to 150 steps among them. */
export function generatePlan(seed: number): Plan {
  const rnd = prng(seed);
  const word = () => Math.floor(rnd() * 2 ** 32);
  const total = OP_NAMES.reduce((n, o) => n + (WEIGHT[o] ?? 2), 0);
  const procs = 2 + Math.floor(rnd() * 3);
  const n = 30 + Math.floor(rnd() * 120);
  const steps: Step[] = [];
  for (let i = 0; i < n; i++) {
    let x = rnd() * total;
    let op = OP_NAMES[0]!;
    for (const o of OP_NAMES) {
      x -= WEIGHT[o] ?? 2;
      if (x < 0) {
        op = o;
        break;
      }
    }
    steps.push({ p: Math.floor(rnd() * procs), op, a: [word(), word(), word(), word()] });
  }
  return { platform: FUZZ_PLATFORMS[seed % FUZZ_PLATFORMS.length]!, procs, steps };
}

/** Counts the calls a process makes through its `sys`. */
function counted(sys: Sys, n: { calls: number }): Sys {
  return new Proxy(sys, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        n.calls++;
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

/** Runs `plan` on a fresh boot and returns every failure: raw errors, hangs, leaks, broken invariants. */
export async function runPlan(plan: Plan, seed = 1): Promise<FuzzResult> {
  const s = bootSystem(loadPlatform(plan.platform), { seed });
  const failures: string[] = [];
  const n = { calls: 0 };
  const outcomes: FuzzResult['outcomes'] = {};
  const pgtablePages = () => [...s.domains.values()].reduce((k, d) => k + d.pgtable.tableBytes / 4096, 0);
  const free0 = s.mm.pages.freeCount() + pgtablePages();

  const runSteps = async (sys: Sys, st: State, p: number, root: boolean) => {
    for (const [i, step] of plan.steps.entries()) {
      if (step.p !== p) continue;
      const o = (outcomes[step.op] ??= { ok: 0, errno: 0 });
      try {
        await OPS[step.op]({ sys, st, a: step.a, root });
        o.ok++;
      } catch (e) {
        if (e instanceof ProcessUnwind) throw e;
        if (e instanceof SyscallError) {
          o.errno++;
          continue;
        }
        failures.push(`step ${i} (process ${p}, ${step.op}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    }
  };
  const main = async (raw: Sys) => {
    const sys = counted(raw, n);
    const dir = await raw.open('/dev/dma_heap', U.O_RDONLY | U.O_DIRECTORY);
    const heaps = (await raw.getdents64(dir, 4096)).map((d) => d.d_name).filter((x) => !x.startsWith('.'));
    await raw.close(dir);
    const st: State = { fds: [], maps: [], handles: [], fences: [], children: [], heaps };
    for (let p = 1; p < plan.procs; p++) {
      const [x, y] = await sys.socketpair(U.O_NONBLOCK);
      const pid = await sys.fork(async (craw: Sys) => {
        const c = counted(craw, n);
        const cst: State = { ...st, fds: [...st.fds.filter((f) => f.fd !== x), { fd: y, kind: 'sock' }], maps: [...st.maps], children: [] };
        await runSteps(c, cst, p, false);
        return 0;
      });
      st.children.push(pid);
      await sys.close(y);
      add(st, x, 'sock');
    }
    await runSteps(sys, st, 0, true);
    for (;;) {
      try {
        await sys.wait(-1);
      } catch (e) {
        if (e instanceof SyscallError && e.code === 'ECHILD') break;
        throw e;
      }
    }
    return 0;
  };
  try {
    const sp = spawnProcess(s.proc, main, [], undefined, { comm: 'fuzz', stdio: false });
    await s.soc.clock.runUntilSettled(sp.exitCode);
    // the vgem fences' timers and every other device job end before the counts are read
    await s.soc.clock.run();
    const blocked = describeBlockedTasks(s.proc);
    if (blocked.length > 0) failures.push(`hang: ${blocked.join('; ')}`);
    const e = sp.process.group.uncaughtError;
    if (e !== undefined) failures.push(`uncaught in process 0: ${e instanceof Error ? e.message : String(e)}`);
    for (const [name, live] of Object.entries(leakCounts(s, free0, pgtablePages()))) if (live !== 0) failures.push(`leak: ${name} ${live}`);
    failures.push(...checkInvariants(s));
  } catch (e) {
    if (e instanceof Deadlock) failures.push(`deadlock: ${describeBlockedTasks(s.proc).join('; ')}`);
    else failures.push(`run: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  return { failures, calls: n.calls, outcomes };
}

/** What is still allocated after every process has exited: each must be 0. */
function leakCounts(s: System, free0: number, pgtable: number): Record<string, number> {
  return {
    dmabufs: s.dmabuf.buffers.length,
    openFiles: s.proc.vfs.openFileCount,
    dmaMappings: s.dma.debug.liveMappings(),
    cmaPages: [...s.mm.cma.values()].reduce((k, a) => k + a.stats().usedPages, 0),
    pages: Math.round(free0 - s.mm.pages.freeCount() - pgtable),
  };
}

/** The kind of a failure, without the numbers that change as steps go: what a shrunk plan must still show. */
function signature(f: string): string {
  return f.replace(/^step \d+ \(process \d+, /, '(').replace(/\d+/g, 'N');
}

/**
 * Shrinks a failing plan to a smaller one that fails the same way
 * (delta debugging over its steps: drop chunks, halving their size down
 * to single steps, while the first failure's kind stays). `budget` bounds
 * the runs.
 */
export async function shrinkPlan(plan: Plan, failure: string, budget = 300, run: (p: Plan) => Promise<FuzzResult> = (p) => runPlan(p)): Promise<Plan> {
  const want = signature(failure);
  let best = plan;
  let runs = 0;
  const fails = async (p: Plan) => {
    runs++;
    return (await run(p)).failures.some((f) => signature(f) === want);
  };
  for (let chunk = Math.ceil(best.steps.length / 2); chunk >= 1 && runs < budget; chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)) {
    for (let i = 0; i < best.steps.length && runs < budget; ) {
      const cand = { ...best, steps: [...best.steps.slice(0, i), ...best.steps.slice(i + chunk)] };
      if (await fails(cand)) best = cand;
      else i += chunk;
    }
  }
  for (let procs = 2; procs < best.procs && runs < budget; procs++) {
    if (best.steps.every((st) => st.p < procs) && (await fails({ ...best, procs }))) {
      best = { ...best, procs };
      break;
    }
  }
  return best;
}

/** Runs seed after seed from `first` until `last` or `budgetMs` of wall time; on each failing seed, shrinks it and calls `onFailure`. */
export async function fuzzSeeds(
  first: number,
  last: number,
  budgetMs: number,
  onSeed: (seed: number, r: FuzzResult) => void = () => {},
  onFailure: (seed: number, failure: string, minimal: Plan) => void = () => {},
): Promise<{ seeds: number; calls: number; failed: number[]; outcomes: FuzzResult['outcomes'] }> {
  const t0 = performance.now();
  const failed: number[] = [];
  const outcomes: FuzzResult['outcomes'] = {};
  let seeds = 0;
  let calls = 0;
  for (let seed = first; seed <= last && performance.now() - t0 < budgetMs; seed++) {
    const plan = generatePlan(seed);
    const r = await runPlan(plan);
    seeds++;
    calls += r.calls;
    for (const [k, v] of Object.entries(r.outcomes)) {
      const t = (outcomes[k] ??= { ok: 0, errno: 0 });
      t.ok += v.ok;
      t.errno += v.errno;
    }
    onSeed(seed, r);
    if (r.failures.length > 0) {
      failed.push(seed);
      onFailure(seed, r.failures[0]!, await shrinkPlan(plan, r.failures[0]!));
    }
  }
  return { seeds, calls, failed, outcomes };
}

/** A plan as the lines a failure report prints: one step a line, with its process and random words. */
export function formatPlan(plan: Plan): string {
  return [`platform ${plan.platform}, ${plan.procs} processes, ${plan.steps.length} steps:`, ...plan.steps.map((s) => `  p${s.p} ${s.op}(${s.a.join(', ')})`)].join('\n');
}
