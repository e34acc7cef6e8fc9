import { kerr } from '../lib/index.ts';
import type { Clock } from '../hw/index.ts';
import {
  EPOLLERR,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDNORM,
  EPOLLWAKEUP,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  O_RDWR,
  type EpollEvent,
} from '../uapi/index.ts';
import { anonInodeGetFile } from './anon-inode.ts';
import type { Cred } from './cred.ts';
import type { File, FileOperations, FileWatcher } from './file.ts';
import { PollTable, pollWait } from './poll.ts';
import type { Vfs } from './vfs.ts';
import { WaitQueueEntry, WaitQueueHead, waitEvent, type Interruptible } from './wait.ts';

/** Most events one epoll_wait may ask for: INT_MAX over the 12-byte packed struct epoll_event of x86_64 (EP_MAX_EVENTS). */
export const EP_MAX_EVENTS = Math.floor(0x7fffffff / 12);
/** Deepest chain of epoll instances watching each other (EPOLL_MAX_NESTS). */
export const EPOLL_MAX_NESTS = 4;
/** Input-only bits that are never reported (EP_PRIVATE_BITS). */
const EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/** The only bits EPOLLEXCLUSIVE may come with (EPOLLEXCLUSIVE_OK_BITS). */
const EPOLLEXCLUSIVE_OK_BITS = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

/**
 * One watched (file, fd) pair of an epoll instance (struct epitem): the
 * requested events, the caller's cookie, the wait-queue entries it hangs on
 * the file's queues, and whether it sits on the ready list. It holds no
 * reference to the file; the file drops it on release (eventpoll_release).
 */
class EpItem implements FileWatcher {
  readonly ep: Eventpoll;
  readonly file: File;
  readonly fd: number;
  events: number;
  data: number | bigint;
  /** On the ready list, or on the list a scan is working through (rdllink linked). */
  linked = false;
  /** Woken while a scan had the ready list (chained on ovflist). */
  ovf = false;
  /** Removed from its instance; a scan in progress skips it. */
  dead = false;
  readonly waits: WaitQueueEntry[] = [];

  constructor(ep: Eventpoll, file: File, fd: number, events: number, data: number | bigint) {
    this.ep = ep;
    this.file = file;
    this.fd = fd;
    this.events = events;
    this.data = data;
  }

  /** The watched file's last reference went (eventpoll_release_file). */
  fileReleased(): void {
    this.ep.remove(this);
  }
}

/**
 * An epoll instance (struct eventpoll): the watched items, the ready list
 * their wake-ups fill, the queue epoll_wait sleeps on, and the queue
 * pollers of the epoll file itself (another epoll, poll) sleep on.
 * Level-triggered items go back on the ready list after each report,
 * edge-triggered ones only on a new wake-up, one-shot ones not until
 * EPOLL_CTL_MOD. Nothing here sleeps but wait.
 */
export class Eventpoll {
  /** Items by watched file, then by fd (the red-black tree keyed by (file, fd)). */
  private readonly items = new Map<File, Map<number, EpItem>>();
  private rdllist: EpItem[] = [];
  /** Set while a scan has the ready list; wake-ups then go to ovflist. */
  private scanning = false;
  private ovflist: EpItem[] = [];
  /** epoll_wait callers sleep here (ep->wq). */
  readonly wq = new WaitQueueHead();
  /** Pollers of the epoll file sleep here (ep->poll_wait). */
  readonly pollWq = new WaitQueueHead();
  private count = 0;

  /** Number of watched (file, fd) pairs. */
  get size(): number {
    return this.count;
  }

  /** True when the ready list is not empty (ep_events_available). */
  get eventsAvailable(): boolean {
    return this.rdllist.length > 0 || this.ovflist.length > 0;
  }

  /** The item watching `fd` of `file` (ep_find). */
  find(file: File, fd: number): EpItem | undefined {
    return this.items.get(file)?.get(fd);
  }

  /** Every item, in insertion order per file. */
  *entries(): IterableIterator<EpItem> {
    for (const m of this.items.values()) yield* m.values();
  }

  /**
   * Starts watching `fd` of `file` (ep_insert): hangs an entry on every
   * wait queue the file's poll names, and queues the item at once when the
   * file is already ready.
   */
  insert(file: File, fd: number, events: number, data: number | bigint): void {
    const epi = new EpItem(this, file, fd, events, data);
    let m = this.items.get(file);
    if (!m) this.items.set(file, (m = new Map()));
    m.set(fd, epi);
    this.count++;
    (file.watchers ??= new Set()).add(epi);
    const pt = new PollTable((_f, wq) => {
      const e = new WaitQueueEntry((_entry, key) => this.callback(epi, key));
      wq.add(e);
      epi.waits.push(e);
    });
    if (this.itemPoll(epi, pt)) this.makeReady(epi);
  }

  /** Changes an item's events and cookie (ep_modify) and queues it if it is ready for the new events. */
  modify(epi: EpItem, events: number, data: number | bigint): void {
    epi.events = events;
    epi.data = data;
    if (this.itemPoll(epi, null)) this.makeReady(epi);
  }

  /** Stops watching (ep_remove): entries leave the file's queues, the item leaves the ready list. */
  remove(epi: EpItem): void {
    if (epi.dead) return;
    epi.dead = true;
    for (const e of epi.waits) e.head?.remove(e);
    epi.waits.length = 0;
    const m = this.items.get(epi.file)!;
    m.delete(epi.fd);
    if (m.size === 0) this.items.delete(epi.file);
    this.count--;
    epi.file.watchers?.delete(epi);
    if (epi.file.watchers?.size === 0) epi.file.watchers = null;
    if (epi.linked) {
      const i = this.rdllist.indexOf(epi);
      if (i >= 0) this.rdllist.splice(i, 1);
      epi.linked = false;
    }
  }

  /** Drops every item (ep_free, when the epoll file is released). */
  free(): void {
    for (const epi of [...this.entries()]) this.remove(epi);
    this.rdllist = [];
    this.ovflist = [];
  }

  /**
   * Takes up to `max` ready events off the ready list (ep_send_events):
   * each queued item is polled again and reported only if it still has an
   * event it asked for; level-triggered items go back to the tail, items
   * not reached stay at the head.
   */
  sendEvents(max: number): EpollEvent[] {
    const out: EpollEvent[] = [];
    const tx = this.startScan();
    let i = 0;
    try {
      for (; i < tx.length && out.length < max; i++) {
        const epi = tx[i]!;
        if (epi.dead) continue;
        epi.linked = false;
        const revents = this.itemPoll(epi, null);
        if (!revents) continue;
        out.push({ events: revents >>> 0, data: epi.data });
        if (epi.events & EPOLLONESHOT) epi.events &= EP_PRIVATE_BITS;
        else if (!(epi.events & EPOLLET)) {
          epi.linked = true;
          this.rdllist.push(epi);
        }
      }
    } finally {
      this.doneScan(tx, i);
    }
    return out;
  }

  /**
   * The epoll file's own readiness (ep_eventpoll_poll): POLLIN|POLLRDNORM
   * when a queued item really has an event; queued items that do not are
   * dropped from the ready list.
   */
  poll(file: File, pt: PollTable | null): number {
    pollWait(file, this.pollWq, pt);
    const tx = this.startScan();
    let i = 0;
    let res = 0;
    try {
      for (; i < tx.length; i++) {
        const epi = tx[i]!;
        if (epi.dead) continue;
        if (this.itemPoll(epi, null)) {
          res = EPOLLIN | EPOLLRDNORM;
          break;
        }
        epi.linked = false;
      }
    } finally {
      this.doneScan(tx, i);
    }
    return res;
  }

  /**
   * Waits for events (ep_poll): returns at once with what is ready;
   * otherwise sleeps on wq until something is queued and really ready, the
   * timeout passes (timeoutMs < 0: never; 0: no wait; the timer is
   * cancelled when woken earlier), or a signal comes (EINTR). Returns the
   * events, empty on timeout.
   */
  async wait(max: number, timeoutMs: number, clock: Clock, task: Interruptible): Promise<EpollEvent[]> {
    const deadline = timeoutMs < 0 ? Infinity : clock.now + Math.round(timeoutMs * 1e6);
    let timedOut = timeoutMs === 0;
    let eavail = this.eventsAvailable;
    while (true) {
      if (eavail) {
        if (task.signalPending()) throw kerr('EINTR', 'epoll_wait interrupted');
        const res = this.sendEvents(max);
        if (res.length > 0) return res;
      }
      if (timedOut) return [];
      if (task.signalPending()) throw kerr('EINTR', 'epoll_wait interrupted');
      const timeoutNs = deadline === Infinity ? undefined : Math.max(0, deadline - clock.now);
      if (!(await waitEvent(this.wq, () => this.eventsAvailable, { task, clock, timeoutNs, onSignal: 'eintr' }))) timedOut = true;
      eavail = true;
    }
  }

  /** The fdinfo lines: one per item (ep_show_fdinfo). */
  showFdinfo(): string {
    let s = '';
    for (const epi of this.entries()) {
      const ino = epi.file.inode;
      const data = BigInt.asUintN(64, BigInt(epi.data));
      s += `tfd: ${String(epi.fd).padStart(8)} events: ${(epi.events >>> 0).toString(16).padStart(8)} data: ${data.toString(16).padStart(16)}  pos:${epi.file.pos} ino:${ino.ino.toString(16)} sdev:${ino.sb.dev.toString(16)}\n`;
    }
    return s;
  }

  /** True when adding `target` to this instance would close a loop or nest deeper than EPOLL_MAX_NESTS (ep_loop_check). */
  loopCheck(target: Eventpoll): boolean {
    const seen = new Set<Eventpoll>();
    const visit = (ep: Eventpoll, depth: number): boolean => {
      seen.add(ep);
      for (const epi of ep.entries()) {
        const sub = eventpollOf(epi.file);
        if (!sub || seen.has(sub)) continue;
        if (sub === this || depth > EPOLL_MAX_NESTS || visit(sub, depth + 1)) return true;
      }
      return false;
    };
    return visit(target, 0);
  }

  /** A watched file's queue was woken with `key` (ep_poll_callback). */
  private callback(epi: EpItem, key: number): void {
    // a disabled one-shot item, or a wake-up for events it did not ask for
    if (!(epi.events & ~EP_PRIVATE_BITS)) return;
    if (key && !(key & epi.events)) return;
    if (this.scanning) {
      if (!epi.ovf) {
        epi.ovf = true;
        this.ovflist.push(epi);
      }
    } else if (!epi.linked) {
      epi.linked = true;
      this.rdllist.push(epi);
    }
    this.wq.wakeUp();
    this.pollWq.wakeUp(EPOLLIN);
  }

  /** Queues a ready item that is not queued yet and wakes the waiters (the tail of ep_insert / ep_modify). */
  private makeReady(epi: EpItem): void {
    if (epi.linked) return;
    epi.linked = true;
    this.rdllist.push(epi);
    this.wq.wakeUp();
    this.pollWq.wakeUp(EPOLLIN);
  }

  /** The item's file's poll, masked by what it asked for (ep_item_poll). */
  private itemPoll(epi: EpItem, pt: PollTable | null): number {
    const table = pt ?? new PollTable(null);
    table.key = epi.events;
    return epi.file.fOp.poll!(epi.file, table) & epi.events;
  }

  /** Takes the ready list for a scan; wake-ups meanwhile go to ovflist (ep_start_scan). */
  private startScan(): EpItem[] {
    const tx = this.rdllist;
    this.rdllist = [];
    this.scanning = true;
    return tx;
  }

  /**
   * Ends a scan (ep_done_scan): items the scan did not reach go back to the
   * head, then items woken during the scan that are not queued, then what
   * the scan re-queued.
   */
  private doneScan(tx: EpItem[], from: number): void {
    this.scanning = false;
    const head: EpItem[] = [];
    for (let i = from; i < tx.length; i++) if (!tx[i]!.dead) head.push(tx[i]!);
    for (const epi of this.ovflist) {
      epi.ovf = false;
      if (epi.dead || epi.linked) continue;
      epi.linked = true;
      head.push(epi);
    }
    this.ovflist = [];
    if (head.length > 0) this.rdllist = head.concat(this.rdllist);
    if (this.rdllist.length > 0) this.wq.wakeUp();
  }
}

/** File operations of an epoll file (eventpoll_fops): poll, fdinfo, release; no read or write. */
export const eventpollFops: FileOperations = {
  name: 'eventpoll',
  /** Readable when an item is ready (ep_eventpoll_poll). */
  poll: (file, pt) => (file.privateData as Eventpoll).poll(file, pt),
  /** The position never moves (noop_llseek). */
  llseek: (file) => file.pos,
  /** One line per watched fd (ep_show_fdinfo). */
  showFdinfo: (file) => (file.privateData as Eventpoll).showFdinfo(),
  /** Stops watching everything (ep_eventpoll_release -> ep_free). */
  release: (_inode, file) => (file.privateData as Eventpoll).free(),
};

/** The epoll instance behind a file, or null when it is not an epoll file (is_file_epoll). */
export function eventpollOf(file: File): Eventpoll | null {
  return file.fOp === eventpollFops ? (file.privateData as Eventpoll) : null;
}

/**
 * Creates an epoll instance and its file, "anon_inode:[eventpoll]", O_RDWR
 * (epoll_create1 without the fd install; EPOLL_CLOEXEC is the caller's).
 * The caller owns the one reference.
 */
export function epollCreate(vfs: Vfs, cred: Cred): File {
  return anonInodeGetFile(vfs, '[eventpoll]', eventpollFops, new Eventpoll(), O_RDWR, cred);
}

/**
 * Reads the event an epoll_ctl operation carries (the copy_from_user
 * that comes before any fd lookup): EFAULT when an operation other than
 * EPOLL_CTL_DEL has no readable struct. Returns null for DEL.
 */
export function epollCopyEvent(op: number, event: unknown): EpollEvent | null {
  if (op === EPOLL_CTL_DEL) return null;
  if (!event || typeof event !== 'object') throw kerr('EFAULT', 'no epoll_event');
  const e = event as Partial<EpollEvent>;
  if (typeof e.events !== 'number' || !Number.isInteger(e.events)) throw kerr('EFAULT', 'epoll_event.events is not a number');
  const data = e.data ?? 0;
  if (typeof data !== 'bigint' && !(typeof data === 'number' && Number.isInteger(data))) throw kerr('EFAULT', 'epoll_event.data is not an integer');
  return { events: e.events >>> 0, data };
}

/**
 * Adds, changes or removes the watch of `fd` (`target`) in the epoll
 * instance of `epFile` (do_epoll_ctl after both fd lookups): EPERM when
 * the target cannot be polled; EINVAL when `epFile` is not an epoll file
 * or is the target, for EPOLLEXCLUSIVE misuse, for an unknown operation;
 * ELOOP for a loop or too deep a nest of epoll files; EEXIST to add a watched pair, ENOENT to change or
 * remove one that is not. EPOLLERR|EPOLLHUP are always watched;
 * EPOLLWAKEUP is dropped for callers other than root (CAP_BLOCK_SUSPEND).
 */
export function epollCtl(epFile: File, op: number, target: File, fd: number, event: EpollEvent | null, cred: Cred): void {
  if (!target.fOp.poll) throw kerr('EPERM', `${target.pathName()} cannot be polled`);
  let events = event ? event.events : 0;
  if (event && events & EPOLLWAKEUP && cred.uid !== 0) events &= ~EPOLLWAKEUP;
  const ep = eventpollOf(epFile);
  if (epFile === target || !ep) throw kerr('EINVAL', epFile === target ? 'an epoll instance cannot watch itself' : `${epFile.pathName()} is not an epoll file`);
  if (event && events & EPOLLEXCLUSIVE) {
    if (op === EPOLL_CTL_MOD) throw kerr('EINVAL', 'EPOLLEXCLUSIVE with EPOLL_CTL_MOD');
    if (op === EPOLL_CTL_ADD && (eventpollOf(target) || events & ~EPOLLEXCLUSIVE_OK_BITS)) throw kerr('EINVAL', 'EPOLLEXCLUSIVE with other bits or on an epoll file');
  }
  const sub = eventpollOf(target);
  if (op === EPOLL_CTL_ADD && sub && ep.loopCheck(sub)) throw kerr('ELOOP', 'epoll loop or nesting deeper than EPOLL_MAX_NESTS');
  const epi = ep.find(target, fd);
  const data = event ? event.data : 0;
  switch (op) {
    case EPOLL_CTL_ADD:
      if (epi) throw kerr('EEXIST', `fd ${fd} is already watched`);
      ep.insert(target, fd, (events | EPOLLERR | EPOLLHUP) >>> 0, data);
      return;
    case EPOLL_CTL_DEL:
      if (!epi) throw kerr('ENOENT', `fd ${fd} is not watched`);
      ep.remove(epi);
      return;
    case EPOLL_CTL_MOD:
      if (!epi) throw kerr('ENOENT', `fd ${fd} is not watched`);
      if (epi.events & EPOLLEXCLUSIVE) throw kerr('EINVAL', 'an EPOLLEXCLUSIVE watch cannot be changed');
      ep.modify(epi, (events | EPOLLERR | EPOLLHUP) >>> 0, data);
      return;
    default:
      throw kerr('EINVAL', `epoll_ctl operation ${op}`);
  }
}
