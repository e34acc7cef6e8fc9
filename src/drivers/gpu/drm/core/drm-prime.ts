import { KernelBug, PAGE_SIZE, kerr } from '../../../../lib/index.ts';
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_BIDIRECTIONAL, dmaMapSgtable, dmaUnmapSg, sgAllocTableFromPages } from '../../../../dma/index.ts';
import {
  dmaBufAttach,
  dmaBufDetach,
  dmaBufFd,
  dmaBufGet,
  dmaBufPut,
  dmaBufTrackRef,
  exportDmaBuf,
  getDmaBuf,
  dmaBufMapAttachment,
  type DmaBuf,
  type DmaBufOps,
} from '../../../../dmabuf/index.ts';
import type { Task } from '../../../../fs/index.ts';
import { O_ACCMODE, O_CLOEXEC } from '../../../../uapi/index.ts';
import { GemObject, gemHandleCreate, gemObjectLookup, gemObjectName } from './drm-gem.ts';
import type { DrmDevice, DrmFile } from './drm-device.ts';

const objOf = (d: DmaBuf) => d.priv as GemObject;

/**
 * The ops of every dma-buf a GEM object is exported as
 * (drm_gem_prime_dmabuf_ops): attaching pins the object's pages; mappings
 * are cached per attachment and skip CPU cache maintenance, as the GEM
 * helpers do; there is no begin/end CPU access, so SYNC does nothing here;
 * mmap adds the object's fake offset to vm_pgoff and maps the object; the
 * buffer holds a reference to its object, dropped on release. describe
 * names what backs the object (GemObject.backing): shmem pages, or the
 * DMA helper's contiguous buffer.
 */
export const drmGemPrimeDmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  attach(d) {
    objOf(d).getPages();
  },
  mapDmaBuf(att, dir) {
    const obj = objOf(att.dmabuf);
    const sgt = sgAllocTableFromPages(obj.getPages(), 0, obj.size);
    dmaMapSgtable(att.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
    return sgt;
  },
  unmapDmaBuf(att, sgt, dir) {
    dmaUnmapSg(att.dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
  },
  release(d) {
    const obj = objOf(d);
    const p = obj.put();
    if (p) obj.dev.track(p);
  },
  async mmap(d, vma) {
    const obj = objOf(d);
    vma.pgoff += obj.vmaNode.start;
    await obj.mmap(vma);
  },
  vmap: (d) => objOf(d).vmap(),
  vunmap: (d) => objOf(d).vunmap(),
  describe(d) {
    const obj = objOf(d);
    const pages = obj.pages;
    let runs = 0;
    if (pages) for (let i = 0; i < pages.length; i++) if (i === 0 || pages[i] !== pages[i - 1]! + 1) runs++;
    return {
      allocated: pages !== null,
      contiguous: runs === 1,
      deviceLocal: false,
      memType: obj.mapWc ? 'wc' : 'wb',
      source: `${obj.dev.driver.name} ${obj.backing()}`,
      runs,
      notes: [`gem object ${obj.id}, ${obj.handleCount} handle(s)`],
    };
  },
};

/** True when `d` was exported by a GEM object of `dev` (dma_buf->ops == &drm_gem_prime_dmabuf_ops && obj->dev == dev). */
export function isOwnGemDmaBuf(dev: DrmDevice, d: DmaBuf): boolean {
  return d.ops === drmGemPrimeDmabufOps && objOf(d).dev === dev;
}

/**
 * Exports an object as a new dma-buf (drm_gem_prime_export): exporter name
 * "drm", the object's size and reservation object, the access mode from
 * `flags`. The buffer holds an object reference; the caller owns the
 * buffer's one reference.
 */
export function gemPrimeExport(obj: GemObject, flags: number): DmaBuf {
  const d = exportDmaBuf(obj.dev.dbs, {
    ops: drmGemPrimeDmabufOps,
    size: obj.size,
    flags: flags & O_ACCMODE,
    priv: obj,
    expName: 'drm',
    resv: obj.resv,
    creator: obj.dev.driver.name,
  });
  obj.get();
  return d;
}

/** Remembers that `handle` of `file` is `d` (drm_prime_add_buf_handle); the entry holds a buffer reference. */
export function primeAddBufHandle(file: DrmFile, d: DmaBuf, handle: number): void {
  if (file.primeByBuf.has(d) || file.primeByHandle.has(handle)) throw new KernelBug(`prime entry for handle ${handle} exists`);
  getDmaBuf(d);
  file.primeByBuf.set(d, handle);
  file.primeByHandle.set(handle, d);
  dmaBufTrackRef(d, 'prime-handle', file, (f) => `PRIME handle ${f.primeByBuf.get(d) ?? handle} in ${f.dev.driver.name} file of ${f.comm} (pid ${f.pid})`, 'drm_prime_add_buf_handle');
}

/** Makes `d` the object's own buffer (obj->dma_buf = get_dma_buf(d)): a reference held while the object has handles. */
function setObjectDmaBuf(obj: GemObject, d: DmaBuf, fn: string): void {
  obj.dmaBuf = getDmaBuf(d);
  dmaBufTrackRef(d, 'gem-object', obj, gemObjectName, fn);
}

/**
 * Hands userspace an fd for a handle's buffer (drm_gem_prime_handle_to_fd):
 * ENOENT for an unknown handle. The same buffer comes back each time: the
 * one this file already has for the handle, the foreign buffer an import
 * came from, the object's existing export, or a new export. `flags` gives
 * the new buffer's access mode and the fd's O_CLOEXEC.
 */
export function gemPrimeHandleToFd(file: DrmFile, handle: number, flags: number, task: Task): number {
  const obj = gemObjectLookup(file, handle);
  if (!obj) throw kerr('ENOENT', `no gem handle ${handle}`);
  try {
    let d = file.primeByHandle.get(handle);
    if (d) {
      getDmaBuf(d);
    } else {
      if (obj.importAttach) {
        d = getDmaBuf(obj.importAttach.dmabuf);
      } else if (obj.dmaBuf) {
        d = getDmaBuf(obj.dmaBuf);
      } else {
        if (obj.handleCount === 0) throw kerr('ENOENT', `gem object ${obj.id} has no handles left`);
        d = gemPrimeExport(obj, flags);
        setObjectDmaBuf(obj, d, 'drm_gem_prime_handle_to_fd');
      }
      primeAddBufHandle(file, d, handle);
    }
    try {
      return dmaBufFd(task, d, flags & O_CLOEXEC);
    } catch (e) {
      void dmaBufPut(d);
      throw e;
    }
  } finally {
    void obj.put();
  }
}

/**
 * Imports a dma-buf as a GEM object of `dev` (drm_gem_prime_import, the
 * default gem_prime_import): a buffer this device exported gives back its
 * own object with a new reference; any other is attached for the device's
 * DMA and mapped once, and the object shares the buffer's reservation
 * object. EINVAL for a buffer that is not page sized.
 */
export async function gemPrimeImport(dev: DrmDevice, d: DmaBuf): Promise<GemObject> {
  if (isOwnGemDmaBuf(dev, d)) return objOf(d).get();
  if (d.size % PAGE_SIZE) throw kerr('EINVAL', `dma-buf of ${d.size} bytes is not page sized`);
  const att = await dmaBufAttach(d, dev.device);
  getDmaBuf(d);
  try {
    const sgt = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
    return new GemObject(dev, d.size, { attach: att, sgt });
  } catch (e) {
    await dmaBufDetach(d, att);
    await dmaBufPut(d);
    throw e;
  }
}

/**
 * Imports a dma-buf without mapping it for the device
 * (drm_gem_shmem_prime_import_no_map), for a driver whose device never
 * DMAs from an import -- a USB display, whose CPU reads it through
 * dma_buf_vmap between begin/end_cpu_access. A buffer this device exported
 * gives back its own object; any other is only attached (the exporter
 * keeps its backing for the attachment), and the object shares the
 * buffer's reservation object. EINVAL for a buffer that is not page sized.
 */
export async function gemPrimeImportNoMap(dev: DrmDevice, d: DmaBuf): Promise<GemObject> {
  if (isOwnGemDmaBuf(dev, d)) return objOf(d).get();
  if (d.size % PAGE_SIZE) throw kerr('EINVAL', `dma-buf of ${d.size} bytes is not page sized`);
  const att = await dmaBufAttach(d, dev.device);
  getDmaBuf(d);
  try {
    return new GemObject(dev, d.size, { attach: att, sgt: null });
  } catch (e) {
    await dmaBufDetach(d, att);
    await dmaBufPut(d);
    throw e;
  }
}

/**
 * Turns a dma-buf fd into a handle of `file` (drm_gem_prime_fd_to_handle):
 * EBADF for a closed fd, EINVAL for a file that is not a dma-buf. A buffer
 * this file has seen before gives its handle again; otherwise it is
 * imported by the driver's gemPrimeImport (gemPrimeImport by default) and
 * gets a new handle, remembered for next time.
 */
export async function gemPrimeFdToHandle(dev: DrmDevice, file: DrmFile, fd: number, task: Task): Promise<number> {
  const d = dmaBufGet(task, fd);
  try {
    const known = file.primeByBuf.get(d);
    if (known !== undefined) return known;
    const obj = await (dev.driver.gemPrimeImport ?? gemPrimeImport)(dev, d);
    if (obj.dev !== dev || obj.resv !== d.resv || (!isOwnGemDmaBuf(dev, d) && obj.importAttach?.dmabuf !== d)) {
      const p = obj.put();
      if (p) dev.track(p);
      throw new KernelBug(`${dev.driver.name}: gem_prime_import gave object ${obj.id}, not an import of dma-buf ino ${d.ino} sharing its reservation`);
    }
    if (obj.dmaBuf) {
      if (obj.dmaBuf !== d) throw new KernelBug(`gem object ${obj.id} imported from a second dma-buf`);
    } else {
      setObjectDmaBuf(obj, d, 'drm_gem_prime_fd_to_handle');
    }
    let handle: number;
    try {
      handle = gemHandleCreate(file, obj);
    } finally {
      const p = obj.put();
      if (p) dev.track(p);
    }
    primeAddBufHandle(file, d, handle);
    return handle;
  } finally {
    await dmaBufPut(d);
  }
}
