import { KernelBug, kerr, type CostLedger } from '../lib/index.ts';
import {
  File,
  PollTable,
  WaitQueueHead,
  pollWait,
  waitEvent,
  type Cred,
  type FileOperations,
  type FilePos,
  type Inode,
  type SuperBlock,
  type Task,
  type Vfs,
} from '../fs/index.ts';
import { Inode as InodeClass } from '../fs/index.ts';
import {
  MSG_CMSG_CLOEXEC,
  MSG_DONTWAIT,
  MSG_CTRUNC,
  MSG_TRUNC,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  POLLHUP,
  POLLIN,
  POLLOUT,
  POLLRDHUP,
  POLLRDNORM,
  POLLWRNORM,
  SCM_MAX_FD,
  S_IFSOCK,
} from '../uapi/index.ts';

/** Receive-buffer budget of a socket (sysctl net.core.rmem_default). */
export const SK_RCVBUF = 212992;
/** Bytes each queued message costs beyond its data (an skb's truesize overhead). */
export const SKB_OVERHEAD = 768;

/** One message in flight: its bytes and the files whose fds it carries (each holds a reference). */
export interface UnixMessage {
  data: Uint8Array;
  files: File[];
  /** The sendmsg that queued it (a CostLedger site id) and when, while it carries files; 0 otherwise. */
  site?: number;
  since?: number;
}

/** What recvmsg returns: the data, the fds installed in the receiver, and MSG_* flags. */
export interface RecvResult {
  data: Uint8Array;
  fds: number[];
  flags: number;
}

/**
 * One end of an AF_UNIX SOCK_SEQPACKET pair (struct unix_sock). Messages
 * keep their boundaries; each may carry fds (SCM_RIGHTS), whose files stay
 * referenced by the message until it is received or the receiving socket
 * is released. Cycles of sockets that hold each other only through messages
 * in flight are collected by UnixSockets.gc, as unix_gc does.
 */
export class UnixSocket {
  readonly file: File;
  peer: UnixSocket | null = null;
  /** Messages waiting to be received on this end. */
  readonly queue: UnixMessage[] = [];
  queuedBytes = 0;
  /** Woken on every state change: data in, room out, peer gone. */
  readonly wq = new WaitQueueHead();
  /** Set when this end's file was released. */
  dead = false;
  /** Set when the peer was released: no more data comes in, sends fail with EPIPE. */
  peerGone = false;
  private readonly owner: UnixSockets;

  constructor(owner: UnixSockets, file: File) {
    this.owner = owner;
    this.file = file;
  }

  /** True when a message of `bytes` fits in the peer's receive budget. */
  peerHasRoom(bytes: number): boolean {
    const p = this.peer;
    return !p || p.queue.length === 0 || p.queuedBytes + bytes + SKB_OVERHEAD <= SK_RCVBUF;
  }

  /** Current poll mask (unix_dgram_poll for a connected SOCK_SEQPACKET). */
  pollMask(): number {
    let mask = 0;
    if (this.queue.length > 0) mask |= POLLIN | POLLRDNORM;
    if (this.peerGone) mask |= POLLHUP | POLLRDHUP | POLLIN | POLLRDNORM;
    if (this.peerGone || this.peerHasRoom(1)) mask |= POLLOUT | POLLWRNORM;
    return mask;
  }

  /**
   * Queues a message on the peer (unix_seqpacket_sendmsg). Takes over the
   * references in `files`. Sleeps while the peer's queue is full (EAGAIN
   * with O_NONBLOCK), EPIPE once the peer is gone, EMSGSIZE for a message
   * bigger than the whole budget.
   */
  send(task: Task, data: Uint8Array, files: File[]): number | Promise<number> {
    if (data.length + SKB_OVERHEAD > SK_RCVBUF) {
      dropFiles(files);
      throw kerr('EMSGSIZE', `${data.length} bytes`);
    }
    if (!this.peerGone && !this.peerHasRoom(data.length)) {
      if (this.file.flags & O_NONBLOCK) {
        dropFiles(files);
        throw kerr('EAGAIN', 'peer queue full');
      }
      return this.sendAfterRoom(task, data, files);
    }
    return this.queueOnPeer(data, files);
  }

  /** send once the peer's queue has room (or the peer is gone). */
  private async sendAfterRoom(task: Task, data: Uint8Array, files: File[]): Promise<number> {
    try {
      await waitEvent(this.wq, () => this.peerGone || this.peerHasRoom(data.length), { task });
    } catch (e) {
      dropFiles(files);
      throw e;
    }
    return this.queueOnPeer(data, files);
  }

  /** The message on the peer's queue, its reader woken; EPIPE once the peer is gone. */
  private queueOnPeer(data: Uint8Array, files: File[]): number {
    const peer = this.peer;
    if (this.peerGone || !peer) {
      dropFiles(files);
      throw kerr('EPIPE', 'peer closed');
    }
    const ledger = this.owner.ledger;
    peer.queue.push(files.length > 0 && ledger ? { data: data.slice(), files, site: ledger.siteHere('unix_attach_fds'), since: ledger.nowNs() } : { data: data.slice(), files });
    peer.queuedBytes += data.length + SKB_OVERHEAD;
    for (const f of files) {
      const s = this.owner.socketOf(f);
      if (s) this.owner.inflight.set(s, (this.owner.inflight.get(s) ?? 0) + 1);
    }
    peer.wq.wakeUp(POLLIN | POLLRDNORM);
    return data.length;
  }

  /**
   * Takes the next message (unix_seqpacket_recvmsg). Sleeps until one comes
   * (EAGAIN with O_NONBLOCK); once the peer is gone and the queue is empty
   * it returns an empty message (EOF). The message's files are handed back
   * with their references.
   */
  receive(task: Task, nonblock: boolean): UnixMessage | null | Promise<UnixMessage | null> {
    if (this.queue.length === 0 && !this.peerGone) {
      if (nonblock || this.file.flags & O_NONBLOCK) throw kerr('EAGAIN', 'no message');
      return this.receiveAfterWait(task);
    }
    return this.dequeue();
  }

  /** receive once a message comes (or the peer goes). */
  private receiveAfterWait(task: Task): Promise<UnixMessage | null> {
    return waitEvent(this.wq, () => this.queue.length > 0 || this.peerGone, { task }).then(() => this.dequeue());
  }

  /** The next message off the queue, the sender woken for the room it leaves; null when there is none (EOF). */
  private dequeue(): UnixMessage | null {
    const m = this.queue.shift();
    if (!m) return null;
    this.queuedBytes -= m.data.length + SKB_OVERHEAD;
    for (const f of m.files) this.owner.leaveFlight(f);
    this.peer?.wq.wakeUp(POLLOUT | POLLWRNORM);
    return m;
  }

  /** Empties the queue and returns the files its messages held (unix_release_sock's purge). */
  purge(): File[] {
    const out: File[] = [];
    for (const m of this.queue.splice(0)) {
      for (const f of m.files) {
        this.owner.leaveFlight(f);
        out.push(f);
      }
    }
    this.queuedBytes = 0;
    return out;
  }
}

/** The socket layer of one kernel: sockfs, every live unix socket, and the in-flight counts unix_gc uses. */
export class UnixSockets {
  readonly sockfs: SuperBlock;
  private readonly vfs: Vfs;
  private readonly sockets = new Map<File, UnixSocket>();
  /** Per socket: how many messages in flight hold its file (unix_sock.inflight). */
  readonly inflight = new Map<UnixSocket, number>();
  private readonly fops: FileOperations;
  /** Names the call sites of messages carrying files, when given. */
  readonly ledger: CostLedger | null;

  constructor(vfs: Vfs, ledger: CostLedger | null = null) {
    this.vfs = vfs;
    this.ledger = ledger;
    this.sockfs = vfs.mountPseudo('sockfs', { mntId: 9, devMinor: 8 });
    this.fops = {
      name: 'unix',
      read: (file: File, len: number, _ppos: FilePos, task: Task) => this.readOp(file, len, task),
      write: (file: File, data: Uint8Array, _ppos: FilePos, task: Task) => this.of(file).send(task, data, []),
      poll: (file: File, pt: PollTable | null): number => {
        const s = this.of(file);
        pollWait(file, s.wq, pt);
        return s.pollMask();
      },
      release: (_inode: Inode, file: File) => this.releaseOp(file),
    };
  }

  /** Creates a connected pair (unix_socketpair); the caller owns one reference to each file. */
  socketpair(cred: Cred, flags: number): [File, File] {
    const a = this.create(cred, flags);
    const b = this.create(cred, flags);
    const sa = this.of(a);
    const sb = this.of(b);
    sa.peer = sb;
    sb.peer = sa;
    return [a, b];
  }

  /** The socket behind a file, or null when the file is not a unix socket. */
  socketOf(file: File): UnixSocket | null {
    return this.sockets.get(file) ?? null;
  }

  /** The socket behind a file; ENOTSOCK when it is not one. */
  of(file: File): UnixSocket {
    const s = this.sockets.get(file);
    if (!s) throw kerr('ENOTSOCK', `${file.pathName()} is not a socket`);
    return s;
  }

  /** Number of live sockets. */
  get count(): number {
    return this.sockets.size;
  }

  /** Every file reference a message in flight holds, with the sendmsg that queued it (site '' when not recorded). */
  filesInFlightWithOrigin(): { file: File; site: string; timeNs: number }[] {
    const out: { file: File; site: string; timeNs: number }[] = [];
    for (const s of this.sockets.values()) {
      for (const m of s.queue) {
        const site = m.site !== undefined && this.ledger ? this.ledger.siteText(m.site) : '';
        for (const file of m.files) out.push({ file, site, timeNs: m.since ?? 0 });
      }
    }
    return out;
  }

  /** Every file referenced by a message in flight, once per reference. */
  filesInFlight(): File[] {
    const out: File[] = [];
    for (const s of this.sockets.values()) for (const m of s.queue) out.push(...m.files);
    return out;
  }

  /**
   * Sends `data` with the files of `fds` (sendmsg with SCM_RIGHTS). EINVAL
   * for more than SCM_MAX_FD fds, EBADF for a bad one (nothing is sent).
   */
  sendmsg(task: Task, sockFile: File, data: Uint8Array, fds: readonly number[]): number | Promise<number> {
    const s = this.of(sockFile);
    if (fds.length > SCM_MAX_FD) throw kerr('EINVAL', `${fds.length} fds exceed SCM_MAX_FD`);
    const files: File[] = [];
    try {
      for (const fd of fds) files.push(task.fget(fd));
    } catch (e) {
      for (const f of files) f.put();
      throw e;
    }
    return s.send(task, data, files);
  }

  /**
   * Receives one message and installs its fds in the receiver
   * (recvmsg + scm_detach_fds). At most `maxFds` are installed (the room in
   * the control buffer); fds that do not fit, or that the fd table cannot
   * take (RLIMIT_NOFILE), are closed and MSG_CTRUNC is set. Data beyond
   * `maxLen` is discarded with MSG_TRUNC.
   */
  recvmsg(task: Task, sockFile: File, opts: { flags?: number; maxFds?: number; maxLen?: number } = {}): RecvResult | Promise<RecvResult> {
    const m = this.of(sockFile).receive(task, ((opts.flags ?? 0) & MSG_DONTWAIT) !== 0);
    return m instanceof Promise ? m.then((got) => detachFds(task, got, opts)) : detachFds(task, m, opts);
  }

  private create(cred: Cred, flags: number): File {
    const inode = new InodeClass(this.sockfs, { mode: S_IFSOCK | 0o777, uid: cred.uid, gid: cred.gid });
    const file = new File(this.vfs, {
      inode,
      fops: this.fops,
      flags: O_RDWR | (flags & O_NONBLOCK),
      cred,
      name: `socket:[${inode.ino}]`,
    });
    this.sockets.set(file, new UnixSocket(this, file));
    return file;
  }

  /** read() on a socket: the next message, cut to `len`; carried fds are dropped. */
  private async readOp(file: File, len: number, task: Task): Promise<Uint8Array> {
    const m = await this.of(file).receive(task, false);
    if (!m) return new Uint8Array(0);
    for (const f of m.files) f.put();
    return m.data.length > len ? m.data.slice(0, len) : m.data;
  }

  /** The file went: tell the peer, drop the queue's files, and collect unreachable cycles. */
  private releaseOp(file: File): void {
    const s = this.sockets.get(file);
    if (!s) throw new KernelBug(`release of unknown socket #${file.id}`);
    this.sockets.delete(file);
    this.inflight.delete(s);
    s.dead = true;
    const peer = s.peer;
    s.peer = null;
    if (peer) {
      peer.peerGone = true;
      peer.wq.wakeUp(POLLHUP | POLLIN | POLLOUT);
    }
    const dropped = s.purge();
    for (const f of dropped) f.put();
    this.gc();
  }

  /** A file left flight (received or purged). */
  leaveFlight(file: File): void {
    const s = this.sockets.get(file);
    if (!s) return;
    const n = (this.inflight.get(s) ?? 0) - 1;
    if (n < 0) throw new KernelBug(`socket #${file.id} in-flight count below zero`);
    if (n === 0) this.inflight.delete(s);
    else this.inflight.set(s, n);
  }

  /**
   * Collects sockets reachable only through messages queued on other such
   * sockets (unix_gc): a socket whose every reference is in flight is a
   * candidate; a candidate referenced from a message outside the candidate
   * set, or from a live candidate's queue, is live; the rest are garbage,
   * and their queues are purged, which releases them.
   */
  gc(): void {
    if (this.inflight.size === 0) return;
    const candidates = new Set<UnixSocket>();
    for (const [s, n] of this.inflight) if (!s.dead && s.file.count === n) candidates.add(s);
    if (candidates.size === 0) return;
    // references held by messages in candidates' own queues
    const internal = new Map<UnixSocket, number>();
    for (const c of candidates) {
      for (const m of c.queue) {
        for (const f of m.files) {
          const t = this.sockets.get(f);
          if (t && candidates.has(t)) internal.set(t, (internal.get(t) ?? 0) + 1);
        }
      }
    }
    const live = new Set<UnixSocket>();
    const stack: UnixSocket[] = [];
    for (const c of candidates) {
      if ((this.inflight.get(c) ?? 0) > (internal.get(c) ?? 0)) {
        live.add(c);
        stack.push(c);
      }
    }
    while (stack.length > 0) {
      const c = stack.pop()!;
      for (const m of c.queue) {
        for (const f of m.files) {
          const t = this.sockets.get(f);
          if (t && candidates.has(t) && !live.has(t)) {
            live.add(t);
            stack.push(t);
          }
        }
      }
    }
    const garbage = [...candidates].filter((c) => !live.has(c));
    if (garbage.length === 0) return;
    const drop: File[] = [];
    for (const g of garbage) drop.push(...g.purge());
    for (const f of drop) f.put();
  }
}

/** A message's data and fds for the receiver (scm_detach_fds): fds installed while there is room, the rest closed with MSG_CTRUNC; data cut to maxLen with MSG_TRUNC. */
function detachFds(task: Task, m: UnixMessage | null, opts: { flags?: number; maxFds?: number; maxLen?: number }): RecvResult {
  if (!m) return { data: new Uint8Array(0), fds: [], flags: 0 };
  let flags = 0;
  let data = m.data;
  if (opts.maxLen !== undefined && data.length > opts.maxLen) {
    data = data.subarray(0, Math.max(0, opts.maxLen));
    flags |= MSG_TRUNC;
  }
  const fds: number[] = [];
  const maxFds = opts.maxFds ?? SCM_MAX_FD;
  const cloexec = ((opts.flags ?? 0) & MSG_CMSG_CLOEXEC) !== 0;
  let i = 0;
  for (; i < m.files.length && fds.length < maxFds; i++) {
    try {
      fds.push(task.installFd(m.files[i]!, cloexec ? O_CLOEXEC : 0));
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && (e.code === 'EMFILE' || e.code === 'EBADF'))) throw e;
      break;
    }
  }
  if (i < m.files.length) {
    flags |= MSG_CTRUNC;
    for (; i < m.files.length; i++) m.files[i]!.put();
  }
  return { data, fds, flags };
}

/** Drops the references a message that is not sent held. */
function dropFiles(files: readonly File[]): void {
  for (const f of files) f.put();
}
