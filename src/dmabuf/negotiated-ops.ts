import { syncMappingsForCpu, syncMappingsForDevice, type ExporterMapping } from './dma-buf-cpu.ts';
import type { VmArea } from '../fs/index.ts';
import { KernelBug, kerr } from '../lib/index.ts';
import { dmaMapSgtable, dmaUnmapSg, sgAllocTableFromPages, type DmaDirection, type SgTable } from '../dma/index.ts';
import { O_RDWR } from '../uapi/index.ts';
import { deviceNeeds, unmetNeed } from './backing-constraints.ts';
import { exportDmaBuf, type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaBufSystem } from './dma-buf.ts';
import { NegotiatedBacking, type NegotiatedBufferOptions } from './negotiated-backing.ts';
import { storageBlockers } from './negotiated-migration.ts';
import { planPlacement } from './negotiated-placement.ts';

/*
 * The negotiated buffer's exporter (its struct dma_buf_ops): every hook
 * goes to the buffer's NegotiatedBacking, which places the storage late
 * and moves it for stricter devices.
 */

/** The exporter's attach: accepts the device, schedules a move, or refuses with EBUSY and the reason. */
function attach(b: NegotiatedBacking, att: DmaBufAttachment): void {
  const n = deviceNeeds(att.dev, att.constraints);
  const c = b.collated(n);
  const plan = planPlacement(b, c);
  if (plan.kind === 'none') {
    b.log(`refused ${att.dev.name}: ${plan.why}`);
    throw kerr('EBUSY', `${att.dev.name} cannot share this buffer: ${plan.why}`);
  }
  const st = b.storage;
  if (st) {
    const unmet = unmetNeed(st.pfns, st.runs, c, st.pool ? st.pool.devices : null);
    if (unmet) {
      const blockers = storageBlockers(b);
      if (blockers.length > 0) {
        const why = `${unmet}, and the storage cannot move: ${blockers.join('; ')}`;
        b.log(`refused ${att.dev.name}: ${why}`);
        throw kerr('EBUSY', `${att.dev.name} cannot share this buffer: ${why}`);
      }
      b.pending = `${att.dev.name} attached: ${unmet}`;
      b.log(`${att.dev.name} attached; the storage must move before the next map (${unmet})`);
      b.needs.set(att, n);
      return;
    }
  }
  b.needs.set(att, n);
  b.log(`${att.dev.name} attached${st ? '; the current storage serves it' : '; storage not allocated yet'}`);
}

/** The exporter's detach: the device's constraints no longer count (the storage stays where it is). */
function detach(b: NegotiatedBacking, att: DmaBufAttachment): void {
  b.needs.delete(att);
  b.pins.delete(att);
  b.log(`${att.dev.name} detached`);
  const st = b.storage;
  if (b.pending && st && !unmetNeed(st.pfns, st.runs, b.collated(), st.pool ? st.pool.devices : null)) {
    b.pending = null;
    b.log('the pending move is dropped: the storage serves every device still attached');
  }
}

/** The exporter's map: places or moves the storage if needed, then maps a fresh table for the device. */
async function map(b: NegotiatedBacking, att: DmaBufAttachment, dir: DmaDirection): Promise<SgTable> {
  const st = await b.ensure(`${att.dev.name}'s map`, att);
  const n = b.needs.get(att);
  if (!n) throw new KernelBug(`${att.dev.name} maps a negotiated buffer it never attached to`);
  const sgt = sgAllocTableFromPages(st.pfns, 0, b.size, n.maxSegmentSize === Infinity ? Number.MAX_SAFE_INTEGER : n.maxSegmentSize);
  dmaMapSgtable(att.dev, sgt, dir);
  st.maps++;
  b.maps.push({ att, sgt, dir, storage: st });
  return sgt;
}

/** The exporter's unmap; frees a retired storage once its last mapping is back. */
function unmap(b: NegotiatedBacking, att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): void {
  const i = b.maps.findIndex((m) => m.sgt === sgt && m.att === att);
  if (i < 0) throw new KernelBug(`${att.dev.name}: unmap of a table this buffer did not map`);
  const rec = b.maps[i]!;
  b.maps.splice(i, 1);
  dmaUnmapSg(att.dev, sgt, dir);
  rec.storage.maps--;
  if (rec.storage.retired && rec.storage.maps === 0) {
    b.freeStorage(rec.storage);
    b.log(`old storage ${rec.storage.source} freed: ${att.dev.name} returned the last mapping into it`);
  }
}

/** The exporter's pin: the storage is placed (or moved) first, then stays. */
async function pin(b: NegotiatedBacking, att: DmaBufAttachment): Promise<void> {
  await b.ensure(`${att.dev.name}'s pin`, null);
  b.pins.set(att, (b.pins.get(att) ?? 0) + 1);
  b.log(`${att.dev.name} pinned the storage`);
}

/** The exporter's unpin. */
function unpin(b: NegotiatedBacking, att: DmaBufAttachment): void {
  const n = b.pins.get(att) ?? 0;
  if (n <= 0) throw new KernelBug(`${att.dev.name} unpins a negotiated buffer it did not pin`);
  if (n === 1) b.pins.delete(att);
  else b.pins.set(att, n - 1);
  b.log(`${att.dev.name} unpinned the storage`);
}

/** The mappings into the current storage, each with its own direction. */
function currentMappings(b: NegotiatedBacking): ExporterMapping[] {
  return b.maps.filter((m) => m.storage === b.storage).map((m) => ({ dev: m.att.dev, sgt: m.sgt, dir: m.dir }));
}

/** CPU access begins (begin_cpu_access): every mapping into the current storage is synced for the CPU, each with its own direction. */
function beginCpuAccess(b: NegotiatedBacking): void {
  syncMappingsForCpu(currentMappings(b));
}

/** CPU access ends (end_cpu_access; the CPU read, wrote or both: `dir`): every mapping is handed back to its device, readers first. */
function endCpuAccess(b: NegotiatedBacking, dir: DmaDirection): void {
  syncMappingsForDevice(currentMappings(b), dir);
}

/**
 * A user mapping: pages are faulted in from wherever the storage is when
 * touched, so a move only has to zap the mappings. The storage is placed
 * now if no device used it yet.
 */
async function mmap(b: NegotiatedBacking, vma: VmArea): Promise<void> {
  const st = await b.ensure('an mmap', null, false);
  if (st.pool && !st.pool.cacheable && b.memType === 'wb') throw kerr('EINVAL', 'device-local storage cannot be mapped cacheable');
  vma.memType = b.memType;
  b.vmas.add(vma);
  vma.vmOps = {
    open: (v) => void b.vmas.add(v),
    close: (v) => void b.vmas.delete(v),
    fault: (v, pageIndex) => {
      const cur = b.storage;
      const i = v.pgoff + pageIndex;
      if (!cur || i >= b.pages) throw kerr('EFAULT', `page ${i} beyond the buffer`);
      return cur.pfns[i]!;
    },
  };
}

/**
 * A kernel mapping of the whole buffer. It keeps the storage from moving
 * while held, so a pending move is done first (EBUSY when that needs the
 * reservation lock a dynamic exporter's caller does not hold).
 */
async function vmap(b: NegotiatedBacking): Promise<number> {
  if (b.pending && b.dynamic && !b.dmabuf.resv.isLocked()) throw kerr('EBUSY', `a move is pending (${b.pending}); vmap with the reservation lock held`);
  const st = await b.ensure('a vmap', null);
  if (st.pool) throw kerr('EINVAL', `device-local storage in ${st.pool.name} has no kernel mapping`);
  if (b.vmapCount === 0) b.vaddr = b.mm.kas.vmap(st.pfns, b.memType);
  b.vmapCount++;
  return b.vaddr;
}

/** Drops the kernel mapping. */
function vunmap(b: NegotiatedBacking): void {
  if (b.vmapCount === 0) throw new KernelBug('negotiated vunmap without vmap');
  if (--b.vmapCount === 0) {
    b.mm.kas.vunmap(b.vaddr);
    b.vaddr = 0;
  }
}

/** Frees every storage (the buffer is gone). */
function release(b: NegotiatedBacking): void {
  if (b.vmapCount > 0) b.mm.kas.vunmap(b.vaddr);
  for (const st of [...b.retiredStorages]) b.freeStorage(st);
  if (b.storage) b.freeStorage(b.storage);
  b.storage = null;
}

/** The ops of a negotiated buffer: every hook goes to its NegotiatedBacking. */
function negotiatedOps(dynamic: boolean): DmaBufOps {
  const b = (d: DmaBuf) => d.priv as NegotiatedBacking;
  const ops: DmaBufOps = {
    attach: (d, att) => attach(b(d), att),
    detach: (d, att) => detach(b(d), att),
    mapDmaBuf: (att, dir) => map(b(att.dmabuf), att, dir),
    unmapDmaBuf: (att, sgt, dir) => unmap(b(att.dmabuf), att, sgt, dir),
    release: (d) => release(b(d)),
    beginCpuAccess: (d) => beginCpuAccess(b(d)),
    endCpuAccess: (d, dir) => endCpuAccess(b(d), dir),
    mmap: (d, vma) => mmap(b(d), vma),
    vmap: (d) => vmap(b(d)),
    vunmap: (d) => vunmap(b(d)),
    describe: (d) => b(d).describe(),
  };
  if (dynamic) {
    return { ...ops, pin: (att) => pin(b(att.dmabuf), att), unpin: (att) => unpin(b(att.dmabuf), att) };
  }
  return ops;
}

/**
 * Exports a buffer whose storage is negotiated between its importers
 * (late allocation at the first map, moves for stricter late attachers,
 * EBUSY with a reason when impossible). The caller owns the one reference.
 */
export function exportNegotiatedBuffer(system: DmaBufSystem, opts: NegotiatedBufferOptions): { dmabuf: DmaBuf; backing: NegotiatedBacking } {
  const backing = new NegotiatedBacking(opts);
  const dmabuf = exportDmaBuf(system, {
    ops: negotiatedOps(backing.dynamic),
    size: backing.size,
    flags: opts.flags ?? O_RDWR,
    priv: backing,
    expName: opts.expName ?? 'negotiated',
    creator: opts.creator,
  });
  backing.dmabuf = dmabuf;
  return { dmabuf, backing };
}
