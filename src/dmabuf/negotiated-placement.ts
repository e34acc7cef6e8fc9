import type { MemType } from '../hw/index.ts';
import { PAGE_SIZE, formatBytes, hex, isKernelError, kerr } from '../lib/index.ts';
import type { Device } from '../dma/index.ts';
import type { CmaArea, GenPool, Mm } from '../mm/index.ts';
import { needsContiguous, unmetNeed, type CollatedNeeds } from './backing-constraints.ts';

/*
 * Where a negotiated buffer's bytes go (the placement half of the 2011
 * RFC's late allocation): given the collated needs of every attached
 * device, choose a device-local pool, a CMA area or scattered system
 * pages, and allocate there. Nothing here knows about mappings or moves.
 */

/**
 * Memory next to some devices (an on-chip SRAM, a carve-out), managed by a
 * GenPool of physical addresses. Only the listed devices can DMA to it.
 */
export interface DevicePool {
  readonly name: string;
  readonly pool: GenPool;
  /** The devices that reach the pool. */
  readonly devices: readonly Device[];
  /** Whether the CPU may map it cacheable; a buffer only uses pools that match its own CPU memory type. */
  readonly cacheable: boolean;
}

/** What a placement is chosen for: the buffer's size, CPU memory type and the memory it may use. */
export interface PlacementTarget {
  readonly mm: Mm;
  /** Size in pages. */
  readonly pages: number;
  readonly memType: MemType;
  readonly pools: readonly DevicePool[];
  /** CMA areas to consider besides the attached devices' own and the default one. */
  readonly extraCma: readonly CmaArea[];
}

/** One placement of the bytes. Several may live at once while old mappings drain after a move. */
export class Storage {
  readonly pfns: Uint32Array;
  readonly runs: number;
  readonly source: string;
  readonly pool: DevicePool | null;
  readonly contiguous: boolean;
  /** Mappings handed out on this storage and not yet returned. */
  maps = 0;
  /** Replaced by a newer storage; freed once `maps` drops to 0. */
  retired = false;
  freed = false;
  readonly free: () => void;

  constructor(pfns: Uint32Array, source: string, pool: DevicePool | null, free: () => void) {
    this.pfns = pfns;
    let runs = 0;
    for (let i = 0; i < pfns.length; i++) if (i === 0 || pfns[i] !== pfns[i - 1]! + 1) runs++;
    this.runs = runs;
    this.contiguous = runs === 1;
    this.source = source;
    this.pool = pool;
    this.free = free;
  }
}

/** The plan for a new placement, before anything is allocated. */
export type Plan =
  | { kind: 'pool'; pool: DevicePool; why: string }
  | { kind: 'cma'; area: CmaArea; alignOrder: number; why: string }
  | { kind: 'pages'; maxPa: number; softMaxPa: number; why: string };

/** Orders tried for scattered pages: 1 MiB, 64 KiB and 4 KiB blocks, largest first. */
const PAGE_ORDERS = [8, 4, 0] as const;

const ZERO = new Uint8Array(64 * 1024);

/**
 * Chooses where storage for `c` would go, or says why nothing can serve it
 * (the RFC's placement; Linux leaves it to each exporter): a pool every
 * device reaches, else a CMA area when contiguity is needed, else pages.
 */
export function planPlacement(t: PlacementTarget, c: CollatedNeeds): Plan | { kind: 'none'; why: string } {
  const cacheable = t.memType === 'wb';
  const names = c.devices.map((n) => n.dev.name);
  if (c.devices.length > 0) {
    for (const p of t.pools) {
      if (p.cacheable !== cacheable || p.pool.size() < t.pages * PAGE_SIZE) continue;
      if (c.devices.every((n) => p.devices.includes(n.dev))) {
        return { kind: 'pool', pool: p, why: `every attached device (${names.join(', ')}) reaches device-local pool ${p.name}: no DRAM traffic, contiguous by construction` };
      }
    }
  }
  if (needsContiguous(c)) {
    const by = c.contiguousBy.map((n) => `${n.dev.name}: ${n.contiguousWhy}`).join('; ');
    const areas: CmaArea[] = [];
    for (const n of c.devices) if (n.dev.cma && !areas.includes(n.dev.cma)) areas.push(n.dev.cma);
    for (const a of t.extraCma) if (!areas.includes(a)) areas.push(a);
    if (t.mm.defaultCma && !areas.includes(t.mm.defaultCma)) areas.push(t.mm.defaultCma);
    const alignOrder = Math.min(Math.ceil(Math.log2(c.alignment.value / PAGE_SIZE)), 10);
    for (const a of areas) {
      if (a.count < t.pages) continue;
      if (a.base + a.size > c.maxPa.value) continue;
      const limit = c.maxPa.by ? `, and lies below ${hex(c.maxPa.value)} as ${c.maxPa.by} needs` : '';
      return { kind: 'cma', area: a, alignOrder, why: `contiguity required (${by}); CMA area ${a.name} [${hex(a.base)}-${hex(a.base + a.size)}) holds ${t.pages} pages${limit}` };
    }
    const lim = c.maxPa.by ? ` below ${hex(c.maxPa.value)} (${c.maxPa.by})` : '';
    return { kind: 'none', why: `contiguity required (${by}) but no CMA area${lim} holds ${t.pages} pages` };
  }
  const soft = Math.min(c.maxPa.value, c.maxPaSoft.value);
  const limit = c.maxPa.by ? ` below ${hex(c.maxPa.value)} (${c.maxPa.by})` : '';
  const why =
    c.devices.length === 0
      ? 'no device attached yet (first use by the CPU): scattered pages, largest blocks first (1 MiB, 64 KiB, 4 KiB)'
      : `no device needs contiguity (${names.join(', ')} scatter-gather or sit behind an IOMMU): scattered pages${limit}, largest blocks first (1 MiB, 64 KiB, 4 KiB) so IOMMUs map them with large pages`;
  return { kind: 'pages', maxPa: c.maxPa.value, softMaxPa: soft, why };
}

/**
 * Allocates the storage a plan chose (gen_pool_alloc, cma_alloc or
 * alloc_pages), zeroed, and without a cacheable alias when the buffer is
 * uncached. ENOMEM when the memory is not there.
 */
export async function allocateStorage(t: PlacementTarget, c: CollatedNeeds, plan: Plan): Promise<Storage> {
  const n = t.pages;
  let st: Storage;
  if (plan.kind === 'pool') {
    const addr = plan.pool.pool.alloc(n * PAGE_SIZE);
    const pa = plan.pool.pool.virtToPhys(addr);
    const pfns = seq(pa / PAGE_SIZE, n);
    st = new Storage(pfns, `pool:${plan.pool.name} ${hex(pa)}+${formatBytes(n * PAGE_SIZE)}`, plan.pool, () => plan.pool.pool.free(addr, n * PAGE_SIZE));
    zeroStorage(t.mm, pfns);
  } else if (plan.kind === 'cma') {
    const pfn = await plan.area.alloc(n, plan.alignOrder);
    const pfns = seq(pfn, n);
    st = new Storage(pfns, `cma:${plan.area.name} pfn ${hex(pfn)}+${n}`, null, () => void plan.area.release(pfn, n));
    zeroStorage(t.mm, pfns);
  } else {
    st = allocScatteredPages(t, plan, c);
  }
  if (t.memType !== 'wb') makeUncached(t.mm, st);
  return st;
}

/** Scattered pages, largest orders first, below the address limits; ENOMEM when they make too many segments. */
function allocScatteredPages(t: PlacementTarget, plan: Extract<Plan, { kind: 'pages' }>, c: CollatedNeeds): Storage {
  const mm = t.mm;
  const n = t.pages;
  const tryLimit = (maxPa: number): [number, number][] | null => {
    const blocks: [number, number][] = [];
    let got = 0;
    let maxOrder: number = PAGE_ORDERS[0];
    while (got < n) {
      let placed = false;
      for (const order of PAGE_ORDERS) {
        if (n - got < 1 << order || order > maxOrder) continue;
        let pfn: number;
        try {
          pfn = mm.pages.allocPages(order, { highmem: true, zero: true, maxPa: maxPa === Infinity ? undefined : maxPa });
        } catch (e) {
          if (!isKernelError(e, 'ENOMEM')) throw e;
          continue;
        }
        blocks.push([pfn, order]);
        got += 1 << order;
        maxOrder = order;
        placed = true;
        break;
      }
      if (!placed) {
        for (const [pfn, order] of blocks) mm.pages.freePages(pfn, order);
        return null;
      }
    }
    return blocks;
  };
  let blocks = plan.softMaxPa < plan.maxPa ? tryLimit(plan.softMaxPa) : null;
  if (!blocks) blocks = tryLimit(plan.maxPa);
  if (!blocks) throw kerr('ENOMEM', `no ${n} pages${plan.maxPa !== Infinity ? ` below ${hex(plan.maxPa)}` : ''}`);
  const pfns = new Uint32Array(n);
  let k = 0;
  for (const [pfn, order] of blocks) for (let i = 0; i < 1 << order; i++) pfns[k++] = pfn + i;
  const mix = new Map<number, number>();
  for (const [, o] of blocks) mix.set(o, (mix.get(o) ?? 0) + 1);
  const st = new Storage(pfns, `system pages (${[...mix].map(([o, m]) => `${m} x order ${o}`).join(', ')})`, null, () => {
    for (const [pfn, order] of blocks!) mm.pages.freePages(pfn, order);
  });
  const unmet = unmetNeed(pfns, st.runs, c, null);
  if (unmet) {
    st.free();
    throw kerr('ENOMEM', `scattered pages cannot serve the devices: ${unmet}`);
  }
  return st;
}

/** Zeroes new storage through every view (clear_page through the linear map). */
function zeroStorage(mm: Mm, pfns: Uint32Array): void {
  const { mem, cache } = mm.soc;
  forEachRun(pfns, (pa, len) => {
    if (cache.validLines === 0) mem.fill(pa, len, 0);
    else for (let off = 0; off < len; off += ZERO.length) cache.snoopWrite(pa + off, ZERO, 0, Math.min(ZERO.length, len - off));
  });
}

/**
 * Prepares pages for non-cacheable use: stale lines are flushed and the
 * cacheable linear-map alias of lowmem pages removed, because the core
 * could prefetch through it (the aliasing rule). Restored at free.
 */
function makeUncached(mm: Mm, st: Storage): void {
  const removed: [number, number][] = [];
  forEachRun(st.pfns, (pa, len) => {
    mm.soc.cache.cleanInvalidateRange(pa, len);
    const first = pa / PAGE_SIZE;
    for (let p = first; p < first + len / PAGE_SIZE; p++) {
      if (!mm.kas.isLowmem(p) || !mm.kas.hasLinearAlias(p)) continue;
      const last = removed[removed.length - 1];
      if (last && last[0] + last[1] === p) last[1]++;
      else removed.push([p, 1]);
    }
  });
  for (const [p, k] of removed) mm.kas.removeLinearAlias(p, k);
  const free = st.free;
  (st as { free: () => void }).free = () => {
    for (const [p, k] of removed) mm.kas.restoreLinearAlias(p, k);
    free();
  };
}

function seq(pfn: number, n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = pfn + i;
  return a;
}

function forEachRun(pfns: Uint32Array, fn: (pa: number, len: number) => void): void {
  let s = 0;
  for (let k = 1; k <= pfns.length; k++) {
    if (k === pfns.length || pfns[k] !== pfns[k - 1]! + 1) {
      fn(pfns[s]! * PAGE_SIZE, (k - s) * PAGE_SIZE);
      s = k;
    }
  }
}
