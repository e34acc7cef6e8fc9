import { describe, expect, it } from 'vitest';
import { formatSoak, soak } from '../../scripts/soak.ts';

// `npm run soak` takes about a minute of wall time per simulated minute, too
// long for the suite: these runs kill a process after every second of
// frames instead, which exercises the same restart on the same system.

describe('the soak (scripts/soak.ts), with a kill every simulated second', () => {
  it('kills each process of video-playback in turn and restarts the pipeline on one system: every kill ends the pipeline, all exit with nothing left, the counts in flow do not move', async () => {
    const r = await soak({ minutes: 4, secondsPerKill: 1 });
    expect(r.failures).toEqual([]);
    expect(r.minutes.map((m) => m.victim)).toEqual(['player', 'isp', 'composer', 'display']);
    for (const m of r.minutes) {
      expect(m.framesShown).toBeGreaterThanOrEqual(30);
      expect(m.problems).toEqual([]);
      // the pipeline in flow holds buffers, fds, mappings and fences; once it has gone, nothing
      expect(m.flow.dmabufs).toBeGreaterThan(0);
      expect(m.flow.fences).toBeGreaterThan(0);
      expect(m.flow.processes).toBe(5);
      expect({ ...m.idle, processes: 0 }).toEqual({ ...r.start.idle, processes: 0 });
      expect(m.idle.processes).toBe(0);
    }
    expect(r.end.flow).toEqual(r.baseline.flow);
    expect(formatSoak(r)).toMatch(/nothing grew/);
  }, 120_000);

  it('fails on 64 pages that stay allocated each minute, naming them', async () => {
    const r = await soak({ minutes: 3, secondsPerKill: 1, victim: 'composer', onMinute: (_m, sys) => void sys.mm.pages.allocPages(6) });
    // minute 1 was measured before its leak
    expect(r.failures).toContain(`minute 2: with every process gone, pages is ${r.start.idle.pages + 64}, at boot ${r.start.idle.pages}`);
    expect(r.failures).toContain(`minute 3: with every process gone, pages is ${r.start.idle.pages + 128}, at boot ${r.start.idle.pages}`);
    expect(r.failures.some((f) => /in full flow, pages grew from \d+ to \d+/.test(f))).toBe(true);
    expect(formatSoak(r)).toMatch(/soak: FAILED/);
  }, 120_000);
});
