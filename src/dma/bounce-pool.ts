import { kerr, PAGE_SIZE } from '../lib/index.ts';
import { GenPool } from '../mm/index.ts';
import type { Device } from './device.ts';
import type { DmaDirection } from './direction.ts';

/** One buffer currently bounced: where the data really lives, and the direction it was mapped for. */
export interface BouncedBuffer {
  origPa: number;
  size: number;
  dir: DmaDirection;
}

/**
 * The memory bounce buffers come from (dmabounce's dma_pools, swiotlb's
 * io_tlb): pages the device can reach, below its DMA mask, taken from the
 * page allocator in 64 KiB chunks as the pool grows, never given back while
 * the device lives. CPU copies into and out of it go through a
 * non-cacheable mapping, so the device always sees them without cache
 * maintenance.
 */
export class BouncePool {
  readonly pool = new GenPool(6, 'bounce');
  private readonly dev: Device;
  private readonly chunks: number[] = [];
  private chunkPages = 0;
  /** Bounce buffers lent out, by the bus address the device was given. */
  readonly live = new Map<number, BouncedBuffer>();
  /** Bytes currently lent out. */
  inUse = 0;
  /** Largest number of bytes ever lent out at once. */
  peak = 0;
  static readonly CHUNK_ORDER = 4;

  constructor(dev: Device) {
    this.dev = dev;
    this.pool.failAlloc = dev.ctx.soc.faults.attr('fail_gen_pool_alloc');
  }

  /**
   * Takes `size` bytes of bounce space aligned to `align` (dmabounce's
   * alloc_safe_buffer), growing the pool when it is full. KernelError ENOMEM
   * when no pages below the device's DMA mask are left to grow it with.
   */
  alloc(size: number, align = 64): number {
    let pa = this.pool.tryAlloc(size, { align });
    if (pa === null) {
      this.grow(size + align);
      pa = this.pool.tryAlloc(size, { align });
      if (pa === null) throw kerr('ENOMEM', `${this.dev.name}: bounce pool exhausted`);
    }
    this.inUse += size;
    this.peak = Math.max(this.peak, this.inUse);
    return pa;
  }

  /** Pages the pool took from the page allocator: the device's for as long as it lives, lent out or not. */
  get pages(): number {
    return this.chunkPages;
  }

  /** Returns bounce space (free_safe_buffer). KernelBug when it was not lent out. */
  free(pa: number, size: number): void {
    this.pool.free(pa, size);
    this.inUse -= size;
  }

  private grow(atLeast: number): void {
    const { mm } = this.dev.ctx;
    let order = BouncePool.CHUNK_ORDER;
    while (PAGE_SIZE << order < atLeast) order++;
    const pfn = mm.pages.allocPages(order, { maxPa: 2 ** this.dev.dmaMaskBits, owner: 0 });
    const pa = pfn * PAGE_SIZE;
    const bytes = PAGE_SIZE << order;
    if (mm.kas.isLowmem(pfn)) mm.kas.removeLinearAlias(pfn, 1 << order);
    this.chunks.push(pfn);
    this.chunkPages += 1 << order;
    this.pool.addChunk(pa, bytes);
  }
}
