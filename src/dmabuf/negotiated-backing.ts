import { syncMappingsForCpu, syncMappingsForDevice, type ExporterMapping } from './dma-buf-cpu.ts';
import { waitEvent, type VmArea } from '../fs/index.ts';
import type { MemType } from '../hw/index.ts';
import { KernelBug, PAGE_SIZE, formatBytes, hex, isKernelError, kerr } from '../lib/index.ts';
import {
  dmaMapSgtable,
  dmaUnmapSg,
  sgAllocTableFromPages,
  type Device,
  type DmaDirection,
  type SgTable,
} from '../dma/index.ts';
import type { CmaArea, GenPool, Mm } from '../mm/index.ts';
import { O_RDWR } from '../uapi/index.ts';
import { collate, describeNeeds, deviceNeeds, needsContiguous, unmetNeed, type CollatedNeeds, type DeviceNeeds } from './backing-constraints.ts';
import { dmaBufMoveNotify } from './dma-buf-attach.ts';
import { exportDmaBuf, type DmaBuf, type DmaBufAttachment, type DmaBufOps, type DmaBufStorageInfo, type DmaBufSystem } from './dma-buf.ts';
import { MAX_SCHEDULE_TIMEOUT } from './dma-fence.ts';
import { DmaResvUsage } from './dma-resv.ts';

/**
 * Memory next to some devices (an on-chip SRAM, a carve-out), managed by a
 * GenPool of physical addresses. Only the listed devices can DMA to it.
 */
export interface DevicePool {
  readonly name: string;
  readonly pool: GenPool;
  /** The devices that reach the pool. */
  readonly devices: readonly Device[];
  /** Whether the CPU may map it cacheable; a buffer only uses pools that match its own CPU memory type. */
  readonly cacheable: boolean;
}

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

/** One placement of the bytes. Several may live at once while old mappings drain after a move. */
class Storage {
  readonly pfns: Uint32Array;
  readonly runs: number;
  readonly source: string;
  readonly pool: DevicePool | null;
  readonly contiguous: boolean;
  /** Mappings handed out on this storage and not yet returned. */
  maps = 0;
  /** Replaced by a newer storage; freed once `maps` drops to 0. */
  retired = false;
  freed = false;
  readonly free: () => void;

  constructor(pfns: Uint32Array, source: string, pool: DevicePool | null, free: () => void) {
    this.pfns = pfns;
    let runs = 0;
    for (let i = 0; i < pfns.length; i++) if (i === 0 || pfns[i] !== pfns[i - 1]! + 1) runs++;
    this.runs = runs;
    this.contiguous = runs === 1;
    this.source = source;
    this.pool = pool;
    this.free = free;
  }
}

/** A mapping handed out, and which storage it points into. */
interface MapRecord {
  att: DmaBufAttachment;
  sgt: SgTable;
  dir: DmaDirection;
  storage: Storage;
}

/** The plan for a new placement, before anything is allocated. */
type Plan =
  | { kind: 'pool'; pool: DevicePool; why: string }
  | { kind: 'cma'; area: CmaArea; alignOrder: number; why: string }
  | { kind: 'pages'; maxPa: number; softMaxPa: number; why: string };

/** Orders tried for scattered pages: 1 MiB, 64 KiB and 4 KiB blocks, largest first. */
const PAGE_ORDERS = [8, 4, 0] as const;

const ZERO = new Uint8Array(64 * 1024);
let scratch = new Uint8Array(64 * 1024);

/**
 * Backing storage that is allocated late and can move, the part of the
 * 2011 RFC the sources left open. Exporters embed it: nothing is allocated
 * until the first map (or CPU use); then the constraints of every attached
 * device are collated (contiguity, DMA mask, segment size and count,
 * alignment, coherency) and the storage placed in a device-local pool, a
 * CMA area or scattered system pages. A device with stricter needs that
 * attaches later is accepted when the storage can still move: the next map
 * waits until every static mapping is returned (and tells dynamic
 * importers to drop theirs), waits for the buffer's fences, and moves the
 * bytes, so the sg tables change. When the storage cannot move (pinned, a
 * cached mapping, a kernel vmap) or nothing could serve every device, the
 * attach fails with EBUSY and says why. Every decision is logged for the
 * debug view.
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
  private storage: Storage | null = null;
  private readonly needs = new Map<DmaBufAttachment, DeviceNeeds>();
  private readonly maps: MapRecord[] = [];
  private readonly pins = new Map<DmaBufAttachment, number>();
  private readonly vmas = new Set<VmArea>();
  private readonly retiredStorages = new Set<Storage>();
  /** Why the storage must move before the next map, or null. */
  private pending: string | null = null;
  /** Serialises placement: maps wait here while the storage is being allocated or moved. */
  private busy = false;
  private vmapCount = 0;
  private vaddr = 0;

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

  private log(msg: string): void {
    this.history.push(`t=${this.mm.soc.clock.now} ns: ${msg}`);
  }

  private collated(extra?: DeviceNeeds): CollatedNeeds {
    const all = [...this.needs.values()];
    if (extra) all.push(extra);
    return collate(all);
  }

  // ---- placement ----------------------------------------------------------

  /** Chooses where storage for `c` would go, or says why nothing can serve it. */
  private plan(c: CollatedNeeds): Plan | { kind: 'none'; why: string } {
    const cacheable = this.memType === 'wb';
    const names = c.devices.map((n) => n.dev.name);
    if (c.devices.length > 0) {
      for (const p of this.pools) {
        if (p.cacheable !== cacheable || p.pool.size() < this.pages * PAGE_SIZE) continue;
        if (c.devices.every((n) => p.devices.includes(n.dev))) {
          return { kind: 'pool', pool: p, why: `every attached device (${names.join(', ')}) reaches device-local pool ${p.name}: no DRAM traffic, contiguous by construction` };
        }
      }
    }
    if (needsContiguous(c)) {
      const by = c.contiguousBy.map((n) => `${n.dev.name}: ${n.contiguousWhy}`).join('; ');
      const areas: CmaArea[] = [];
      for (const n of c.devices) if (n.dev.cma && !areas.includes(n.dev.cma)) areas.push(n.dev.cma);
      for (const a of this.extraCma) if (!areas.includes(a)) areas.push(a);
      if (this.mm.defaultCma && !areas.includes(this.mm.defaultCma)) areas.push(this.mm.defaultCma);
      const alignOrder = Math.min(Math.ceil(Math.log2(c.alignment.value / PAGE_SIZE)), 10);
      for (const a of areas) {
        if (a.count < this.pages) continue;
        if (a.base + a.size > c.maxPa.value) continue;
        const limit = c.maxPa.by ? `, and lies below ${hex(c.maxPa.value)} as ${c.maxPa.by} needs` : '';
        return { kind: 'cma', area: a, alignOrder, why: `contiguity required (${by}); CMA area ${a.name} [${hex(a.base)}-${hex(a.base + a.size)}) holds ${this.pages} pages${limit}` };
      }
      const lim = c.maxPa.by ? ` below ${hex(c.maxPa.value)} (${c.maxPa.by})` : '';
      return { kind: 'none', why: `contiguity required (${by}) but no CMA area${lim} holds ${this.pages} pages` };
    }
    const soft = Math.min(c.maxPa.value, c.maxPaSoft.value);
    const limit = c.maxPa.by ? ` below ${hex(c.maxPa.value)} (${c.maxPa.by})` : '';
    const why =
      c.devices.length === 0
        ? 'no device attached yet (first use by the CPU): scattered pages, largest blocks first (1 MiB, 64 KiB, 4 KiB)'
        : `no device needs contiguity (${names.join(', ')} scatter-gather or sit behind an IOMMU): scattered pages${limit}, largest blocks first (1 MiB, 64 KiB, 4 KiB) so IOMMUs map them with large pages`;
    return { kind: 'pages', maxPa: c.maxPa.value, softMaxPa: soft, why };
  }

  /** Allocates the pages of a plan (zeroed, and without a cacheable alias when the buffer is uncached). */
  private async allocate(c: CollatedNeeds, plan: Plan): Promise<Storage> {
    const n = this.pages;
    let st: Storage;
    if (plan.kind === 'pool') {
      const addr = plan.pool.pool.alloc(n * PAGE_SIZE);
      const pa = plan.pool.pool.virtToPhys(addr);
      const pfns = seq(pa / PAGE_SIZE, n);
      st = new Storage(pfns, `pool:${plan.pool.name} ${hex(pa)}+${formatBytes(n * PAGE_SIZE)}`, plan.pool, () => plan.pool.pool.free(addr, n * PAGE_SIZE));
      this.zero(pfns);
    } else if (plan.kind === 'cma') {
      const pfn = await plan.area.alloc(n, plan.alignOrder);
      const pfns = seq(pfn, n);
      st = new Storage(pfns, `cma:${plan.area.name} pfn ${hex(pfn)}+${n}`, null, () => void plan.area.release(pfn, n));
      this.zero(pfns);
    } else {
      st = this.allocPages(plan, c);
    }
    if (this.memType !== 'wb') this.makeUncached(st);
    return st;
  }

  /** Scattered pages, largest orders first, below the address limits; falls back to CMA when they make too many segments. */
  private allocPages(plan: Extract<Plan, { kind: 'pages' }>, c: CollatedNeeds): Storage {
    const mm = this.mm;
    const n = this.pages;
    const tryLimit = (maxPa: number): [number, number][] | null => {
      const blocks: [number, number][] = [];
      let got = 0;
      let maxOrder: number = PAGE_ORDERS[0];
      while (got < n) {
        let placed = false;
        for (const order of PAGE_ORDERS) {
          if (n - got < 1 << order || order > maxOrder) continue;
          let pfn: number;
          try {
            pfn = mm.pages.allocPages(order, { highmem: true, zero: true, maxPa: maxPa === Infinity ? undefined : maxPa });
          } catch (e) {
            if (!isKernelError(e, 'ENOMEM')) throw e;
            continue;
          }
          blocks.push([pfn, order]);
          got += 1 << order;
          maxOrder = order;
          placed = true;
          break;
        }
        if (!placed) {
          for (const [pfn, order] of blocks) mm.pages.freePages(pfn, order);
          return null;
        }
      }
      return blocks;
    };
    let blocks = plan.softMaxPa < plan.maxPa ? tryLimit(plan.softMaxPa) : null;
    if (!blocks) blocks = tryLimit(plan.maxPa);
    if (!blocks) throw kerr('ENOMEM', `no ${n} pages${plan.maxPa !== Infinity ? ` below ${hex(plan.maxPa)}` : ''}`);
    const pfns = new Uint32Array(n);
    let k = 0;
    for (const [pfn, order] of blocks) for (let i = 0; i < 1 << order; i++) pfns[k++] = pfn + i;
    const mix = new Map<number, number>();
    for (const [, o] of blocks) mix.set(o, (mix.get(o) ?? 0) + 1);
    const st = new Storage(pfns, `system pages (${[...mix].map(([o, m]) => `${m} x order ${o}`).join(', ')})`, null, () => {
      for (const [pfn, order] of blocks!) mm.pages.freePages(pfn, order);
    });
    const unmet = unmetNeed(pfns, st.runs, c, null);
    if (unmet) {
      st.free();
      throw kerr('ENOMEM', `scattered pages cannot serve the devices: ${unmet}`);
    }
    return st;
  }

  /** Zeroes new storage through every view (clear_page through the linear map). */
  private zero(pfns: Uint32Array): void {
    const { mem, cache } = this.mm.soc;
    forEachRun(pfns, (pa, len) => {
      if (cache.validLines === 0) mem.fill(pa, len, 0);
      else for (let off = 0; off < len; off += ZERO.length) cache.snoopWrite(pa + off, ZERO, 0, Math.min(ZERO.length, len - off));
    });
  }

  /**
   * Prepares pages for non-cacheable use: stale lines are flushed and the
   * cacheable linear-map alias of lowmem pages removed, because the core
   * could prefetch through it (the aliasing rule). Restored at free.
   */
  private makeUncached(st: Storage): void {
    const { mm } = this;
    const removed: [number, number][] = [];
    forEachRun(st.pfns, (pa, len) => {
      mm.soc.cache.cleanInvalidateRange(pa, len);
      const first = pa / PAGE_SIZE;
      for (let p = first; p < first + len / PAGE_SIZE; p++) {
        if (!mm.kas.isLowmem(p) || !mm.kas.hasLinearAlias(p)) continue;
        const last = removed[removed.length - 1];
        if (last && last[0] + last[1] === p) last[1]++;
        else removed.push([p, 1]);
      }
    });
    for (const [p, k] of removed) mm.kas.removeLinearAlias(p, k);
    const free = st.free;
    (st as { free: () => void }).free = () => {
      for (const [p, k] of removed) mm.kas.restoreLinearAlias(p, k);
      free();
    };
  }

  private freeStorage(st: Storage): void {
    if (st.freed) return;
    st.freed = true;
    this.retiredStorages.delete(st);
    st.free();
  }

  /** What keeps the storage from moving now, one reason per holder. */
  private blockers(): string[] {
    const out: string[] = [];
    for (const [att, n] of this.pins) {
      if (n <= 0) continue;
      out.push(
        att.isDynamic
          ? `${att.dev.name} pinned it (dma_buf_pin, e.g. for scanout)`
          : `${att.dev.name} is a static importer of a dynamic exporter: its mapping was made and pinned at attach`,
      );
    }
    for (const att of this.dmabuf.attachments) {
      if (att.sgt && !this.pins.has(att)) out.push(`${att.dev.name} holds a mapping cached until detach`);
    }
    if (this.vmapCount > 0) out.push('the kernel holds a vmap of it');
    return out;
  }

  // ---- exporter hooks ---------------------------------------------------

  /** The exporter's attach: accepts the device, schedules a move, or refuses with EBUSY and the reason. */
  attach(att: DmaBufAttachment): void {
    const n = deviceNeeds(att.dev, att.constraints);
    const c = this.collated(n);
    const plan = this.plan(c);
    if (plan.kind === 'none') {
      this.log(`refused ${att.dev.name}: ${plan.why}`);
      throw kerr('EBUSY', `${att.dev.name} cannot share this buffer: ${plan.why}`);
    }
    const st = this.storage;
    if (st) {
      const unmet = unmetNeed(st.pfns, st.runs, c, st.pool ? st.pool.devices : null);
      if (unmet) {
        const blockers = this.blockers();
        if (blockers.length > 0) {
          const why = `${unmet}, and the storage cannot move: ${blockers.join('; ')}`;
          this.log(`refused ${att.dev.name}: ${why}`);
          throw kerr('EBUSY', `${att.dev.name} cannot share this buffer: ${why}`);
        }
        this.pending = `${att.dev.name} attached: ${unmet}`;
        this.log(`${att.dev.name} attached; the storage must move before the next map (${unmet})`);
        this.needs.set(att, n);
        return;
      }
    }
    this.needs.set(att, n);
    this.log(`${att.dev.name} attached${st ? '; the current storage serves it' : '; storage not allocated yet'}`);
  }

  /** The exporter's detach: the device's constraints no longer count (the storage stays where it is). */
  detach(att: DmaBufAttachment): void {
    this.needs.delete(att);
    this.pins.delete(att);
    this.log(`${att.dev.name} detached`);
    const st = this.storage;
    if (this.pending && st && !unmetNeed(st.pfns, st.runs, this.collated(), st.pool ? st.pool.devices : null)) {
      this.pending = null;
      this.log('the pending move is dropped: the storage serves every device still attached');
    }
  }

  /**
   * Makes sure storage exists and serves every attached device: allocates
   * it at the first use, or moves it when a stricter device attached.
   * `who` names the caller for the log; `self` is the attachment mapping,
   * whose own outstanding mappings would make a wait deadlock (EDEADLK).
   * CPU users pass allowMove false: their mappings follow a later move.
   */
  private async ensure(who: string, self: DmaBufAttachment | null, allowMove = true): Promise<Storage> {
    while (this.busy) await waitEvent(this.dmabuf.mapWq, () => !this.busy);
    if (this.storage && (this.pending === null || !allowMove)) return this.storage;
    this.busy = true;
    try {
      if (!this.storage) {
        const c = this.collated();
        const plan = this.plan(c);
        if (plan.kind === 'none') throw kerr('ENOMEM', plan.why);
        this.storage = await this.allocate(c, plan);
        this.placementWhy = plan.why;
        this.log(`allocated at first use by ${who}: ${this.storage.source} (${plan.why})`);
      } else {
        await this.migrate(who, self);
      }
      return this.storage;
    } finally {
      this.busy = false;
      this.dmabuf.mapWq.wakeUp();
    }
  }

  /** Moves the bytes to a placement serving every attached device (the RFC's migration). */
  private async migrate(who: string, self: DmaBufAttachment | null): Promise<void> {
    const old = this.storage!;
    const reason = this.pending!;
    const t0 = this.mm.soc.clock.now;
    const d = this.dmabuf;
    // dynamic importers drop their mappings now or once their fences signal
    if (this.maps.some((m) => m.storage === old && m.att.isDynamic)) {
      d.resv.assertHeld('negotiated move: move_notify');
      dmaBufMoveNotify(d);
    }
    const staticMaps = () => this.maps.filter((m) => m.storage === old && !m.att.isDynamic);
    if (self && staticMaps().some((m) => m.att === self)) {
      throw kerr('EDEADLK', `${self.dev.name} must unmap its own mapping before the storage can move (${reason})`);
    }
    const waitingFor = staticMaps().length;
    if (waitingFor > 0) {
      this.log(`move for ${who} waits for ${waitingFor} outstanding mapping(s): ${[...new Set(staticMaps().map((m) => m.att.dev.name))].join(', ')}`);
      await waitEvent(d.mapWq, () => staticMaps().length === 0);
    }
    const blockers = this.blockers();
    if (blockers.length > 0) throw kerr('EBUSY', `the storage cannot move: ${blockers.join('; ')}`);
    await d.resv.waitTimeout(DmaResvUsage.BOOKKEEP, MAX_SCHEDULE_TIMEOUT);
    const c = this.collated();
    const plan = this.plan(c);
    if (plan.kind === 'none') throw kerr('ENOMEM', plan.why);
    const next = await this.allocate(c, plan);
    await this.copy(old, next);
    this.storage = next;
    this.placementWhy = plan.why;
    this.pending = null;
    for (const v of this.vmas) v.zapPages();
    old.retired = true;
    if (old.maps === 0) this.freeStorage(old);
    else this.retiredStorages.add(old);
    this.migrations++;
    this.bytesMoved += this.size;
    this.log(
      `moved for ${who}: ${old.source} (${old.runs} run(s)) -> ${next.source} (${next.runs} run(s)); ${reason}; ` +
        `${plan.why}; took ${this.mm.soc.clock.now - t0} ns${waitingFor ? ` including the wait for ${waitingFor} mapping(s)` : ''}`,
    );
  }

  /** Copies the bytes as the CPU sees them (dirty lines included) and charges the copy's time. */
  private async copy(from: Storage, to: Storage): Promise<void> {
    const { cache } = this.mm.soc;
    const n = this.pages;
    let i = 0;
    while (i < n) {
      let k = 1;
      while (i + k < n && from.pfns[i + k] === from.pfns[i]! + k && to.pfns[i + k] === to.pfns[i]! + k) k++;
      const src = from.pfns[i]! * PAGE_SIZE;
      const dst = to.pfns[i]! * PAGE_SIZE;
      const len = k * PAGE_SIZE;
      for (let off = 0; off < len; off += scratch.length) {
        const m = Math.min(scratch.length, len - off);
        if (scratch.length < m) scratch = new Uint8Array(m);
        cache.snoopRead(src + off, scratch, 0, m);
        cache.snoopWrite(dst + off, scratch, 0, m);
      }
      i += k;
    }
    const cost = this.mm.migration.cost;
    await this.mm.soc.clock.sleep(cost.perPageNs * n + (2 * n * PAGE_SIZE) / cost.copyBytesPerNs);
  }

  /** The exporter's map: places or moves the storage if needed, then maps a fresh table for the device. */
  async map(att: DmaBufAttachment, dir: DmaDirection): Promise<SgTable> {
    const st = await this.ensure(`${att.dev.name}'s map`, att);
    const n = this.needs.get(att);
    if (!n) throw new KernelBug(`${att.dev.name} maps a negotiated buffer it never attached to`);
    const sgt = sgAllocTableFromPages(st.pfns, 0, this.size, n.maxSegmentSize === Infinity ? Number.MAX_SAFE_INTEGER : n.maxSegmentSize);
    dmaMapSgtable(att.dev, sgt, dir);
    st.maps++;
    this.maps.push({ att, sgt, dir, storage: st });
    return sgt;
  }

  /** The exporter's unmap; frees a retired storage once its last mapping is back. */
  unmap(att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): void {
    const i = this.maps.findIndex((m) => m.sgt === sgt && m.att === att);
    if (i < 0) throw new KernelBug(`${att.dev.name}: unmap of a table this buffer did not map`);
    const rec = this.maps[i]!;
    this.maps.splice(i, 1);
    dmaUnmapSg(att.dev, sgt, dir);
    rec.storage.maps--;
    if (rec.storage.retired && rec.storage.maps === 0) {
      this.freeStorage(rec.storage);
      this.log(`old storage ${rec.storage.source} freed: ${att.dev.name} returned the last mapping into it`);
    }
  }

  /** The exporter's pin: the storage is placed (or moved) first, then stays. */
  async pin(att: DmaBufAttachment): Promise<void> {
    await this.ensure(`${att.dev.name}'s pin`, null);
    this.pins.set(att, (this.pins.get(att) ?? 0) + 1);
    this.log(`${att.dev.name} pinned the storage`);
  }

  /** The exporter's unpin. */
  unpin(att: DmaBufAttachment): void {
    const n = this.pins.get(att) ?? 0;
    if (n <= 0) throw new KernelBug(`${att.dev.name} unpins a negotiated buffer it did not pin`);
    if (n === 1) this.pins.delete(att);
    else this.pins.set(att, n - 1);
    this.log(`${att.dev.name} unpinned the storage`);
  }

  /** CPU access begins: every mapping into the current storage is synced for the CPU, each with its own direction. */
  beginCpu(): void {
    syncMappingsForCpu(this.currentMappings());
  }

  /** CPU access ends (the CPU read, wrote or both: `dir`): every mapping is handed back to its device, readers first. */
  endCpu(dir: DmaDirection): void {
    syncMappingsForDevice(this.currentMappings(), dir);
  }

  private currentMappings(): ExporterMapping[] {
    return this.maps.filter((m) => m.storage === this.storage).map((m) => ({ dev: m.att.dev, sgt: m.sgt, dir: m.dir }));
  }

  /**
   * A user mapping: pages are faulted in from wherever the storage is when
   * touched, so a move only has to zap the mappings. The storage is placed
   * now if no device used it yet.
   */
  async mmap(vma: VmArea): Promise<void> {
    const st = await this.ensure('an mmap', null, false);
    if (st.pool && !st.pool.cacheable && this.memType === 'wb') throw kerr('EINVAL', 'device-local storage cannot be mapped cacheable');
    vma.memType = this.memType;
    this.vmas.add(vma);
    vma.vmOps = {
      open: (v) => void this.vmas.add(v),
      close: (v) => void this.vmas.delete(v),
      fault: (v, pageIndex) => {
        const cur = this.storage;
        const i = v.pgoff + pageIndex;
        if (!cur || i >= this.pages) throw kerr('EFAULT', `page ${i} beyond the buffer`);
        return cur.pfns[i]!;
      },
    };
  }

  /**
   * A kernel mapping of the whole buffer. It keeps the storage from moving
   * while held, so a pending move is done first (EBUSY when that needs the
   * reservation lock a dynamic exporter's caller does not hold).
   */
  async vmap(): Promise<number> {
    if (this.pending && this.dynamic && !this.dmabuf.resv.isLocked()) throw kerr('EBUSY', `a move is pending (${this.pending}); vmap with the reservation lock held`);
    const st = await this.ensure('a vmap', null);
    if (st.pool) throw kerr('EINVAL', `device-local storage in ${st.pool.name} has no kernel mapping`);
    if (this.vmapCount === 0) this.vaddr = this.mm.kas.vmap(st.pfns, this.memType);
    this.vmapCount++;
    return this.vaddr;
  }

  /** Drops the kernel mapping. */
  vunmap(): void {
    if (this.vmapCount === 0) throw new KernelBug('negotiated vunmap without vmap');
    if (--this.vmapCount === 0) {
      this.mm.kas.vunmap(this.vaddr);
      this.vaddr = 0;
    }
  }

  /** Frees every storage (the buffer is gone). */
  release(): void {
    if (this.vmapCount > 0) this.mm.kas.vunmap(this.vaddr);
    for (const st of [...this.retiredStorages]) this.freeStorage(st);
    if (this.storage) this.freeStorage(this.storage);
    this.storage = null;
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

function seq(pfn: number, n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = pfn + i;
  return a;
}

function forEachRun(pfns: Uint32Array, fn: (pa: number, len: number) => void): void {
  let s = 0;
  for (let k = 1; k <= pfns.length; k++) {
    if (k === pfns.length || pfns[k] !== pfns[k - 1]! + 1) {
      fn(pfns[s]! * PAGE_SIZE, (k - s) * PAGE_SIZE);
      s = k;
    }
  }
}

/** The ops of a negotiated buffer: every hook goes to its NegotiatedBacking. */
function negotiatedOps(dynamic: boolean): DmaBufOps {
  const b = (d: DmaBuf) => d.priv as NegotiatedBacking;
  const ops: DmaBufOps = {
    attach: (d, att) => b(d).attach(att),
    detach: (d, att) => b(d).detach(att),
    mapDmaBuf: (att, dir) => b(att.dmabuf).map(att, dir),
    unmapDmaBuf: (att, sgt, dir) => b(att.dmabuf).unmap(att, sgt, dir),
    release: (d) => b(d).release(),
    beginCpuAccess: (d) => b(d).beginCpu(),
    endCpuAccess: (d, dir) => b(d).endCpu(dir),
    mmap: (d, vma) => b(d).mmap(vma),
    vmap: (d) => b(d).vmap(),
    vunmap: (d) => b(d).vunmap(),
    describe: (d) => b(d).describe(),
  };
  if (dynamic) {
    return { ...ops, pin: (att) => b(att.dmabuf).pin(att), unpin: (att) => b(att.dmabuf).unpin(att) };
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
