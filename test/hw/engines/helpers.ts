import type { Soc, SgSegment } from '../../../src/hw/index.ts';

/**
 * Splits `len` bytes into segments of the given sizes placed at the given
 * bus addresses (the last one takes what is left): a hand-made segment
 * list, as a driver would build from a scattered mapping.
 */
export function segments(addrs: number[], sizes: number[], len: number): SgSegment[] {
  const segs: SgSegment[] = [];
  let left = len;
  for (let i = 0; i < addrs.length && left > 0; i++) {
    const n = i === addrs.length - 1 ? left : Math.min(sizes[i]!, left);
    segs.push({ addr: addrs[i]!, len: n });
    left -= n;
  }
  return segs;
}

/** Memory under the segments, concatenated (read with `read`: memory as it is, unless told otherwise). */
export function gather(soc: Soc, segs: SgSegment[], read = (pa: number, out: Uint8Array, off: number, n: number) => soc.mem.read(pa, out, off, n)): Uint8Array {
  const out = new Uint8Array(segs.reduce((n, s) => n + s.len, 0));
  let off = 0;
  for (const s of segs) {
    read(s.addr, out, off, s.len);
    off += s.len;
  }
  return out;
}

/** Writes `bytes` over the segments, straight into memory. */
export function scatter(soc: Soc, segs: SgSegment[], bytes: Uint8Array): void {
  let off = 0;
  for (const s of segs) {
    soc.mem.write(s.addr, bytes, off, s.len);
    off += s.len;
  }
}

/** The segments' bytes as a snooping master reads them: memory, with the CPU cache's dirty lines over it. */
export function gatherThroughCache(soc: Soc, segs: SgSegment[]): Uint8Array {
  return gather(soc, segs, (pa, out, off, n) => soc.cache.snoopRead(pa, out, off, n));
}
