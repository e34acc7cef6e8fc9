import {
  DMA_ATTR_SKIP_CPU_SYNC,
  dmaAllocAttrs,
  dmaFreeAttrs,
  dmaMapSgtable,
  dmaMmapAttrs,
  dmaUnmapSg,
  pfnRuns,
  sgAllocTableFromPages,
  type Device,
  type DmaBuffer,
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
import { KernelBug, PAGE_SIZE, kerr } from '../../../lib/index.ts';
import { attachDmabufForDevice, Vb2DeviceDmabuf, Vb2RefcountedMem, type Vb2Mem, type Vb2MemOps } from './vb2-memops.ts';

/** exp_name of buffers exported from dma-contig planes (KBUILD_MODNAME of videobuf2-dma-contig). */
export const VB2_DC_EXP_NAME = 'videobuf2_dma_contig';

/** Maps the frames of `pfns` into `vma` run by run, from its first page. */
function remapRuns(vma: VmArea, pfns: Uint32Array): void {
  let addr = vma.start;
  for (const [pfn, n] of pfnRuns(pfns)) {
    vma.remapPfnRange(addr, pfn, n * PAGE_SIZE);
    addr += n * PAGE_SIZE;
  }
}

/**
 * Plane memory from dma_alloc_attrs on the queue's device (struct
 * vb2_dc_buf): one buffer the device reaches at one DMA address, which
 * for a device without an IOMMU means physically contiguous (CMA). CPU
 * mappings use the memory type the DMA API chose (non-cacheable for a
 * non-coherent device).
 */
class DcBuf extends Vb2RefcountedMem implements Vb2Mem {
  readonly size: number;
  readonly dev: Device;
  readonly buf: DmaBuffer;
  private readonly dbs: DmaBufSystem;

  constructor(dev: Device, dbs: DmaBufSystem, buf: DmaBuffer) {
    super('vb2-dc');
    this.dev = dev;
    this.dbs = dbs;
    this.buf = buf;
    this.size = buf.size;
  }

  /** Frees the DMA buffer after the last put (vb2_dc_put). */
  protected free(): void {
    dmaFreeAttrs(this.dev, this.buf);
  }

  /** Maps pages from `pgoff` on into a process (vb2_dc_mmap: dma_mmap_attrs). */
  mmapAt(vma: VmArea, pgoff: number): void {
    const { pfns, memType } = dmaMmapAttrs(this.dev, this.buf, pgoff, vma.length);
    vma.memType = memType;
    remapRuns(vma, pfns);
    this.holdForVma(vma);
  }

  /** Maps the whole buffer from its start, for V4L2's mmap (vb2_dc_mmap). */
  mmap(vma: VmArea): void {
    this.mmapAt(vma, 0);
  }

  /** Exports the plane as a new dma-buf holding a reference (vb2_dc_get_dmabuf). */
  getDmabuf(accMode: number): DmaBuf {
    const d = exportDmaBuf(this.dbs, { ops: dcDmabufOps, size: this.size, flags: accMode, priv: this, expName: VB2_DC_EXP_NAME, creator: 'vivid' });
    this.get();
    return d;
  }

  /** The kernel mapping from dma_alloc_attrs, or null without one (vb2_dc_vaddr). */
  vaddr(): number | null {
    return this.buf.cpuAddr;
  }

  /** The device address (vb2_dc_cookie / vb2_dma_contig_plane_dma_addr). */
  dmaAddr(): number {
    return this.buf.dmaAddr;
  }

  /** Reads through the kernel mapping from dma_alloc_attrs; EINVAL when the buffer has none. */
  copyOut(off: number, dst: Uint8Array): void {
    if (off < 0 || off + dst.length > this.size) throw new KernelBug(`vb2-dc: copy of ${off}+${dst.length} outside ${this.size} bytes`);
    if (this.buf.cpuAddr === null) throw kerr('EINVAL', 'vb2-dc: buffer has no kernel mapping');
    this.dev.ctx.mm.kas.load(this.buf.cpuAddr + off, dst, 0, dst.length);
  }
}

const dcOf = (d: DmaBuf) => d.priv as DcBuf;

/**
 * The ops of buffers exported from dma-contig planes (vb2_dc_dmabuf_ops):
 * an importer's mapping is made at its first map without CPU cache
 * maintenance (the memory's own type keeps it coherent) and kept until
 * detach; mmap honours the offset, as dma_mmap_attrs does.
 */
const dcDmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  mapDmaBuf(att, dir) {
    const b = dcOf(att.dmabuf);
    const sgt = sgAllocTableFromPages(b.buf.pfns, 0, b.buf.pfns.length * PAGE_SIZE);
    dmaMapSgtable(att.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
    return sgt;
  },
  unmapDmaBuf: (att, sgt, dir) => dmaUnmapSg(att.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC),
  release: (d) => dcOf(d).put(),
  vmap(d) {
    const va = dcOf(d).vaddr();
    if (va === null) throw kerr('EINVAL', 'vb2-dc: buffer has no kernel mapping');
    return va;
  },
  vunmap() {},
  mmap: (d, vma) => dcOf(d).mmapAt(vma, vma.pgoff),
  describe(d) {
    const b = dcOf(d).buf;
    const runs = pfnRuns(b.pfns).length;
    return { allocated: true, contiguous: b.contiguous, deviceLocal: false, memType: b.memType, source: `dma_alloc_attrs (${b.source.kind})`, runs };
  },
};

/**
 * A dma-buf imported into a dma-contig queue (vb2_dc_attach_dmabuf): the
 * queue's device attaches, and each map checks that the device sees one
 * contiguous DMA range at least as long as the plane.
 */
class DcDmabuf extends Vb2DeviceDmabuf {
  private readonly size: number;

  constructor(dbuf: DmaBuf, att: DmaBufAttachment, size: number, dir: DmaDirection) {
    super('vb2-dc', dbuf, att, dir);
    this.size = size;
  }

  /** EFAULT when the contiguous part of the mapping is shorter than the plane (vb2_dc_map_dmabuf). */
  protected override checkMapping(sgt: SgTable): void {
    let contig = 0;
    let expect = sgt.sgl[0]?.dmaAddress ?? 0;
    for (let i = 0; i < sgt.nents; i++) {
      const s = sgt.sgl[i]!;
      if (s.dmaAddress !== expect) break;
      contig += s.dmaLength;
      expect = s.dmaAddress + s.dmaLength;
    }
    if (contig < this.size) throw kerr('EFAULT', `vb2-dc: contiguous chunk of ${contig} bytes is too small for a ${this.size}-byte plane`);
  }

  /** The device address of the mapped range, or null (vb2_dc_cookie). */
  override dmaAddr(): number | null {
    return this.mapping ? this.mapping.sgl[0]!.dmaAddress : null;
  }
}

/**
 * The dma-contig allocator (vb2_dma_contig_memops): planes from
 * dma_alloc_attrs with `attrs` on the queue's device, exported as
 * 'videobuf2_dma_contig' dma-bufs on `dbs`; imports attach that device.
 */
export function vb2DmaContigMemops(dbs: DmaBufSystem, attrs = 0): Vb2MemOps {
  return {
    name: 'vb2-dma-contig',
    async alloc(dev: Device | null, size: number) {
      if (!dev) throw new KernelBug('vb2-dc: a queue without a device');
      const buf = await dmaAllocAttrs(dev, size, attrs);
      return new DcBuf(dev, dbs, buf);
    },
    async attachDmabuf(dev: Device | null, dbuf: DmaBuf, size: number, dir: DmaDirection) {
      const { att } = await attachDmabufForDevice('vb2-dc', dev, dbuf, size);
      return new DcDmabuf(dbuf, att, size, dir);
    },
  };
}
