import type { CostLedger } from '../lib/index.ts';
import type { DmaBuf } from './dma-buf.ts';

/**
 * What in the kernel holds a buffer, besides fds and user mappings (which
 * the process layer finds in fd tables and address spaces):
 * - `vb2-slot`: a videobuf2 queue slot that imported the buffer (QBUF with V4L2_MEMORY_DMABUF);
 * - `gem-import`: a GEM object imported from the buffer (PRIME import: its attachment and reference);
 * - `gem-object`: a GEM object's own pointer to the buffer it was exported as or imported from (obj->dma_buf, while it has handles);
 * - `prime-handle`: a DRM file's PRIME cache entry for one of its handles (drm_prime_add_buf_handle);
 * - `kms-framebuffer`: a KMS framebuffer over a GEM object backed by the buffer;
 * - `kms-flip`: a page flip to such a framebuffer, waiting for its fences or its vsync;
 * - `kms-scanout`: the framebuffer the CRTC shows now;
 * - `device-job`: a job a device runs on the buffer (a decoder's reference frame, a GPU job);
 * - `fence-callback`: a poll callback armed on one of the buffer's fences (dma_buf_poll).
 */
export type DmaBufRefKind =
  | 'vb2-slot'
  | 'gem-import'
  | 'gem-object'
  | 'prime-handle'
  | 'kms-framebuffer'
  | 'kms-flip'
  | 'kms-scanout'
  | 'device-job'
  | 'fence-callback';

/** One kernel reference as the debug views and run results show it. */
export interface DmaBufKernelRef {
  kind: DmaBufRefKind;
  /** Who holds it: `vb2 queue of isp (capture) slot 2`, `framebuffer 36 of display-kms`. */
  holder: string;
  /** The call site that took it, as cost sites read (`isp: ioctl VIDIOC_QBUF › vb2_core_qbuf @ x.yaml:19:5`). */
  site: string;
  /** Simulated ns when it was taken. */
  timeNs: number;
  /**
   * What it holds the buffer through, when not the buffer's file itself: a
   * framebuffer or a GPU job holds a GEM object (`gem object 2 of gpu`),
   * whose import or export holds the file.
   */
  via?: string;
}

/** Names a holder when a view asks; called only then, so taking a reference builds no string. */
export type DmaBufRefNamer<H> = (holder: H) => string;

/**
 * The kernel references held on one buffer, each with the call site and
 * simulated time that took it (the buffer's ref_tracker_dir). Kept as
 * parallel arrays of numbers and pointers: taking one on a hot path (a
 * QBUF, a page flip, a device job every frame) records two numbers and two
 * pointers, and dropping it removes them. What is left when the buffer
 * outlives every process is the leak, named with its site.
 */
export class DmaBufRefTracker {
  private readonly kinds: DmaBufRefKind[] = [];
  private readonly holders: object[] = [];
  private readonly namers: DmaBufRefNamer<never>[] = [];
  private readonly vias: (DmaBufRefNamer<never> | null)[] = [];
  private readonly sites: number[] = [];
  private readonly times: number[] = [];

  /** Number of references tracked now. */
  get count(): number {
    return this.kinds.length;
  }

  /** @internal records one (ref_tracker_alloc). */
  add(kind: DmaBufRefKind, holder: object, namer: DmaBufRefNamer<never>, via: DmaBufRefNamer<never> | null, site: number, timeNs: number): void {
    this.kinds.push(kind);
    this.holders.push(holder);
    this.namers.push(namer);
    this.vias.push(via);
    this.sites.push(site);
    this.times.push(timeNs);
  }

  /** @internal forgets the newest one of `kind` held by `holder` (ref_tracker_free); false when there is none. */
  remove(kind: DmaBufRefKind, holder: object): boolean {
    for (let i = this.kinds.length - 1; i >= 0; i--) {
      if (this.holders[i] !== holder || this.kinds[i] !== kind) continue;
      this.kinds.splice(i, 1);
      this.holders.splice(i, 1);
      this.namers.splice(i, 1);
      this.vias.splice(i, 1);
      this.sites.splice(i, 1);
      this.times.splice(i, 1);
      return true;
    }
    return false;
  }

  /** Every reference, oldest first, with its holder named and its site spelled out by `ledger`. */
  list(ledger: CostLedger): DmaBufKernelRef[] {
    const out: DmaBufKernelRef[] = [];
    for (let i = 0; i < this.kinds.length; i++) {
      const h = this.holders[i]!;
      const r: DmaBufKernelRef = { kind: this.kinds[i]!, holder: (this.namers[i] as DmaBufRefNamer<object>)(h), site: ledger.siteText(this.sites[i]!), timeNs: this.times[i]! };
      const via = this.vias[i] as DmaBufRefNamer<object> | null;
      if (via) r.via = via(h);
      out.push(r);
    }
    return out;
  }
}

/**
 * Records a kernel reference `holder` keeps on the buffer, taken now in
 * kernel function `fn` by the current thread (ref_tracker_alloc, with the
 * call site standing for the stack it saves). Call it where the reference
 * is taken and dmaBufUntrackRef where it is dropped. A holder that keeps
 * the buffer through another object (a framebuffer through its GEM
 * object) names that object with `via`; without it the holder holds a
 * reference on the buffer's file. Never sleeps.
 */
export function dmaBufTrackRef<H extends object>(d: DmaBuf, kind: DmaBufRefKind, holder: H, namer: DmaBufRefNamer<H>, fn: string, via: DmaBufRefNamer<H> | null = null): void {
  const ledger = d.system.soc.costs;
  d.refs.add(kind, holder, namer as DmaBufRefNamer<never>, via as DmaBufRefNamer<never> | null, ledger.siteHere(fn), ledger.nowNs());
}

/**
 * Forgets the reference of `kind` that `holder` kept on the buffer
 * (ref_tracker_free); false when none was tracked. Never sleeps.
 */
export function dmaBufUntrackRef(d: DmaBuf, kind: DmaBufRefKind, holder: object): boolean {
  return d.refs.remove(kind, holder);
}

/** The kernel references held on the buffer now, oldest first, with their call sites. */
export function dmaBufKernelRefs(d: DmaBuf): DmaBufKernelRef[] {
  return d.refs.list(d.system.soc.costs);
}
