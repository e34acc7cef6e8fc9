import { describe, expect, it } from 'vitest';
import { Tracer } from '../../src/lib/index.ts';
import { traceProblems, type Ev } from '../cli/trace-check.ts';

describe('Tracer: a trace whose tracks Perfetto shows whole', () => {
  it('keeps times in whole nanoseconds, so slices that abut at a fraction of a ns do not overlap', () => {
    const tr = new Tracer(() => 0);
    const l = tr.lane('process 1', 'main');
    tr.complete(l, 'open', 'syscall', 29951.6, 800.1);
    tr.complete(l, 'ioctl', 'syscall', 29951.6 + 800.1, 2798.992);
    const x = tr.toJSON().traceEvents.filter((e) => e.ph === 'X');
    expect(x.map((e) => [e.name, e.ts, e.dur])).toEqual([
      ['open', 29.952, 0.8],
      ['ioctl', 30.752, 2.799],
    ]);
    expect(traceProblems(x as Ev[])).toEqual([]);
  });

  it('writes microseconds that come back as the same whole nanoseconds when read as Perfetto reads them (x 1000, truncated)', () => {
    const tr = new Tracer(() => 0);
    const l = tr.lane('process 1', 'main');
    // about 1 in 100 of n/1000 comes back one short, 1_001 ns among them
    let t = 0;
    const starts: number[] = [];
    for (let i = 0; i < 2000; i++) {
      starts.push(t);
      const d = 1 + ((i * 7919) % 40_000);
      tr.complete(l, `s${i}`, 'syscall', t, d);
      t += d;
    }
    expect(Math.trunc((1_001 / 1000) * 1000)).toBe(1_000);
    tr.complete(l, 'at 1001', 'syscall', t + 1_001, 1_001);
    starts.push(t + 1_001);
    const x = (JSON.parse(JSON.stringify(tr.toJSON())) as { traceEvents: Ev[] }).traceEvents.filter((e) => e.ph === 'X');
    expect(x.map((e) => Math.trunc(e.ts * 1000))).toEqual(starts);
    // back to back, each ends where the next starts
    for (let i = 0; i + 2 < x.length; i++) expect(Math.trunc(x[i]!.ts * 1000) + Math.trunc(x[i]!.dur! * 1000)).toBe(Math.trunc(x[i + 1]!.ts * 1000));
    expect(traceProblems(x as Ev[])).toEqual([]);
  });

  it('keeps nested slices on their lane and moves one that overlaps partly to a named second track', () => {
    const tr = new Tracer(() => 0);
    const l = tr.lane('hardware', 'cpu cache');
    tr.complete(l, 'clean whole cache', 'cache', 1000, 16384);
    tr.complete(l, 'flush whole cache', 'cache', 3800, 16384); // a second core, while the first is busy
    tr.complete(l, 'clean range', 'cache', 2000, 100); // inside the first
    tr.complete(l, 'invalidate range', 'cache', 30000, 50); // after both
    const t = tr.toJSON().traceEvents as Ev[];
    expect(traceProblems(t)).toEqual([]);
    const names = new Map(t.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, e.args!.name]));
    const track = (n: string) => names.get(t.find((e) => e.name === n)!.tid);
    expect(track('clean whole cache')).toBe('cpu cache');
    expect(track('clean range')).toBe('cpu cache');
    expect(track('invalidate range')).toBe('cpu cache');
    expect(track('flush whole cache')).toBe('cpu cache #2');
    // both tracks belong to the one process group
    expect(new Set(t.filter((e) => e.ph === 'X').map((e) => e.pid)).size).toBe(1);
  });

  it('writes events in time order, a longer slice before a shorter one that starts with it', () => {
    const tr = new Tracer(() => 0);
    const l = tr.lane('process 1', 'main');
    tr.complete(l, 'inner', 'syscall', 5000, 10); // recorded first, as a call inside another ends first
    tr.complete(l, 'outer', 'syscall', 5000, 900);
    tr.complete(l, 'early', 'syscall', 1000, 10);
    const x = tr.toJSON().traceEvents.filter((e) => e.ph !== 'M').map((e) => e.name);
    expect(x).toEqual(['early', 'outer', 'inner']);
    // the recorded events themselves are untouched
    expect(tr.events.filter((e) => e.ph === 'X').map((e) => e.name)).toEqual(['inner', 'outer', 'early']);
  });

  it('records spans that overlap by nature as async begin/end pairs joined by id', () => {
    const tr = new Tracer(() => 0);
    const l = tr.lane('pipeline', 'frames');
    tr.span(l, 'frame', 'frame', 0, 0, 50_000, { frame: 0 });
    tr.span(l, 'frame', 'frame', 1, 16_667, 50_000, { frame: 1 });
    const t = tr.toJSON().traceEvents as Ev[];
    const a = t.filter((e) => e.ph === 'b' || e.ph === 'e');
    expect(a.map((e) => [e.ph, e.id2!.local, e.ts])).toEqual([
      ['b', '0', 0],
      ['b', '1', 16.667],
      ['e', '0', 50],
      ['e', '1', 66.667],
    ]);
    expect(a.every((e) => e.pid === l.pid && e.name === 'frame' && e.cat === 'frame')).toBe(true);
    expect(traceProblems(t)).toEqual([]);
    // an unbalanced pair is what the checker is for
    expect(traceProblems(a.slice(0, 3))).toEqual([`async ${l.pid} frame frame #1: 1 begin(s) never ended`]);
  });

  it("names a simulated task's lane by its pid, tid and comm, and renames it when the comm changes", () => {
    const tr = new Tracer(() => 0);
    const hw = tr.lane('hardware', 'camera');
    tr.complete(tr.taskLane(7, 7, 'sh', 'sh'), 'execve', 'syscall', 0, 10);
    const l = tr.taskLane(7, 7, 'camera', 'camera');
    tr.taskLane(7, 9, 'camera', 'worker');
    expect(l).toEqual({ pid: 7, tid: 7 });
    expect(hw.pid).not.toBe(7);
    const meta = tr.toJSON().traceEvents.filter((e) => e.ph === 'M').map((e) => [e.name, e.pid, e.tid, e.args!.name]);
    expect(meta).toEqual([
      ['process_name', hw.pid, 0, 'hardware'],
      ['thread_name', hw.pid, hw.tid, 'camera'],
      ['process_name', 7, 0, 'camera'],
      ['thread_name', 7, 7, 'camera'],
      ['thread_name', 7, 9, 'worker'],
    ]);
  });
});
