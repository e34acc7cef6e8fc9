import { kerr, wakeablePromise } from '../lib/index.ts';
import type { Timer } from '../hw/index.ts';
import { DEFAULT_POLLMASK, PollTable, WaitQueueEntry, type File, type WaitQueueHead } from '../fs/index.ts';
import { POLLERR, POLLHUP, POLLNVAL } from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/** One entry of poll's array (struct pollfd); the kernel writes `revents`. */
export interface PollFd {
  fd: number;
  events: number;
  revents?: number;
}

/**
 * poll(2): asks each file's poll op for its mask, and unless one is ready
 * sleeps in simulated time until a wait queue it registered on is woken
 * with a matching key, the timeout passes (timeoutMs < 0: forever, 0: no
 * wait), or a signal comes (EINTR). An fd that is not open reports
 * POLLNVAL; a negative fd is skipped. Writes revents into each entry and
 * returns how many have a non-zero one. EINVAL for more entries than
 * RLIMIT_NOFILE.
 */
export async function sysPoll(k: ProcKernel, p: Process, fds: PollFd[], timeoutMs: number): Promise<number> {
  if (!Array.isArray(fds)) throw kerr('EFAULT', 'fds is not an array');
  if (fds.length > p.files.limit) throw kerr('EINVAL', `${fds.length} entries exceed RLIMIT_NOFILE`);
  const clock = k.clock;
  const files: (File | null | undefined)[] = fds.map((pfd) => (pfd.fd < 0 ? null : (p.files.peek(pfd.fd)?.get() ?? undefined)));
  const entries: WaitQueueEntry[] = [];
  let triggered = false;
  let wake: (() => void) | null = null;
  const pt = new PollTable((_file: File, wq: WaitQueueHead, table: PollTable) => {
    const interest = table.key;
    const e = new WaitQueueEntry((_entry, key) => {
      if (key && !(key & interest)) return;
      triggered = true;
      wake?.();
    });
    wq.add(e);
    entries.push(e);
  });
  const sigEntry = new WaitQueueEntry(() => wake?.());
  const deadline = timeoutMs < 0 ? Infinity : clock.now + Math.round(timeoutMs * 1e6);
  const revents = new Array<number>(fds.length).fill(0);
  let count = 0;
  try {
    while (true) {
      count = 0;
      for (let i = 0; i < fds.length; i++) {
        const f = files[i];
        let mask = 0;
        if (f === undefined) mask = POLLNVAL;
        else if (f !== null) {
          const want = (fds[i]!.events & 0xffff) | POLLERR | POLLHUP;
          pt.key = want;
          mask = (f.fOp.poll ? f.fOp.poll(f, pt) : DEFAULT_POLLMASK) & want;
        }
        revents[i] = mask;
        if (mask) count++;
      }
      pt.qproc = null;
      if (count > 0 || timeoutMs === 0 || clock.now >= deadline) break;
      if (p.signalPending()) throw kerr('EINTR', 'poll interrupted');
      if (!triggered) {
        let timer: Timer | null = null;
        await wakeablePromise<void>((resolve) => {
          wake = resolve;
          p.signalWait.add(sigEntry);
          if (deadline !== Infinity) timer = clock.at(deadline, resolve);
        });
        wake = null;
        p.signalWait.remove(sigEntry);
        // a woken poll must not leave its timeout behind to move simulated time on
        (timer as Timer | null)?.cancel();
      }
      triggered = false;
    }
  } finally {
    for (const e of entries) e.head?.remove(e);
    p.signalWait.remove(sigEntry);
    for (const f of files) f?.put();
  }
  for (let i = 0; i < fds.length; i++) fds[i]!.revents = revents[i]!;
  return count;
}
