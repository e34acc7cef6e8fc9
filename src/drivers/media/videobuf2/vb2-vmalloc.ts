import { dmaMapSgtable, dmaUnmapSg, pfnRuns, sgAllocTableFromPages, type Device, type DmaDirection } from '../../../dma/index.ts';
import { exportDmaBuf, dmaBufVmap, dmaBufVunmap, type DmaBuf, type DmaBufOps, type DmaBufSystem } from '../../../dmabuf/index.ts';
import type { VmArea } from '../../../fs/index.ts';
import { KernelBug, PAGE_SIZE, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import { allocPlanePages, checkDmabufSize, freePlanePages, Vb2ImportedDmabuf, Vb2RefcountedMem, type Vb2Mem, type Vb2MemOps } from './vb2-memops.ts';

/** exp_name of buffers exported from vmalloc planes (KBUILD_MODNAME of videobuf2-vmalloc). */
export const VB2_VMALLOC_EXP_NAME = 'videobuf2_vmalloc';

/**
 * Plane memory from vmalloc_user (struct vb2_vmalloc_buf): zeroed order-0
 * pages anywhere in DRAM, made virtually contiguous for the kernel's CPU
 * with one cacheable vmap. No device ever reaches it by DMA here; the
 * driver writes frames with the CPU.
 */
class VmallocBuf extends Vb2RefcountedMem implements Vb2Mem {
  readonly size: number;
  readonly pages: Uint32Array;
  private readonly mm: Mm;
  private readonly dbs: DmaBufSystem;
  private va: number;

  constructor(mm: Mm, dbs: DmaBufSystem, size: number) {
    super('vb2-vmalloc');
    this.mm = mm;
    this.dbs = dbs;
    this.size = size;
    this.pages = allocPlanePages(mm, Math.ceil(size / PAGE_SIZE));
    try {
      this.va = mm.kas.vmap(this.pages, 'wb');
    } catch (e) {
      freePlanePages(mm, this.pages);
      throw e;
    }
  }

  /** Unmaps and frees the pages after the last put (vb2_vmalloc_put). */
  protected free(): void {
    this.mm.kas.vunmap(this.va);
    freePlanePages(this.mm, this.pages);
  }

  /**
   * Maps the buffer from its first page whatever the VMA's offset
   * (vb2_vmalloc_mmap: remap_vmalloc_range with pgoff 0), which is why a
   * dma-buf mmap at an offset shows page 0 on Linux 6.1 too.
   */
  mmap(vma: VmArea): void {
    if (vma.pages > this.pages.length) throw kerr('EINVAL', `vb2-vmalloc: mapping of ${vma.pages} pages of a ${this.pages.length}-page buffer`);
    vma.memType = 'wb';
    for (let i = 0; i < vma.pages; i++) vma.insertPage(vma.start + i * PAGE_SIZE, this.pages[i]!);
    this.holdForVma(vma);
  }

  /** Exports the plane as a new dma-buf holding a reference (vb2_vmalloc_get_dmabuf). */
  getDmabuf(accMode: number): DmaBuf {
    const d = exportDmaBuf(this.dbs, { ops: vmallocDmabufOps, size: this.size, flags: accMode, priv: this, expName: VB2_VMALLOC_EXP_NAME, creator: 'vivid' });
    this.get();
    return d;
  }

  /** The plane's kernel mapping (vb2_vmalloc_vaddr). */
  vaddr(): number {
    return this.va;
  }

  /** None: vmalloc memory has no device address (vb2 cookie is the vaddr). */
  dmaAddr(): null {
    return null;
  }

  /** Reads through the plane's kernel mapping (the CPU copy of vb2_read). */
  copyOut(off: number, dst: Uint8Array): void {
    if (off < 0 || off + dst.length > this.size) throw new KernelBug(`vb2-vmalloc: copy of ${off}+${dst.length} outside ${this.size} bytes`);
    this.mm.kas.load(this.va + off, dst, 0, dst.length);
  }
}

const bufOf = (d: DmaBuf) => d.priv as VmallocBuf;

/**
 * The ops of buffers exported from vmalloc planes (vb2_vmalloc_dmabuf_ops):
 * each importer's mapping is made at its first map and kept until it
 * detaches; vmap hands out the plane's own kernel mapping; no CPU access
 * hooks, because the memory is cacheable and only the CPU writes it.
 */
const vmallocDmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  mapDmaBuf(att, dir) {
    const b = bufOf(att.dmabuf);
    const sgt = sgAllocTableFromPages(b.pages, 0, b.pages.length * PAGE_SIZE);
    dmaMapSgtable(att.dev, sgt, dir);
    return sgt;
  },
  unmapDmaBuf: (att, sgt, dir) => dmaUnmapSg(att.dev, sgt, dir),
  release: (d) => bufOf(d).put(),
  vmap: (d) => bufOf(d).vaddr(),
  vunmap() {},
  mmap: (d, vma) => bufOf(d).mmap(vma),
  describe(d) {
    const b = bufOf(d);
    const runs = pfnRuns(b.pages).length;
    return { allocated: true, contiguous: runs === 1, deviceLocal: false, memType: 'wb', source: `vmalloc (${b.pages.length} pages)`, runs };
  },
};

/**
 * A dma-buf imported into a vmalloc queue (vb2_vmalloc_attach_dmabuf):
 * the CPU writes it through the exporter's vmap, so there is no device
 * attachment at all.
 */
class VmallocDmabuf extends Vb2ImportedDmabuf<number> {
  constructor(dbuf: DmaBuf) {
    super('vb2-vmalloc', dbuf);
  }

  /** Maps the buffer for the CPU (vb2_vmalloc_map_dmabuf); EFAULT when the exporter cannot vmap. */
  protected async mapNow(): Promise<number> {
    try {
      return await dmaBufVmap(this.dbuf);
    } catch (e) {
      throw kerr('EFAULT', `vb2-vmalloc: failed to vmap the dmabuf: ${(e as Error).message}`);
    }
  }

  /** Drops the vmap (vb2_vmalloc_unmap_dmabuf). */
  protected async unmapNow(va: number): Promise<void> {
    dmaBufVunmap(this.dbuf, va);
  }

  /** The vmap address while mapped (vb2_vmalloc_vaddr). */
  vaddr(): number | null {
    return this.mapping;
  }

  /** None: the CPU writes imported buffers. */
  dmaAddr(): null {
    return null;
  }
}

/**
 * The vmalloc allocator (vb2_vmalloc_memops): planes in scattered pages
 * the CPU fills, exported as 'videobuf2_vmalloc' dma-bufs on `dbs`.
 */
export function vb2VmallocMemops(mm: Mm, dbs: DmaBufSystem): Vb2MemOps {
  return {
    name: 'vb2-vmalloc',
    async alloc(_dev: Device | null, size: number, _dir: DmaDirection) {
      if (!(size > 0)) throw kerr('EINVAL', `vb2-vmalloc: size ${size}`);
      return new VmallocBuf(mm, dbs, size);
    },
    async attachDmabuf(_dev: Device | null, dbuf: DmaBuf, size: number, _dir: DmaDirection) {
      checkDmabufSize('vb2-vmalloc', dbuf, size);
      return new VmallocDmabuf(dbuf);
    },
  };
}
