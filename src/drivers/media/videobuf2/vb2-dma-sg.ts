import {
  dmaMapSgtable,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaUnmapSg,
  pfnRuns,
  sgAllocTableFromPages,
  sgDmaSegments,
  type Device,
  type DmaDirection,
  type SgTable,
} from '../../../dma/index.ts';
import {
  exportDmaBuf,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufOps,
  type DmaBufSystem,
} from '../../../dmabuf/index.ts';
import type { VmArea } from '../../../fs/index.ts';
import type { SgSegment } from '../../../hw/index.ts';
import { KernelBug, PAGE_SIZE, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import { allocPlanePages, attachDmabufForDevice, freePlanePages, Vb2DeviceDmabuf, Vb2RefcountedMem, type Vb2Mem, type Vb2MemOps } from './vb2-memops.ts';
import type { Vb2Buffer } from './vb2-core.ts';
import { NegotiatedPlane } from './vb2-negotiated.ts';

/** exp_name of buffers exported from dma-sg planes (KBUILD_MODNAME of videobuf2-dma-sg). */
export const VB2_DMA_SG_EXP_NAME = 'videobuf2_dma_sg';

/**
 * Plane memory of the dma-sg allocator (struct vb2_dma_sg_buf): order-0
 * pages anywhere in DRAM, mapped once for the queue's device through its
 * DMA ops (an IOMMU makes them one device range; without one the device
 * walks the segments). The kernel mapping is made on first use, as
 * vb2_dma_sg_vaddr does. Reference counted like the other allocators.
 */
export class SgBuf extends Vb2RefcountedMem implements Vb2Mem {
  readonly size: number;
  readonly pages: Uint32Array;
  readonly dev: Device;
  readonly dir: DmaDirection;
  /** The device's view of the pages (buf->dma_sgt), mapped for `dev` since alloc. */
  readonly sgt: SgTable;
  private readonly mm: Mm;
  private readonly dbs: DmaBufSystem;
  private va: number | null = null;

  constructor(mm: Mm, dbs: DmaBufSystem, dev: Device, size: number, dir: DmaDirection) {
    super('vb2-dma-sg');
    this.mm = mm;
    this.dbs = dbs;
    this.dev = dev;
    this.dir = dir;
    this.size = size;
    const n = Math.ceil(size / PAGE_SIZE);
    this.pages = allocPlanePages(mm, n);
    try {
      this.sgt = sgAllocTableFromPages(this.pages, 0, n * PAGE_SIZE, dev.maxSegmentSize);
      dmaMapSgtable(dev, this.sgt, dir);
      // The buffer starts as the CPU's: the map cleaned the zeroed pages, and vb2's
      // prepare (QBUF) hands it to the device. Without this, userspace filling an
      // OUTPUT buffer before its first QBUF would look like a write behind the device's back.
      dmaSyncSgForCpu(dev, this.sgt, dir);
    } catch (e) {
      freePlanePages(mm, this.pages);
      throw e;
    }
  }

  /** Unmaps from the device and frees the pages after the last put (vb2_dma_sg_put). */
  protected free(): void {
    dmaUnmapSg(this.dev, this.sgt, this.dir);
    if (this.va !== null) this.mm.kas.vunmap(this.va);
    this.va = null;
    freePlanePages(this.mm, this.pages);
  }

  /** Maps the buffer's pages into a process from page `pgoff` (vb2_dma_sg_mmap: vm_map_pages). */
  mmapAt(vma: VmArea, pgoff: number): void {
    if (pgoff + vma.pages > this.pages.length) throw kerr('EINVAL', `vb2-dma-sg: mapping of ${vma.pages} pages at ${pgoff} of a ${this.pages.length}-page buffer`);
    vma.memType = 'wb';
    for (let i = 0; i < vma.pages; i++) vma.insertPage(vma.start + i * PAGE_SIZE, this.pages[pgoff + i]!);
    this.holdForVma(vma);
  }

  /** Maps the whole buffer from its first page (vb2_dma_sg_mmap). */
  mmap(vma: VmArea): void {
    this.mmapAt(vma, 0);
  }

  /** Exports the plane as a new dma-buf holding a reference (vb2_dma_sg_get_dmabuf). */
  getDmabuf(accMode: number): DmaBuf {
    const d = exportDmaBuf(this.dbs, { ops: sgDmabufOps, size: this.size, flags: accMode, priv: this, expName: VB2_DMA_SG_EXP_NAME, creator: this.dev.name });
    this.get();
    return d;
  }

  /** The kernel mapping, made on first use (vb2_dma_sg_vaddr: vm_map_ram). */
  vaddr(): number {
    if (this.va === null) this.va = this.mm.kas.vmap(this.pages, 'wb');
    return this.va;
  }

  /** The device address when the mapping is one range (an IOMMU merged it), else null. */
  dmaAddr(): number | null {
    return this.sgt.nents === 1 ? this.sgt.sgl[0]!.dmaAddress : null;
  }

  /** Reads through the kernel mapping after making the device's writes visible (vb2 read emulation). */
  copyOut(off: number, dst: Uint8Array): void {
    if (off < 0 || off + dst.length > this.size) throw new KernelBug(`vb2-dma-sg: copy of ${off}+${dst.length} outside ${this.size} bytes`);
    this.mm.kas.load(this.vaddr() + off, dst, 0, dst.length);
  }
}

const sgOf = (d: DmaBuf) => d.priv as SgBuf;

/**
 * The ops of buffers exported from dma-sg planes (vb2_dma_sg_dmabuf_ops):
 * every importer gets its own mapping of the same pages for its device,
 * made at the first map and kept until detach; CPU access through the
 * dma-buf is cacheable, the importer's map/unmap doing the maintenance.
 */
const sgDmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  mapDmaBuf(att, dir) {
    const b = sgOf(att.dmabuf);
    const sgt = sgAllocTableFromPages(b.pages, 0, b.pages.length * PAGE_SIZE, att.dev.maxSegmentSize);
    dmaMapSgtable(att.dev, sgt, dir);
    return sgt;
  },
  unmapDmaBuf: (att, sgt, dir) => dmaUnmapSg(att.dev, sgt, dir),
  release: (d) => sgOf(d).put(),
  vmap: (d) => sgOf(d).vaddr(),
  vunmap() {},
  mmap: (d, vma) => sgOf(d).mmapAt(vma, vma.pgoff),
  describe(d) {
    const b = sgOf(d);
    const runs = pfnRuns(b.pages).length;
    return { allocated: true, contiguous: runs === 1, deviceLocal: false, memType: 'wb', source: `dma-sg (${b.pages.length} pages)`, runs };
  },
};

/**
 * A dma-buf imported into a dma-sg queue (vb2_dma_sg_attach_dmabuf): the
 * queue's device attaches and each map takes whatever segments the
 * exporter gives; the device walks them, so no contiguity is needed.
 */
export class SgDmabuf extends Vb2DeviceDmabuf {
  constructor(dbuf: DmaBuf, att: DmaBufAttachment, dir: DmaDirection) {
    super('vb2-dma-sg', dbuf, att, dir);
  }

  /** The device's view while mapped, or null. */
  get sgt(): SgTable | null {
    return this.mapping;
  }
}

/**
 * The dma-sg allocator (vb2_dma_sg_memops): planes in scattered pages
 * mapped through the queue's device's DMA ops (its IOMMU when it has
 * one), exported as 'videobuf2_dma_sg' dma-bufs on `dbs`.
 */
export function vb2DmaSgMemops(mm: Mm, dbs: DmaBufSystem): Vb2MemOps {
  return {
    name: 'vb2-dma-sg',
    async alloc(dev: Device | null, size: number, dir: DmaDirection) {
      if (!dev) throw new KernelBug('vb2-dma-sg: a queue without a device');
      if (!(size > 0)) throw kerr('EINVAL', `vb2-dma-sg: size ${size}`);
      return new SgBuf(mm, dbs, dev, size, dir);
    },
    async attachDmabuf(dev: Device | null, dbuf: DmaBuf, size: number, dir: DmaDirection) {
      const { att } = await attachDmabufForDevice('vb2-dma-sg', dev, dbuf, size);
      return new SgDmabuf(dbuf, att, dir);
    },
  };
}

/**
 * Runs one device transfer on buffer `vb`'s plane (a driver's dma_map,
 * DMA and finish around one plane): `xfer` gets the plane's bus segments,
 * programs its engine with them and returns the bytes the engine moved.
 * EFAULT when that is less than `len` (the scatterlist was too short).
 */
export async function vb2PlaneDma(vb: Vb2Buffer, dev: Device, len: number, write: boolean, xfer: (segs: SgSegment[]) => Promise<number>): Promise<void> {
  const plane = sgPlaneForDevice(vb, dev);
  try {
    checkDmaLength(dev, await xfer(sgDmaSegments(plane.sgt)), len, write);
  } finally {
    plane.done();
  }
}

/** EFAULT when a device transfer moved fewer bytes than it was meant to (its scatterlist ended first). */
export function checkDmaLength(dev: Device, moved: number, len: number, write: boolean): void {
  if (moved < len) throw kerr('EFAULT', `${dev.name}: scatterlist of ${moved} bytes for a ${len}-byte ${write ? 'write' : 'read'}`);
}

/**
 * A plane's memory as the device reaches it for one job (vb2_dma_sg_plane_desc):
 * an MMAP or DMABUF plane's standing mapping, or for USERPTR a mapping of
 * the pinned pages made now and dropped by `done`. Before the device
 * touches it the CPU's caches are cleaned (prepare); `done` makes the
 * device's writes visible to the CPU (finish). EFAULT for a plane without memory.
 */
export function sgPlaneForDevice(vb: Vb2Buffer, dev: Device): { sgt: SgTable; done: () => void } {
  const dir = vb.queue.dmaDir;
  if (vb.mem instanceof SgBuf) {
    const sgt = vb.mem.sgt;
    dmaSyncSgForDevice(dev, sgt, dir);
    return { sgt, done: () => dmaSyncSgForCpu(dev, sgt, dir) };
  }
  if (vb.mem instanceof NegotiatedPlane && vb.mem.sgt) {
    // mapped at QBUF, returned at DQBUF: the map and unmap did the maintenance
    return { sgt: vb.mem.sgt, done: () => undefined };
  }
  if (vb.dmabuf instanceof SgDmabuf && vb.dmabuf.sgt) {
    // the exporter's begin/end_cpu_access own the CPU side of imported buffers
    return { sgt: vb.dmabuf.sgt, done: () => undefined };
  }
  const pages = vb.planePages();
  if (pages) {
    const sgt = sgAllocTableFromPages(pages, 0, vb.length, dev.maxSegmentSize);
    dmaMapSgtable(dev, sgt, dir);
    return { sgt, done: () => dmaUnmapSg(dev, sgt, dir) };
  }
  throw kerr('EFAULT', `vb2-dma-sg: buffer ${vb.index} has no memory for the device`);
}
