import type { Device } from '../../../dma/index.ts';
import type { NegotiatedBacking } from '../../../dmabuf/index.ts';
import { debugfsCreateAttr, type Vfs } from '../../../fs/index.ts';
import { IOMMU_READ, IOMMU_WRITE, iommuMap, iommuSetFaultHandler, iommuUnmap, type IommuDomain, type IommuFaultHandler } from '../../../iommu/index.ts';
import { PAGE_SIZE, hex, isKernelError, kerr } from '../../../lib/index.ts';
import type { Mm } from '../../../mm/index.ts';
import type { Vb2PlaneMobility } from '../videobuf2/vb2-negotiated.ts';

/** The values of debugfs movable_buffers, by number. */
const MOBILITY: readonly Vb2PlaneMobility[] = ['off', 'movable', 'pinned'];

/** What the camera's debug hooks and its IOMMU fault handler counted. */
export interface CameraFaultStats {
  /** IOMMU faults the handler saw. */
  faults: number;
  /** Of those, transactions it let the SMMU terminate (the frame fails). */
  terminated: number;
  /** Of those, transactions it retried after mapping the scratch page. */
  retried: number;
}

/**
 * The camera driver's test hooks and IOMMU fault handling, as SoC capture
 * drivers carry them: two debugfs files under /sys/kernel/debug/<device>/
 * -- `dma_overrun`, bytes the capture DMA writes past the end of each
 * frame (a wrong length in its descriptor, injected to test the error
 * path), and `fault_scratch`, which makes the fault handler map a scratch
 * page at the faulting address and retry instead of letting the SMMU
 * terminate the transaction, and `movable_buffers`, which makes the MMAP
 * buffers of the next REQBUFS late-allocated and exported as a dynamic
 * dma-buf that can move (1) or is pinned by the camera (2) -- and the handler registered on the device's
 * domain (iommu_set_fault_handler), which every SMMU fault of the camera
 * reaches (report_iommu_fault). A terminated transaction fails the frame:
 * the buffer completes with VB2_BUF_STATE_ERROR and DQBUF returns it with
 * V4L2_BUF_FLAG_ERROR.
 */
export class CameraDebug {
  /** Bytes written past each frame (debugfs dma_overrun). */
  dmaOverrun = 0;
  /** Retry faults over a scratch page (debugfs fault_scratch). */
  faultScratch = false;
  /** How the next REQBUFS's MMAP planes live (debugfs movable_buffers: 0 off, 1 movable, 2 pinned). */
  mobility: Vb2PlaneMobility = 'off';
  /** The movable buffers made so far, in order, kept for the debug view of where each went and why. */
  readonly movable: NegotiatedBacking[] = [];
  readonly stats: CameraFaultStats = { faults: 0, terminated: 0, retried: 0 };
  private readonly device: Device;
  private readonly domain: IommuDomain | null;
  /** The scratch page's frame while streaming with fault_scratch set (taken at stream start, so the handler, which must not sleep, never allocates), else -1. */
  private scratchPfn = -1;
  private readonly mm: Mm;
  /** IOVA pages the scratch page is mapped at, unmapped when streaming stops. */
  private readonly scratchIovas = new Set<number>();

  /** Creates the debugfs files and registers the fault handler on `domain` (null: no IOMMU, nothing to handle). */
  constructor(vfs: Vfs, mm: Mm, device: Device, domain: IommuDomain | null) {
    this.device = device;
    this.domain = domain;
    this.mm = mm;
    const dir = `/sys/kernel/debug/${device.name}`;
    debugfsCreateAttr(vfs, `${dir}/dma_overrun`, {
      get: () => this.dmaOverrun,
      set: (v) => {
        if (!Number.isSafeInteger(v) || v < 0 || v > 1 << 24) throw kerr('EINVAL', `dma_overrun: ${v} bytes (0 to 16 MiB)`);
        this.dmaOverrun = v;
      },
    });
    debugfsCreateAttr(vfs, `${dir}/fault_scratch`, {
      get: () => (this.faultScratch ? 1 : 0),
      set: (v) => {
        if (v !== 0 && v !== 1) throw kerr('EINVAL', `fault_scratch: ${v} (0 or 1)`);
        this.faultScratch = v === 1;
      },
    });
    debugfsCreateAttr(vfs, `${dir}/movable_buffers`, {
      get: () => MOBILITY.indexOf(this.mobility),
      set: (v) => {
        const m = MOBILITY[v];
        if (m === undefined) throw kerr('EINVAL', `movable_buffers: ${v} (0 off, 1 movable, 2 pinned)`);
        this.mobility = m;
      },
    });
    if (domain) iommuSetFaultHandler(domain, this.handler);
  }

  /**
   * The camera's IOMMU fault handler: counts the fault and, with
   * fault_scratch set, maps the scratch page at the faulting page and asks
   * for a retry (the stray bytes land there, the frame survives); otherwise
   * reports it and lets the transaction be terminated, which fails the
   * frame. Runs in the fault interrupt: it never sleeps.
   */
  private readonly handler: IommuFaultHandler = (f) => {
    this.stats.faults++;
    const page = f.iova - (f.iova % PAGE_SIZE);
    if (this.scratchPfn >= 0 && this.domain && !this.scratchIovas.has(page)) {
      try {
        iommuMap(this.domain, page, this.scratchPfn * PAGE_SIZE, PAGE_SIZE, IOMMU_READ | IOMMU_WRITE);
        this.scratchIovas.add(page);
        this.stats.retried++;
        return 'retry';
      } catch (e) {
        if (!isKernelError(e)) throw e;
      }
    }
    this.stats.terminated++;
    this.device.ctx.soc.findings.report(
      'iommu-fault',
      'camera_iommu_fault',
      `${this.device.name}: ${f.kind} fault on DMA ${f.write ? 'write' : 'read'} at iova ${hex(f.iova)}, outside every buffer mapped for it; transaction terminated, the frame fails (V4L2_BUF_FLAG_ERROR)`,
    );
    return 'terminate';
  };

  /** Takes the scratch page when streaming starts with fault_scratch set (start_streaming). */
  startStreaming(): void {
    if (this.faultScratch && this.domain && this.scratchPfn < 0) this.scratchPfn = this.mm.pages.allocPages(0, { zero: true });
  }

  /** Takes the scratch page out of the device's address space and frees it (stop_streaming), so those IOVAs can be handed out again. */
  stopStreaming(): void {
    if (!this.domain) return;
    for (const iova of this.scratchIovas) iommuUnmap(this.domain, iova, PAGE_SIZE);
    this.scratchIovas.clear();
    if (this.scratchPfn >= 0) this.mm.pages.freePages(this.scratchPfn, 0);
    this.scratchPfn = -1;
  }
}
