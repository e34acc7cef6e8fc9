/**
 * One Chrome trace event (the JSON format Perfetto and chrome://tracing
 * open): `ts` and `dur` in microseconds, `pid`/`tid` naming the lane.
 */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'C' | 'M';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** A lane of the trace: a process (group) and one of its threads. */
export interface TraceLane {
  pid: number;
  tid: number;
}

/**
 * Records what happened in simulated time as Chrome trace events: device
 * jobs and DMA transfers on each bus master's lane, cache maintenance on the
 * CPU's, IOMMU walks and faults on each SMMU's, syscalls on each simulated
 * process's. Lanes get names through metadata events, so the viewer shows
 * "hardware / camera" or "process 3 / main". Recording is off unless a
 * tracer is installed, and costs nothing then.
 */
export class Tracer {
  readonly events: TraceEvent[] = [];
  private readonly groups = new Map<string, number>();
  private readonly lanes = new Map<string, TraceLane>();
  private readonly now: () => number;
  /** Events beyond this many are dropped (and counted), so a long run cannot exhaust memory. */
  readonly limit: number;
  dropped = 0;

  constructor(now: () => number, limit = 2_000_000) {
    this.now = now;
    this.limit = limit;
  }

  /** The lane for `thread` in `group`, created (and named) on first use. */
  lane(group: string, thread: string): TraceLane {
    const key = `${group}\u0000${thread}`;
    let l = this.lanes.get(key);
    if (l) return l;
    let pid = this.groups.get(group);
    if (pid === undefined) {
      pid = this.groups.size + 1;
      this.groups.set(group, pid);
      this.events.push({ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { name: group } });
    }
    l = { pid, tid: this.lanes.size + 1 };
    this.lanes.set(key, l);
    this.events.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: l.tid, args: { name: thread } });
    return l;
  }

  /** Records something that took [startNs, startNs+durNs) on a lane. */
  complete(lane: TraceLane, name: string, cat: string, startNs: number, durNs: number, args?: Record<string, unknown>): void {
    if (!this.room()) return;
    this.events.push({ name, cat, ph: 'X', ts: startNs / 1000, dur: Math.max(0, durNs) / 1000, pid: lane.pid, tid: lane.tid, ...(args ? { args } : {}) });
  }

  /** Records a moment (a fault, a fence signal) on a lane, now. */
  instant(lane: TraceLane, name: string, cat: string, args?: Record<string, unknown>): void {
    if (!this.room()) return;
    this.events.push({ name, cat, ph: 'i', s: 't', ts: this.now() / 1000, pid: lane.pid, tid: lane.tid, ...(args ? { args } : {}) });
  }

  /** Records counter values (a graph in the viewer) for `group`, now. */
  counter(group: string, name: string, values: Record<string, number>): void {
    if (!this.room()) return;
    const pid = this.lane(group, name).pid;
    this.events.push({ name, cat: 'counter', ph: 'C', ts: this.now() / 1000, pid, tid: 0, args: values });
  }

  /** The whole trace as the JSON object the viewers load. */
  toJSON(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
    return { traceEvents: this.events, displayTimeUnit: 'ns', otherData: { producer: 'unimem', droppedEvents: this.dropped } };
  }

  private room(): boolean {
    if (this.events.length < this.limit) return true;
    this.dropped++;
    return false;
  }
}
