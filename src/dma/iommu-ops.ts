import { hex, isKernelError, kerr, PAGE_SIZE } from '../lib/index.ts';
import { alignDown, alignUp } from '../lib/index.ts';
import { dmaMaskLimit, type Device, type IommuMapper } from './device.ts';
import { DMA_ATTR_ALLOC_SINGLE_PAGES, DMA_ATTR_FORCE_CONTIGUOUS, DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDirection } from './direction.ts';
import { allocContiguousPages, freeBufferPages, archSyncDmaForCpu, archSyncDmaForDevice } from './direct.ts';
import type { DmaBuffer, DmaMapOps } from './ops.ts';
import { dropCpuView, makeCpuView } from './remap.ts';
import { sgPhys, type SgTable } from './scatterlist.ts';

let scratch = new Float64Array(256);

/** A reused array for the page list of one scatterlist mapping (maps never sleep, so one is enough). */
function pageListScratch(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/** Orders tried when building a buffer from pages: 1 MiB, 64 KiB, 4 KiB, the SMMU's page sizes. */
const ALLOC_ORDERS = [8, 4, 0];

/** The device's IOMMU; ENODEV when it has none. */
function mmu(dev: Device): IommuMapper {
  if (!dev.iommu) throw kerr('ENODEV', `${dev.name} has no IOMMU`);
  return dev.iommu;
}

function prot(dir: DmaDirection, coherent: boolean): { read: boolean; write: boolean; cached: boolean } {
  return { read: dir !== DMA_FROM_DEVICE, write: dir !== DMA_TO_DEVICE, cached: coherent };
}

/**
 * Builds a buffer from pages, largest orders first, falling back to
 * smaller ones when memory is fragmented (__iommu_alloc_buffer). Highmem is
 * preferred: it has no cacheable linear alias to take down. KernelError
 * ENOMEM, with every page given back, when even single pages run out.
 */
export function allocPagesLargestFirst(dev: Device, size: number, attrs: number): { pfns: Uint32Array; blocks: [number, number][] } {
  const { mm } = dev.ctx;
  const count = Math.ceil(size / PAGE_SIZE);
  const pfns = new Uint32Array(count);
  const blocks: [number, number][] = [];
  let got = 0;
  const orders = attrs & DMA_ATTR_ALLOC_SINGLE_PAGES ? [0] : ALLOC_ORDERS;
  try {
    while (got < count) {
      let done = false;
      for (const order of orders) {
        if (1 << order > count - got) continue;
        let pfn: number;
        try {
          pfn = mm.pages.allocPages(order, { highmem: true });
        } catch (e) {
          if (!isKernelError(e, 'ENOMEM')) throw e;
          continue;
        }
        blocks.push([pfn, order]);
        for (let i = 0; i < 1 << order; i++) pfns[got++] = pfn + i;
        done = true;
        break;
      }
      if (!done) throw kerr('ENOMEM', `${dev.name}: no pages for a ${size}-byte buffer`);
    }
  } catch (e) {
    for (const [pfn, order] of blocks) mm.pages.freePages(pfn, order);
    throw e;
  }
  return { pfns, blocks };
}

/** Maps page frames at consecutive IOVAs starting at `iova`, one physically contiguous run at a time. */
function mapPfns(m: IommuMapper, iova: number, pfns: Uint32Array, p: ReturnType<typeof prot>): void {
  let i = 0;
  while (i < pfns.length) {
    let n = 1;
    while (i + n < pfns.length && pfns[i + n] === pfns[i]! + n) n++;
    m.map(iova + i * PAGE_SIZE, pfns[i]! * PAGE_SIZE, n * PAGE_SIZE, p);
    i += n;
  }
}

async function iommuAlloc(dev: Device, size: number, attrs: number): Promise<DmaBuffer> {
  const m = mmu(dev);
  const len = alignUp(size, PAGE_SIZE);
  let pfns: Uint32Array;
  let source: DmaBuffer['source'];
  if (attrs & DMA_ATTR_FORCE_CONTIGUOUS) {
    ({ pfns, source } = await allocContiguousPages(dev, size, attrs));
  } else {
    const r = allocPagesLargestFirst(dev, size, attrs);
    pfns = r.pfns;
    source = { kind: 'pages', blocks: r.blocks };
  }
  const partial = { dev, size, attrs, pfns, source } as DmaBuffer;
  let iova: number;
  try {
    iova = m.allocIova(len, dmaMaskLimit(dev.coherentMaskBits));
  } catch (e) {
    if (!isKernelError(e, 'ENOMEM')) throw e;
    freeBufferPages(dev, partial);
    throw kerr('ENOMEM', `${dev.name}: IOVA space exhausted (${e.message})`);
  }
  const view = makeCpuView(dev, pfns, attrs);
  mapPfns(m, iova, pfns, { read: true, write: true, cached: dev.coherent });
  return { ...partial, dmaAddr: iova, contiguous: source.kind === 'cma', ...view };
}

function iommuFree(dev: Device, buf: DmaBuffer): void {
  const m = mmu(dev);
  const len = alignUp(buf.size, PAGE_SIZE);
  m.unmap(buf.dmaAddr, len);
  m.freeIova(buf.dmaAddr, len);
  dropCpuView(dev, buf, buf.pfns);
  freeBufferPages(dev, buf);
}

/**
 * Maps [pa, pa+size) at a fresh IOVA (iommu_dma_map_page); returns the
 * device address. Where Linux returns DMA_MAPPING_ERROR: KernelError ENOMEM
 * when the IOVA space below the DMA mask is full, EIO when the IOMMU could
 * not map the pages (the IOVA is given back).
 */
export function iommuMapRange(dev: Device, pa: number, size: number, dir: DmaDirection, attrs: number): number {
  const m = mmu(dev);
  const base = alignDown(pa, PAGE_SIZE);
  const len = alignUp(pa + size, PAGE_SIZE) - base;
  const iova = m.allocIova(len, dmaMaskLimit(dev.dmaMaskBits));
  archSyncDmaForDevice(dev, pa, size, dir, attrs);
  try {
    m.map(iova, base, len, prot(dir, dev.coherent));
  } catch (e) {
    if (!isKernelError(e)) throw e;
    m.freeIova(iova, len);
    throw kerr('EIO', `${dev.name}: iommu_dma_map_page of ${hex(pa)}+${hex(size)}: ${e.message}`);
  }
  return iova + (pa - base);
}

/** Unmaps what iommuMapRange mapped; returns the physical address it covered. */
export function iommuUnmapRange(dev: Device, dmaAddr: number, size: number, dir: DmaDirection, attrs: number): number {
  const m = mmu(dev);
  const pa = m.iovaToPhys(dmaAddr);
  if (pa >= 0) archSyncDmaForCpu(dev, pa, size, dir, attrs);
  const iova = alignDown(dmaAddr, PAGE_SIZE);
  const len = alignUp(dmaAddr + size, PAGE_SIZE) - iova;
  m.unmap(iova, len);
  m.freeIova(iova, len);
  return pa;
}

/** Physically contiguous runs behind [dmaAddr, dmaAddr+size), through the IOMMU. */
export function iovaRuns(dev: Device, dmaAddr: number, size: number): [number, number][] {
  const m = mmu(dev);
  const runs: [number, number][] = [];
  let off = 0;
  while (off < size) {
    const a = dmaAddr + off;
    const n = Math.min(size - off, PAGE_SIZE - (a % PAGE_SIZE));
    const pa = m.iovaToPhys(a);
    if (pa >= 0) {
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === pa) last[1] += n;
      else runs.push([pa, n]);
    }
    off += n;
  }
  return runs;
}

/**
 * Maps a whole scatterlist into one contiguous IOVA range (iommu_dma_map_sg):
 * each entry keeps its offset in its first page, entries are laid out page
 * after page, and neighbours that end up contiguous in IOVA are merged into
 * one device segment up to the device's maximum segment size. KernelError
 * ENOMEM when the IOVA space (or a page-table page) runs out, EINVAL when
 * the IOMMU refuses a segment (beyond its address range, already mapped);
 * nothing stays mapped or allocated.
 */
function iommuMapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): number {
  const m = mmu(dev);
  let total = 0;
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i]!;
    total += alignUp(sg.offset + sg.length, PAGE_SIZE);
  }
  const iova = m.allocIova(total, dmaMaskLimit(dev.dmaMaskBits));
  // Lay the entries out page after page: every 4 KiB page of every entry,
  // in order, is the list the IOMMU maps from `iova`.
  const pages = Math.round(total / PAGE_SIZE);
  const pas = pageListScratch(pages);
  const starts: number[] = [];
  let cur = iova;
  let k = 0;
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i]!;
    const len = alignUp(sg.offset + sg.length, PAGE_SIZE);
    archSyncDmaForDevice(dev, sgPhys(sg), sg.length, dir, attrs);
    const pa = sg.pfn * PAGE_SIZE;
    for (let o = 0; o < len; o += PAGE_SIZE) pas[k++] = pa + o;
    starts.push(cur + sg.offset);
    cur += len;
  }
  const p = prot(dir, dev.coherent);
  try {
    if (m.mapPages) {
      m.mapPages(iova, pas, pages, p);
    } else {
      // A mapper without a page-list call: map physically contiguous runs one by one.
      let i = 0;
      while (i < pages) {
        let j = i + 1;
        while (j < pages && pas[j] === pas[j - 1]! + PAGE_SIZE) j++;
        m.map(iova + i * PAGE_SIZE, pas[i]!, (j - i) * PAGE_SIZE, p);
        i = j;
      }
    }
  } catch (e) {
    if (!isKernelError(e)) throw e;
    m.unmap(iova, total);
    m.freeIova(iova, total);
    // iommu_dma_map_sg passes ENOMEM on and reports every other IOMMU failure as EINVAL
    throw kerr(e.code === 'ENOMEM' ? 'ENOMEM' : 'EINVAL', `${dev.name}: iommu_dma_map_sg: ${e.message}`);
  }
  let n = 0;
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i]!;
    const prev = n > 0 ? sgt.sgl[n - 1]! : null;
    if (prev && prev.dmaAddress + prev.dmaLength === starts[i] && prev.dmaLength + sg.length <= dev.maxSegmentSize) {
      prev.dmaLength += sg.length;
    } else {
      const dst = sgt.sgl[n]!;
      dst.dmaAddress = starts[i]!;
      dst.dmaLength = sg.length;
      n++;
    }
  }
  for (let i = n; i < sgt.origNents; i++) sgt.sgl[i]!.dmaLength = 0;
  sgt.nents = n;
  return n;
}

function iommuUnmapSg(dev: Device, sgt: SgTable, dir: DmaDirection, attrs: number): void {
  const m = mmu(dev);
  let total = 0;
  for (let i = 0; i < sgt.origNents; i++) {
    const sg = sgt.sgl[i]!;
    archSyncDmaForCpu(dev, sgPhys(sg), sg.length, dir, attrs);
    total += alignUp(sg.offset + sg.length, PAGE_SIZE);
  }
  const iova = alignDown(sgt.sgl[0]!.dmaAddress, PAGE_SIZE);
  m.unmap(iova, total);
  m.freeIova(iova, total);
}

/**
 * The IOMMU implementation (arm_iommu_ops / dma-iommu): IOVA allocation
 * plus page-table updates; buffers built from scattered pages look
 * contiguous to the device. alloc gives ENOMEM when pages or IOVA space run
 * out; map_page ENOMEM or EIO; map_sg ENOMEM or EINVAL.
 */
export const iommuOps: DmaMapOps = {
  name: 'iommu',
  alloc: iommuAlloc,
  free: iommuFree,
  mapPage: iommuMapRange,
  unmapPage(dev, dmaAddr, size, dir, attrs) {
    iommuUnmapRange(dev, dmaAddr, size, dir, attrs);
  },
  mapSg: iommuMapSg,
  unmapSg: iommuUnmapSg,
  syncSingleForCpu(dev, dmaAddr, size, dir) {
    for (const [pa, n] of iovaRuns(dev, dmaAddr, size)) archSyncDmaForCpu(dev, pa, n, dir);
  },
  syncSingleForDevice(dev, dmaAddr, size, dir) {
    for (const [pa, n] of iovaRuns(dev, dmaAddr, size)) archSyncDmaForDevice(dev, pa, n, dir);
  },
  syncSgForCpu(dev, sgt, dir) {
    for (let i = 0; i < sgt.origNents; i++) archSyncDmaForCpu(dev, sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length, dir);
  },
  syncSgForDevice(dev, sgt, dir) {
    for (let i = 0; i < sgt.origNents; i++) archSyncDmaForDevice(dev, sgPhys(sgt.sgl[i]!), sgt.sgl[i]!.length, dir);
  },
};
