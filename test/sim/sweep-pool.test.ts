import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSetArg, planPoints, ResultDb, type PointInput, type PointRow } from '../../src/sim/index.ts';
import { runPoints } from '../../src/sim/sweep/pool.ts';

describe('the worker pool', () => {
  it('makes a point the simulator throws on an error row and goes on; a re-run tries that point again', async () => {
    const [good, other] = planPoints({ scenario: 'camera-preview', frames: 1, axes: [parseSetArg('format=64x48,128x96')] }, 'test');
    // a point a worker cannot even read: what a bug in the simulator looks like from the pool
    const broken = { ...other!, scenarioText: null } as unknown as PointInput;
    const rows: PointRow[] = [];
    await runPoints([broken, good!], 1, (r) => rows.push(r));
    rows.sort((a, b) => a.index - b.index);
    expect(rows.map((r) => [r.index, r.status])).toEqual([
      [0, 'ok'],
      [1, 'error'],
    ]);
    expect(rows[1]!.reason).toMatch(/^TypeError: /);
    const db = await ResultDb.open(join(mkdtempSync(join(tmpdir(), 'sweep-pool-')), 'r.db'));
    for (const r of rows) db.put(r);
    expect([...db.doneKeys()]).toEqual([good!.key]);
    db.close();
  });
});
