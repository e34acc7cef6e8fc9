import { kerr } from '../lib/index.ts';
import { VM_READ, WaitQueueHead, waitEvent } from '../fs/index.ts';
import type { Timespec } from '../uapi/index.ts';
import {
  CLOCK_MONOTONIC,
  CLOCK_REALTIME,
  FUTEX_BITSET_MATCH_ANY,
  FUTEX_CLOCK_REALTIME,
  FUTEX_CMD_MASK,
  FUTEX_PRIVATE_FLAG,
  FUTEX_WAIT,
  FUTEX_WAIT_BITSET,
  FUTEX_WAKE,
  FUTEX_WAKE_BITSET,
} from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';
import type { ThreadGroup } from './thread-group.ts';
import { userLoad } from './cpu-access.ts';
import { AccessFault } from './vma.ts';
import { sysClockGettime } from './time.ts';

/** One sleeper in futex_wait (struct futex_q): the bits it waits for, and whether a wake took it off the queue. */
interface FutexWaiter {
  bitset: number;
  woken: boolean;
}

/** The sleepers on one futex word, in the order they came (a hash bucket's chain for one key). */
export interface FutexQueue {
  readonly wq: WaitQueueHead;
  readonly waiters: FutexWaiter[];
}

/** The queue of `addr` in the group's mm, made on first use. */
function queueOf(g: ThreadGroup, addr: number): FutexQueue {
  let q = g.futexQueues.get(addr);
  if (!q) {
    q = { wq: new WaitQueueHead(), waiters: [] };
    g.futexQueues.set(addr, q);
  }
  return q;
}

/** Drops the queue of `addr` once nobody waits on it. */
function dropIfEmpty(g: ThreadGroup, addr: number): void {
  const q = g.futexQueues.get(addr);
  if (q && q.waiters.length === 0) g.futexQueues.delete(addr);
}

/**
 * Wakes up to `nrWake` sleepers on the futex word at `addr` whose bitset
 * meets `bitset` and returns how many (futex_wake): the oldest first,
 * and one even for 0, as the kernel's loop counts. The word need not be
 * mapped for a private futex, whose key is the address alone.
 */
export function futexWake(g: ThreadGroup, addr: number, nrWake: number, bitset = FUTEX_BITSET_MATCH_ANY): number {
  const q = g.futexQueues.get(addr);
  if (!q) return 0;
  let n = 0;
  for (const w of [...q.waiters]) {
    if (!(w.bitset & bitset)) continue;
    w.woken = true;
    q.waiters.splice(q.waiters.indexOf(w), 1);
    if (++n >= nrWake) break;
  }
  if (n > 0) q.wq.wakeUp();
  dropIfEmpty(g, addr);
  return n;
}

/** Reads the u32 futex word (get_user): EFAULT when it is not mapped readable. */
function readWord(p: Process, addr: number): number {
  try {
    const b = userLoad(p.mm, addr, 4);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  } catch (e) {
    if (e instanceof AccessFault) throw kerr('EFAULT', `futex word at 0x${addr.toString(16)}: ${e.fault.why}`);
    throw e;
  }
}

/** The nanoseconds a futex timeout allows: relative for FUTEX_WAIT, absolute on the chosen clock for FUTEX_WAIT_BITSET. EINVAL for a bad timespec. */
function timeoutNs(k: ProcKernel, ts: Timespec, absolute: boolean, realtime: boolean): number {
  const sec = Number(ts.tv_sec);
  const nsec = Number(ts.tv_nsec);
  if (!Number.isInteger(sec) || !Number.isInteger(nsec) || sec < 0 || nsec < 0 || nsec >= 1e9) throw kerr('EINVAL', 'futex timeout out of range');
  const ns = sec * 1e9 + nsec;
  if (!absolute) return ns;
  const now = sysClockGettime(k, realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC);
  return Math.max(0, ns - (Number(now.tv_sec) * 1e9 + Number(now.tv_nsec)));
}

/**
 * futex(2) (do_futex): FUTEX_WAIT and FUTEX_WAIT_BITSET sleep while the
 * u32 word at `uaddr` holds `val` (EAGAIN when it does not, ETIMEDOUT
 * when the timeout passes, EINTR for a signal), FUTEX_WAKE and
 * FUTEX_WAKE_BITSET wake up to `val` sleepers and return how many.
 * FUTEX_PRIVATE_FLAG may be set; every futex is keyed by its address in
 * the caller's address space, so a futex shared across processes through
 * a shared mapping is not modelled. EINVAL for an unaligned word or a
 * zero bitset, ENOSYS for other operations and for FUTEX_CLOCK_REALTIME
 * outside FUTEX_WAIT_BITSET.
 */
export async function sysFutex(k: ProcKernel, p: Process, uaddr: number, op: number, val: number, timeout: Timespec | null = null, val3 = 0): Promise<number> {
  const cmd = op & FUTEX_CMD_MASK;
  const realtime = (op & FUTEX_CLOCK_REALTIME) !== 0;
  if (realtime && cmd !== FUTEX_WAIT_BITSET) throw kerr('ENOSYS', 'FUTEX_CLOCK_REALTIME needs FUTEX_WAIT_BITSET');
  if (cmd !== FUTEX_WAIT && cmd !== FUTEX_WAKE && cmd !== FUTEX_WAIT_BITSET && cmd !== FUTEX_WAKE_BITSET) throw kerr('ENOSYS', `futex op ${op}`);
  if (!Number.isSafeInteger(uaddr) || uaddr % 4 !== 0) throw kerr('EINVAL', 'futex word not aligned');
  const bitset = cmd === FUTEX_WAIT || cmd === FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3 >>> 0;
  if (bitset === 0) throw kerr('EINVAL', 'empty bitset');
  const g = p.group;
  if (cmd === FUTEX_WAKE || cmd === FUTEX_WAKE_BITSET) {
    // a shared key is looked up through the page (get_futex_key): it must be mapped
    if (!(op & FUTEX_PRIVATE_FLAG) && !(p.mm.find(uaddr) && (p.mm.find(uaddr)!.flags & VM_READ))) throw kerr('EFAULT', 'futex word not mapped');
    return futexWake(g, uaddr, val | 0, bitset);
  }
  const limit = timeout ? timeoutNs(k, timeout, cmd === FUTEX_WAIT_BITSET, realtime) : undefined;
  if (readWord(p, uaddr) !== val >>> 0) throw kerr('EAGAIN', 'futex word changed');
  const q = queueOf(g, uaddr);
  const me: FutexWaiter = { bitset, woken: false };
  q.waiters.push(me);
  try {
    const woken = await waitEvent(q.wq, () => me.woken, limit === undefined ? { task: p } : { task: p, clock: k.clock, timeoutNs: limit, onSignal: 'eintr' });
    if (!woken) throw kerr('ETIMEDOUT', 'futex wait timed out');
    return 0;
  } finally {
    const i = q.waiters.indexOf(me);
    if (i >= 0) q.waiters.splice(i, 1);
    dropIfEmpty(g, uaddr);
  }
}
