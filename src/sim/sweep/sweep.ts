import { existsSync } from 'node:fs';
import { InputError } from '../input-error.ts';
import { ResultDb } from './db.ts';
import { planPoints, type PointInput, type SweepSpec } from './plan.ts';
import { loadPoint, runPoint, type PointRow } from './point.ts';
import { runPoints } from './pool.ts';
import { inShard, shardFile, type Shard } from './shard.ts';

/** How a sweep runs: its workers, its shard, its result file, and a watcher for progress. */
export interface SweepOptions {
  version: string;
  jobs: number;
  shard: Shard | null;
  /** The result file; a shard writes its own (shardFile). */
  db: string;
  /** Called once the points are known (`total` of this shard, `skipped` already in the file), then after each point. */
  onProgress?: (done: number, total: number, skipped: number) => void;
  /** How often the result file is written while points finish, so an interrupted sweep keeps its rows (ms). */
  saveEveryMs?: number;
}

/** What a sweep did: its shard's rows in point order (new and earlier ones alike), and the counts. */
export interface SweepOutcome {
  rows: PointRow[];
  ran: number;
  skipped: number;
  total: number;
  db: string;
}

/**
 * Runs a sweep: plans every point (bad paths are InputErrors before
 * anything runs), keeps this shard's, skips those whose key the result
 * file already has, runs the rest on worker threads and writes each row
 * to the file as it arrives.
 */
export async function runSweep(spec: SweepSpec, opts: SweepOptions): Promise<SweepOutcome> {
  const points = planPoints(spec, opts.version).filter((p) => inShard(p.index, opts.shard));
  const file = shardFile(opts.db, opts.shard);
  const db = await ResultDb.open(file);
  // Stopped from outside (Ctrl-C, a cluster preempting the pod): keep the rows that finished, then go.
  const onStop = (sig: NodeJS.Signals) => {
    db.save();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onStop);
  process.once('SIGTERM', onStop);
  try {
    const done = db.doneKeys();
    const todo = points.filter((p) => !done.has(p.key));
    const skipped = points.length - todo.length;
    let finished = 0;
    let saved = Date.now();
    opts.onProgress?.(0, todo.length, skipped);
    const take = (row: PointRow) => {
      db.put(row);
      finished++;
      if (Date.now() - saved >= (opts.saveEveryMs ?? 5000)) {
        db.save();
        saved = Date.now();
      }
      opts.onProgress?.(finished, todo.length, skipped);
    };
    // Inputs the schema refuses need no worker: their rows are made here, at once.
    const runnable: PointInput[] = [];
    for (const p of todo) {
      if (refused(p)) take(await runPoint(p));
      else runnable.push(p);
    }
    await runPoints(runnable, opts.jobs, take);
    db.save();
    // A row found by its key may come from another sweep that reached the same inputs: show it with this sweep's parameters.
    const byKey = new Map(db.rowsOf(points.map((p) => p.key)).map((r) => [r.key, r]));
    const rows = points.flatMap((p) => {
      const r = byKey.get(p.key);
      return r ? [{ ...r, index: p.index, params: p.params.map(([path, v]): [string, string, number | string] => [path, v.text, v.sortKey]) }] : [];
    });
    return { rows, ran: todo.length, skipped, total: points.length, db: file };
  } finally {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    db.close();
  }
}

/** Joins result files into `out` (which may exist already): every row any of them has, once. */
export async function mergeResults(out: string, inputs: readonly string[]): Promise<{ added: number; had: number; rows: number }> {
  const db = await ResultDb.open(out);
  let added = 0;
  let had = 0;
  try {
    for (const f of inputs) {
      if (!existsSync(f)) throw new InputError(f, 0, 0, '', 'no such file (ENOENT)');
      const other = await ResultDb.open(f);
      try {
        const r = db.mergeFrom(other);
        added += r.added;
        had += r.had;
      } finally {
        other.close();
      }
    }
    db.save();
    return { added, had, rows: db.rows().length };
  } finally {
    db.close();
  }
}

/** Whether a point's files are refused before it runs (it is an invalid row without running). */
function refused(p: PointInput): boolean {
  try {
    loadPoint(p);
    return false;
  } catch (e) {
    if (e instanceof InputError) return true;
    throw e;
  }
}
