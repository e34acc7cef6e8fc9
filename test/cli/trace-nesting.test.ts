import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtinScenarios } from '../../src/sim/index.ts';
import { unimem } from './run-cli.ts';
import { traceProblems, type Ev } from './trace-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimem-nest-'));

const traces = new Map<string, Promise<Ev[]>>();
/** Scenarios traced over fewer frames than their own: two 12 MP frames show every kind of slice three do, in a third less time. */
const FEWER_FRAMES: Record<string, string> = { 'still-capture': '2' };

/** The trace of one run of `scenario`: runs are deterministic, so the tests that look at the same scenario share it. */
function traceOf(scenario: string): Promise<Ev[]> {
  let t = traces.get(scenario);
  if (!t) {
    t = (async () => {
      const f = join(dir, `${scenario}.json`);
      const frames = FEWER_FRAMES[scenario];
      const r = await unimem(['run', scenario, ...(frames ? ['--frames', frames] : []), '--trace', f]);
      expect(r.stderr).toContain('trace written');
      return JSON.parse(readFileSync(f, 'utf8')).traceEvents as Ev[];
    })();
    traces.set(scenario, t);
  }
  return t;
}

describe('every built-in scenario\'s trace is one Perfetto shows whole', () => {
  it.each(builtinScenarios())('%s: slices on a track nest or do not touch; async spans and flows are balanced', { timeout: 60_000 }, async (scenario) => {
    const ev = await traceOf(scenario);
    expect(ev.filter((e) => e.ph === 'X').length).toBeGreaterThan(0);
    expect(traceProblems(ev)).toEqual([]);
    // Every track a slice is on has a name.
    const named = new Set(ev.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => `${e.pid}/${e.tid}`));
    for (const e of ev) if (e.ph === 'X') expect(named.has(`${e.pid}/${e.tid}`)).toBe(true);
  });
});

describe('unimem exec --trace', () => {
  const programs = readdirSync(fileURLToPath(new URL('../../examples/programs', import.meta.url))).filter((n) => n.endsWith('.ts'));
  it.each(programs)('%s: a program\'s trace nests too', { timeout: 60_000 }, async (program) => {
    const f = join(dir, `exec-${program}.json`);
    const r = await unimem(['exec', `examples/programs/${program}`, '--trace', f]);
    expect(r.code).toBe(0);
    const ev = JSON.parse(readFileSync(f, 'utf8')).traceEvents as Ev[];
    expect(ev.filter((e) => e.cat === 'syscall').length).toBeGreaterThan(0);
    expect(traceProblems(ev)).toEqual([]);
  });
});

describe('the pipelines that overlapped before', () => {
  it('video-playback: frames in flight are async spans joined by frame number, overlapping as they do', { timeout: 60_000 }, async () => {
    const ev = await traceOf('video-playback');
    const begins = ev.filter((e) => e.ph === 'b' && e.cat === 'frame');
    expect(begins.map((e) => e.args!.frame)).toEqual([...Array(30).keys()]);
    const ends = new Map(ev.filter((e) => e.ph === 'e' && e.cat === 'frame').map((e) => [e.id2!.local, e.ts]));
    // some frame starts before the one before it has been shown
    expect(begins.some((b, i) => i > 0 && b.ts < ends.get(begins[i - 1]!.id2!.local)!)).toBe(true);
  });

  it("video-playback: fences are named as Linux's dma_fence tracepoints, and a wait is joined to the signal that ended it", { timeout: 60_000 }, async () => {
    const ev = await traceOf('video-playback');
    const fence = ev.filter((e) => e.cat === 'fence');
    const linux = ['dma_fence_init', 'dma_fence_enable_signal', 'dma_fence_signaled', 'dma_fence_wait_start', 'dma_fence_wait_end', 'dma_fence_destroy'];
    expect(fence.length).toBeGreaterThan(0);
    for (const e of fence) {
      expect(linux).toContain(e.name);
      expect(e.args).toMatchObject({ driver: expect.any(String), timeline: expect.any(String), context: expect.any(Number), seqno: expect.any(Number) });
    }
    const end = fence.find((e) => e.name === 'dma_fence_wait_end' && e.flow_in)!;
    const signal = fence.find((e) => e.flow_out && e.bind_id === end.bind_id)!;
    expect(signal.name).toBe('dma_fence_signaled');
    expect([signal.args!.context, signal.args!.seqno]).toEqual([end.args!.context, end.args!.seqno]);
  });

  it('shared-12mb: cache maintenance by two cores at once goes on a second named cache track', { timeout: 60_000 }, async () => {
    const ev = await traceOf('shared-12mb');
    const lane = (name: string) => ev.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args!.name === name);
    const first = lane('cpu cache')!;
    const second = lane('cpu cache #2')!;
    expect(second).toBeDefined();
    expect(second.pid).toBe(first.pid);
    expect(ev.filter((e) => e.ph === 'X' && e.tid === second.tid && e.cat === 'cache').length).toBeGreaterThan(0);
  });
});
