import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import initSqlJs from 'sql.js';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parseSetArg, resultVersion, ResultDb, runSweep, type PointRow } from '../../src/sim/index.ts';
import { unimem } from './run-cli.ts';

const packageVersion = () => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const BIN = fileURLToPath(new URL('../../bin/unimem.mjs', import.meta.url));

// Small points: one frame of 640x480 and 1280x720 through a display CMA
// area of 4, 8 or 12 MiB (4 buffers of 1280x720 XR24 need 14 MiB: those fail).
const GRID = ['sweep', 'camera-preview', '--frames', '1', '--set', 'cma.areas.display.size=4MiB..12MiB:4MiB', '--set', 'format=640x480,1280x720'];

/** Runs unimem without waiting, so that shards run side by side as separate processes. */
function unimemAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs the command in this process (for the cases that fail before any run): exit code and what it wrote to stderr. */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** A result file's rows as the user relies on them: all but the wall time, which no two runs share. */
async function rowsOf(file: string): Promise<Omit<PointRow, 'wallMs'>[]> {
  const db = await ResultDb.open(file);
  try {
    return db.rows().map(({ wallMs: _, ...r }) => r);
  } finally {
    db.close();
  }
}

describe('unimem sweep', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unimem-sweep-'));
  const db = (name: string) => join(dir, name);
  let two: Awaited<ReturnType<typeof unimemAsync>>;
  let shards: Awaited<ReturnType<typeof unimemAsync>>[];

  beforeAll(async () => {
    two = await unimemAsync([...GRID, '--jobs', '2', '--db', db('all.db')]);
    // three shards as separate processes: two from --shard, one as a Kubernetes Indexed Job's pod finds it
    shards = await Promise.all([
      unimemAsync([...GRID, '--jobs', '1', '--shard', '0/3', '--db', db('part.db')]),
      unimemAsync([...GRID, '--jobs', '1', '--db', db('part.db')], { JOB_COMPLETION_INDEX: '1', UNIMEM_SHARD_COUNT: '3' }),
      unimemAsync([...GRID, '--jobs', '1', '--db', db('part.db')], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3' }),
    ]);
  }, 120_000);

  it('prints a table of every point and the boundary on each axis where the outcome changes', () => {
    expect(two.code).toBe(0);
    const [table, boundaries] = two.stdout.trim().split('\n\n');
    const lines = table!.split('\n');
    expect(lines[0]).toMatch(/^cma.areas.display.size\s+format\s+status\s+cma.peakBytes\s/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      '4MiB 640x480 failed',
      '4MiB 1280x720 failed',
      '8MiB 640x480 ok',
      '8MiB 1280x720 failed',
      '12MiB 640x480 ok',
      '12MiB 1280x720 failed',
    ]);
    expect(boundaries!.split('\n')).toEqual([
      // the reason is the capacity finding, with the arithmetic, rather than the process that failed on it
      expect.stringMatching(/^cma.areas.display.size: camera-preview fails below 8MiB \(where format=640x480\): at 4MiB cma area 'display' \(4\.0 MiB, 1024 pages\) could not give buffer 3 of the 4 .* 4 such buffers need at least 1836 pages \(7\.2 MiB\): the area is too small; at 8MiB it runs, with cma.peakBytes 4.7 MiB/),
      expect.stringMatching(/^format: camera-preview fails at 1280x720 \(where cma.areas.display.size=8MiB; cma.areas.display.size=12MiB\): at 640x480 it runs; at 1280x720 cma area 'display' \(8\.0 MiB, 2048 pages\) could not give buffer 3 of the 4/),
    ]);
    expect(two.stderr).toContain(`unimem: 6 points: 2 ok, 4 failed, 0 invalid, 0 error; ran 6, 0 already in ${db('all.db')}`);
  });

  it('writes one row per point that sqlite3 reads: parameters and metrics as columns, findings in their own table', async () => {
    const rows = await rowsOf(db('all.db'));
    expect(rows.map((r) => [r.index, r.status, r.params.map(([p, t]) => `${p}=${t}`).join(' ')])).toEqual([
      [0, 'failed', 'cma.areas.display.size=4MiB format=640x480'],
      [1, 'failed', 'cma.areas.display.size=4MiB format=1280x720'],
      [2, 'ok', 'cma.areas.display.size=8MiB format=640x480'],
      [3, 'failed', 'cma.areas.display.size=8MiB format=1280x720'],
      [4, 'ok', 'cma.areas.display.size=12MiB format=640x480'],
      [5, 'failed', 'cma.areas.display.size=12MiB format=1280x720'],
    ]);
    expect(rows[2]!.metrics['cma.peakBytes']).toBe(4915200);
    expect(rows[2]!.metrics['integrity.framesChecked']).toBe(1);
    // the area too small, found at the allocation, then the camera process that failed on it
    expect(rows[0]!.findings.map((f) => f.kind)).toEqual(['capacity', 'process-failed']);
    // the package's version and the hash of the sources that made the rows
    expect([...new Set(rows.map((r) => r.version))]).toEqual([resultVersion(packageVersion())]);
    expect(rows[0]!.version).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{8}$/);
    // a plain SQLite file: the columns answer SQL as sqlite3 would run it
    const bytes = readFileSync(db('all.db'));
    expect(bytes.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    const SQL = await initSqlJs();
    const raw = new SQL.Database(bytes);
    const q = (sql: string) => raw.exec(sql)[0]!.values;
    expect(q(`SELECT "set.cma.areas.display.size", "set.format", status, "cma.peakBytes" FROM points WHERE status = 'ok' ORDER BY idx`)).toEqual([
      [8 << 20, '640x480', 'ok', 4915200],
      [12 << 20, '640x480', 'ok', 4915200],
    ]);
    expect(q(`SELECT count(*) FROM findings WHERE kind = 'process-failed'`)).toEqual([[4]]);
    expect(q(`SELECT json_extract(metrics, '$."cma.peakBytes"') FROM points WHERE idx = 2`)).toEqual([[4915200]]);
    raw.close();
  });

  it('gives the same rows with 1 worker as with 2', async () => {
    const axes = ['cma.areas.display.size=4MiB..12MiB:4MiB', 'format=640x480,1280x720'].map((a) => parseSetArg(a));
    const one = await runSweep({ scenario: 'camera-preview', frames: 1, axes }, { version: resultVersion(packageVersion()), jobs: 1, shard: null, db: db('one.db') });
    expect(one.ran).toBe(6);
    expect(await rowsOf(db('one.db'))).toEqual(await rowsOf(db('all.db')));
  });

  it('splits into shards run as separate processes, whose merged files equal the unsharded sweep row for row', async () => {
    for (const s of shards) expect(s.code, s.stderr).toBe(0);
    expect(shards.map((s) => /\(shard (\d) of 3, from ([^)]*)\)/.exec(s.stderr)?.slice(1))).toEqual([
      ['0', '--shard'],
      ['1', 'a Kubernetes Indexed Job (JOB_COMPLETION_INDEX'],
      ['2', 'a Slurm job array (SLURM_ARRAY_TASK_ID'],
    ]);
    const parts = [0, 1, 2].map((i) => db(`part.shard-${i}-of-3.db`));
    for (const p of parts) expect((await rowsOf(p)).length).toBe(2);
    const merged = await unimem(['sweep', 'merge', db('merged.db'), ...parts]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toContain('6 points (6 added from 3 file(s), 0 already there)');
    expect(await rowsOf(db('merged.db'))).toEqual(await rowsOf(db('all.db')));
  });

  it('skips the points already in the file when run again, here from a sweep file', async () => {
    const file = join(dir, 'grid.sweep.yaml');
    writeFileSync(file, 'scenario: camera-preview\nframes: 1\nset:\n  cma.areas.display.size: 4MiB..12MiB:4MiB\n  format: [640x480, 1280x720]\n');
    const r = await unimem(['sweep', file, '--db', db('all.db')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('6 points: 2 ok, 4 failed, 0 invalid, 0 error; ran 0, 6 already in');
    expect(r.stdout).toBe(two.stdout);
  });

  it('exits 2 on a path that names nothing, naming the path and the valid keys around it, before it writes anything', async () => {
    const r = await inProcess(['sweep', 'camera-preview', '--set', 'cma.areas.dispaly.size=8MiB', '--db', db('bad.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("unimem: --set: cma.areas.dispaly.size: platform cma.areas has no entry named 'dispaly' (its entries: display)\n");
    expect(existsSync(db('bad.db'))).toBe(false);
  });

  it('records a point whose platform is invalid as an invalid row with the reason, and goes on', async () => {
    const r = await unimem(['sweep', 'camera-preview', '--frames', '1', '--set', 'cma.default=6MiB,10MiB', '--db', db('inv.db'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { params: Record<string, string>; status: string; reason: string });
    expect(rows.map((x) => [x.params['cma.default'], x.status, x.reason])).toEqual([
      ['6MiB', 'invalid', 'platform cma.default: must be a multiple of 4 MiB (a pageblock)'],
      ['10MiB', 'invalid', 'platform cma.default: must be a multiple of 4 MiB (a pageblock)'],
    ]);
    expect(r.stderr).toContain('2 points: 0 ok, 0 failed, 2 invalid, 0 error');
  });
});

describe('unimem compare', () => {
  it('puts two seeds of one scenario side by side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-compare-'));
    const r = await unimem(['compare', 'seed=1', 'seed=2', '--scenario', 'camera-preview', '--frames', '1', '--report', join(dir, 'both.html')]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(join(dir, 'both.html'), 'utf8');
    expect(html).toContain('<h1>unimem compare: seed=1 vs seed=2</h1>');
    expect(html.match(/<iframe title="seed=\d: its run report" srcdoc="&lt;!DOCTYPE html&gt;/g)).toHaveLength(2);
    expect(r.stdout).toMatch(/^metric\s+seed=1\s+seed=2\s+diff\s+%$/m);
    expect(r.stdout).toMatch(/^integrity.ok\s+1\s+1$/m);
    expect(r.stdout).toMatch(/\d+ of \d+ metrics differ\./);
  });

  it('exits 2 when the sides are of different kinds, or the work is not named', async () => {
    const mixed = await inProcess(['compare', 'armv7-mobile', 'camera-preview']);
    expect(mixed).toMatchObject({ code: 2, stderr: expect.stringMatching(/are not of one kind \(platform and scenario\)/) });
    const unnamed = await inProcess(['compare', 'armv7-mobile', 'coherent-soc']);
    expect(unnamed).toMatchObject({ code: 2, stderr: 'unimem: compare: name the work both sides run: --scenario <file|name>\n' });
  });
});
