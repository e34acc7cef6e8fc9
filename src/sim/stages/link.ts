import type { Sys } from '../../proc/index.ts';
import { MSG_DONTWAIT, POLLIN } from '../../uapi/index.ts';

/**
 * The buffer-passing protocol between two pipeline processes over an
 * AF_UNIX SOCK_SEQPACKET pair, the shape of Android's BufferQueue or a
 * Wayland buffer attach/release: the producer owns a fixed set of slots;
 * it sends a FRAME message carrying the slot's dma-buf fd (and, when the
 * frame is still being written, a sync_file fd of the write fence) and
 * the consumer sends RELEASE once it no longer reads the slot. Closing the
 * socket ends the stream (the consumer reads EOF; a producer writing to a
 * gone consumer gets EPIPE and SIGPIPE).
 */
const FRAME = 1;
const RELEASE = 2;
const MSG_BYTES = 16;
/** A FRAME message carries a fence fd after the buffer fd. */
const HAS_FENCE = 1;

/** One frame as the consumer receives it. */
export interface FrameMsg {
  frame: number;
  slot: number;
  bytesused: number;
  /** The dma-buf fd, the receiver's to close. */
  bufFd: number;
  /** The sync_file fd of the frame's write fence, or -1; the receiver's to close. */
  fenceFd: number;
}

function encode(kind: number, frame: number, slot: number, bytesused: number, flags: number): Uint8Array {
  const b = new Uint8Array(MSG_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, kind | (flags << 8), true);
  v.setUint32(4, frame, true);
  v.setUint32(8, slot, true);
  v.setUint32(12, bytesused, true);
  return b;
}

function decode(b: Uint8Array): { kind: number; flags: number; frame: number; slot: number; bytesused: number } {
  if (b.length !== MSG_BYTES) throw new Error(`pipeline protocol: a ${b.length}-byte message`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const w = v.getUint32(0, true);
  return { kind: w & 0xff, flags: w >>> 8, frame: v.getUint32(4, true), slot: v.getUint32(8, true), bytesused: v.getUint32(12, true) };
}

/** The producer's end of a link: its free slots and the socket to the consumer. */
export class Downstream {
  readonly fd: number;
  private readonly free: number[];
  /** The consumer has closed its end (EOF on the socket). */
  gone = false;

  /** Takes the socket `fd`; slots 0..slots-1 start free unless `startFree` is false (the device holds them). */
  constructor(
    private readonly sys: Sys,
    fd: number,
    slots: number,
    startFree = true,
  ) {
    this.fd = fd;
    this.free = startFree ? Array.from({ length: slots }, (_, i) => i) : [];
  }

  /** Free slots right now. */
  get available(): number {
    return this.free.length;
  }

  /** A free slot, waiting for the consumer to release one; null when the consumer is gone. */
  async acquire(): Promise<number | null> {
    while (this.free.length === 0) {
      if (this.gone || !(await this.receive(0))) return null;
    }
    return this.free.shift()!;
  }

  /** Reads every release already sent (without blocking) and takes all free slots; returns them, oldest first. */
  async takeReleased(): Promise<number[]> {
    while (!this.gone && (await this.receive(MSG_DONTWAIT))) {
      /* keep reading */
    }
    return this.free.splice(0);
  }

  /** Takes a free slot back without sending it (a frame the producer dropped). */
  putBack(slot: number): void {
    this.free.unshift(slot);
  }

  /** Sends frame `frame` in `slot` with its buffer fd and, if >= 0, its write fence; false when the consumer is gone (EPIPE). */
  async send(frame: number, slot: number, bytesused: number, bufFd: number, fenceFd = -1): Promise<boolean> {
    const fds = fenceFd >= 0 ? [bufFd, fenceFd] : [bufFd];
    try {
      await this.sys.sendmsg(this.fd, { data: encode(FRAME, frame, slot, bytesused, fenceFd >= 0 ? HAS_FENCE : 0), fds });
      return true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EPIPE') throw e;
      this.gone = true;
      return false;
    }
  }

  /** Reads one release; false at EOF or, with MSG_DONTWAIT, when none is waiting. */
  private async receive(flags: number): Promise<boolean> {
    let r;
    try {
      r = await this.sys.recvmsg(this.fd, { flags, maxLen: MSG_BYTES, maxFds: 0 });
    } catch (e) {
      if ((e as { code?: string }).code === 'EAGAIN') return false;
      if ((e as { code?: string }).code === 'ECONNRESET') {
        this.gone = true;
        return false;
      }
      throw e;
    }
    if (r.data.length === 0) {
      this.gone = true;
      return false;
    }
    const m = decode(r.data);
    if (m.kind !== RELEASE) throw new Error(`pipeline protocol: message kind ${m.kind} from a consumer`);
    this.free.push(m.slot);
    return true;
  }
}

/** The consumer's end of a link. */
export class Upstream {
  readonly fd: number;

  constructor(
    private readonly sys: Sys,
    fd: number,
  ) {
    this.fd = fd;
  }

  /** The next frame, waiting for it; null at the end of the stream. */
  async next(): Promise<FrameMsg | null> {
    const r = await this.sys.recvmsg(this.fd, { maxLen: MSG_BYTES, maxFds: 2 });
    if (r.data.length === 0) return null;
    const m = decode(r.data);
    if (m.kind !== FRAME) throw new Error(`pipeline protocol: message kind ${m.kind} from a producer`);
    const want = m.flags & HAS_FENCE ? 2 : 1;
    if (r.fds.length !== want) throw new Error(`pipeline protocol: frame ${m.frame} came with ${r.fds.length} fds, not ${want}`);
    return { frame: m.frame, slot: m.slot, bytesused: m.bytesused, bufFd: r.fds[0]!, fenceFd: want === 2 ? r.fds[1]! : -1 };
  }

  /** Gives `slot` back to the producer; a producer that has gone is not an error. */
  async release(slot: number): Promise<void> {
    try {
      await this.sys.sendmsg(this.fd, { data: encode(RELEASE, 0, slot, 0, 0) });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EPIPE') throw e;
    }
  }
}

/** Waits until one of `fds` is readable (poll); returns which are. */
export async function waitReadable(sys: Sys, fds: number[], timeoutMs = -1): Promise<boolean[]> {
  const p: Parameters<Sys['poll']>[0] = fds.map((fd) => ({ fd, events: POLLIN }));
  await sys.poll(p, timeoutMs);
  return p.map((x) => (x.revents ?? 0) !== 0);
}

/**
 * Waits for a received frame's write fence and closes it (for consumers
 * whose device cannot wait on a fence itself, as V4L2 queues cannot).
 */
export async function waitFrameFence(sys: Sys, m: FrameMsg): Promise<void> {
  if (m.fenceFd < 0) return;
  await sys.poll([{ fd: m.fenceFd, events: POLLIN }], -1);
  await sys.close(m.fenceFd);
  m.fenceFd = -1;
}
