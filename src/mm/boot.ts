import type { Soc } from '../hw/index.ts';
import { hex, kerr } from '../lib/index.ts';
import { BackgroundLoad, type BackgroundLoadOptions } from './background.ts';
import { CmaArea, placeCmaArea, type CmaAreaConfig } from './cma.ts';
import type { PageFrames } from './frames.ts';
import { KernelAddressSpace, kernelLayout } from './kas.ts';
import { DEFAULT_MIGRATION_COST, type MigrationCost, type MigrationEnv } from './migrate.ts';
import { PageAllocator } from './page-alloc.ts';

/** Name of the default (global) CMA area, as the kernel calls it. */
export const DEFAULT_CMA_NAME = 'reserved';

/** Memory-management configuration of a platform (the kernel command line and device tree). */
export interface MmConfig {
  /** Bytes of DRAM, from its lowest address, that the kernel maps linearly; the rest is highmem. */
  lowmem?: number;
  /** Size of the vmalloc area in bytes (vmalloc=). Default 240 MiB. */
  vmalloc?: number;
  /** PAGE_OFFSET; by default 0xC0000000 for DRAM below 4 GiB, 2^47 otherwise. */
  pageOffset?: number;
  /** Extra zone boundaries (physical addresses), e.g. 0x40000000 for a 1 GiB ZONE_DMA. */
  zoneLimits?: number[];
  /** Boot reservations (memblock_reserve); `nomap` ones also get no linear mapping. */
  reserved?: { name: string; base: number; size: number; nomap?: boolean }[];
  /** CMA areas: the global default (`cma=`) and per-device ones. */
  cma?: { default?: number | Omit<CmaAreaConfig, 'name'>; areas?: CmaAreaConfig[] };
  /** Background memory load started at boot. */
  background?: BackgroundLoadOptions | false;
  /** Simulated cost of page migration. */
  migration?: Partial<MigrationCost>;
}

/** The booted memory-management layer. */
export interface Mm {
  readonly soc: Soc;
  readonly frames: PageFrames;
  readonly pages: PageAllocator;
  /** Every CMA area by name, the default one included. */
  readonly cma: Map<string, CmaArea>;
  readonly defaultCma?: CmaArea;
  readonly kas: KernelAddressSpace;
  readonly migration: MigrationEnv;
  readonly background?: BackgroundLoad;
}

/**
 * Boots memory management on a SoC (setup_arch + mm_init): builds the page
 * frames of every DRAM bank, applies boot reservations, reserves and
 * activates the CMA areas (default first, fixed bases before placed ones),
 * maps lowmem linearly, and starts the background load if asked. Throws
 * KernelError EINVAL/EBUSY/ENOMEM on a configuration that cannot boot.
 */
export function bootMm(soc: Soc, cfg: MmConfig = {}): Mm {
  const dram = soc.mem.banks.filter((b) => b.kind === 'dram');
  if (dram.length === 0) throw kerr('EINVAL', 'no DRAM bank');
  const layout = kernelLayout(dram, cfg);
  const pages = new PageAllocator(dram, { lowmemEnd: layout.lowmemEnd, zoneLimits: cfg.zoneLimits, hw: { mem: soc.mem, cache: soc.cache } });

  const avoid: { startPfn: number; endPfn: number }[] = [];
  for (const r of cfg.reserved ?? []) {
    const a = Math.floor(r.base / 4096);
    const b = Math.ceil((r.base + r.size) / 4096);
    if (!pages.frames.validRange(a, b - a)) throw kerr('EINVAL', `reserved region ${r.name} (${hex(r.base)}+${hex(r.size)}) is not inside one DRAM bank`);
    pages.reserveRange(a, b - a);
    avoid.push({ startPfn: a, endPfn: b });
  }

  const migration: MigrationEnv = {
    pages,
    mem: soc.mem,
    cache: soc.cache,
    clock: soc.clock,
    cores: soc.cores,
    costs: soc.costs,
    cost: { ...DEFAULT_MIGRATION_COST, ...cfg.migration },
    tracer: () => soc.tracer,
  };

  const wanted: CmaAreaConfig[] = [];
  const d = cfg.cma?.default;
  if (d !== undefined) wanted.push(typeof d === 'number' ? { name: DEFAULT_CMA_NAME, size: d } : { name: DEFAULT_CMA_NAME, ...d });
  for (const a of cfg.cma?.areas ?? []) wanted.push(a);
  const names = new Set<string>();
  for (const w of wanted) {
    if (names.has(w.name)) throw kerr('EINVAL', `CMA area ${w.name} declared twice`);
    names.add(w.name);
  }
  const cma = new Map<string, CmaArea>();
  const order = [...wanted.filter((w) => w.base !== undefined), ...wanted.filter((w) => w.base === undefined)];
  const placed = new Map<string, { basePfn: number; count: number }>();
  for (const w of order) {
    const p = placeCmaArea(w, pages.zones, avoid, Math.floor(layout.lowmemEnd / 4096));
    avoid.push({ startPfn: p.basePfn, endPfn: p.basePfn + p.count });
    placed.set(w.name, p);
  }
  for (const w of wanted) {
    const p = placed.get(w.name)!;
    pages.initCmaPageblocks(p.basePfn, p.count);
    cma.set(w.name, new CmaArea(migration, w.name, p.basePfn, p.count));
  }

  const nomap = (cfg.reserved ?? []).filter((r) => r.nomap);
  const kas = new KernelAddressSpace(pages, soc.cpu, layout, nomap);

  let background: BackgroundLoad | undefined;
  if (cfg.background) {
    background = new BackgroundLoad(pages, soc.mem, soc.cache, soc.prng);
    if (cfg.background.unmovable) background.fragment(cfg.background.unmovable);
    background.fill(cfg.background.fill ?? 0.9, cfg.background.anonShare ?? 0.5);
  }

  // Fault points go live after boot's own allocations, which Linux does not fail either (they come before debugfs exists).
  pages.failPageAlloc = soc.faults.attr('fail_page_alloc');
  for (const area of cma.values()) area.failCmaAlloc = soc.faults.attr('fail_cma_alloc');

  return { soc, frames: pages.frames, pages, cma, defaultCma: cma.get(DEFAULT_CMA_NAME), kas, migration, background };
}
