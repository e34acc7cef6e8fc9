/** A Chrome trace event as the viewers read it. */
export interface Ev {
  name: string;
  cat: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  id?: string;
  id2?: { local?: string; global?: string };
  bind_id?: string;
  flow_in?: boolean;
  flow_out?: boolean;
  args?: Record<string, unknown>;
}

/**
 * What Perfetto would refuse to show: on each track (pid/tid), two slices
 * that overlap without one holding the other; and async begins without
 * their end (or ends without a begin) for the same cat, name and id (and
 * pid, for a process-local id).
 * A flow arrow must end where one starts: every flow_in has a flow_out
 * of its bind_id no later than itself, and both are on slices.
 * Times are compared in whole nanoseconds, as Perfetto reads them.
 */
export function traceProblems(events: readonly Ev[]): string[] {
  const problems: string[] = [];
  const tracks = new Map<string, { s: number; e: number; name: string }[]>();
  for (const ev of events) {
    if (ev.ph !== 'X') continue;
    // Perfetto's arithmetic: each of ts and dur times 1000, truncated
    const s = Math.trunc(ev.ts * 1000);
    const e = s + Math.trunc((ev.dur ?? 0) * 1000);
    const k = `${ev.pid}/${ev.tid}`;
    const list = tracks.get(k) ?? [];
    list.push({ s, e, name: ev.name });
    tracks.set(k, list);
  }
  for (const [k, list] of tracks) {
    list.sort((a, b) => a.s - b.s || b.e - a.e);
    const open: { s: number; e: number; name: string }[] = [];
    for (const x of list) {
      while (open.length > 0 && open[open.length - 1]!.e <= x.s) open.pop();
      const top = open[open.length - 1];
      if (top && x.e > top.e) problems.push(`track ${k}: '${x.name}' [${x.s}, ${x.e}) overlaps '${top.name}' [${top.s}, ${top.e})`);
      else open.push(x);
    }
  }
  const pending = new Map<string, number>();
  for (const ev of events) {
    if (ev.ph !== 'b' && ev.ph !== 'e') continue;
    // an id2.local is scoped by process, an id or id2.global by the whole trace
    const k = ev.id2?.local !== undefined ? `${ev.pid} ${ev.cat} ${ev.name} #${ev.id2.local}` : `${ev.cat} ${ev.name} #${ev.id ?? ev.id2?.global}`;
    const n = (pending.get(k) ?? 0) + (ev.ph === 'b' ? 1 : -1);
    if (n < 0) problems.push(`async ${k}: end without a begin`);
    pending.set(k, Math.max(0, n));
  }
  for (const [k, n] of pending) if (n > 0) problems.push(`async ${k}: ${n} begin(s) never ended`);
  const flowStart = new Map<string, number>();
  for (const ev of events) if (ev.flow_out && ev.bind_id !== undefined) flowStart.set(ev.bind_id, ev.ts);
  for (const ev of events) {
    if ((ev.flow_in || ev.flow_out) && ev.ph !== 'X') problems.push(`flow ${ev.bind_id}: on a '${ev.ph}' event, not a slice`);
    if (!ev.flow_in) continue;
    const t = ev.bind_id === undefined ? undefined : flowStart.get(ev.bind_id);
    if (t === undefined || t > ev.ts) problems.push(`flow ${ev.bind_id}: ends at '${ev.name}' without a start before it`);
  }
  return problems;
}
