import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../lib/index.ts';
import type { PointInput } from './plan.ts';
import { pointRow, type PointRow } from './point.ts';

/** Workers a sweep uses unless told: one per core. */
export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * Runs points on `jobs` worker threads, one point per task, handing the
 * next point to whichever worker finishes first; `onRow` sees each row as
 * it arrives (in completion order, which varies; each row does not). A
 * worker that dies takes only its point with it: that point is an `error`
 * row and a fresh worker goes on.
 */
export async function runPoints(points: readonly PointInput[], jobs: number, onRow: (row: PointRow) => void): Promise<void> {
  if (points.length === 0) return;
  let next = 0;
  const n = Math.max(1, Math.min(jobs, points.length));
  const lane = () =>
    // eslint-disable-next-line no-restricted-syntax -- settled by worker threads' messages, outside any simulation
    new Promise<void>((resolve, reject) => {
      const start = () => {
        // found from the package root: the same file whether this code runs from src/ or from the dist/ bundle
        const w = new Worker(join(packageRoot(), 'bin', 'sweep-worker.mjs'));
        let current: PointInput | undefined;
        let finished = false;
        const feed = () => {
          current = points[next++];
          if (current) w.postMessage(current);
          else {
            finished = true;
            void w.terminate().then(() => resolve());
          }
        };
        w.on('message', (m: { row?: PointRow; error?: string }) => {
          const p = current!;
          // the caller that cannot take a row (its file cannot be written) stops the sweep with that error
          Promise.resolve()
            .then(() => onRow(m.row ?? errorRow(p, m.error ?? 'no row')))
            .then(feed, (e: unknown) => {
              finished = true;
              void w.terminate();
              reject(e instanceof Error ? e : new Error(String(e)));
            });
        });
        w.on('error', (e) => {
          if (current) onRow(errorRow(current, `the worker died: ${e.message}`));
          current = undefined;
        });
        w.on('exit', () => {
          if (finished) return;
          if (current) onRow(errorRow(current, 'the worker exited'));
          start();
        });
        feed();
      };
      start();
    });
  await Promise.all(Array.from({ length: n }, lane));
}

function errorRow(p: PointInput, reason: string): PointRow {
  return pointRow(p, 'error', reason);
}
