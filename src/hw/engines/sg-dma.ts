import type { Clock } from '../clock.ts';
import type { DmaMaster } from '../dma-master.ts';
import { KeptRead } from '../kept-read.ts';
import type { ByteProducer } from '../memory.ts';

/**
 * One piece of a scatter-gather transfer: `len` bytes at bus address
 * `addr`, as a descriptor in the engine's chain carries it. The device
 * sees bus addresses only; whatever sits between it and memory (an SMMU
 * context, or nothing) is its master port's business.
 */
export interface SgSegment {
  readonly addr: number;
  readonly len: number;
}

/**
 * Moves up to `len` bytes between `buf` (from `bufOff`) and the segments,
 * in order, through the master's port, now. Each segment is one burst on
 * the interconnect and is accounted as one. Returns the bytes moved: less
 * than `len` when the segments end first (the driver decides whether that
 * is an error). Throws the master's BusError or DmaFault mid-way.
 */
export function sgDmaMove(master: DmaMaster, segs: readonly SgSegment[], buf: Uint8Array, len: number, write: boolean, bufOff = 0): number {
  let off = 0;
  for (let i = 0; i < segs.length && off < len; i++) {
    const seg = segs[i]!;
    const n = Math.min(seg.len, len - off);
    if (write) master.writeNow(seg.addr, buf, bufOff + off, n);
    else master.readNow(seg.addr, buf, bufOff + off, n);
    off += n;
  }
  return off;
}

/**
 * sgDmaMove's read into a buffer that only these reads write (an engine's
 * own line buffer): segment `i` is read with DmaMaster.readNowKept and
 * `kept[i]` (made as needed), so a segment whose translation and memory
 * are as they were last time copies nothing. The same bytes, bursts and
 * errors as sgDmaMove; a segment list shorter than last time forgets the rest.
 */
export function sgDmaReadKept(master: DmaMaster, segs: readonly SgSegment[], buf: Uint8Array, len: number, kept: KeptRead[]): number {
  let off = 0;
  let i = 0;
  try {
    for (; i < segs.length && off < len; i++) {
      const seg = segs[i]!;
      const n = Math.min(seg.len, len - off);
      master.readNowKept(seg.addr, buf, off, n, (kept[i] ??= new KeptRead()));
      off += n;
    }
  } finally {
    for (let k = i; k < kept.length; k++) kept[k]!.forget();
  }
  return off;
}

/**
 * Keeps the engine busy for the time one chain of `len` bytes takes on its
 * port (one latency, then the bandwidth), recorded on the master's trace
 * lane under `label` at the first segment's address.
 */
export async function sgDmaWait(master: DmaMaster, clock: Clock, segs: readonly SgSegment[], len: number, label: string): Promise<void> {
  const ns = master.timeFor(len);
  master.trace(label, clock.now, ns, segs[0]?.addr ?? 0, len);
  await clock.sleep(ns);
}

/** When a read samples memory: as the chain starts (a fetch into a FIFO), or as it completes (a job's input). */
export type SgReadAt = 'start' | 'end';

/**
 * Reads `len` bytes from the segments into `dst` as one chain, taking the
 * port's time. With `at: 'start'` the bytes are what memory held when the
 * transfer began; with `'end'` what it held when it completed. Returns the
 * bytes read (short when the segments are).
 */
export async function sgDmaRead(
  master: DmaMaster,
  clock: Clock,
  segs: readonly SgSegment[],
  dst: Uint8Array,
  len: number,
  label: string,
  opts: { at?: SgReadAt; dstOff?: number } = {},
): Promise<number> {
  if (opts.at === 'end') {
    await sgDmaWait(master, clock, segs, len, label);
    return sgDmaMove(master, segs, dst, len, false, opts.dstOff);
  }
  const t = clock.now;
  const moved = sgDmaMove(master, segs, dst, len, false, opts.dstOff);
  const ns = master.timeFor(len);
  master.trace(label, t, ns, segs[0]?.addr ?? 0, len);
  await clock.sleep(ns);
  return moved;
}

/**
 * Writes `len` bytes of `src` over the segments as one chain: the port's
 * time passes first and the bytes land when it completes, so a CPU that
 * looks earlier sees the old data. Returns the bytes written (short when
 * the segments are).
 */
export async function sgDmaWrite(master: DmaMaster, clock: Clock, segs: readonly SgSegment[], src: Uint8Array, len: number, label: string): Promise<number> {
  await sgDmaWait(master, clock, segs, len, label);
  return sgDmaMove(master, segs, src, len, true);
}

/**
 * sgDmaWrite from a source that generates its bytes: `produce` makes each
 * piece of the `len` bytes straight into memory as the chain reaches it,
 * with the same timing, segments and bursts.
 */
export async function sgDmaWriteFrom(master: DmaMaster, clock: Clock, segs: readonly SgSegment[], produce: ByteProducer, len: number, label: string): Promise<number> {
  await sgDmaWait(master, clock, segs, len, label);
  let off = 0;
  for (let i = 0; i < segs.length && off < len; i++) {
    const seg = segs[i]!;
    const n = Math.min(seg.len, len - off);
    const at = off;
    master.writeNowFrom(seg.addr, n, (dst, dstOff, srcOff, k) => produce(dst, dstOff, at + srcOff, k));
    off += n;
  }
  return off;
}

/** The bus address just past the first `len` bytes of the segments (where a runaway descriptor would write next). */
export function sgDmaEnd(segs: readonly SgSegment[], len: number): number {
  let off = 0;
  let end = 0;
  for (let i = 0; i < segs.length && off < len; i++) {
    const n = Math.min(segs[i]!.len, len - off);
    off += n;
    end = segs[i]!.addr + n;
  }
  return end;
}
