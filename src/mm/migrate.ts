import type { CostLedger, Tracer } from '../lib/index.ts';
import type { Clock, CpuCache, CpuCores, PhysicalMemory } from '../hw/index.ts';
import { hex, isKernelError, kerr } from '../lib/index.ts';
import { PG_CONTIG, PG_HEAD, PG_HIGHOK, PG_MOVABLE } from './frames.ts';
import type { PageAllocator } from './page-alloc.ts';
import { pageOwnerOps } from './page-owner.ts';

/** Simulated cost of moving pages. */
export interface MigrationCost {
  /** Fixed cost per page: unmap, TLB shootdown, remap, LRU bookkeeping (ns). */
  perPageNs: number;
  /** CPU copy bandwidth in bytes per ns; each migrated byte is read once and written once. */
  copyBytesPerNs: number;
}

export const DEFAULT_MIGRATION_COST: MigrationCost = { perPageNs: 1500, copyBytesPerNs: 2 };

/** What page migration needs: the allocator, the memory and cache the bytes live in, and the clock. */
export interface MigrationEnv {
  readonly pages: PageAllocator;
  readonly mem: PhysicalMemory;
  readonly cache: CpuCache | null;
  readonly clock: Clock;
  readonly cost: MigrationCost;
  /** The cores the migrating thread runs its copy work on; without them the work is slept. */
  readonly cores?: CpuCores;
  /** Where migration work is charged, with the cores. */
  readonly costs?: CostLedger;
  /** Where a trace is being recorded, if one is (read at each use: tracing can start after boot). */
  readonly tracer?: () => Tracer | null;
}

/** Work done by a run of migrations, accumulated by the caller. */
export interface MigrationTally {
  /** Simulated ns the work costs (not yet slept). */
  ns: number;
  /** Pages moved. */
  pages: number;
}

/**
 * Moves the allocated movable block headed by `pfn` to a newly allocated
 * block (migrate_pages for one folio): the bytes are copied, the owner's
 * reference is repointed through its `migratePage`, the frame metadata
 * moves with them, and the old block is freed. Returns the new pfn.
 * Throws KernelError EBUSY, with nothing changed, when the block cannot
 * move (unmovable, pinned, extra references, part of a CMA buffer, owner
 * cannot migrate) and ENOMEM when no target block is free. Does not sleep;
 * the caller sleeps `tally.ns` later.
 */
export function migrateBlock(env: MigrationEnv, pfn: number, tally: MigrationTally): number {
  const { pages, mem, cache, cost } = env;
  const f = pages.frames;
  const i = f.index(pfn);
  if (i < 0) throw kerr('EBUSY', `pfn ${hex(pfn)} is not RAM`);
  const fl = f.flags[i]!;
  if (!(fl & PG_HEAD) || !(fl & PG_MOVABLE) || fl & PG_CONTIG || f.refcount[i] !== 1) throw kerr('EBUSY', `pfn ${hex(pfn)} is not a movable block with one reference`);
  const order = f.order[i]!;
  const n = 1 << order;
  for (let k = i; k < i + n; k++) if (f.pinCount[k] !== 0) throw kerr('EBUSY', `pfn ${hex(pfn + k - i)} is pinned`);
  const owner = f.owner[i]!;
  const priv = f.priv[i]!;
  const ops = pageOwnerOps(pages, owner);
  if (!ops?.migratePage) throw kerr('EBUSY', `the owner of pfn ${hex(pfn)} cannot migrate it`);
  let np: number;
  try {
    np = pages.allocPages(order, { movable: true, highmem: (fl & PG_HIGHOK) !== 0, owner, priv });
  } catch (e) {
    if (!isKernelError(e, 'ENOMEM')) throw e;
    throw kerr('ENOMEM', `no free order-${order} block to migrate pfn ${hex(pfn)} to`);
  }
  const bytes = n * 4096;
  const src = pfn * 4096;
  const dst = np * 4096;
  copyPage(mem, cache, dst, src, bytes);
  ops.migratePage(pfn, np, priv);
  pages.freePages(pfn, order);
  tally.ns += cost.perPageNs * n + (2 * bytes) / cost.copyBytesPerNs;
  tally.pages += n;
  return np;
}

let scratch = new Uint8Array(4096);

/**
 * copy_highpage through the CPU's coherent view: the source as the CPU sees
 * it (memory overlaid by dirty lines) lands in the destination's memory and
 * in any line of it still cached from the page's previous life, so no stale
 * line can resurface. Cache statistics are not touched: this is a CPU copy,
 * not cache maintenance.
 */
function copyPage(mem: PhysicalMemory, cache: CpuCache | null, dst: number, src: number, bytes: number): void {
  if (!cache || cache.validLines === 0) {
    mem.copy(dst, src, bytes);
    return;
  }
  if (scratch.length < bytes) scratch = new Uint8Array(bytes);
  cache.snoopRead(src, scratch, 0, bytes);
  cache.snoopWrite(dst, scratch, 0, bytes);
}

/**
 * Spends `ns` of migration work on the migrating thread: charged as
 * cma-migrate and run on a core when the SoC has cores, else slept.
 */
export async function runMigrationWork(env: MigrationEnv, ns: number, bytes: number): Promise<void> {
  if (ns <= 0) return;
  if (env.cores && env.costs) {
    env.costs.charge('cma-migrate', ns, bytes);
    await env.cores.runDebt();
  } else await env.clock.sleep(ns);
}
