import { KernelBug, PAGE_SIZE } from '../lib/index.ts';
import type { Cpu } from '../hw/index.ts';
import { type Mm, type PageOwnerOps, putPage, registerPageOwner, setPageOwner } from '../mm/index.ts';
import type { VmArea } from '../fs/index.ts';

/**
 * The owner of every anonymous page of every process (the anon side of
 * rmap): zeroed, movable pages from the mm page allocator
 * (GFP_HIGHUSER_MOVABLE), allocated on first touch, so CMA can migrate them
 * while nobody pins them. It knows, for each frame, the AnonObject holding
 * it and the page's index there (page->mapping / page->index), so a
 * migration repoints the object and unmaps the old frame from every
 * mapping of it. One per kernel; it needs the booted mm.
 */
export class AnonMemory implements PageOwnerOps {
  readonly name = 'anon';
  readonly mm: Mm;
  /** The page-owner id anonymous pages carry. */
  readonly ownerId: number;
  /** Anonymous pages allocated now (AnonPages in /proc/meminfo). */
  nrPages = 0;
  /** Frame index -> id of the object holding the page, 0 for none. */
  private readonly rmap: Int32Array;
  private readonly objects = new Map<number, AnonObject>();
  private nextId = 1;
  private readonly scratch = new Uint8Array(PAGE_SIZE);

  constructor(mm: Mm) {
    this.mm = mm;
    this.ownerId = registerPageOwner(mm.pages, this);
    this.rmap = new Int32Array(mm.frames.count);
  }

  /** The CPU page copies go through. */
  get cpu(): Cpu {
    return this.mm.soc.cpu;
  }

  /** Live anonymous objects. */
  get objectCount(): number {
    return this.objects.size;
  }

  /** Creates an empty object of `pages` pages with one reference (anon_vma_prepare / shmem_zero_setup for shared ones). */
  create(pages: number): AnonObject {
    const o = new AnonObject(this, this.nextId++, pages);
    this.objects.set(o.id, o);
    return o;
  }

  /** Repoints a migrated page's slot and unmaps the old frame from the object's mappings (migrate_folio for anon). */
  migratePage(oldPfn: number, newPfn: number, index: number): void {
    const f = this.mm.frames;
    const oi = f.index(oldPfn);
    const o = this.objects.get(this.rmap[oi]!);
    if (!o) throw new KernelBug(`anon: migrated pfn ${oldPfn} belongs to no object`);
    this.rmap[oi] = 0;
    this.rmap[f.index(newPfn)] = o.id;
    o.pageMigrated(index, oldPfn, newPfn);
  }

  /** @internal Allocates a zeroed page for slot `index` of `o` (alloc_zeroed_user_highpage_movable). ENOMEM. */
  allocPage(o: AnonObject, index: number): number {
    const pfn = this.mm.pages.allocPages(0, { movable: true, highmem: true, zero: true, owner: this.ownerId, priv: index });
    this.rmap[this.mm.frames.index(pfn)] = o.id;
    this.nrPages++;
    return pfn;
  }

  /** @internal Records that `pfn` now sits in slot `index` of `o`. */
  adopt(o: AnonObject, pfn: number, index: number): void {
    this.rmap[this.mm.frames.index(pfn)] = o.id;
    setPageOwner(this.mm.pages, pfn, this.ownerId, index);
  }

  /**
   * @internal Drops the object's reference to a page: the page forgets its
   * object, so a pin holder keeps a page nobody migrates, freed on unpin.
   */
  releasePage(pfn: number): void {
    this.rmap[this.mm.frames.index(pfn)] = 0;
    setPageOwner(this.mm.pages, pfn, 0, 0);
    this.nrPages--;
    putPage(this.mm.pages, pfn);
  }

  /** @internal Copies one page's bytes through the CPU's cached view (copy_user_highpage). */
  copyPage(dstPfn: number, srcPfn: number): void {
    this.cpu.load(srcPfn * PAGE_SIZE, this.scratch, 0, PAGE_SIZE, 'wb');
    this.cpu.store(dstPfn * PAGE_SIZE, this.scratch, 0, PAGE_SIZE, 'wb');
  }

  /** @internal Forgets an object whose last reference went. */
  forget(o: AnonObject): void {
    this.objects.delete(o.id);
  }
}

/**
 * A run of anonymous pages (an anon_vma with its pages, or the shmem object
 * behind shared anonymous memory): a table of frames, -1 for pages never
 * touched (they read zero). Private memory has one object per mapping;
 * shared anonymous memory one object for every mapping of it, each at its
 * own page offset. The mappings that may map its frames are listed, so a
 * migration can unmap the old frame. Freed, every page released, with its
 * last reference.
 */
export class AnonObject {
  readonly owner: AnonMemory;
  readonly id: number;
  /** Frame of each slot, -1 for none. */
  pfns: Int32Array;
  /** Mappings whose page i shows slot i + anonOff. */
  readonly vmas = new Map<VmArea, number>();
  private refs = 1;

  constructor(owner: AnonMemory, id: number, pages: number) {
    this.owner = owner;
    this.id = id;
    this.pfns = new Int32Array(pages).fill(-1);
  }

  /** Number of slots. */
  get pages(): number {
    return this.pfns.length;
  }

  /** Takes a reference (a mapping sharing it: fork or split of shared memory). */
  get(): this {
    this.refs++;
    return this;
  }

  /** Drops a reference; the last one frees every page. */
  put(): void {
    if (--this.refs > 0) return;
    if (this.refs < 0) throw new KernelBug('anon object put too often');
    this.freeRange(0, this.pfns.length);
    this.owner.forget(this);
  }

  /** The frame of slot `i`, allocated zeroed on first touch (do_anonymous_page). ENOMEM. */
  getPage(i: number): number {
    if (i < 0 || i >= this.pfns.length) throw new KernelBug(`anon slot ${i} outside a ${this.pfns.length}-page object`);
    let pfn = this.pfns[i]!;
    if (pfn < 0) {
      pfn = this.owner.allocPage(this, i);
      this.pfns[i] = pfn;
    }
    return pfn;
  }

  /** Releases the pages of slots [first, first+n) (zap of private pages, munmap). */
  freeRange(first: number, n: number): void {
    const end = Math.min(first + n, this.pfns.length);
    for (let i = Math.max(0, first); i < end; i++) {
      const pfn = this.pfns[i]!;
      if (pfn < 0) continue;
      this.pfns[i] = -1;
      this.owner.releasePage(pfn);
    }
  }

  /** Changes the number of slots (mremap in place of private memory); slots cut off are released. */
  resize(pages: number): void {
    if (pages < this.pfns.length) this.freeRange(pages, this.pfns.length - pages);
    const p = new Int32Array(pages).fill(-1);
    p.set(this.pfns.subarray(0, Math.min(pages, this.pfns.length)));
    this.pfns = p;
  }

  /** Moves the pages of slots [first, first+n) to slots from `at` on of `to`, leaving holes here (the page move of a split or mremap). */
  moveTo(to: AnonObject, first: number, n: number, at: number): void {
    for (let k = 0; k < n; k++) {
      const pfn = this.pfns[first + k]!;
      if (pfn < 0) continue;
      if (to.pfns[at + k]! >= 0) throw new KernelBug(`anon slot ${at + k} already holds a page`);
      this.pfns[first + k] = -1;
      to.pfns[at + k] = pfn;
      this.owner.adopt(to, pfn, at + k);
    }
  }

  /** A new object with copies of this one's pages (the eager copy-on-write of fork). ENOMEM, with nothing left allocated. */
  duplicate(): AnonObject {
    const c = this.owner.create(this.pfns.length);
    try {
      for (let i = 0; i < this.pfns.length; i++) {
        const pfn = this.pfns[i]!;
        if (pfn >= 0) this.owner.copyPage(c.getPage(i), pfn);
      }
    } catch (e) {
      c.put();
      throw e;
    }
    return c;
  }

  /** Slot `index` moved from `oldPfn` to `newPfn`: repoint it and unmap the old frame wherever it is mapped. */
  pageMigrated(index: number, oldPfn: number, newPfn: number): void {
    if (this.pfns[index] !== oldPfn) throw new KernelBug(`anon: slot ${index} is not at pfn ${oldPfn}`);
    this.pfns[index] = newPfn;
    for (const [v, off] of this.vmas) {
      const i = index - off;
      if (i >= 0 && i < v.pages && v.pfns[i] === oldPfn) v.zapPages(i, 1);
    }
  }
}
