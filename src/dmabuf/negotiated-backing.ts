import { waitEvent, type VmArea } from '../fs/index.ts';
import type { MemType } from '../hw/index.ts';
import { PAGE_SIZE, kerr } from '../lib/index.ts';
import type { DmaDirection, SgTable } from '../dma/index.ts';
import type { CmaArea, Mm } from '../mm/index.ts';
import { collate, describeNeeds, type CollatedNeeds, type DeviceNeeds } from './backing-constraints.ts';
import type { DmaBuf, DmaBufAttachment, DmaBufStorageInfo } from './dma-buf.ts';
import { migrateStorage } from './negotiated-migration.ts';
import { allocateStorage, planPlacement, type DevicePool, type Storage } from './negotiated-placement.ts';

/** Options of a buffer whose storage is negotiated between its importers. */
export interface NegotiatedBufferOptions {
  size: number;
  mm: Mm;
  /** exp_name (default "negotiated"). */
  expName?: string;
  creator?: string;
  /** File flags of the buffer (default O_RDWR). */
  flags?: number;
  /** CPU mappings are non-cacheable ('wc'): no CPU cache maintenance, slower CPU access. */
  uncached?: boolean;
  /**
   * A dynamic exporter (pin/unpin): static importers are mapped and pinned
   * at attach, as Linux does; dynamic ones are told to drop their
   * mappings (moveNotify) when the storage moves. Otherwise mappings are
   * made at each map and the storage moves once all are returned.
   */
  dynamic?: boolean;
  /** Device-local pools the buffer may live in. */
  pools?: readonly DevicePool[];
  /** CMA areas to consider besides the attached devices' own and the default one. */
  cmaAreas?: readonly CmaArea[];
}

/** A mapping handed out, and which storage it points into. */
export interface MapRecord {
  att: DmaBufAttachment;
  sgt: SgTable;
  dir: DmaDirection;
  storage: Storage;
}

/**
 * Backing storage that is allocated late and can move, the part of the
 * 2011 RFC the sources left open. Exporters embed it: nothing is allocated
 * until the first map (or CPU use); then the constraints of every attached
 * device are collated (contiguity, DMA mask, segment size and count,
 * alignment, coherency; backing-constraints.ts) and the storage placed in
 * a device-local pool, a CMA area or scattered system pages
 * (negotiated-placement.ts). A device with stricter needs that attaches
 * later is accepted when the storage can still move: the next map waits
 * until every static mapping is returned (and tells dynamic importers to
 * drop theirs), waits for the buffer's fences, and moves the bytes, so the
 * sg tables change (negotiated-migration.ts). When the storage cannot move
 * (pinned, a cached mapping, a kernel vmap) or nothing could serve every
 * device, the attach fails with EBUSY and says why (negotiated-ops.ts, the
 * exporter's dma_buf_ops). Every decision is logged for the debug view.
 */
export class NegotiatedBacking {
  readonly size: number;
  readonly pages: number;
  readonly mm: Mm;
  readonly memType: MemType;
  readonly dynamic: boolean;
  readonly pools: readonly DevicePool[];
  readonly extraCma: readonly CmaArea[];
  /** The buffer, once exported. */
  dmabuf!: DmaBuf;
  /** Decisions in order, with their simulated time. */
  readonly history: string[] = [];
  /** Moves done so far and bytes they copied. */
  migrations = 0;
  bytesMoved = 0;
  /** Why the current placement was chosen. */
  placementWhy = '';
  /** @internal The current placement, null before the first use. */
  storage: Storage | null = null;
  /** @internal Each attached device's constraints. */
  readonly needs = new Map<DmaBufAttachment, DeviceNeeds>();
  /** @internal Mappings handed out and not yet returned. */
  readonly maps: MapRecord[] = [];
  /** @internal Pins per attachment. */
  readonly pins = new Map<DmaBufAttachment, number>();
  /** @internal User mappings, zapped when the storage moves. */
  readonly vmas = new Set<VmArea>();
  /** @internal Old placements still mapped by someone. */
  readonly retiredStorages = new Set<Storage>();
  /** @internal Why the storage must move before the next map, or null. */
  pending: string | null = null;
  /** Serialises placement: maps wait here while the storage is being allocated or moved. */
  private busy = false;
  /** @internal Kernel mappings held (vmap), and their address. */
  vmapCount = 0;
  /** @internal */
  vaddr = 0;

  constructor(opts: NegotiatedBufferOptions) {
    if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw kerr('EINVAL', `negotiated buffer: size ${opts.size}`);
    this.size = opts.size;
    this.pages = Math.ceil(opts.size / PAGE_SIZE);
    this.mm = opts.mm;
    this.memType = opts.uncached ? 'wc' : 'wb';
    this.dynamic = opts.dynamic === true;
    this.pools = opts.pools ?? [];
    this.extraCma = opts.cmaAreas ?? [];
  }

  /** The current placement's page frames, or null before the first use. */
  get pfns(): Uint32Array | null {
    return this.storage?.pfns ?? null;
  }

  /** True when a stricter device attached and the storage will move at the next map. */
  get migrationPending(): boolean {
    return this.pending !== null;
  }

  /** @internal Records a decision for the debug view. */
  log(msg: string): void {
    this.history.push(`t=${this.mm.soc.clock.now} ns: ${msg}`);
  }

  /** @internal The needs of every attached device, and of `extra` if given, collated. */
  collated(extra?: DeviceNeeds): CollatedNeeds {
    const all = [...this.needs.values()];
    if (extra) all.push(extra);
    return collate(all);
  }

  /** @internal Frees a placement once (it may be retired and released both). */
  freeStorage(st: Storage): void {
    if (st.freed) return;
    st.freed = true;
    this.retiredStorages.delete(st);
    st.free();
  }

  /**
   * @internal Makes sure storage exists and serves every attached device:
   * allocates it at the first use, or moves it when a stricter device
   * attached. `who` names the caller for the log; `self` is the attachment
   * mapping, whose own outstanding mappings would make a wait deadlock
   * (EDEADLK). CPU users pass allowMove false: their mappings follow a
   * later move.
   */
  async ensure(who: string, self: DmaBufAttachment | null, allowMove = true): Promise<Storage> {
    while (this.busy) await waitEvent(this.dmabuf.mapWq, () => !this.busy);
    if (this.storage && (this.pending === null || !allowMove)) return this.storage;
    this.busy = true;
    try {
      if (!this.storage) {
        const c = this.collated();
        const plan = planPlacement(this, c);
        if (plan.kind === 'none') throw kerr('ENOMEM', plan.why);
        this.storage = await allocateStorage(this, c, plan);
        this.placementWhy = plan.why;
        this.log(`allocated at first use by ${who}: ${this.storage.source} (${plan.why})`);
      } else {
        await migrateStorage(this, who, self);
      }
      return this.storage;
    } finally {
      this.busy = false;
      this.dmabuf.mapWq.wakeUp();
    }
  }

  /** The storage summary the debug view shows. */
  describe(): DmaBufStorageInfo {
    const st = this.storage;
    return {
      allocated: st !== null,
      contiguous: st?.contiguous ?? false,
      deviceLocal: st ? st.pool !== null : false,
      memType: this.memType,
      source: st?.source ?? 'none',
      runs: st?.runs ?? 0,
      notes: this.explain().split('\n'),
    };
  }

  /**
   * Says which constraints came from which device, where the storage is and
   * why, and every decision so far (allocation, moves, refusals).
   */
  explain(): string {
    const c = this.collated();
    const lines = ['negotiated placement:'];
    for (const l of describeNeeds(c)) lines.push(`  ${l}`);
    const st = this.storage;
    lines.push(st ? `  placed in ${st.source}: ${this.placementWhy}` : '  not placed yet: the first map (or CPU use) allocates');
    lines.push(
      `  cpu mappings: ${this.memType === 'wb' ? 'cacheable; begin/end_cpu_access clean and invalidate for the non-coherent devices' : 'non-cacheable (write-combine): no maintenance, slower CPU access'}`,
    );
    if (this.pending) lines.push(`  move pending: ${this.pending}`);
    if (this.retiredStorages.size) lines.push(`  old storage still mapped by dynamic importers: ${[...this.retiredStorages].map((s) => s.source).join(', ')}`);
    lines.push(`  moves: ${this.migrations} (${this.bytesMoved} bytes copied)`);
    for (const h of this.history) lines.push(`  ${h}`);
    return lines.join('\n');
  }
}
