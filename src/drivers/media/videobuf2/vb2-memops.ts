import type { Device, DmaDirection, SgTable } from '../../../dma/index.ts';
import {
  dmaBufAttach,
  dmaBufDetach,
  dmaBufMapAttachment,
  dmaBufUnmapAttachment,
  type DmaBuf,
  type DmaBufAttachment,
} from '../../../dmabuf/index.ts';
import type { VmArea } from '../../../fs/index.ts';
import { KernelBug, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';

/**
 * One plane's memory that the queue allocated for V4L2_MEMORY_MMAP (the
 * mem_priv of vb2_vmalloc_buf / vb2_dc_buf). Reference counted: the queue
 * holds one, every user mapping and every exported dma-buf another, so
 * REQBUFS(0) only orphans memory that is still mapped or exported and the
 * last user frees it.
 */
export interface Vb2Mem {
  /** Bytes the plane holds (the plane length, not page aligned). */
  readonly size: number;
  /** Users of the memory, the queue included (vb2 num_users). */
  readonly numUsers: number;
  /** Drops a reference; the last frees the memory (vb2 put). */
  put(): void;
  /**
   * Maps the whole buffer into a process from its first page (vb2 mmap);
   * the caller has checked the length.
   */
  mmap(vma: VmArea): void;
  /** Exports the memory as a new dma-buf with access mode `accMode` (vb2 get_dmabuf). */
  getDmabuf(accMode: number): DmaBuf;
  /** The kernel's CPU address of the memory, or null without one (vb2 vaddr). */
  vaddr(): number | null;
  /** The device address of a contiguous buffer, or null for CPU-only memory (vb2 cookie). */
  dmaAddr(): number | null;
  /**
   * Copies `dst.length` bytes from offset `off` through the kernel mapping
   * (the memcpy of vb2's read() emulator); EINVAL without a kernel mapping.
   */
  copyOut(off: number, dst: Uint8Array): void;
  /** Readies the memory for the device before the driver gets the buffer (vb2 prepare, at QBUF). May sleep. */
  prepare?(): Promise<void>;
  /** The driver finished with the buffer (vb2_buffer_done): the device no longer touches the memory. Never sleeps. */
  done?(): void;
  /** Takes the memory back from the device when the buffer returns to userspace (vb2 finish, at DQBUF or cancel). May sleep. */
  finish?(): Promise<void>;
  /** The queue lets the memory go (before its put at REQBUFS(0) or close): the device's hold on it ends. May sleep. */
  release?(): Promise<void>;
}

/**
 * The reference count every allocator's plane memory keeps (the refcount
 * of vb2_vmalloc_buf / vb2_dc_buf / vb2_dma_sg_buf): the queue holds the
 * first reference, each user mapping and exported dma-buf one more, and
 * the last put frees the memory through `free`.
 */
export abstract class Vb2RefcountedMem {
  /** Allocator name for messages ('vb2-dc', ...). */
  protected readonly who: string;
  private refs = 1;

  constructor(who: string) {
    this.who = who;
  }

  /** Users of the memory, the queue included (vb2 num_users). */
  get numUsers(): number {
    return this.refs;
  }

  /** Takes a reference (refcount_inc of the buffer). */
  get(): void {
    if (this.refs <= 0) throw new KernelBug(`${this.who}: reference to a freed buffer`);
    this.refs++;
  }

  /** Drops a reference; the last frees the memory (vb2 put). */
  put(): void {
    if (this.refs <= 0) throw new KernelBug(`${this.who}: put of a freed buffer`);
    if (--this.refs > 0) return;
    this.free();
  }

  /**
   * Makes a just-populated user mapping hold a reference for as long as it
   * or any copy of it exists (vb2_common_vm_ops open/close).
   */
  protected holdForVma(vma: VmArea): void {
    vma.vmOps = { open: () => this.get(), close: () => this.put() };
    this.get();
  }

  /** Frees the memory once the last reference is gone. */
  protected abstract free(): void;
}

/**
 * Allocates `n` zeroed order-0 pages anywhere, highmem first (the page loop
 * of vmalloc_user and vb2_dma_sg_alloc_compacted). On failure frees what
 * it got and rethrows.
 */
export function allocPlanePages(mm: Mm, n: number): Uint32Array {
  const pages = new Uint32Array(n);
  let got = 0;
  try {
    for (; got < n; got++) pages[got] = mm.pages.allocPages(0, { highmem: true, zero: true });
  } catch (e) {
    freePlanePages(mm, pages.subarray(0, got));
    throw e;
  }
  return pages;
}

/** Frees pages from allocPlanePages (the __free_page loop of the allocators' put). */
export function freePlanePages(mm: Mm, pages: Uint32Array): void {
  for (let i = 0; i < pages.length; i++) mm.pages.freePages(pages[i]!, 0);
}

/**
 * A dma-buf a plane imported for V4L2_MEMORY_DMABUF (the mem_priv that
 * attach_dmabuf returns): map before the device or CPU fills it, unmap and
 * detach when the queue lets it go.
 */
export interface Vb2DmabufMem {
  readonly dbuf: DmaBuf;
  /** True between map and unmap. */
  readonly mapped: boolean;
  /** Makes the buffer reachable by the writer (vb2 map_dmabuf). May sleep. */
  map(): Promise<void>;
  /** Undoes map (vb2 unmap_dmabuf). May sleep. */
  unmap(): Promise<void>;
  /** Ends the import (vb2 detach_dmabuf); the queue puts the dma-buf itself. May sleep. */
  detach(): Promise<void>;
  /** The kernel's CPU address while mapped, or null (vb2 vaddr). */
  vaddr(): number | null;
  /** The device address while mapped, or null (vb2 cookie). */
  dmaAddr(): number | null;
}

/**
 * An allocator's operations (struct vb2_mem_ops): how a queue gets plane
 * memory and imports dma-bufs. alloc and attachDmabuf may sleep.
 */
export interface Vb2MemOps {
  /** Allocator name, for messages and the exported buffers' exp_name. */
  readonly name: string;
  /** Allocates `size` bytes of plane memory for `dev`, written by the device in direction `dir` (vb2 alloc). */
  alloc(dev: Device | null, size: number, dir: DmaDirection): Promise<Vb2Mem>;
  /**
   * Imports `dbuf` for a plane of `size` bytes (vb2 attach_dmabuf). EFAULT
   * when the buffer is smaller than the plane. Takes no reference to
   * `dbuf`: the queue holds the one it got from dma_buf_get.
   */
  attachDmabuf(dev: Device | null, dbuf: DmaBuf, size: number, dir: DmaDirection): Promise<Vb2DmabufMem>;
}

/** Refuses a dma-buf smaller than the plane with EFAULT (the size check of every vb2 attach_dmabuf). */
export function checkDmabufSize(who: string, dbuf: DmaBuf, size: number): void {
  if (dbuf.size < size) throw kerr('EFAULT', `${who}: dmabuf of ${dbuf.size} bytes for a ${size}-byte plane`);
}

/**
 * The map/unmap/detach bookkeeping every vb2 importer shares (dbuf_mapped):
 * at most one mapping `M` at a time, a second map or an unmap without one
 * is a bug, and detach unmaps first. Each allocator says how it maps
 * (mapNow), unmaps (unmapNow) and ends the import (release).
 */
export abstract class Vb2ImportedDmabuf<M> implements Vb2DmabufMem {
  readonly dbuf: DmaBuf;
  /** Allocator name for messages ('vb2-dc', ...). */
  protected readonly who: string;
  /** The current mapping, or null when unmapped. */
  protected mapping: M | null = null;

  constructor(who: string, dbuf: DmaBuf) {
    this.who = who;
    this.dbuf = dbuf;
  }

  /** True between map and unmap (dbuf_mapped). */
  get mapped(): boolean {
    return this.mapping !== null;
  }

  /** Makes the buffer reachable by the writer (vb2 map_dmabuf). May sleep. */
  async map(): Promise<void> {
    if (this.mapping !== null) throw new KernelBug(`${this.who}: dmabuf already mapped`);
    this.mapping = await this.mapNow();
  }

  /** Undoes map (vb2 unmap_dmabuf). May sleep. */
  async unmap(): Promise<void> {
    if (this.mapping === null) throw new KernelBug(`${this.who}: dmabuf not mapped`);
    const m = this.mapping;
    this.mapping = null;
    await this.unmapNow(m);
  }

  /** Unmaps if needed, then ends the import (vb2 detach_dmabuf). May sleep. */
  async detach(): Promise<void> {
    if (this.mapping !== null) await this.unmap();
    await this.release();
  }

  /** Makes the mapping, or throws leaving nothing mapped (the allocator's map_dmabuf). */
  protected abstract mapNow(): Promise<M>;
  /** Drops a mapping made by mapNow (the allocator's unmap_dmabuf). */
  protected abstract unmapNow(m: M): Promise<void>;
  /** Ends the import once unmapped (the rest of detach_dmabuf); nothing by default. */
  protected async release(): Promise<void> {}
  /** The kernel's CPU address while mapped, or null (vb2 vaddr). */
  abstract vaddr(): number | null;
  /** The device address while mapped, or null (vb2 cookie). */
  abstract dmaAddr(): number | null;
}

/**
 * Starts a device import (the common part of vb2_dc/vb2_dma_sg attach_dmabuf):
 * a queue without a device is a bug, a dma-buf smaller than the plane
 * EFAULT; otherwise the queue's device attaches (dma_buf_attach). May sleep.
 */
export async function attachDmabufForDevice(who: string, dev: Device | null, dbuf: DmaBuf, size: number): Promise<{ dev: Device; att: DmaBufAttachment }> {
  if (!dev) throw new KernelBug(`${who}: a queue without a device`);
  checkDmabufSize(who, dbuf, size);
  return { dev, att: await dmaBufAttach(dbuf, dev) };
}

/**
 * A dma-buf the queue's device imported (the mem_priv of vb2_dc/vb2_dma_sg
 * attach_dmabuf): map is dma_buf_map_attachment for the device, unmap its
 * undo, detach dma_buf_detach. checkMapping lets an allocator refuse a
 * mapping its device cannot use; the CPU has no address for it.
 */
export class Vb2DeviceDmabuf extends Vb2ImportedDmabuf<SgTable> {
  protected readonly att: DmaBufAttachment;
  protected readonly dir: DmaDirection;

  constructor(who: string, dbuf: DmaBuf, att: DmaBufAttachment, dir: DmaDirection) {
    super(who, dbuf);
    this.att = att;
    this.dir = dir;
  }

  /** Maps for the device (dma_buf_map_attachment), unmapping again when checkMapping refuses. */
  protected async mapNow(): Promise<SgTable> {
    const sgt = await dmaBufMapAttachment(this.att, this.dir);
    try {
      this.checkMapping(sgt);
    } catch (e) {
      await dmaBufUnmapAttachment(this.att, sgt, this.dir);
      throw e;
    }
    return sgt;
  }

  /** Throws when the device cannot use `sgt`; any mapping will do by default. */
  protected checkMapping(_sgt: SgTable): void {}

  /** Returns the device mapping (dma_buf_unmap_attachment). */
  protected unmapNow(sgt: SgTable): Promise<void> {
    return dmaBufUnmapAttachment(this.att, sgt, this.dir);
  }

  /** Detaches the device (dma_buf_detach). */
  protected override release(): Promise<void> {
    return dmaBufDetach(this.dbuf, this.att);
  }

  /** None: the device reaches imported buffers. */
  vaddr(): null {
    return null;
  }

  /** The device address when the mapping is one range, else null (vb2 cookie). */
  dmaAddr(): number | null {
    return this.mapping && this.mapping.nents === 1 ? this.mapping.sgl[0]!.dmaAddress : null;
  }
}
