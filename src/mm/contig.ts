import { hex, isKernelError, kerr } from '../lib/index.ts';
import { PG_BUDDY } from './frames.ts';
import { migrateBlock, runMigrationWork, type MigrationEnv, type MigrationTally } from './migrate.ts';
import { startIsolatePageRange, testPagesIsolated, undoIsolatePageRange } from './page-isolation.ts';

/** Pages migrated between two sleeps (COMPACT_CLUSTER_MAX). */
export const MIGRATE_BATCH = 32;

/** Result details of allocContigRange beyond success or failure. */
export interface ContigTally extends MigrationTally {
  /** First pfn that could not be vacated, or -1. */
  failedPfn: number;
}

/**
 * Allocates the exact pfn range [startPfn, endPfn) (alloc_contig_range):
 * isolates the pageblocks around it so nothing new is allocated there,
 * migrates every allocated movable block out, sleeping in simulated time
 * for the work after each batch, then takes the free pages as order-0
 * pages of a contiguous allocation. Throws KernelError EBUSY (with
 * `tally.failedPfn`) when a page cannot move and ENOMEM when no migration
 * target is free; the isolation is undone either way. May sleep.
 */
export async function allocContigRange(env: MigrationEnv, startPfn: number, endPfn: number, tally: ContigTally): Promise<void> {
  const { pages } = env;
  const f = pages.frames;
  tally.failedPfn = -1;
  const saved = startIsolatePageRange(pages, startPfn, endPfn);
  try {
    let pending = 0;
    let pendingPages = 0;
    let batch = 0;
    let p = startPfn;
    while (p < endPfn) {
      const h = pages.blockHead(p);
      if (h < 0) {
        tally.failedPfn = p;
        throw kerr('EBUSY', `pfn ${hex(p)} is reserved`);
      }
      const hi = f.index(h);
      const n = 1 << f.order[hi]!;
      if (!(f.flags[hi]! & PG_BUDDY)) {
        const before = tally.ns;
        const pages0 = tally.pages;
        try {
          migrateBlock(env, h, tally);
        } catch (e) {
          if (!isKernelError(e, 'EBUSY', 'ENOMEM')) throw e;
          tally.failedPfn = h;
          await runMigrationWork(env, pending + (tally.ns - before), (pendingPages + tally.pages - pages0) * 4096);
          throw kerr(e.code, `pfn ${hex(h)} could not be migrated (${e.message})`);
        }
        pending += tally.ns - before;
        pendingPages += tally.pages - pages0;
        if (++batch === MIGRATE_BATCH) {
          await runMigrationWork(env, pending, pendingPages * 4096);
          pending = 0;
          pendingPages = 0;
          batch = 0;
        }
      }
      p = h + n;
    }
    await runMigrationWork(env, pending, pendingPages * 4096);
    // Other threads ran while we slept; nothing can have been allocated in the
    // isolated pageblocks, but verify as test_pages_isolated does.
    if (!testPagesIsolated(pages, startPfn, endPfn)) throw kerr('EBUSY', `range ${hex(startPfn)}-${hex(endPfn)} did not become free`);
    pages.takeFreeRange(startPfn, endPfn);
  } finally {
    undoIsolatePageRange(pages, startPfn, endPfn, saved);
  }
}
