import type { Task } from '../fs/index.ts';
import { PAGE_SIZE, isKernelError, kerr } from '../lib/index.ts';
import type { Mm } from '../mm/index.ts';
import type { DmaBuf, DmaBufSystem } from './dma-buf.ts';
import { dmaHeapAdd, type DmaHeap } from './dma-heap.ts';
import { HeapBuffer, exportHeapBuffer, heapBufferOps } from './heap-buffer.ts';

/**
 * Orders the system heap builds buffers from, largest first: 1 MiB and
 * 64 KiB blocks keep an IOMMU's TLB small (they map as sections and large
 * pages), 4 KiB pages fill the rest (orders[] of system_heap.c).
 */
export const SYSTEM_HEAP_ORDERS = [8, 4, 0] as const;

const systemOps = heapBufferOps({ mmapByFault: false });

/**
 * Allocates a system-heap buffer (system_heap_allocate): zeroed blocks,
 * each the largest order that still fits what is left and is no larger
 * than the previous block, highmem allowed; one scatterlist entry per
 * block. ENOMEM, with everything given back, when pages run out.
 */
export function systemHeapAllocate(heap: DmaHeap, mm: Mm, len: number, fdFlags: number, task: Task | null): DmaBuf {
  const count = len / PAGE_SIZE;
  if (!Number.isInteger(count) || count <= 0) throw kerr('EINVAL', `system heap: length ${len}`);
  if (count > mm.pages.freeCount()) throw kerr('ENOMEM', `system heap: ${count} pages wanted, ${mm.pages.freeCount()} free`);
  const blocks: [number, number][] = [];
  const pfns = new Uint32Array(count);
  let got = 0;
  let maxOrder: number = SYSTEM_HEAP_ORDERS[0];
  const freeAll = (): void => {
    for (const [pfn, order] of blocks) mm.pages.freePages(pfn, order);
  };
  while (got < count) {
    let placed = false;
    for (const order of SYSTEM_HEAP_ORDERS) {
      if (count - got < 1 << order || order > maxOrder) continue;
      let pfn: number;
      try {
        pfn = mm.pages.allocPages(order, { highmem: true, zero: true });
      } catch (e) {
        if (!isKernelError(e, 'ENOMEM')) throw e;
        continue;
      }
      blocks.push([pfn, order]);
      for (let i = 0; i < 1 << order; i++) pfns[got++] = pfn + i;
      maxOrder = order;
      placed = true;
      break;
    }
    if (!placed) {
      freeAll();
      throw kerr('ENOMEM', `system heap: out of pages after ${got} of ${count}`);
    }
  }
  const orders = new Map<number, number>();
  for (const [, o] of blocks) orders.set(o, (orders.get(o) ?? 0) + 1);
  const mix = [...orders].map(([o, n]) => `${n} x order ${o}`).join(', ');
  const entries = blocks.map(([pfn, order]) => [pfn, 1 << order] as const);
  let runs = 0;
  for (let i = 0; i < count; i++) if (i === 0 || pfns[i] !== pfns[i - 1]! + 1) runs++;
  const buf = new HeapBuffer(mm, len, pfns, entries, freeAll, {
    contiguous: runs === 1,
    deviceLocal: false,
    runs,
    source: `system heap pages (${mix})`,
    notes: ['placement: system heap policy, largest blocks first (orders 8, 4, 0); devices are not consulted'],
  });
  return exportHeapBuffer(heap, systemOps, buf, fdFlags, task);
}

/** Registers the system heap, /dev/dma_heap/system (system_heap_create). */
export function addSystemHeap(system: DmaBufSystem, mm: Mm): DmaHeap {
  return dmaHeapAdd(system, {
    name: 'system',
    ops: { allocate: async (heap, len, fdFlags, _heapFlags, task) => systemHeapAllocate(heap, mm, len, fdFlags, task) },
  });
}
