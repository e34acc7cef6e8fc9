import type { Task } from '../fs/index.ts';
import { PAGE_SIZE, kerr } from '../lib/index.ts';
import type { CmaArea, Mm } from '../mm/index.ts';
import type { DmaBuf, DmaBufSystem } from './dma-buf.ts';
import { dmaHeapAdd, type DmaHeap } from './dma-heap.ts';
import { HeapBuffer, exportHeapBuffer, heapBufferOps } from './heap-buffer.ts';

/** Largest alignment order a CMA allocation asks for (CONFIG_CMA_ALIGNMENT). */
export const CMA_ALIGNMENT = 8;

const cmaOps = heapBufferOps({ mmapByFault: true });

/**
 * Allocates a physically contiguous buffer from the heap's CMA area
 * (cma_heap_allocate): aligned to its own size's order (at most 2^8
 * pages), vacated by migration when the page allocator lent the range out,
 * then cleared through the kernel's cacheable mapping. ENOMEM when the area
 * has no such range. Sleeps for the area's lock and the migration.
 */
export async function cmaHeapAllocate(heap: DmaHeap, mm: Mm, area: CmaArea, len: number, fdFlags: number, task: Task | null): Promise<DmaBuf> {
  const count = len / PAGE_SIZE;
  if (!Number.isInteger(count) || count <= 0) throw kerr('EINVAL', `cma heap: length ${len}`);
  const align = Math.min(Math.ceil(Math.log2(count)), CMA_ALIGNMENT);
  const pfn = await area.alloc(count, align);
  // memset through the linear map or kmap: the zeroes may sit in dirty
  // cache lines until a device mapping cleans them, as on the real machine
  mm.soc.costs.withAccessKind('page-zero', () => mm.soc.cpu.fill(pfn * PAGE_SIZE, len, 0, 'wb'));
  const pfns = new Uint32Array(count);
  for (let i = 0; i < count; i++) pfns[i] = pfn + i;
  const buf = new HeapBuffer(mm, len, pfns, [[pfn, count]], () => void area.release(pfn, count), {
    contiguous: true,
    deviceLocal: false,
    runs: 1,
    source: `cma:${area.name} pfn 0x${pfn.toString(16)}+${count}`,
    notes: [`placement: CMA heap, one contiguous range aligned to 2^${align} pages`],
  });
  return exportHeapBuffer(heap, cmaOps, buf, fdFlags, task);
}

/**
 * Registers a heap over a CMA area, /dev/dma_heap/<area name>
 * (__add_cma_heap); Linux adds the default area's, named after it.
 */
export function addCmaHeap(system: DmaBufSystem, mm: Mm, area: CmaArea): DmaHeap {
  return dmaHeapAdd(system, {
    name: area.name,
    ops: { allocate: (heap, len, fdFlags, _heapFlags, task) => cmaHeapAllocate(heap, mm, area, len, fdFlags, task) },
  });
}
