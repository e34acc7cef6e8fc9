import type { Tracer } from '../lib/index.ts';
import type { Clock } from './clock.ts';
import type { CpuCache } from './cache.ts';
import type { Interconnect, MasterPort } from './interconnect.ts';
import type { KeptRead } from './kept-read.ts';
import type { ByteProducer, PhysicalMemory } from './memory.ts';

/**
 * What sits between a master and the bus: nothing (bus address = physical
 * address), or an SMMU context. `translate` returns the physical address of
 * `addr` and how many bytes from there are contiguous in this translation, or
 * throws DmaFault when the transaction is terminated.
 */
export interface Translator {
  /**
   * `len` is how many bytes the transaction still wants from `addr`: a
   * translator may return a run covering several physically contiguous
   * pages at once (counting each page's translation as it would one by one).
   */
  translate(addr: number, write: boolean, len?: number): { pa: number; run: number };
}

/** A DMA transaction that the master's translation terminated (an IOMMU fault the handler did not fix). */
export class DmaFault extends Error {
  readonly address: number;
  readonly write: boolean;
  readonly master: string;
  constructor(master: string, address: number, write: boolean, why: string) {
    super(`${master}: DMA ${write ? 'write' : 'read'} at 0x${address.toString(16)} terminated: ${why}`);
    this.name = 'DmaFault';
    this.address = address;
    this.write = write;
    this.master = master;
  }
}

/** Static description of a bus master's DMA port. */
export interface DmaMasterConfig {
  name: string;
  /** IO-coherent masters snoop the CPU cache; others see memory only. */
  coherent: boolean;
}

/**
 * A device's DMA port. It moves real bytes between bus addresses and its
 * own buffers, through its translation, with the interconnect's timing. A
 * non-coherent master reads memory and ignores dirty CPU lines; an
 * IO-coherent one snoops them.
 */
export class DmaMaster {
  readonly name: string;
  readonly coherent: boolean;
  translator: Translator | null = null;
  /** Records each timed transfer on this master's lane when set. */
  tracer: Tracer | null = null;
  readonly port: MasterPort;
  private readonly mem: PhysicalMemory;
  private readonly cache: CpuCache;
  private readonly clock: Clock;
  private readonly bus: Interconnect;

  constructor(cfg: DmaMasterConfig, port: MasterPort, mem: PhysicalMemory, cache: CpuCache, clock: Clock, bus: Interconnect) {
    this.name = cfg.name;
    this.coherent = cfg.coherent;
    this.port = port;
    this.mem = mem;
    this.cache = cache;
    this.clock = clock;
    this.bus = bus;
  }

  /** Reads [addr, addr+len) into dst now; returns the transfer time in ns. Throws BusError or DmaFault. */
  readNow(addr: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): number {
    this.moveIn(addr, dst, dstOff, len);
    return this.bus.transfer(this.port, len, 0);
  }

  /**
   * readNow into a buffer only these reads write, with `kept` the record
   * of the last one (KeptRead): the translation runs as readNow's, run by
   * run, and when it gives the runs the last read gave and memory has not
   * been written in any of them since, the buffer holds the bytes already
   * and nothing is copied. A snooping master reads as readNow does. The
   * same errors at the same point as readNow, with the runs before a
   * faulting one copied. Returns the transfer time in ns.
   */
  readNowKept(addr: number, dst: Uint8Array, dstOff: number, len: number, kept: KeptRead): number {
    if (this.coherent) {
      kept.forget();
      return this.readNow(addr, dst, dstOff, len);
    }
    const same = kept.dst === dst && kept.dstOff === dstOff && kept.addr === addr && kept.len === len;
    const runs = this.translateRuns(addr, len, dst, dstOff, kept);
    let unchanged = same && runs === kept.count;
    for (let i = 0; unchanged && i < runs; i++) unchanged = this.mem.lastWrite(kept.runs[2 * i]!, kept.runs[2 * i + 1]!) <= kept.stamp;
    if (!unchanged) this.readRuns(kept, runs, dst, dstOff);
    kept.dst = dst;
    kept.dstOff = dstOff;
    kept.addr = addr;
    kept.len = len;
    kept.count = runs;
    kept.stamp = this.mem.writeStamp();
    return this.bus.transfer(this.port, len, 0);
  }

  /**
   * Translates [addr, addr+len) run by run into kept.runs (its count is
   * the last read's until this returns, so that readNowKept can compare:
   * a run that differs makes `same` false there instead) and returns how
   * many. A run no memory decodes, or a translation that faults, ends it:
   * the runs before are copied into `dst`, the read is forgotten and the
   * error thrown, as readNow would have.
   */
  private translateRuns(addr: number, len: number, dst: Uint8Array, dstOff: number, kept: KeptRead): number {
    let runs = 0;
    let off = 0;
    let differs = false;
    try {
      while (off < len) {
        let pa = addr + off;
        let n = len - off;
        if (this.translator) {
          const t = this.translator.translate(addr + off, false, len - off);
          pa = t.pa;
          n = Math.min(t.run, len - off);
        }
        // a run no bank decodes throws BusError here, where readNow's copy of it would
        if (!this.mem.decodes(pa, n)) this.mem.bankOf(pa, n);
        if (2 * runs + 2 > kept.runs.length) {
          const grown = new Float64Array(2 * kept.runs.length);
          grown.set(kept.runs);
          kept.runs = grown;
        }
        if (runs >= kept.count || kept.runs[2 * runs] !== pa || kept.runs[2 * runs + 1] !== n) differs = true;
        kept.runs[2 * runs] = pa;
        kept.runs[2 * runs + 1] = n;
        runs++;
        off += n;
      }
    } catch (e) {
      this.readRuns(kept, runs, dst, dstOff);
      kept.forget();
      throw e;
    }
    if (differs) kept.count = -1;
    return runs;
  }

  /** Copies the first `runs` of kept.runs from memory into `dst`, one after another from `dstOff`. */
  private readRuns(kept: KeptRead, runs: number, dst: Uint8Array, dstOff: number): void {
    for (let i = 0, off = dstOff; i < runs; i++) {
      const n = kept.runs[2 * i + 1]!;
      this.mem.read(kept.runs[2 * i]!, dst, off, n);
      off += n;
    }
  }

  /** Memory's write stamp now (PhysicalMemory.writeStamp), to hand readUnchangedSince later. */
  memoryStamp(): number {
    return this.mem.writeStamp();
  }

  /**
   * Whether a read of [addr, addr+len) now would give the bytes a read gave
   * when memory's write stamp was `stamp`: only for a master that sees
   * memory as it is, with no translation between (whose tables may have
   * changed) and no snooping (whose cache may have), when nothing in the
   * range was written since. Throws BusError as a read would.
   */
  readUnchangedSince(addr: number, len: number, stamp: number): boolean {
    if (this.translator || this.coherent) return false;
    return this.mem.lastWrite(addr, len) <= stamp;
  }

  /**
   * Reads [addr, addr+len) again now into a buffer that holds its bytes
   * already (readUnchangedSince said so): the port and the bus carry the
   * transfer as readNow's; returns its time in ns.
   */
  rereadNow(_addr: number, len: number): number {
    return this.bus.transfer(this.port, len, 0);
  }

  /**
   * Lends the bytes a read of [addr, addr+len) would give now, piece by
   * piece with no copy (PhysicalMemory.forEachView), and watches the range
   * for its next write (PhysicalMemory.watchWrites): `beforeWrite` runs
   * before that write changes a byte. Only for a master that sees memory
   * as it is (readUnchangedSince's condition); returns null for another,
   * which must read. The port carries nothing here: rereadNow does.
   * Throws BusError as a read would.
   */
  lendNow(addr: number, len: number, beforeWrite: () => void): { forEachView: (fn: (view: Uint8Array, at: number) => boolean) => boolean; stop: () => void } | null {
    if (this.translator || this.coherent) return null;
    const stop = this.mem.watchWrites(addr, len, beforeWrite);
    return { forEachView: (fn) => this.mem.forEachView(addr, len, fn), stop };
  }

  /** Writes src to [addr, addr+len) now; returns the transfer time in ns. */
  writeNow(addr: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): number {
    this.moveOut(addr, src, srcOff, len);
    return this.bus.transfer(this.port, 0, len);
  }

  /**
   * Writes [addr, addr+len) now with bytes `produce` makes (writeNow from
   * a source that generates its bytes: no buffer of the whole transfer).
   * Returns the transfer time in ns.
   */
  writeNowFrom(addr: number, len: number, produce: ByteProducer): number {
    this.walk(addr, len, true, (pa, off, n) => {
      if (this.coherent) {
        const tmp = new Uint8Array(n);
        produce(tmp, 0, off, n);
        this.cache.snoopWrite(pa, tmp, 0, n);
      } else this.mem.writeFrom(pa, n, (dst, dstOff, srcOff, k) => produce(dst, dstOff, off + srcOff, k));
    });
    return this.bus.transfer(this.port, 0, len);
  }

  /** Fills [addr, addr+len) with `value` now; returns the transfer time in ns. */
  fillNow(addr: number, len: number, value: number): number {
    this.walk(addr, len, true, (pa, _off, n) => {
      if (this.coherent && this.cache.validLines > 0) this.cache.snoopWrite(pa, new Uint8Array(n).fill(value), 0, n);
      else this.mem.fill(pa, n, value);
    });
    return this.bus.transfer(this.port, 0, len);
  }

  /**
   * Copies len bytes from bus address src to bus address dst (a memcpy DMA
   * engine); returns the transfer time in ns.
   */
  copyNow(dst: number, src: number, len: number): number {
    if (!this.translator && !this.coherent) {
      this.mem.copy(dst, src, len);
    } else {
      const buf = new Uint8Array(Math.min(len, 1 << 20));
      for (let done = 0; done < len; done += buf.length) {
        const n = Math.min(buf.length, len - done);
        this.moveIn(src + done, buf, 0, n);
        this.moveOut(dst + done, buf, 0, n);
      }
    }
    return this.bus.transfer(this.port, len, len);
  }

  /** Reads, then waits the transfer time in simulated ns (the device is busy meanwhile). */
  async read(addr: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): Promise<void> {
    const t = this.clock.now;
    const ns = this.readNow(addr, dst, dstOff, len);
    this.trace('dma read', t, ns, addr, len);
    await this.clock.sleep(ns);
  }

  /**
   * Waits the transfer time, then writes: the bytes land in memory when the
   * transfer completes, so a CPU that looks earlier sees the old data.
   */
  async write(addr: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): Promise<void> {
    const ns = this.timeFor(len);
    this.trace('dma write', this.clock.now, ns, addr, len);
    await this.clock.sleep(ns);
    this.writeNow(addr, src, srcOff, len);
  }

  /** Copies with the engine's timing; the destination changes at completion. */
  async copy(dst: number, src: number, len: number): Promise<void> {
    const tmp = new Uint8Array(len);
    this.readNow(src, tmp, 0, len);
    const ns = this.timeFor(len);
    this.trace('dma copy', this.clock.now, ns, src, len);
    await this.clock.sleep(ns);
    this.writeNow(dst, tmp, 0, len);
  }

  /** Records a transfer of `len` bytes at bus address `addr` that takes `ns` from `start`, for drivers timing their own jobs too. */
  trace(name: string, start: number, ns: number, addr: number, len: number): void {
    if (this.tracer) this.tracer.complete(this.tracer.lane('hardware', this.name), name, 'dma', start, ns, { addr: '0x' + addr.toString(16), bytes: len });
  }

  /** The time a transfer of `bytes` takes on this master's port, in ns. */
  timeFor(bytes: number): number {
    return this.port.latencyNs + (bytes / this.port.bandwidth) * 1e9;
  }

  private moveIn(addr: number, dst: Uint8Array, dstOff: number, len: number): void {
    this.walk(addr, len, false, (pa, off, n) => {
      if (this.coherent) this.cache.snoopRead(pa, dst, dstOff + off, n);
      else this.mem.read(pa, dst, dstOff + off, n);
    });
  }

  private moveOut(addr: number, src: Uint8Array, srcOff: number, len: number): void {
    this.walk(addr, len, true, (pa, off, n) => {
      if (this.coherent) this.cache.snoopWrite(pa, src, srcOff + off, n);
      else this.mem.write(pa, src, srcOff + off, n);
    });
  }

  /** Splits [addr, addr+len) into physically contiguous runs through the translation. */
  private walk(addr: number, len: number, write: boolean, fn: (pa: number, off: number, n: number) => void): void {
    if (!this.translator) {
      fn(addr, 0, len);
      return;
    }
    let off = 0;
    while (off < len) {
      const { pa, run } = this.translator.translate(addr + off, write, len - off);
      const n = Math.min(run, len - off);
      fn(pa, off, n);
      off += n;
    }
  }
}
