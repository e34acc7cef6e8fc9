import { VM_MAYSHARE, VM_SHARED, type VmArea } from '../fs/index.ts';
import { KernelBug, PAGE_SIZE, kerr } from '../lib/index.ts';
import { dmaMapSgtable, dmaUnmapSg, type Device, type DmaDirection, type SgTable } from '../dma/index.ts';
import { syncMappingsForCpu, syncMappingsForDevice, type ExporterMapping } from './dma-buf-cpu.ts';
import type { Mm } from '../mm/index.ts';
import { exportDmaBuf, type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaBufStorageInfo } from './dma-buf.ts';
import type { DmaHeap } from './dma-heap.ts';
import type { Task } from '../fs/index.ts';

/**
 * The storage of one heap buffer (struct system_heap_buffer /
 * cma_heap_buffer): the page frame of every page, the scatterlist entries
 * as the heap built them ([first pfn, pages]), its attachments and its
 * kernel mapping. The heap's `free` returns the pages on release.
 */
export class HeapBuffer {
  readonly mm: Mm;
  readonly size: number;
  /** Page frame of every page, in buffer order. */
  readonly pfns: Uint32Array;
  /** Scatterlist entries: [first pfn, number of pages]. */
  readonly entries: readonly (readonly [number, number])[];
  readonly attachments = new Set<HeapAttachment>();
  /** Users of the kernel mapping (vmap_cnt). */
  vmapCnt = 0;
  vaddr = 0;
  /** Returns the pages to where they came from. */
  readonly free: () => void;
  /** What the debug view says about the storage. */
  readonly info: Omit<DmaBufStorageInfo, 'allocated' | 'memType'>;

  constructor(mm: Mm, size: number, pfns: Uint32Array, entries: (readonly [number, number])[], free: () => void, info: HeapBuffer['info']) {
    this.mm = mm;
    this.size = size;
    this.pfns = pfns;
    this.entries = entries;
    this.free = free;
    this.info = info;
  }

  /** A fresh copy of the heap's table for one mapping (dup_sg_table). */
  table(): SgTable {
    const sgl = this.entries.map(([pfn, n]) => ({ pfn, offset: 0, length: n * PAGE_SIZE, dmaAddress: 0, dmaLength: 0 }));
    return { sgl, origNents: sgl.length, nents: 0 };
  }
}

/** One device's attachment to a heap buffer: the tables mapped for it (dma_heap_attachment). */
export class HeapAttachment {
  readonly dev: Device;
  /** Tables currently mapped for the device. */
  readonly mapped: { sgt: SgTable; dir: DmaDirection }[] = [];
  constructor(dev: Device) {
    this.dev = dev;
  }
}

function bufOf(d: DmaBuf): HeapBuffer {
  return d.priv as HeapBuffer;
}

function attOf(att: DmaBufAttachment): HeapAttachment {
  const a = att.priv;
  if (!(a instanceof HeapAttachment)) throw new KernelBug(`${att.dev.name} is not attached to this heap buffer`);
  return a;
}

/** How a heap's buffers differ: fault-in mmap that needs a shared mapping (CMA heap), or remap at mmap time (system heap). */
export interface HeapBufferStyle {
  mmapByFault: boolean;
}

/**
 * The dma-buf ops shared by the system and CMA heaps: each attachment
 * gets its own copy of the table, mapped through the device's DMA ops at
 * map time; CPU access syncs every mapped table of every attachment for
 * the CPU (begin) or the devices (end), which is where non-coherent
 * devices get their cache maintenance; mmap and vmap are cacheable.
 */
export function heapBufferOps(style: HeapBufferStyle): DmaBufOps {
  return {
    attach(d, att) {
      const a = new HeapAttachment(att.dev);
      att.priv = a;
      bufOf(d).attachments.add(a);
    },
    detach(d, att) {
      bufOf(d).attachments.delete(attOf(att));
      att.priv = undefined;
    },
    mapDmaBuf(att, dir) {
      const a = attOf(att);
      const sgt = bufOf(att.dmabuf).table();
      dmaMapSgtable(att.dev, sgt, dir);
      a.mapped.push({ sgt, dir });
      return sgt;
    },
    unmapDmaBuf(att, sgt, dir) {
      const a = attOf(att);
      const i = a.mapped.findIndex((m) => m.sgt === sgt);
      if (i < 0) throw new KernelBug(`${att.dev.name}: unmap of a table this heap buffer did not map`);
      a.mapped.splice(i, 1);
      dmaUnmapSg(att.dev, sgt, dir);
    },
    release(d) {
      const b = bufOf(d);
      if (b.vmapCnt > 0) b.mm.kas.vunmap(b.vaddr);
      b.free();
    },
    beginCpuAccess(d) {
      syncMappingsForCpu(mappingsOf(d));
    },
    endCpuAccess(d, dir) {
      syncMappingsForDevice(mappingsOf(d), dir);
    },
    mmap(d, vma) {
      const b = bufOf(d);
      vma.memType = 'wb';
      if (style.mmapByFault) {
        if (!(vma.flags & (VM_SHARED | VM_MAYSHARE))) throw kerr('EINVAL', 'CMA heap buffers need a shared mapping');
        mmapByFault(b, vma);
      } else {
        mmapByRemap(b, vma);
      }
    },
    vmap(d) {
      const b = bufOf(d);
      if (b.vmapCnt > 0) {
        b.vmapCnt++;
        return b.vaddr;
      }
      b.vaddr = b.mm.kas.vmap(b.pfns, 'wb');
      b.vmapCnt = 1;
      return b.vaddr;
    },
    vunmap(d) {
      const b = bufOf(d);
      if (b.vmapCnt === 0) throw new KernelBug('heap vunmap without vmap');
      if (--b.vmapCnt === 0) {
        b.mm.kas.vunmap(b.vaddr);
        b.vaddr = 0;
      }
    },
    describe(d) {
      return { ...bufOf(d).info, allocated: true, memType: 'wb' };
    },
  };
}

/** Maps every page of the VMA now, one remap per page (system_heap_mmap). */
function mmapByRemap(b: HeapBuffer, vma: VmArea): void {
  const n = vma.pages;
  for (let i = 0; i < n; i++) vma.remapPfnRange(vma.start + i * PAGE_SIZE, b.pfns[vma.pgoff + i]!, PAGE_SIZE);
}

/** Maps pages on first touch (cma_heap_mmap with dma_heap_vm_ops). */
function mmapByFault(b: HeapBuffer, vma: VmArea): void {
  vma.vmOps = {
    fault(v, pageIndex) {
      const i = v.pgoff + pageIndex;
      if (i >= b.pfns.length) throw kerr('EFAULT', `page ${i} beyond the buffer`);
      return b.pfns[i]!;
    },
  };
}

/** Every device mapping of a heap buffer, with the direction it was mapped with. */
function mappingsOf(d: DmaBuf): ExporterMapping[] {
  return [...bufOf(d).attachments].flatMap((a) => a.mapped.map((m) => ({ dev: a.dev, sgt: m.sgt, dir: m.dir })));
}

/**
 * Exports a heap's new buffer as a dma-buf named after the heap and the
 * allocating task (dma_buf_export in a heap's allocate); when the export
 * fails, the buffer is freed, as the heap's error path does, since nothing
 * owns its pages yet.
 */
export function exportHeapBuffer(heap: DmaHeap, ops: DmaBufOps, buf: HeapBuffer, fdFlags: number, task: Task | null | undefined): DmaBuf {
  try {
    return exportDmaBuf(heap.system, { ops, size: buf.size, flags: fdFlags, priv: buf, expName: heap.name, creator: task ? `${task.comm}[${task.pid}]` : heap.name });
  } catch (e) {
    buf.free();
    throw e;
  }
}
