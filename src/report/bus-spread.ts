import type { DmaMaster, Interconnect, MasterPort } from '../hw/index.ts';
import { Tracer } from '../lib/index.ts';

type TraceLane = ReturnType<Tracer['lane']>;

/**
 * A master's trace hook that keeps the time span of each of its timed
 * transfers and passes the event on to the run's own tracer, if it has
 * one, so that `--trace` output stays the same.
 */
class SpanTap extends Tracer {
  private readonly inner: Tracer | null;
  private readonly spans: number[];

  constructor(inner: Tracer | null, spans: number[]) {
    // Nothing is ever stored in the tap itself: limit 0.
    super(() => 0, 0);
    this.inner = inner;
    this.spans = spans;
  }

  override lane(group: string, thread: string): TraceLane {
    return this.inner ? this.inner.lane(group, thread) : { pid: 0, tid: 0 };
  }

  override complete(lane: TraceLane, name: string, cat: string, startNs: number, durNs: number, args?: Record<string, unknown>): void {
    this.spans.push(startNs, startNs + Math.max(0, durNs));
    this.inner?.complete(lane, name, cat, startNs, durNs, args);
  }
}

/** What one port did: the bytes counted at each instant, and the spans its engine was busy. */
interface PortLog {
  port: MasterPort;
  /** Flat (instant ns, bytes) pairs, one per instant (bursts at the same instant merged). */
  counts: number[];
  /** Flat (start ns, end ns) pairs, in the order the engine reported them. */
  spans: number[];
}

/**
 * Records when the interconnect's bytes moved, so that a bandwidth chart
 * can spread each transfer over the time it took rather than put it whole
 * where it was counted. The interconnect counts a chain's bytes at one
 * instant (at its start for a fetch, at its end for a write that lands on
 * completion, per segment for a scattered buffer); the engines report the
 * span each chain kept them busy (their trace events). Each counted byte
 * is given to a span of its master that covers the instant it was
 * counted and still has room at the port's bandwidth; a byte no span
 * covers (a master with no timed engine, such as the CPU port) is drawn
 * as taking the port's time from when it was counted. It only observes:
 * the interconnect and the masters behave as before, and a run's own
 * tracer still gets every event.
 */
export class BusRecorder {
  private readonly logs: PortLog[] = [];
  private readonly bus: Interconnect;
  private readonly masters: DmaMaster[];
  private readonly saved: (Tracer | null)[];
  private readonly now: () => number;

  /** Starts recording on the bus and every DMA master; `ports` fixes the order of the results. */
  constructor(bus: Interconnect, masters: Iterable<DmaMaster>, now: () => number) {
    this.bus = bus;
    this.now = now;
    this.masters = [...masters];
    const byPort = new Map<MasterPort, PortLog>();
    for (const port of bus.ports.values()) {
      const log: PortLog = { port, counts: [], spans: [] };
      this.logs.push(log);
      byPort.set(port, log);
    }
    this.saved = this.masters.map((m) => m.tracer);
    for (const m of this.masters) {
      const log = byPort.get(m.port);
      if (log) m.tracer = new SpanTap(m.tracer, log.spans);
    }
    const transfer = bus.transfer.bind(bus);
    // An own property shadows the class's method until stop() deletes it.
    bus.transfer = (port: MasterPort, readBytes: number, writeBytes: number): number => {
      const ns = transfer(port, readBytes, writeBytes);
      const log = byPort.get(port);
      if (log) {
        const t = this.now();
        const c = log.counts;
        if (c.length > 0 && c[c.length - 2] === t) c[c.length - 1]! += readBytes + writeBytes;
        else c.push(t, readBytes + writeBytes);
      }
      return ns;
    };
  }

  /** Stops recording: the bus and the masters are as they were. */
  stop(): void {
    Reflect.deleteProperty(this.bus, 'transfer');
    this.masters.forEach((m, i) => {
      m.tracer = this.saved[i]!;
    });
  }

  /**
   * Each port's bytes moved by each sample time `t` (cumulative, as the
   * port counters are), with every transfer spread over its span; the
   * part of a transfer after the last sample is left out.
   */
  cumulative(t: readonly number[]): number[][] {
    return this.logs.map((log) => toCumulative(t, pieces(log)));
  }
}

/** The time pieces of a port's traffic: flat (start, end, bytes) triples. */
function pieces(log: PortLog): number[] {
  const bw = log.port.bandwidth / 1e9; // bytes per ns
  const n = log.spans.length / 2;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => log.spans[2 * a]! - log.spans[2 * b]! || a - b);
  const start = order.map((i) => log.spans[2 * i]!);
  const end = order.map((i) => log.spans[2 * i + 1]!);
  // Room in bytes: what the port can move in the span. A tiny slack absorbs float rounding of the engine's own timing.
  const room = order.map((_, k) => (end[k]! - start[k]!) * bw * (1 + 1e-9) + 1e-6);
  const filled = new Array<number>(n).fill(0);
  const out: number[] = [];
  let lo = 0;
  // Where the port is free again for bytes no span covers.
  let freeAt = -Infinity;
  for (let c = 0; c < log.counts.length; c += 2) {
    const x = log.counts[c]!;
    let bytes = log.counts[c + 1]!;
    while (lo < n && end[lo]! < x && start[lo]! <= x) lo++;
    for (let k = lo; k < n && start[k]! <= x && bytes > 0; k++) {
      if (end[k]! < x) continue;
      const take = Math.min(bytes, room[k]! - filled[k]!);
      if (take <= 0) continue;
      filled[k]! += take;
      bytes -= take;
    }
    if (bytes > 0) {
      const s = Math.max(x, freeAt);
      const e = s + bytes / bw;
      out.push(s, e, bytes);
      freeAt = e;
    }
  }
  for (let k = 0; k < n; k++) if (filled[k]! > 0) out.push(start[k]!, end[k]!, filled[k]!);
  return out;
}

/**
 * Bytes by each sample time: each piece adds to each interval (t[i-1], t[i]]
 * in proportion to its overlap. What moves after the last sample (a
 * scanout still running when the run ended) is not counted.
 */
function toCumulative(t: readonly number[], p: readonly number[]): number[] {
  const bins = new Array<number>(t.length).fill(0);
  // The first index i with t[i] >= x (t.length when none is).
  const at = (x: number): number => {
    let a = 0;
    let b = t.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (t[m]! < x) a = m + 1;
      else b = m;
    }
    return a;
  };
  for (let j = 0; j < p.length; j += 3) {
    const s = p[j]!;
    const e = p[j + 1]!;
    const bytes = p[j + 2]!;
    const first = at(s);
    if (e <= s) {
      if (first < t.length) bins[first]! += bytes;
      continue;
    }
    for (let i = first; i < t.length; i++) {
      const a = i === 0 ? -Infinity : t[i - 1]!;
      const ov = Math.min(e, t[i]!) - Math.max(s, a);
      if (ov > 0) bins[i]! += (bytes * ov) / (e - s);
      if (e <= t[i]!) break;
    }
  }
  for (let i = 1; i < bins.length; i++) bins[i]! += bins[i - 1]!;
  return bins;
}
