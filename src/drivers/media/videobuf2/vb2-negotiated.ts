import { DMA_TO_DEVICE, type Device, type DmaDirection, type SgTable } from '../../../dma/index.ts';
import {
  DmaFence,
  DmaResvUsage,
  dmaBufAttach,
  dmaBufDetach,
  dmaBufMapAttachment,
  dmaBufPin,
  dmaBufPut,
  dmaBufUnmapAttachment,
  dmaBufUnpin,
  exportNegotiatedBuffer,
  getDmaBuf,
  type DmaBuf,
  type DmaBufAttachment,
  type DmaBufSystem,
  type DmaFenceOps,
  type NegotiatedBacking,
} from '../../../dmabuf/index.ts';
import type { VmArea } from '../../../fs/index.ts';
import { KernelBug, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import type { Vb2Mem, Vb2MemOps } from './vb2-memops.ts';

const planeFenceOps: DmaFenceOps = {
  getDriverName: () => 'videobuf2',
  getTimelineName: () => 'plane',
};

/** exp_name of the buffers a movable plane is exported as. */
export const VB2_NEGOTIATED_EXP_NAME = 'videobuf2_negotiated';

/**
 * How a driver's MMAP planes live: 'off' in the allocator's own fixed
 * pages; 'movable' late-allocated and exported as a dynamic dma-buf whose
 * storage can move while the plane is with userspace (the device maps it
 * from QBUF to DQBUF only); 'pinned' the same buffer, but the device pins
 * and maps it at its first QBUF and keeps it until the buffers are freed,
 * so it can never move.
 */
export type Vb2PlaneMobility = 'off' | 'movable' | 'pinned';

/**
 * A plane whose memory is a dynamic dma-buf exporter's (the late
 * allocation of the 2011 RFC, which Linux leaves to exporters such as
 * GPU drivers with movable buffer objects): nothing is allocated until the
 * queue's device first maps it; the device is a dynamic importer of its
 * own plane, mapping it under the reservation lock for each trip through
 * the driver (QBUF to DQBUF) and returning the mapping when the buffer
 * comes back to userspace, so an importer with stricter needs that
 * attaches later (a display without an IOMMU) makes the exporter move the
 * bytes where both can reach them. EXPBUF hands out the buffer itself.
 * While the driver has the buffer, a fence in its reservation object says
 * the device is using it, signalled when the driver is done with it, so a
 * move the exporter makes meanwhile waits for the device's last byte. In
 * 'pinned' mode the device pins the storage at its first map instead, and
 * a stricter late importer is refused with EBUSY and the reason.
 */
export class NegotiatedPlane implements Vb2Mem {
  readonly size: number;
  readonly dmabuf: DmaBuf;
  readonly backing: NegotiatedBacking;
  readonly dev: Device;
  readonly dir: DmaDirection;
  readonly pinned: boolean;
  /** The device's mapping while the plane is with the driver (or for good, pinned), else null. */
  sgt: SgTable | null = null;
  private att: DmaBufAttachment | null = null;
  private refs = 1;
  private isPinned = false;
  /** The fence of the trip through the driver under way, or null. */
  private busy: DmaFence | null = null;
  private readonly fenceContext: number;
  private seqno = 0;

  private constructor(dmabuf: DmaBuf, backing: NegotiatedBacking, dev: Device, size: number, dir: DmaDirection, pinned: boolean) {
    this.dmabuf = dmabuf;
    this.backing = backing;
    this.dev = dev;
    this.size = size;
    this.dir = dir;
    this.pinned = pinned;
    this.fenceContext = dmabuf.system.fctx.alloc(1);
  }

  /** Allocates a movable plane (the memop's alloc): exports its buffer and attaches the queue's device to it as a dynamic importer; storage comes at the first map. */
  static async create(mm: Mm, dbs: DmaBufSystem, dev: Device, size: number, dir: DmaDirection, pinned: boolean): Promise<NegotiatedPlane> {
    const { dmabuf, backing } = exportNegotiatedBuffer(dbs, { size, mm, dynamic: true, expName: VB2_NEGOTIATED_EXP_NAME, creator: dev.name });
    const plane = new NegotiatedPlane(dmabuf, backing, dev, size, dir, pinned);
    try {
      // The device follows moves: its mapping is only held while the buffer is with the driver.
      plane.att = await dmaBufAttach(dmabuf, dev, { moveNotify: () => plane.moveNotify() });
    } catch (e) {
      await dmaBufPut(dmabuf);
      throw e;
    }
    return plane;
  }

  /** Users of the plane: the queue and each user mapping (the buffer's own references keep its storage). */
  get numUsers(): number {
    return this.refs;
  }

  /**
   * The exporter is about to move the storage (move_notify). The device's
   * mapping, if the buffer is with the driver, stays valid until its fence
   * signals, which the move waits for; it is returned at DQBUF like any
   * other, and the next QBUF maps the new storage. Nothing to do now.
   */
  private moveNotify(): void {}

  /**
   * Maps the plane for the device before the driver gets it (the memop's
   * prepare at QBUF): places the storage at the first use, or follows a
   * move made since the last DQBUF. Pinned mode pins and maps once.
   */
  async prepare(): Promise<void> {
    if (this.sgt) return;
    const att = this.att;
    if (!att) throw new KernelBug(`${this.dev.name}: prepare of a released plane`);
    await this.dmabuf.resv.lock();
    try {
      if (this.pinned && !this.isPinned) {
        await dmaBufPin(att);
        this.isPinned = true;
      }
      this.sgt = await dmaBufMapAttachment(att, this.dir);
      // The device owns the buffer until the driver is done with it: a move must wait for that.
      const f = new DmaFence(this.dmabuf.system.clock, planeFenceOps, this.fenceContext, ++this.seqno);
      this.dmabuf.resv.reserveFences(1);
      this.dmabuf.resv.addFence(f, this.dir === DMA_TO_DEVICE ? DmaResvUsage.READ : DmaResvUsage.WRITE);
      this.busy = f;
    } finally {
      this.dmabuf.resv.unlock();
    }
  }

  /** The driver is done with the buffer (vb2_buffer_done): the device's fence signals. Never sleeps. */
  done(): void {
    const f = this.busy;
    if (!f) return;
    this.busy = null;
    f.signal();
    f.put();
  }

  /** Returns the device's mapping when the buffer goes back to userspace (the memop's finish at DQBUF); pinned mode keeps it. */
  async finish(): Promise<void> {
    this.done();
    if (this.pinned) return;
    await this.unmap();
  }

  /** Unmaps the device's mapping if it holds one. */
  private async unmap(): Promise<void> {
    const sgt = this.sgt;
    if (!sgt || !this.att) return;
    this.sgt = null;
    await this.dmabuf.resv.lock();
    try {
      await dmaBufUnmapAttachment(this.att, sgt, this.dir);
    } finally {
      this.dmabuf.resv.unlock();
    }
  }

  /** The queue lets the plane go: the device returns its mapping and pin and detaches; the buffer lives on through its fds. */
  async release(): Promise<void> {
    const att = this.att;
    if (!att) return;
    this.done();
    await this.unmap();
    if (this.isPinned) {
      await this.dmabuf.resv.lock();
      dmaBufUnpin(att);
      this.dmabuf.resv.unlock();
      this.isPinned = false;
    }
    this.att = null;
    await dmaBufDetach(this.dmabuf, att);
  }

  /** Drops a reference; the queue's last drops the plane's reference to its buffer. */
  put(): void {
    if (this.refs <= 0) throw new KernelBug('vb2-negotiated: put of a freed plane');
    if (--this.refs > 0) return;
    void dmaBufPut(this.dmabuf);
  }

  /** EINVAL: a movable plane is mapped through its exported buffer (EXPBUF, then mmap of the dma-buf fd), whose mapping follows moves. */
  mmap(_vma: VmArea): void {
    throw kerr('EINVAL', 'vb2-negotiated: map the exported dma-buf (VIDIOC_EXPBUF) instead');
  }

  /** Hands out the plane's buffer itself with a new reference (vb2 get_dmabuf): one buffer, whoever imports it. */
  getDmabuf(_accMode: number): DmaBuf {
    return getDmaBuf(this.dmabuf);
  }

  /** None: the kernel maps a movable buffer only through dma_buf_vmap, which would pin it. */
  vaddr(): null {
    return null;
  }

  /** The device address while mapped as one range, else null. */
  dmaAddr(): number | null {
    return this.sgt && this.sgt.nents === 1 ? this.sgt.sgl[0]!.dmaAddress : null;
  }

  /** No kernel mapping to copy through (read() emulation is not offered on such queues). */
  copyOut(): void {
    throw kerr('EINVAL', 'vb2-negotiated: no kernel mapping');
  }
}

/**
 * Makes an allocator's ops (struct vb2_mem_ops) whose MMAP planes are NegotiatedPlanes when `mobility()` says so
 * at allocation time (a driver's test hook), else `base`'s; imports are
 * always `base`'s. `created` sees each new plane (for the driver's debug view).
 */
export function vb2NegotiatedMemops(mm: Mm, dbs: DmaBufSystem, base: Vb2MemOps, mobility: () => Vb2PlaneMobility, created?: (p: NegotiatedPlane) => void): Vb2MemOps {
  return {
    name: base.name,
    async alloc(dev, size, dir) {
      const m = mobility();
      if (m === 'off') return base.alloc(dev, size, dir);
      if (!dev) throw new KernelBug('vb2-negotiated: a queue without a device');
      const p = await NegotiatedPlane.create(mm, dbs, dev, size, dir, m === 'pinned');
      created?.(p);
      return p;
    },
    attachDmabuf: (dev, dbuf, size, dir) => base.attachDmabuf(dev, dbuf, size, dir),
  };
}
