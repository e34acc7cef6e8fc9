import type { Clock, CpuCache, PhysicalMemory, Prng } from '../hw/index.ts';
import { KernelBug, KernelError, hex } from '../lib/index.ts';
import type { PageAllocator } from './page-alloc.ts';
import { pageOwner, pagePrivate, registerPageOwner, setPageOwner } from './page-owner.ts';
import { pinCount, pinPages, unpinPages } from './page-ref.ts';

/** What the background load does at boot. */
export interface BackgroundLoadOptions {
  /** Fraction of the free pages to fill with movable pages (page cache and anonymous memory). Default 0.9. */
  fill?: number;
  /** Share of the movable pages that are anonymous memory; the rest is page cache. Default 0.5. */
  anonShare?: number;
  /** Unmovable pages left scattered over memory, fragmenting it. Default 0. */
  unmovable?: number;
}

const POOL_BYTES = 64 * 1024;
const PAGE = 4096;
const KIND_CACHE = 0;
const KIND_ANON = 1;

/**
 * The rest of the system's memory use, as a generator: movable pages (page
 * cache and anonymous memory) that fill free memory, CMA pageblocks
 * included, so CMA has something to migrate; and unmovable allocations that
 * fragment memory. Every movable page holds real bytes: a slice of a
 * PRNG-filled pool with the page's id and seed in its first 8 bytes, so
 * `verify()` proves that migration moved the data and the owner's
 * reference with it. Movable pages live in dense typed arrays (slot ->
 * pfn, id, seed), and each page's slot is its page->private.
 */
export class BackgroundLoad {
  /** Owner ids of the page cache and anonymous memory (movable, migratable). */
  readonly pageCacheOwner: number;
  readonly anonOwner: number;
  /** Owner id of the fragmenting unmovable allocations (no migratePage). */
  readonly unmovableOwner: number;
  readonly stats = { migrated: 0, allocated: 0, freed: 0, bytesWritten: 0 };
  private readonly pages: PageAllocator;
  private readonly mem: PhysicalMemory;
  private readonly cache: CpuCache | null;
  private readonly prng: Prng;
  private readonly pool = new Uint8Array(POOL_BYTES);
  private readonly scratch = new Uint8Array(PAGE);
  private readonly expect = new Uint8Array(PAGE);
  private readonly scratchBuf: Buffer;
  private readonly expectBuf: Buffer;
  /** Whether this load's pages are written as notes the memory turns into bytes on demand (setPageGenerator). */
  private readonly generated: boolean;
  private readonly headerBytes = new Uint8Array(8);
  private readonly headerView = new DataView(this.headerBytes.buffer);
  private slotPfn = new Int32Array(1024);
  private slotId = new Uint32Array(1024);
  private slotSeed = new Uint32Array(1024);
  private slotKind = new Uint8Array(1024);
  private live = 0;
  private nextId = 1;
  private unmov = new Int32Array(256);
  private nUnmov = 0;
  private readonly pinned: number[] = [];

  /** Creates the generator and registers its page owners with the allocator. */
  constructor(pages: PageAllocator, mem: PhysicalMemory, cache: CpuCache | null, prng: Prng) {
    this.pages = pages;
    this.mem = mem;
    this.cache = cache;
    this.prng = prng;
    const words = new Uint32Array(this.pool.buffer);
    for (let i = 0; i < words.length; i++) words[i] = prng.nextU32();
    this.scratchBuf = Buffer.from(this.scratch.buffer, 0, PAGE);
    this.expectBuf = Buffer.from(this.expect.buffer, 0, PAGE);
    const migratePage = (oldPfn: number, newPfn: number, slot: number): void => {
      if (slot >= this.live || this.slotPfn[slot] !== oldPfn) {
        throw new KernelBug(`background load: migration of pfn ${hex(oldPfn)} names slot ${slot}, which holds ${hex(this.slotPfn[slot] ?? -1)}`);
      }
      this.slotPfn[slot] = newPfn;
      this.stats.migrated++;
    };
    // a page's bytes are a function of its id and seed: memory nothing else touches need not hold them
    this.generated = mem.setPageGenerator((id, seed, dst, off) => this.page(id, seed, dst, off));
    this.pageCacheOwner = registerPageOwner(pages, { name: 'page-cache', migratePage });
    this.anonOwner = registerPageOwner(pages, { name: 'anon', migratePage });
    this.unmovableOwner = registerPageOwner(pages, { name: 'kernel-unmovable' });
  }

  /** Movable pages currently held. */
  get movablePages(): number {
    return this.live;
  }

  /** Unmovable pages currently held. */
  get unmovablePages(): number {
    return this.nUnmov;
  }

  /**
   * Allocates up to `n` movable pages (GFP_HIGHUSER_MOVABLE) and writes
   * their contents; stops early when memory runs out. Returns how many.
   */
  fillMovable(n: number, anonShare = 0.5): number {
    let got = 0;
    for (; got < n; got++) {
      const kind = this.prng.chance(anonShare) ? KIND_ANON : KIND_CACHE;
      const slot = this.live;
      let pfn: number;
      try {
        pfn = this.pages.allocPages(0, {
          movable: true,
          highmem: true,
          owner: kind === KIND_ANON ? this.anonOwner : this.pageCacheOwner,
          priv: slot,
        });
      } catch (e) {
        if (e instanceof KernelError && e.code === 'ENOMEM') break;
        throw e;
      }
      this.grow(slot + 1);
      this.slotPfn[slot] = pfn;
      this.slotId[slot] = this.nextId++ >>> 0;
      this.slotSeed[slot] = this.prng.nextU32();
      this.slotKind[slot] = kind;
      this.live++;
      this.write(slot);
      this.stats.allocated++;
    }
    return got;
  }

  /** Fills `fraction` of the currently free pages with movable pages; returns how many were allocated. */
  fill(fraction: number, anonShare = 0.5): number {
    return this.fillMovable(Math.floor(this.pages.freeCount() * fraction), anonShare);
  }

  /**
   * Fragments memory with unmovable kernel allocations: allocates 4n
   * order-0 unmovable pages and frees a random three quarters of them,
   * keeping n scattered over the pageblocks they stole. Returns how many
   * are kept.
   */
  fragment(n: number): number {
    const tmp = new Int32Array(4 * n);
    let got = 0;
    for (; got < tmp.length; got++) {
      try {
        tmp[got] = this.pages.allocPages(0, { owner: this.unmovableOwner });
      } catch (e) {
        if (e instanceof KernelError && e.code === 'ENOMEM') break;
        throw e;
      }
    }
    let kept = 0;
    for (let i = 0; i < got; i++) {
      if (kept < n && this.prng.int(got - i) < n - kept) {
        if (this.nUnmov === this.unmov.length) this.unmov = grown(this.unmov, this.nUnmov * 2);
        this.unmov[this.nUnmov++] = tmp[i]!;
        kept++;
      } else this.pages.freePages(tmp[i]!, 0);
    }
    return kept;
  }

  /** Frees up to `n` random movable pages (reclaim, munmap); pinned ones stay. Returns how many were freed. */
  freeMovable(n: number): number {
    let k = 0;
    for (let tries = 0; tries < n && this.live > 0; tries++) if (this.freeSlot(this.prng.int(this.live))) k++;
    return k;
  }

  /**
   * Frees up to `n` movable pages that lie outside [startPfn, endPfn)
   * (reclaim that happens to hit other memory), oldest slots first;
   * returns how many.
   */
  freeMovableOutside(n: number, startPfn: number, endPfn: number): number {
    let k = 0;
    let s = 0;
    while (k < n && s < this.live) {
      const pfn = this.slotPfn[s]!;
      if ((pfn < startPfn || pfn >= endPfn) && pinCount(this.pages, pfn) === 0) {
        this.freeSlot(s);
        k++;
      } else s++;
    }
    return k;
  }

  /**
   * Pins `n` random movable pages as pin_user_pages would for DMA into
   * user memory; such pages cannot be migrated until `unpinAll`. Returns
   * the pinned pfns.
   */
  pinRandom(n: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < n && this.live > 0; k++) {
      const pfn = this.slotPfn[this.prng.int(this.live)]!;
      pinPages(this.pages, pfn, 1);
      this.pinned.push(pfn);
      out.push(pfn);
    }
    return out;
  }

  /** Pins one specific movable page held by the load (for tests of unmovable pages). */
  pinPfn(pfn: number): void {
    pinPages(this.pages, pfn, 1);
    this.pinned.push(pfn);
  }

  /** Drops every pin taken by `pinRandom` / `pinPfn`. */
  unpinAll(): void {
    for (const p of this.pinned) unpinPages(this.pages, p, 1);
    this.pinned.length = 0;
  }

  /** The pfns of the movable pages held now (a copy). */
  movablePfns(): Int32Array {
    return this.slotPfn.slice(0, this.live);
  }

  /**
   * A simulated thread that keeps memory busy: every `periodNs` it frees
   * `pages` random movable pages and allocates as many new ones, until
   * `durationNs` has passed. Start it with `clock.spawn`.
   */
  async churn(clock: Clock, opts: { durationNs: number; periodNs: number; pages: number }): Promise<void> {
    const end = clock.now + opts.durationNs;
    while (clock.now + opts.periodNs <= end) {
      await clock.sleep(opts.periodNs);
      this.freeMovable(opts.pages);
      this.fillMovable(opts.pages);
    }
  }

  /**
   * Reads back every movable page and compares it with what was written
   * there; a migration that lost data or a stale owner reference shows up
   * as a mismatch.
   */
  verify(): { checked: number; mismatches: number; firstBadPfn: number } {
    let mismatches = 0;
    let firstBadPfn = -1;
    for (let s = 0; s < this.live; s++) {
      const pfn = this.slotPfn[s]!;
      this.expected(s);
      this.mem.read(pfn * PAGE, this.scratch, 0, PAGE);
      if (this.scratchBuf.compare(this.expectBuf) !== 0 || pageOwner(this.pages, pfn) === 0 || pagePrivate(this.pages, pfn) !== s) {
        mismatches++;
        if (firstBadPfn < 0) firstBadPfn = pfn;
      }
    }
    return { checked: this.live, mismatches, firstBadPfn };
  }

  /** Frees everything the load holds (after dropping its pins). */
  releaseAll(): void {
    this.unpinAll();
    // Downwards, so a slot refilled by the swap-remove always holds an already visited (pinned) page.
    for (let s = this.live - 1; s >= 0; s--) this.freeSlot(s);
    for (let i = 0; i < this.nUnmov; i++) this.pages.freePages(this.unmov[i]!, 0);
    this.nUnmov = 0;
  }

  private freeSlot(s: number): boolean {
    const pfn = this.slotPfn[s]!;
    if (pinCount(this.pages, pfn) > 0) return false;
    this.pages.freePages(pfn, 0);
    this.stats.freed++;
    const last = --this.live;
    if (s !== last) {
      this.slotPfn[s] = this.slotPfn[last]!;
      this.slotId[s] = this.slotId[last]!;
      this.slotSeed[s] = this.slotSeed[last]!;
      this.slotKind[s] = this.slotKind[last]!;
      const p = this.slotPfn[s]!;
      setPageOwner(this.pages, p, pageOwner(this.pages, p), s);
    }
    return true;
  }

  /** The bytes of the page of `id` and `seed`, into `dst` at `off`: its pool slice, then its id and seed over the first 8 bytes. */
  private page(id: number, seed: number, dst: Uint8Array, off: number): void {
    const from = poolOffset(seed);
    dst.set(this.pool.subarray(from, from + PAGE), off);
    this.headerView.setUint32(0, id, true);
    this.headerView.setUint32(4, seed, true);
    dst.set(this.headerBytes, off);
  }

  /** Builds slot `s`'s contents in `expect`. */
  private expected(s: number): void {
    this.page(this.slotId[s]!, this.slotSeed[s]!, this.expect, 0);
  }

  private write(s: number): void {
    const pa = this.slotPfn[s]! * PAGE;
    // Written as the CPU would leave it once written back: lines left in the cache
    // from the page's previous life take the new data too, so none can land on top of it later.
    if (this.generated && !(this.cache && this.cache.validLines > 0)) {
      // noted, not copied: the bytes are made if anything reads or writes near the page
      this.mem.writeGeneratedPage(pa, this.slotId[s]!, this.slotSeed[s]!);
    } else {
      this.expected(s);
      if (this.cache && this.cache.validLines > 0) this.cache.snoopWrite(pa, this.expect, 0, PAGE);
      else this.mem.write(pa, this.expect, 0, PAGE);
    }
    this.stats.bytesWritten += PAGE;
  }

  private grow(n: number): void {
    if (n <= this.slotPfn.length) return;
    const m = Math.max(n, this.slotPfn.length * 2);
    this.slotPfn = grown(this.slotPfn, m);
    this.slotId = grown(this.slotId, m);
    this.slotSeed = grown(this.slotSeed, m);
    this.slotKind = grown(this.slotKind, m);
  }
}

/** Where in the pool a page of seed `seed` takes its bytes from (16-byte aligned). */
function poolOffset(seed: number): number {
  return (seed % ((POOL_BYTES - PAGE) / 16)) * 16;
}

function grown<T extends Int32Array | Uint32Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}
