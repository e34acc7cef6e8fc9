import { KernelBug, PAGE_SIZE, alignUp, kerr } from '../../../../lib/index.ts';
import { DMA_BIDIRECTIONAL, dmaMapSgtable, dmaUnmapSg, sgAllocTableFromPages, type SgTable } from '../../../../dma/index.ts';
import { DmaResv, dmaBufDetach, dmaBufPut, dmaBufTrackRef, dmaBufUnmapAttachment, dmaBufUntrackRef, type DmaBuf, type DmaBufAttachment } from '../../../../dmabuf/index.ts';
import { VM_DONTDUMP, VM_DONTEXPAND, VM_PFNMAP, isCowMapping, shmemAllocPage, type VmArea } from '../../../../fs/index.ts';
import { DrmVmaOffsetNode } from './drm-vma-manager.ts';
import type { DrmDevice, DrmFile } from './drm-device.ts';

/**
 * A GEM buffer object backed by shmem pages (struct drm_gem_shmem_object),
 * or one imported from another exporter's dma-buf (import_attach set, no
 * pages of its own, the buffer's reservation object; mapped for the
 * device, or only attached when the driver's import never maps, as a USB
 * display's); a driver's subclass may hold other memory (the DMA
 * helper's contiguous buffer), and says so in backing(). Reference counted: every handle, every user mapping,
 * the dma-buf it was exported as and kernel users hold one; the last put
 * frees the pages, the fake offset and, for an import, the attachment.
 * Handles are counted apart (handle_count): when the last handle goes, the
 * object lets go of its exported dma-buf, so the buffer lives on only
 * through its fds.
 */
export class GemObject {
  readonly dev: DrmDevice;
  /** Size in bytes, a multiple of the page size. */
  readonly size: number;
  /** A serial number, for messages and debug listings. */
  readonly id: number;
  /** The reservation object: the object's own, or the imported dma-buf's. */
  readonly resv: DmaResv;
  /** The fake mmap offset range and who may map it (vma_node). */
  readonly vmaNode: DrmVmaOffsetNode;
  /** CPU mappings are write-combined (map_wc), as vgem asks because it has no CPU-access ioctls. */
  readonly mapWc: boolean;
  /** Number of handles in all files (handle_count). */
  handleCount = 0;
  /** The global name GEM_FLINK gave it, 0 for none; dropped with the last handle (name). */
  name = 0;
  /** The dma-buf this object was exported as or imported from, while it has handles (obj->dma_buf). */
  dmaBuf: DmaBuf | null = null;
  /** The attachment to a foreign dma-buf this object was imported from (import_attach). */
  readonly importAttach: DmaBufAttachment | null;
  /** The foreign buffer's mapping for this device (shmem->sgt of an import); null for an import attached without a mapping. */
  readonly importSgt: SgTable | null;
  /** Page frames, allocated zeroed on first use and kept until free (shmem->pages). */
  pages: Uint32Array | null = null;
  /** The pages mapped for the device, made on first use and kept until free (shmem->sgt of an object of its own). */
  private pagesSgt: SgTable | null = null;
  /** Users of the kernel mapping (vmap_use_count). */
  vmapUseCount = 0;
  vaddr = 0;
  /** Whether a private (copy-on-write) user mapping is allowed: not for shmem pages, yes for the DMA helper's. */
  readonly cowMappable: boolean = false;
  private refs = 1;
  private readonly ownResv: boolean;

  /**
   * Creates an object of `size` bytes (drm_gem_object_init, or
   * drm_gem_shmem_prime_import_sg_table for an import, sgt null for
   * drm_gem_shmem_prime_import_no_map) with one reference for the caller;
   * an import takes the buffer's reservation object (obj->resv =
   * dma_buf->resv). Use DrmDevice.createObject or a PRIME import.
   */
  constructor(dev: DrmDevice, size: number, imported: { attach: DmaBufAttachment; sgt: SgTable | null } | null = null) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE) throw new KernelBug(`gem object of ${size} bytes`);
    this.dev = dev;
    this.size = size;
    this.id = ++dev.objectSerial;
    this.vmaNode = new DrmVmaOffsetNode(this);
    this.mapWc = dev.driver.mapWc === true;
    this.importAttach = imported?.attach ?? null;
    this.importSgt = imported?.sgt ?? null;
    this.ownResv = !imported;
    this.resv = imported ? imported.attach.dmabuf.resv : new DmaResv(dev.dbs.fctx, `${dev.driver.name} gem`);
    dev.stats.objects++;
    dev.stats.bytes += size;
    // the import's reference on the buffer (taken by the importer just before) lives as long as the object
    if (imported) dmaBufTrackRef(imported.attach.dmabuf, 'gem-import', this, gemObjectName, 'drm_gem_prime_import');
  }

  /** Number of references (kref). */
  get refcount(): number {
    return this.refs;
  }

  /** True once the last reference went. */
  get freed(): boolean {
    return this.refs === 0;
  }

  /** Number of pages. */
  get numPages(): number {
    return this.size / PAGE_SIZE;
  }

  /** Takes a reference (drm_gem_object_get). */
  get(): this {
    if (this.refs <= 0) throw new KernelBug(`drm_gem_object_get on freed object ${this.id}`);
    this.refs++;
    return this;
  }

  /**
   * Drops a reference (drm_gem_object_put); the last frees the object.
   * Freeing an import detaches from the foreign buffer, which may sleep:
   * the promise is returned, and the device keeps it too.
   */
  put(): Promise<void> | undefined {
    if (this.refs <= 0) throw new KernelBug(`drm_gem_object_put on freed object ${this.id} (refcount underflow)`);
    if (--this.refs > 0) return undefined;
    return this.free();
  }

  /**
   * Allocates the backing pages if the object has none (drm_gem_shmem_get_pages):
   * zeroed order-0 pages, highmem allowed, scattered as shmem gives them
   * (shmemAllocPage), so the object is not physically contiguous; for a
   * write-combined object on an IO-coherent (x86) machine, flushed from the
   * CPU cache as set_pages_array_wc does. ENOMEM leaves nothing allocated.
   */
  getPages(): Uint32Array {
    if (this.importAttach) throw new KernelBug(`gem object ${this.id} is imported and has no pages of its own`);
    if (this.pages) return this.pages;
    const n = this.numPages;
    const pages = new Uint32Array(n);
    const alloc = this.dev.mm.pages;
    let got = 0;
    try {
      for (; got < n; got++) pages[got] = shmemAllocPage(alloc, { highmem: true, zero: true }, got > 0 ? pages[got - 1]! : -1, -1);
    } catch (e) {
      for (let i = 0; i < got; i++) alloc.freePages(pages[i]!, 0);
      throw e;
    }
    const cpu = this.dev.mm.soc.cpu;
    if (this.mapWc && cpu.cfg.ioCoherent) {
      // On x86, the IO-coherent machine the platforms model, set_pages_array_wc flushes the pages out of the
      // cache before they are mapped write-combined, so the zeroing's dirty lines cannot shadow a WC access.
      // ARM has no such step, and there a cacheable alias of a WC page stays the hazard it is.
      for (const pfn of pages) cpu.cache.cleanInvalidateRange(pfn * PAGE_SIZE, PAGE_SIZE);
    }
    this.pages = pages;
    this.dev.stats.pagesAllocated += n;
    return pages;
  }

  /**
   * Says what holds the object's bytes, for the debug view (the helpers'
   * print_info, drm_gem_shmem_print_info): an import names the buffer it
   * came from, since its pages are the exporter's, not shmem's. Objects
   * of other helpers (the DMA helper's contiguous buffers) override it.
   */
  backing(): string {
    if (this.importAttach) {
      const d = this.importAttach.dmabuf;
      const mapped = this.importSgt ? `${this.importSgt.nents} segment(s)` : `attached, not mapped for ${this.dev.device.name}`;
      return `imported dma-buf (exp_name ${d.expName}, ino ${d.ino}, ${mapped})`;
    }
    return `shmem pages (${this.numPages})`;
  }

  /** Gives the object a fake mmap offset if it has none (drm_gem_create_mmap_offset). ENOSPC. */
  createMmapOffset(): void {
    this.dev.vmaManager.add(this.vmaNode, this.numPages);
  }

  /**
   * Sets up a user mapping of the object (drm_gem_mmap_obj + the shmem
   * helper's mmap): EINVAL when the mapping is larger than the object.
   * The mapping holds an object reference until it closes. Pages are
   * inserted on fault by their index in the mapping, not by vm_pgoff, which
   * still carries the fake offset: Linux 6.1's shmem helper does the same,
   * so a mapping at a non-zero offset of the dma-buf sees the object from
   * its first page on, as the reference kernel shows. A private mapping
   * of the object's own pages is EINVAL (the shmem helper refuses COW
   * mappings of its PFN-mapped pages); an import's is up to its exporter,
   * and a helper whose pages can be copied on write (the DMA helper's
   * remap) says so with cowMappable.
   */
  async mmap(vma: VmArea): Promise<void> {
    if (this.size < vma.length) throw kerr('EINVAL', `mapping of ${vma.length} bytes over a ${this.size}-byte object`);
    if (this.importAttach) {
      // an import is mapped through its exporter, at the start of the buffer
      const d = this.importAttach.dmabuf;
      if (!d.ops.mmap) throw kerr('EINVAL', `${d.expName} buffers cannot be mapped`);
      vma.pgoff = 0;
      await d.ops.mmap(d, vma);
      return;
    }
    if (!this.cowMappable && isCowMapping(vma.flags)) throw kerr('EINVAL', `private mapping of gem object ${this.id}`);
    const pages = this.getPages();
    this.get();
    vma.flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
    vma.memType = this.mapWc ? 'wc' : 'wb';
    vma.privateData = this;
    vma.vmOps = {
      open: () => void this.get(),
      close: () => {
        const p = this.put();
        if (p) this.dev.track(p);
      },
      fault: (_v, pageIndex) => {
        if (pageIndex >= pages.length) throw kerr('EFAULT', `page ${pageIndex} beyond gem object ${this.id}`);
        return pages[pageIndex]!;
      },
    };
  }

  /** Maps the pages into kernel space and returns the address (drm_gem_shmem_vmap). */
  vmap(): number {
    if (this.importAttach) throw new KernelBug(`gem object ${this.id} is imported: the CPU maps it with dma_buf_vmap`);
    if (this.vmapUseCount++ === 0) this.vaddr = this.dev.mm.kas.vmap(this.getPages(), this.mapWc ? 'wc' : 'wb');
    return this.vaddr;
  }

  /** Drops a kernel mapping (drm_gem_shmem_vunmap). */
  vunmap(): void {
    if (this.vmapUseCount <= 0) throw new KernelBug(`drm_gem_shmem_vunmap of object ${this.id} without vmap`);
    if (--this.vmapUseCount === 0) this.dev.mm.kas.vunmap(this.vaddr);
  }

  /**
   * The object's pages as a scatterlist mapped for its device, made on
   * the first call and kept until the object is freed
   * (drm_gem_shmem_get_pages_sgt: the pages, and dma_map_sgtable with
   * DMA_BIDIRECTIONAL): how a GPU driver puts an object of its own in the
   * GPU's address space once, for every job that uses it. Its CPU mappings
   * are write-combined, so no job needs the cache maintenance of a map.
   * KernelBug for an import (which has its mapping); the mapping's errors
   * (ENOMEM) leave nothing mapped.
   */
  getPagesSgt(): SgTable {
    if (this.importAttach) throw new KernelBug(`gem object ${this.id} is imported: its mapping is the import's`);
    if (this.pagesSgt) return this.pagesSgt;
    const sgt = sgAllocTableFromPages(this.getPages(), 0, this.size);
    dmaMapSgtable(this.dev.device, sgt, DMA_BIDIRECTIONAL);
    this.pagesSgt = sgt;
    return sgt;
  }

  /** Frees the object (drm_gem_shmem_free): its device mapping, fake offset, pages, reservation object or the import. */
  private free(): Promise<void> | undefined {
    if (this.handleCount > 0) throw new KernelBug(`gem object ${this.id} freed with ${this.handleCount} handle(s)`);
    if (this.vmapUseCount > 0) throw new KernelBug(`gem object ${this.id} freed while vmapped`);
    if (this.pagesSgt) {
      dmaUnmapSg(this.dev.device, this.pagesSgt, DMA_BIDIRECTIONAL);
      this.pagesSgt = null;
    }
    this.dev.vmaManager.remove(this.vmaNode);
    this.dev.stats.objects--;
    this.dev.stats.bytes -= this.size;
    if (this.pages) {
      const alloc = this.dev.mm.pages;
      for (let i = 0; i < this.pages.length; i++) alloc.freePages(this.pages[i]!, 0);
      this.dev.stats.pagesAllocated -= this.pages.length;
      this.pages = null;
    }
    if (this.ownResv) this.resv.fini();
    if (this.importAttach) {
      dmaBufUntrackRef(this.importAttach.dmabuf, 'gem-import', this);
      const p = primeGemDestroy(this.importAttach, this.importSgt);
      this.dev.track(p);
      return p;
    }
    return undefined;
  }
}

/** Names a GEM object for the reference views: `gem object 5 of display-kms`. */
export function gemObjectName(obj: GemObject): string {
  return `gem object ${obj.id} of ${obj.dev.driver.name}`;
}

/**
 * The dma-buf behind an object, if any: the foreign buffer an import came
 * from, else the buffer it was exported as while it has handles. Kernel
 * users of the object (a framebuffer, a flip, a job) keep that buffer in use.
 */
export function gemObjectDmaBuf(obj: GemObject): DmaBuf | null {
  return obj.importAttach?.dmabuf ?? obj.dmaBuf;
}

/** Undoes an import (drm_prime_gem_destroy): unmap if it was mapped, detach, and drop the import's buffer reference. */
async function primeGemDestroy(att: DmaBufAttachment, sgt: SgTable | null): Promise<void> {
  const d = att.dmabuf;
  if (sgt) await dmaBufUnmapAttachment(att, sgt, DMA_BIDIRECTIONAL);
  await dmaBufDetach(d, att);
  await dmaBufPut(d);
}

/** Page-aligns a requested object size (PAGE_ALIGN), EINVAL when nothing is left. */
export function gemObjectSize(size: number): number {
  const s = alignUp(size, PAGE_SIZE);
  if (!Number.isSafeInteger(s) || s <= 0) throw kerr('EINVAL', `gem object size ${size}`);
  return s;
}

/**
 * Creates a handle for `obj` in `file` (drm_gem_handle_create_tail): the
 * lowest free number from 1, as idr_alloc gives. The handle holds an object
 * reference and a handle count, and lets the file map the object.
 */
export function gemHandleCreate(file: DrmFile, obj: GemObject): number {
  if (obj.freed) throw new KernelBug(`handle for freed gem object ${obj.id}`);
  let h = 1;
  while (file.objects.has(h)) h++;
  obj.handleCount++;
  obj.get();
  file.objects.set(h, obj);
  obj.vmaNode.allow(file);
  return h;
}

/** Looks up `handle` and takes a reference the caller must put (drm_gem_object_lookup); null when absent. */
export function gemObjectLookup(file: DrmFile, handle: number): GemObject | null {
  const obj = file.objects.get(handle);
  return obj ? obj.get() : null;
}

/**
 * Drops a handle's hold on its object (drm_gem_object_release_handle):
 * its PRIME cache entry, the file's right to map, and the handle count;
 * the last handle releases the exported dma-buf.
 */
export function gemReleaseHandle(file: DrmFile, handle: number, obj: GemObject): Promise<void> | undefined {
  const d = file.primeByHandle.get(handle);
  let pending: Promise<void> | undefined;
  if (d) {
    file.primeByHandle.delete(handle);
    file.primeByBuf.delete(d);
    dmaBufUntrackRef(d, 'prime-handle', file);
    pending = dmaBufPut(d);
  }
  obj.vmaNode.revoke(file);
  if (obj.handleCount <= 0) throw new KernelBug(`gem object ${obj.id} handle count underflow`);
  if (obj.handleCount === 1 && obj.name) {
    // drm_gem_object_handle_free: the last handle takes the flink name with it
    obj.dev.objectNames.delete(obj.name);
    obj.name = 0;
  }
  if (--obj.handleCount === 0 && obj.dmaBuf) {
    const exported = obj.dmaBuf;
    obj.dmaBuf = null;
    dmaBufUntrackRef(exported, 'gem-object', obj);
    const p = dmaBufPut(exported);
    if (p) pending = pending ? pending.then(() => p) : p;
  }
  const p = obj.put();
  if (p) pending = pending ? pending.then(() => p) : p;
  return pending;
}

/** Deletes a handle (drm_gem_handle_delete). EINVAL when the file has no such handle. */
export async function gemHandleDelete(file: DrmFile, handle: number): Promise<void> {
  const obj = file.objects.get(handle);
  if (!obj) throw kerr('EINVAL', `no gem handle ${handle}`);
  file.objects.delete(handle);
  await gemReleaseHandle(file, handle, obj);
}
