/**
 * One Chrome trace event (the JSON format Perfetto and chrome://tracing
 * open): `ts` and `dur` in microseconds, `pid`/`tid` naming the lane.
 */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X' | 'i' | 'C' | 'M' | 'b' | 'e';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  /**
   * Joins an async begin ('b') to its end ('e'): same id, cat and name. A
   * local id, so the viewer files the span under its process.
   */
  id2?: { local: string };
  /** Joins slices by a flow arrow: from the one with flow_out to those with flow_in. */
  bind_id?: string;
  flow_out?: true;
  flow_in?: true;
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** A lane of the trace: a process (group) and one of its threads. */
export interface TraceLane {
  pid: number;
  tid: number;
}

/** Ids of lanes that are not simulated tasks start here, clear of any simulated pid or tid. */
const OWN_IDS = 1_000_000;

/**
 * Records what happened in simulated time as Chrome trace events: device
 * jobs and DMA transfers on each bus master's lane, cache maintenance on the
 * CPU's, IOMMU walks and faults on each SMMU's, syscalls on each simulated
 * process's. Lanes get names through metadata events, so the viewer shows
 * "hardware / camera", and a simulated process by its comm and pid
 * ("camera 2"). Recording is off unless a tracer is installed, and costs
 * nothing then.
 */
export class Tracer {
  readonly events: TraceEvent[] = [];
  private readonly groups = new Map<string, number>();
  private readonly lanes = new Map<string, TraceLane>();
  /** Each lane's group and thread name, by tid, to name the extra tracks a busy lane spills onto. */
  private readonly laneNames = new Map<number, [string, string]>();
  /** The name events of simulated processes and tasks, to rename them when their comm changes. */
  private readonly taskNames = new Map<string, TraceEvent>();
  private readonly now: () => number;
  /** Events beyond this many are dropped (and counted), so a long run cannot exhaust memory. */
  readonly limit: number;
  dropped = 0;
  private flows = 0;

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
      pid = OWN_IDS + this.groups.size + 1;
      this.groups.set(group, pid);
      this.events.push({ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { name: group } });
    }
    l = { pid, tid: OWN_IDS + this.lanes.size + 1 };
    this.lanes.set(key, l);
    this.laneNames.set(l.tid, [group, thread]);
    this.events.push({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: l.tid, args: { name: thread } });
    return l;
  }

  /**
   * The lane of simulated task `tid` of process `pid`, with the ids and
   * names Linux gives them, so the viewer shows "camera 2" and its threads
   * as a kernel trace would. A name that changed since (an exec, a
   * PR_SET_NAME) replaces the old one: a viewer keeps one name per track.
   */
  taskLane(pid: number, tid: number, process: string, thread: string): TraceLane {
    this.nameTrack('process_name', pid, 0, process);
    this.nameTrack('thread_name', pid, tid, thread);
    this.laneNames.set(tid, [process, thread]);
    return { pid, tid };
  }

  /**
   * Records something that took [startNs, startNs+durNs) on a lane. Times
   * are kept in whole nanoseconds (the viewers' unit), so that a slice that
   * ends where the next begins does not overlap it by a rounding error.
   */
  complete(lane: TraceLane, name: string, cat: string, startNs: number, durNs: number, args?: Record<string, unknown>): void {
    if (!this.room()) return;
    const s = Math.round(startNs);
    const e = Math.max(s, Math.round(startNs + Math.max(0, durNs)));
    this.events.push({ name, cat, ph: 'X', ts: traceMicros(s), dur: traceMicros(e - s), pid: lane.pid, tid: lane.tid, ...(args ? { args } : {}) });
  }

  /**
   * Records a span that may overlap others of its kind (a frame in flight
   * while the next is captured) as an async begin/end pair joined by `id`
   * (local to the lane's process), which the viewers lay out on rows of
   * their own instead of one track.
   */
  span(lane: TraceLane, name: string, cat: string, id: string | number, startNs: number, durNs: number, args?: Record<string, unknown>): void {
    if (!this.room()) return;
    const s = Math.round(startNs);
    const e = Math.max(s, Math.round(startNs + Math.max(0, durNs)));
    const id2 = { local: String(id) };
    this.events.push({ name, cat, ph: 'b', ts: traceMicros(s), pid: lane.pid, tid: lane.tid, id2, ...(args ? { args } : {}) });
    this.events.push({ name, cat, ph: 'e', ts: traceMicros(e), pid: lane.pid, tid: lane.tid, id2 });
  }

  /** A new id for a flow arrow between marks (see `mark`). */
  flowId(): string {
    return `0x${(++this.flows).toString(16)}`;
  }

  /**
   * Records a moment as a zero-length slice on a lane, now: a tracepoint
   * that a flow arrow may start from (`flow.out`) or end at, which the
   * viewers draw only between slices.
   */
  mark(lane: TraceLane, name: string, cat: string, args?: Record<string, unknown>, flow?: { id: string; out: boolean }): void {
    if (!this.room()) return;
    const ev: TraceEvent = { name, cat, ph: 'X', ts: traceMicros(Math.round(this.now())), dur: 0, pid: lane.pid, tid: lane.tid, ...(args ? { args } : {}) };
    if (flow) {
      ev.bind_id = flow.id;
      if (flow.out) ev.flow_out = true;
      else ev.flow_in = true;
    }
    this.events.push(ev);
  }

  /** Records a moment (a fault, a fence signal) on a lane, now. */
  instant(lane: TraceLane, name: string, cat: string, args?: Record<string, unknown>): void {
    if (!this.room()) return;
    this.events.push({ name, cat, ph: 'i', s: 't', ts: traceMicros(Math.round(this.now())), pid: lane.pid, tid: lane.tid, ...(args ? { args } : {}) });
  }

  /** Records counter values (a graph in the viewer) for `group`, now. */
  counter(group: string, name: string, values: Record<string, number>): void {
    if (!this.room()) return;
    const pid = this.lane(group, name).pid;
    this.events.push({ name, cat: 'counter', ph: 'C', ts: traceMicros(Math.round(this.now())), pid, tid: 0, args: values });
  }

  /**
   * The whole trace as the JSON object the viewers load. Perfetto shows a
   * track's slices only when they nest or do not touch, so the slices of
   * each lane are laid on as few tracks as keep that true: a lane whose work
   * overlaps (two cores cleaning the one cache at once) gets a track
   * "cpu cache #2" beside it. Events come out in time order, a longer slice
   * before a shorter one that starts with it, as the viewers nest them.
   */
  toJSON(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, unknown> } {
    const rest = this.spread(this.events.filter((e) => e.ph !== 'M'));
    // after spreading: the extra tracks' names are new metadata
    const meta = this.events.filter((e) => e.ph === 'M');
    const order = rest.map((e, i) => ({ e, i }));
    order.sort((a, b) => a.e.ts - b.e.ts || rank(a.e) - rank(b.e) || a.i - b.i);
    return { traceEvents: [...meta, ...order.map((o) => o.e)], displayTimeUnit: 'ns', otherData: { producer: 'unimem', droppedEvents: this.dropped } };
  }

  /** The events with each lane's slices moved, where they would overlap, onto the lane's extra tracks. */
  private spread(events: TraceEvent[]): TraceEvent[] {
    const byLane = new Map<number, number[]>();
    events.forEach((e, i) => {
      if (e.ph !== 'X') return;
      const l = byLane.get(e.tid);
      if (l) l.push(i);
      else byLane.set(e.tid, [i]);
    });
    const out = events.slice();
    for (const idx of byLane.values()) {
      const ns = (i: number): [number, number] => {
        const s = traceNanos(events[i]!.ts);
        return [s, s + traceNanos(events[i]!.dur!)];
      };
      const spans = idx.map((i) => ({ i, se: ns(i) }));
      spans.sort((a, b) => a.se[0] - b.se[0] || b.se[1] - a.se[1] || a.i - b.i);
      // One stack of open ends per track: a slice goes on the first track where it nests in what is open.
      const stacks: number[][] = [];
      for (const { i, se } of spans) {
        let k = 0;
        for (; k < stacks.length; k++) {
          const st = stacks[k]!;
          while (st.length > 0 && st[st.length - 1]! <= se[0]) st.pop();
          if (st.length === 0 || st[st.length - 1]! >= se[1]) break;
        }
        if (k === stacks.length) stacks.push([]);
        stacks[k]!.push(se[1]);
        if (k > 0) {
          const e = events[i]!;
          const [group, thread] = this.laneNames.get(e.tid) ?? [`${e.pid}`, `${e.tid}`];
          out[i] = { ...e, tid: this.lane(group, `${thread} #${k + 1}`).tid };
        }
      }
    }
    return out;
  }

  private nameTrack(kind: 'process_name' | 'thread_name', pid: number, tid: number, name: string): void {
    const key = `${kind === 'process_name' ? 'p' : 't'}${pid}/${tid}`;
    const m = this.taskNames.get(key);
    if (m) {
      if (m.args!.name !== name) m.args = { name };
      return;
    }
    const ev: TraceEvent = { name: kind, cat: '__metadata', ph: 'M', ts: 0, pid, tid, args: { name } };
    this.events.push(ev);
    this.taskNames.set(key, ev);
  }

  private room(): boolean {
    if (this.events.length < this.limit) return true;
    this.dropped++;
    return false;
  }
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * `ns` whole nanoseconds as the microseconds a trace holds, chosen so that
 * a reader who multiplies by 1000 and truncates (Perfetto does) gets `ns`
 * back: n/1000 alone comes back one short for about one value in a hundred,
 * which would make a slice overlap the one that starts where it ends.
 */
function traceMicros(ns: number): number {
  let us = ns / 1000;
  while (Math.trunc(us * 1000) < ns) {
    // the next double up, so the product reaches ns
    f64[0] = us;
    u64[0]! += 1n;
    us = f64[0]!;
  }
  return us;
}

/** The whole nanoseconds a trace's microseconds stand for, as Perfetto reads them. */
function traceNanos(us: number): number {
  return Math.trunc(us * 1000);
}

/** Where an event sorts among those at the same time: slices first, longer before shorter, so that they nest. */
function rank(e: TraceEvent): number {
  return e.ph === 'X' ? -e.dur! : 0;
}
