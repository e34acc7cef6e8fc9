import type { Device, DmaDirection } from '../../dma/index.ts';
import type { DmaBuf } from '../../dmabuf/index.ts';
import type { VmArea } from '../../fs/index.ts';

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
