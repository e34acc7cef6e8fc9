import { KernelBug, kerr } from '../lib/index.ts';
import { DMA_BIDIRECTIONAL, DMA_NONE, dirName, validDmaDirection, type Device, type DmaDirection, type SgTable } from '../dma/index.ts';
import { DmaBufAttachment, type DmaBuf, type DmaBufAttachConstraints, type DmaBufImporterOps } from './dma-buf.ts';
import { MAX_SCHEDULE_TIMEOUT } from './dma-fence.ts';
import { DmaResvUsage } from './dma-resv.ts';

function checkDir(dir: number, call: string): asserts dir is DmaDirection {
  if (!validDmaDirection(dir)) throw new KernelBug(`${call}: invalid DMA direction ${dir}`);
}

function checkLive(att: DmaBufAttachment, call: string): void {
  if (!att.attached) throw new KernelBug(`${call}: attachment of ${att.dev.name} was detached`);
  if (att.dmabuf.released) throw new KernelBug(`${call}: buffer was released`);
}

/** Options of attach beyond the device and the importer's callbacks. */
export interface AttachOptions {
  /** The importer's own data (importer_priv). */
  importerPriv?: unknown;
  /** DMA limits the struct device does not carry (segment count, stricter alignment). */
  constraints?: DmaBufAttachConstraints;
}

/**
 * Calls the exporter's map and, for a static importer, waits for the
 * kernel's memory-management fences (moves, clears) before handing the
 * table out (__map_dma_buf).
 */
async function mapDmaBufCore(att: DmaBufAttachment, dir: DmaDirection): Promise<SgTable> {
  const d = att.dmabuf;
  const sgt = await d.costScope(() => d.ops.mapDmaBuf(att, dir));
  if (!att.isDynamic) {
    try {
      await d.resv.waitTimeout(DmaResvUsage.KERNEL, MAX_SCHEDULE_TIMEOUT);
    } catch (e) {
      await d.costScope(() => d.ops.unmapDmaBuf(att, sgt, dir));
      throw e;
    }
  }
  att.mappings.push({ sgt, dir, since: d.system.clock.now, site: d.system.soc.costs.siteHere('dma_buf_map_attachment') });
  return sgt;
}

/** Unmaps through the exporter and forgets the mapping (__unmap_dma_buf); wakes exporters waiting for maps to come back. */
async function unmapDmaBufCore(att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): Promise<void> {
  const i = att.mappings.findIndex((m) => m.sgt === sgt);
  if (i < 0) throw new KernelBug(`dma_buf_unmap_attachment: ${att.dev.name} never got this sg table from the buffer`);
  await att.dmabuf.costScope(() => att.dmabuf.ops.unmapDmaBuf(att, sgt, dir));
  const j = att.mappings.findIndex((m) => m.sgt === sgt);
  if (j >= 0) att.mappings.splice(j, 1);
  att.dmabuf.mapWq.wakeUp();
}

/**
 * Connects a device to the buffer (dma_buf_dynamic_attach; dma_buf_attach
 * without importerOps). The exporter's attach may refuse with EBUSY when
 * the storage it already has cannot serve the device, and says why. When
 * importer and exporter differ in dynamism the mapping is made now and
 * cached until detach (pinning a dynamic exporter's storage first), as
 * Linux does. importerOps without moveNotify is EINVAL. May sleep.
 */
export async function dmaBufAttach(
  dmabuf: DmaBuf,
  dev: Device,
  importerOps: DmaBufImporterOps | null = null,
  opts: AttachOptions = {},
): Promise<DmaBufAttachment> {
  if (!dmabuf || !dev) throw kerr('EINVAL', 'dma_buf_attach: no buffer or device');
  if (dmabuf.released) throw new KernelBug('dma_buf_attach on a released buffer');
  if (importerOps && typeof importerOps.moveNotify !== 'function') throw kerr('EINVAL', 'dma_buf_attach: importer ops without move_notify');
  const att = new DmaBufAttachment(dmabuf, dev, importerOps, opts.importerPriv, { ...opts.constraints });
  att.since = dmabuf.system.clock.now;
  att.site = dmabuf.system.soc.costs.siteHere('dma_buf_attach');
  if (dmabuf.ops.attach) await dmabuf.ops.attach(dmabuf, att);
  await dmabuf.resv.lock();
  dmabuf.attachments.unshift(att);
  dmabuf.resv.unlock();
  if (att.isDynamic !== dmabuf.isDynamic) {
    const dyn = dmabuf.isDynamic;
    if (dyn) await dmabuf.resv.lock();
    let pinned = false;
    try {
      if (dyn) {
        await dmabuf.ops.pin!(att);
        pinned = true;
      }
      const sgt = await mapDmaBufCore(att, DMA_BIDIRECTIONAL);
      att.sgt = sgt;
      att.dir = DMA_BIDIRECTIONAL;
    } catch (e) {
      if (pinned) dmabuf.ops.unpin!(att);
      if (dyn) dmabuf.resv.unlock();
      await removeAttachment(dmabuf, att);
      throw e;
    }
    if (dyn) dmabuf.resv.unlock();
  }
  return att;
}

/** Takes the attachment off the buffer and tells the exporter (the tail of dma_buf_detach). */
async function removeAttachment(dmabuf: DmaBuf, att: DmaBufAttachment): Promise<void> {
  await dmabuf.resv.lock();
  const i = dmabuf.attachments.indexOf(att);
  if (i >= 0) dmabuf.attachments.splice(i, 1);
  dmabuf.resv.unlock();
  att.attached = false;
  dmabuf.ops.detach?.(dmabuf, att);
  dmabuf.mapWq.wakeUp();
}

/**
 * Disconnects a device (dma_buf_detach): the cached mapping is unmapped
 * (and a dynamic exporter's pin dropped), then the exporter forgets the
 * device. Mappings the importer never returned are reported as a leak
 * finding. May sleep.
 */
export async function dmaBufDetach(dmabuf: DmaBuf, att: DmaBufAttachment): Promise<void> {
  if (att.dmabuf !== dmabuf) throw new KernelBug(`dma_buf_detach: attachment of ${att.dev.name} belongs to another buffer`);
  checkLive(att, 'dma_buf_detach');
  if (att.sgt) {
    const dyn = dmabuf.isDynamic;
    if (dyn) await dmabuf.resv.lock();
    try {
      await unmapDmaBufCore(att, att.sgt, att.dir);
      att.sgt = null;
      att.dir = DMA_NONE;
      if (dyn) dmabuf.ops.unpin!(att);
    } finally {
      if (dyn) dmabuf.resv.unlock();
    }
  }
  if (att.mappings.length > 0) {
    dmabuf.system.soc.findings.report(
      'leak',
      'dma_buf_detach',
      `${att.dev.name} detached from buffer ino ${dmabuf.ino} with ${att.mappings.length} mapping(s) not unmapped`,
    );
  }
  if (att.pins > 0) {
    dmabuf.system.soc.findings.report('leak', 'dma_buf_detach', `${att.dev.name} detached from buffer ino ${dmabuf.ino} still holding ${att.pins} pin(s)`);
  }
  await removeAttachment(dmabuf, att);
}

/**
 * Maps the attachment for DMA by its device (dma_buf_map_attachment) and
 * returns the sg table already mapped through the device's DMA ops. A
 * static importer's map waits for the buffer's KERNEL fences; a dynamic
 * importer must hold the reservation lock and follow moveNotify. A second
 * mapping of one attachment in another direction is EBUSY (unless the
 * first was bidirectional). May sleep: late-allocating exporters allocate
 * or move the storage here.
 */
export async function dmaBufMapAttachment(att: DmaBufAttachment, dir: DmaDirection): Promise<SgTable> {
  checkDir(dir, 'dma_buf_map_attachment');
  checkLive(att, 'dma_buf_map_attachment');
  const d = att.dmabuf;
  if (att.isDynamic) d.resv.assertHeld('dma_buf_map_attachment (dynamic importer)');
  if (att.sgt) {
    if (att.dir !== dir && att.dir !== DMA_BIDIRECTIONAL) {
      throw kerr('EBUSY', `${att.dev.name} holds a ${dirName(att.dir)} mapping; ${dirName(dir)} needs another`);
    }
    return att.sgt;
  }
  for (const m of att.mappings) {
    if (m.dir !== dir && m.dir !== DMA_BIDIRECTIONAL) {
      throw kerr('EBUSY', `${att.dev.name} holds a ${dirName(m.dir)} mapping; unmap it before mapping ${dirName(dir)}`);
    }
  }
  if (d.isDynamic) d.resv.assertHeld('dma_buf_map_attachment (dynamic exporter)');
  const sgt = await mapDmaBufCore(att, dir);
  if (d.ops.cacheSgtMapping) {
    att.sgt = sgt;
    att.dir = dir;
  }
  return sgt;
}

/**
 * Returns a mapping (dma_buf_unmap_attachment): the end of the device's
 * access, after which a late-allocating exporter may move the storage. A
 * cached mapping stays until detach. May sleep.
 */
export async function dmaBufUnmapAttachment(att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): Promise<void> {
  checkDir(dir, 'dma_buf_unmap_attachment');
  checkLive(att, 'dma_buf_unmap_attachment');
  if (!sgt) throw new KernelBug('dma_buf_unmap_attachment without an sg table');
  const d = att.dmabuf;
  if (att.isDynamic) d.resv.assertHeld('dma_buf_unmap_attachment (dynamic importer)');
  if (att.sgt === sgt) return;
  if (d.isDynamic) d.resv.assertHeld('dma_buf_unmap_attachment (dynamic exporter)');
  await unmapDmaBufCore(att, sgt, dir);
}

/**
 * Keeps the storage where it is (dma_buf_pin), for dynamic importers that
 * cannot follow a move (scanout). Reservation lock held. A static importer
 * pinning is a KernelBug: its mapping already pins. May sleep.
 */
export async function dmaBufPin(att: DmaBufAttachment): Promise<void> {
  checkLive(att, 'dma_buf_pin');
  if (!att.importerOps) throw new KernelBug(`dma_buf_pin by static importer ${att.dev.name}`);
  const d = att.dmabuf;
  d.resv.assertHeld('dma_buf_pin');
  if (d.ops.pin) await d.ops.pin(att);
  att.pins++;
}

/** Drops a pin (dma_buf_unpin); reservation lock held. */
export function dmaBufUnpin(att: DmaBufAttachment): void {
  checkLive(att, 'dma_buf_unpin');
  if (!att.importerOps) throw new KernelBug(`dma_buf_unpin by static importer ${att.dev.name}`);
  if (att.pins === 0) throw new KernelBug(`dma_buf_unpin: ${att.dev.name} holds no pin`);
  const d = att.dmabuf;
  d.resv.assertHeld('dma_buf_unpin');
  d.ops.unpin?.(att);
  att.pins--;
  d.mapWq.wakeUp();
}

/**
 * Tells every dynamic importer that the storage moves (dma_buf_move_notify);
 * the exporter calls it with the reservation lock held before it moves.
 */
export function dmaBufMoveNotify(dmabuf: DmaBuf): void {
  dmabuf.resv.assertHeld('dma_buf_move_notify');
  for (const att of [...dmabuf.attachments]) att.importerOps?.moveNotify(att);
}
