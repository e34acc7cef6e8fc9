import {
  WaitQueueHead,
  allocAnonInode,
  allocFilePseudo,
  fput,
  registerSeqFile,
  type File,
  type FileOperations,
  type SeqFileNode,
  type SuperBlock,
  type Task,
  type Vfs,
  type VmArea,
} from '../fs/index.ts';
import type { Clock, Soc } from '../hw/index.ts';
import { KernelBug, PAGE_SIZE, isKernelError, kerr, shouldFail } from '../lib/index.ts';
import type { Device, DmaDirection, SgTable } from '../dma/index.ts';
import { DMA_NONE } from '../dma/index.ts';
import { O_ACCMODE, O_CLOEXEC, O_NONBLOCK, SEEK_END, SEEK_SET } from '../uapi/index.ts';
import { chargeFences } from './dma-fence.ts';
import { trackFenceWaits } from './fence-wait-graph.ts';
import { FenceContextAllocator } from './dma-fence-context.ts';
import { DmaResv } from './dma-resv.ts';
import { dmaBufIoctl } from './dma-buf-ioctl.ts';
import { dmaBufPoll, type DmaBufPollCb } from './dma-buf-poll.ts';
import { bufinfoText, dmaBufDebugView } from './dma-buf-debug.ts';
import { registerSwSync } from './sw-sync.ts';
import { DmaBufRefTracker } from './dma-buf-refs.ts';
import { watchFencedAccess } from './dma-buf-fenced-access.ts';

/**
 * Where a buffer's bytes live and why, as its exporter reports it for the
 * debug view (the summit's per-buffer metadata: contiguous, device-local,
 * CPU cache attributes, and the exporter's own explanation).
 */
export interface DmaBufStorageInfo {
  /** True once backing storage exists (late-allocating exporters have none before the first map). */
  allocated: boolean;
  /** One physically contiguous run. */
  contiguous: boolean;
  /** Lives in memory local to a device (an SRAM or carve-out pool), not in system DRAM. */
  deviceLocal: boolean;
  /** Memory type of CPU mappings: 'wb' cacheable, 'wc' non-cacheable. */
  memType: 'wb' | 'wt' | 'wc' | 'device';
  /** Where the pages come from: "system pages (orders 8,4,0)", "cma:reserved", "pool:sram0". */
  source: string;
  /** Number of physically contiguous runs. */
  runs: number;
  /** Free-form lines the exporter adds (its placement reasoning). */
  notes?: string[];
}

/**
 * What an exporter provides (struct dma_buf_ops). map, unmap and release
 * are required. An exporter with pin/unpin is dynamic: it may move its
 * storage while no importer pins it, telling dynamic importers through
 * their moveNotify; map and unmap are then called with the reservation lock
 * held. cacheSgtMapping makes the core keep a static importer's first
 * mapping until detach (and excludes pin/unpin).
 */
export interface DmaBufOps {
  /** Keep the first mapping of each attachment until detach (cache_sgt_mapping). */
  readonly cacheSgtMapping?: boolean;
  /** Accepts or refuses a device (attach); EBUSY when the storage it already has cannot serve it. May sleep. */
  attach?(dmabuf: DmaBuf, att: DmaBufAttachment): void | Promise<void>;
  /** Forgets a device (detach). */
  detach?(dmabuf: DmaBuf, att: DmaBufAttachment): void;
  /** Keeps the storage where it is until unpin (pin); reservation lock held. May sleep. */
  pin?(att: DmaBufAttachment): void | Promise<void>;
  /** Drops a pin (unpin); reservation lock held. */
  unpin?(att: DmaBufAttachment): void;
  /** Returns the buffer's sg table mapped for the attachment's device (map_dma_buf). May sleep. */
  mapDmaBuf(att: DmaBufAttachment, dir: DmaDirection): SgTable | Promise<SgTable>;
  /** Unmaps what mapDmaBuf returned (unmap_dma_buf). May sleep. */
  unmapDmaBuf(att: DmaBufAttachment, sgt: SgTable, dir: DmaDirection): void | Promise<void>;
  /** Frees the storage; runs once, after the last reference (release). */
  release(dmabuf: DmaBuf): void;
  /** Prepares the CPU to read/write (begin_cpu_access): cache maintenance. May sleep. */
  beginCpuAccess?(dmabuf: DmaBuf, dir: DmaDirection): void | Promise<void>;
  /** Ends CPU access (end_cpu_access): cache maintenance. May sleep. */
  endCpuAccess?(dmabuf: DmaBuf, dir: DmaDirection): void | Promise<void>;
  /** Fills in a user mapping (mmap); the core has checked the range. May sleep (late allocation). */
  mmap?(dmabuf: DmaBuf, vma: VmArea): void | Promise<void>;
  /** Maps the whole buffer into kernel space and returns the address (vmap). May sleep. */
  vmap?(dmabuf: DmaBuf): number | Promise<number>;
  /** Undoes vmap (vunmap). */
  vunmap?(dmabuf: DmaBuf, vaddr: number): void;
  /** Describes the storage for the debug view. */
  describe?(dmabuf: DmaBuf): DmaBufStorageInfo;
}

/** What an exporter passes to exportDmaBuf (struct dma_buf_export_info). */
export interface DmaBufExportInfo {
  ops: DmaBufOps;
  size: number;
  /** open flags of the buffer's file: O_RDWR, O_RDONLY, O_WRONLY, O_NONBLOCK; O_CLOEXEC belongs to dmaBufFd. */
  flags: number;
  priv: unknown;
  /** The exporter's name, shown as exp_name (KBUILD_MODNAME, or the heap's name). */
  expName: string;
  /** A reservation object shared with the exporter's own objects; the buffer makes its own when absent. */
  resv?: DmaResv;
  /** Who made the buffer (the summit's "creator"): a driver, or "comm[pid]" for a heap allocation. */
  creator?: string;
}

/** Callbacks of a dynamic importer (struct dma_buf_attach_ops). */
export interface DmaBufImporterOps {
  /** The importer can use peer-to-peer addresses (allow_peer2peer). */
  allowPeer2peer?: boolean;
  /**
   * The exporter is about to move the storage (move_notify), called with the
   * reservation lock held: the importer must stop using its mappings and
   * unmap them (now, or once its own fences signal) and map again later.
   */
  moveNotify(att: DmaBufAttachment): void;
}

/**
 * DMA limits an importer adds to what its struct device says, for exporters
 * that place storage late: a scatter-gather engine's descriptor count, a
 * stricter alignment.
 */
export interface DmaBufAttachConstraints {
  /** Largest number of DMA segments the device takes in one job. */
  maxSegments?: number;
  /** Alignment of the buffer start in bytes, when stricter than the device's. */
  alignment?: number;
  /** The device needs one physically contiguous buffer even though its struct device does not say so. */
  contiguous?: boolean;
}

/** One live mapping of an attachment: what dmaBufMapAttachment returned and not yet unmapped. */
export interface DmaBufMapping {
  sgt: SgTable;
  dir: DmaDirection;
  /** Simulated ns of the map. */
  since: number;
  /** The call site of the map (a CostLedger site id). */
  site: number;
}

/**
 * One device's connection to a buffer (struct dma_buf_attachment): made by
 * attach, ended by detach. Static importers (no importerOps) may map at any
 * time; dynamic ones map and unmap with the reservation lock held and must
 * follow moveNotify.
 */
export class DmaBufAttachment {
  readonly dmabuf: DmaBuf;
  readonly dev: Device;
  readonly importerOps: DmaBufImporterOps | null;
  readonly importerPriv: unknown;
  readonly constraints: DmaBufAttachConstraints;
  readonly peer2peer: boolean;
  /** The exporter's per-attachment data (attach->priv). */
  priv: unknown = undefined;
  /** The cached mapping (attach->sgt), kept until detach. */
  sgt: SgTable | null = null;
  /** Direction of the cached mapping (attach->dir). */
  dir: DmaDirection = DMA_NONE;
  /** Every mapping handed out and not yet returned, the cached one included. */
  readonly mappings: DmaBufMapping[] = [];
  /** Pins taken through dmaBufPin(). */
  pins = 0;
  /** False once detached. */
  attached = true;
  /** Simulated ns of the attach. */
  since = 0;
  /** The call site of the attach (a CostLedger site id; siteText spells it). */
  site = 0;

  constructor(
    dmabuf: DmaBuf,
    dev: Device,
    importerOps: DmaBufImporterOps | null,
    importerPriv: unknown,
    constraints: DmaBufAttachConstraints,
  ) {
    this.dmabuf = dmabuf;
    this.dev = dev;
    this.importerOps = importerOps;
    this.importerPriv = importerPriv;
    this.constraints = constraints;
    this.peer2peer = importerOps?.allowPeer2peer === true;
  }

  /** True for an importer that follows moves (dma_buf_attachment_is_dynamic). */
  get isDynamic(): boolean {
    return this.importerOps !== null;
  }
}

/**
 * A shared buffer (struct dma_buf). Its lifetime is its file's: every fd,
 * mapping, message in flight and kernel user (dmaBufGet) holds a file
 * reference, and the exporter's release runs exactly once, when the last
 * goes. The reservation object carries the fences of whoever uses it.
 */
export class DmaBuf {
  readonly system: DmaBufSystem;
  readonly size: number;
  readonly ops: DmaBufOps;
  readonly priv: unknown;
  readonly expName: string;
  readonly creator: string;
  readonly resv: DmaResv;
  /** Simulated ns of the export. */
  readonly exportedAt: number;
  /** The buffer's file on the dma-buf filesystem. */
  file!: File;
  /** Set with DMA_BUF_SET_NAME; null until then. */
  name: string | null = null;
  /** Attachments, newest first (the kernel's list_add). */
  readonly attachments: DmaBufAttachment[] = [];
  /** Users of the kernel mapping (vmapping_counter). */
  vmappingCounter = 0;
  /** The kernel mapping while vmappingCounter > 0 (vmap_ptr). */
  vmapPtr: number | null = null;
  /** Pollers wait here (dmabuf->poll). */
  readonly pollWq = new WaitQueueHead();
  /** @internal the poll callbacks for POLLIN and POLLOUT (cb_in, cb_out). */
  readonly cbIn: DmaBufPollCb;
  /** @internal */
  readonly cbOut: DmaBufPollCb;
  /** Woken when a mapping is returned or a pin dropped; exporters that must move the storage wait here. */
  readonly mapWq = new WaitQueueHead();
  /** The kernel's references on the buffer, each with the call site that took it (dmaBufTrackRef). */
  readonly refs = new DmaBufRefTracker();
  /** True once the exporter's release ran. */
  released = false;
  /** @internal true when the core made the reservation object and must fini it. */
  readonly ownResv: boolean;

  /** @internal use exportDmaBuf. */
  constructor(system: DmaBufSystem, info: DmaBufExportInfo) {
    this.system = system;
    this.size = info.size;
    this.ops = info.ops;
    this.priv = info.priv;
    this.expName = info.expName;
    this.creator = info.creator ?? info.expName;
    this.ownResv = !info.resv;
    this.resv = info.resv ?? new DmaResv(system.fctx, 'dma_buf resv');
    this.exportedAt = system.clock.now;
    this.cbIn = { active: 0, dmabuf: this, cb: null };
    this.cbOut = { active: 0, dmabuf: this, cb: null };
  }

  /** True for an exporter that can move its storage (dma_buf_is_dynamic). */
  get isDynamic(): boolean {
    return this.ops.pin !== undefined;
  }

  /** The inode number fdinfo and bufinfo print. */
  get ino(): number {
    return this.file.inode.ino;
  }
  /**
   * Runs `fn` as work on this buffer: the CPU costs it charges, directly or
   * after any await, name the buffer (`inode 7 (system)`, dmabuf_dump's way).
   */
  costScope<T>(fn: () => T): T {
    return this.system.soc.costs.withScope({ buffer: `inode ${this.ino} (${this.name ?? this.expName})` }, fn);
  }


  /** Pins held by all attachments. */
  get pinCount(): number {
    let n = 0;
    for (const a of this.attachments) n += a.pins;
    return n;
  }

  /** Mappings handed out and not yet returned, over all attachments. */
  get liveMappings(): number {
    let n = 0;
    for (const a of this.attachments) n += a.mappings.length;
    return n;
  }
}

/** What a kernel's dma-buf core is built on (the arguments of createDmaBufSystem). */
export interface DmaBufSystemOptions {
  vfs: Vfs;
  soc: Soc;
  /** The system's fence contexts; a new allocator on the SoC's clock when absent. */
  fctx?: FenceContextAllocator;
  /** Registers /sys/kernel/debug/dma_buf/bufinfo, .../metadata and /sys/kernel/debug/sync/sw_sync (default true). */
  debugfs?: boolean;
  /** CPU ns of one dma_fence_signal, charged to whoever signals (default 0). */
  fenceSignalNs?: number;
}

/**
 * The dma-buf core of one simulated kernel: its pseudo filesystem (mount
 * id 11, device 0:10, inode numbers from 1, as on the reference machine),
 * the list of live buffers that debugfs walks (db_list), and the fence
 * contexts sync_file and reservation objects use.
 */
export class DmaBufSystem {
  readonly vfs: Vfs;
  readonly soc: Soc;
  readonly clock: Clock;
  readonly fctx: FenceContextAllocator;
  /** The dma-buf filesystem (dma_buf_mnt). */
  readonly sb: SuperBlock;
  /** /sys/kernel/debug/dma_buf/bufinfo, when registered. */
  readonly bufinfoNode: SeqFileNode | null;
  /** /sys/kernel/debug/dma_buf/metadata (unimem's extended view), when registered. */
  readonly metadataNode: SeqFileNode | null;
  /** /sys/kernel/debug/sync/sw_sync, when debugfs is registered. */
  readonly swSyncNode: SeqFileNode | null;
  /** Buffers exported and released so far. */
  readonly stats = { exported: 0, released: 0, peakLive: 0 };
  private readonly list: DmaBuf[] = [];

  constructor(opts: DmaBufSystemOptions) {
    this.vfs = opts.vfs;
    this.soc = opts.soc;
    this.clock = opts.soc.clock;
    this.fctx = opts.fctx ?? new FenceContextAllocator(opts.soc.clock);
    chargeFences(opts.soc.clock, opts.soc.costs, opts.fenceSignalNs ?? 0);
    trackFenceWaits(opts.soc.clock, opts.soc.findings, opts.soc.costs);
    this.sb = opts.vfs.mountPseudo('dmabuf', { mntId: 11, devMinor: 0x0a, firstIno: 1 });
    const debugfs = opts.debugfs !== false;
    this.bufinfoNode = debugfs ? registerSeqFile(opts.vfs, '/sys/kernel/debug/dma_buf/bufinfo', () => bufinfoText(this)) : null;
    this.metadataNode = debugfs ? registerSeqFile(opts.vfs, '/sys/kernel/debug/dma_buf/metadata', () => dmaBufDebugView(this)) : null;
    this.swSyncNode = debugfs ? registerSwSync(this) : null;
  }

  /** Live buffers, newest first, as bufinfo lists them. */
  get buffers(): readonly DmaBuf[] {
    return this.list;
  }

  /** @internal adds a new buffer to the list (__dma_buf_list_add). */
  listAdd(d: DmaBuf): void {
    this.list.unshift(d);
    this.stats.exported++;
    if (this.list.length > this.stats.peakLive) this.stats.peakLive = this.list.length;
  }

  /** @internal removes a released buffer (__dma_buf_list_del). */
  listDel(d: DmaBuf): void {
    const i = this.list.indexOf(d);
    if (i >= 0) this.list.splice(i, 1);
    this.stats.released++;
  }
}

/** Creates the dma-buf core of a kernel (dma_buf_init): mounts its filesystem and registers bufinfo. */
export function createDmaBufSystem(opts: DmaBufSystemOptions): DmaBufSystem {
  return new DmaBufSystem(opts);
}

/** True when `file` is a dma-buf (is_dma_buf_file). */
export function isDmaBufFile(file: File): boolean {
  return file.fOp === dmaBufFops;
}

/** The buffer behind a dma-buf file; KernelBug for any other file. */
export function dmaBufOfFile(file: File): DmaBuf {
  if (!isDmaBufFile(file)) throw new KernelBug(`file #${file.id} (${file.pathName()}) is not a dma-buf`);
  return file.privateData as DmaBuf;
}

/**
 * Creates a buffer and its file (dma_buf_export). EINVAL when the ops lack
 * map, unmap or release, have pin without unpin (or the reverse), or combine
 * cacheSgtMapping with pin, or when the size is not positive. The caller
 * owns the one file reference; hand it to userspace with dmaBufFd or drop
 * it with dmaBufPut.
 */
export function exportDmaBuf(system: DmaBufSystem, info: DmaBufExportInfo): DmaBuf {
  const ops = info.ops;
  if (!ops || typeof ops.mapDmaBuf !== 'function' || typeof ops.unmapDmaBuf !== 'function' || typeof ops.release !== 'function') {
    throw kerr('EINVAL', 'dma_buf_export: ops must provide map, unmap and release');
  }
  if (!ops.pin !== !ops.unpin) throw kerr('EINVAL', 'dma_buf_export: pin and unpin come together');
  if (ops.cacheSgtMapping && ops.pin) throw kerr('EINVAL', 'dma_buf_export: cache_sgt_mapping excludes pin/unpin');
  if (!Number.isSafeInteger(info.size) || info.size <= 0) throw kerr('EINVAL', `dma_buf_export: size ${info.size}`);
  // the kzalloc of struct dma_buf (with its dma_resv) is a slab allocation
  if (shouldFail(system.vfs.failslab, 256, 'dma_buf_export')) throw kerr('ENOMEM', 'dma_buf_export: struct dma_buf allocation failed by failslab');
  const d = new DmaBuf(system, info);
  const inode = allocAnonInode(system.sb, info.size, d);
  d.file = allocFilePseudo(system.vfs, inode, dmaBufFops, {
    flags: info.flags & (O_ACCMODE | O_NONBLOCK),
    privateData: d,
    name: () => `/dmabuf:${d.name ?? ''}`,
  });
  system.listAdd(d);
  return d;
}

/**
 * Installs a new fd for the buffer's file in the caller's table (dma_buf_fd),
 * handing over the caller's reference. `flags` may hold O_CLOEXEC. EMFILE
 * when the table is full; the caller then still owns its reference.
 */
export function dmaBufFd(task: Task, dmabuf: DmaBuf, flags: number): number {
  if (!dmabuf || !dmabuf.file || dmabuf.released) throw kerr('EINVAL', 'dma_buf_fd: no buffer');
  return task.installFd(dmabuf.file, flags & O_CLOEXEC);
}

/**
 * Takes a reference to the buffer behind the caller's `fd` (dma_buf_get).
 * EBADF when the fd is not open, EINVAL when it is not a dma-buf.
 */
export function dmaBufGet(task: Task, fd: number): DmaBuf {
  let file: File;
  try {
    file = task.fget(fd);
  } catch (e) {
    if (!isKernelError(e, 'EBADF')) throw e;
    throw kerr('EBADF', `dma_buf_get: fd ${fd} is not open`);
  }
  if (!isDmaBufFile(file)) {
    fput(file);
    throw kerr('EINVAL', `dma_buf_get: fd ${fd} (${file.pathName()}) is not a dma-buf`);
  }
  return file.privateData as DmaBuf;
}

/** Takes another reference to a buffer the caller holds (get_dma_buf). */
export function getDmaBuf(dmabuf: DmaBuf): DmaBuf {
  dmabuf.file.get();
  return dmabuf;
}

/**
 * Drops a reference (dma_buf_put); the last one runs the exporter's
 * release. Returns the release's promise when the file's release sleeps.
 */
export function dmaBufPut(dmabuf: DmaBuf): Promise<void> | undefined {
  return fput(dmabuf.file);
}

/**
 * Runs when the buffer's file goes (dma_buf_file_release + dma_buf_release):
 * the exporter's release, then the reservation object. A kernel mapping
 * still held is a KernelBug; attachments left behind are a leak finding.
 */
function releaseDmaBuf(d: DmaBuf): void {
  if (d.vmappingCounter) throw new KernelBug(`dma_buf_release: buffer ino ${d.ino} still vmapped ${d.vmappingCounter} time(s)`);
  if (d.cbIn.active || d.cbOut.active) throw new KernelBug(`dma_buf_release: poll callbacks still active on ino ${d.ino}`);
  d.system.listDel(d);
  if (d.attachments.length > 0) {
    d.system.soc.findings.report(
      'leak',
      'dma_buf_release',
      `buffer ino ${d.ino} (${d.expName}) released with ${d.attachments.length} attachment(s): ${d.attachments.map((a) => a.dev.name).join(', ')}`,
    );
  }
  d.released = true;
  d.ops.release(d);
  if (d.ownResv) d.resv.fini();
}

/**
 * Moves the position of a dma-buf (dma_buf_llseek): only SEEK_SET and
 * SEEK_END with offset 0, so userspace can learn the size; the file
 * position itself never moves.
 */
function dmaBufLlseek(file: File, offset: number, whence: number): number {
  const d = dmaBufOfFile(file);
  if (whence !== SEEK_END && whence !== SEEK_SET) throw kerr('EINVAL', `dma-buf llseek: whence ${whence}`);
  if (offset !== 0) throw kerr('EINVAL', `dma-buf llseek: offset ${offset}`);
  return whence === SEEK_END ? d.size : 0;
}

/**
 * Maps the buffer into a process (dma_buf_mmap_internal): EINVAL without
 * an exporter mmap or beyond the size. The mapping's CPU accesses are
 * watched against the buffer's fences (watchFencedAccess).
 */
async function dmaBufMmapInternal(file: File, vma: VmArea): Promise<void> {
  const d = dmaBufOfFile(file);
  if (!d.ops.mmap) throw kerr('EINVAL', `${d.expName} buffers cannot be mapped`);
  if (vma.pgoff + vma.pages > Math.floor(d.size / PAGE_SIZE)) {
    throw kerr('EINVAL', `mmap of pages ${vma.pgoff}+${vma.pages} beyond a ${d.size}-byte buffer`);
  }
  await d.ops.mmap(d, vma);
  watchFencedAccess(d, vma);
}

/** The fdinfo lines of a dma-buf (dma_buf_show_fdinfo); count leaves out procfs's own reference. */
function dmaBufShowFdinfo(file: File): string {
  const d = dmaBufOfFile(file);
  let s = `size:\t${d.size}\ncount:\t${file.count - 1}\nexp_name:\t${d.expName}\n`;
  if (d.name !== null) s += `name:\t${d.name}\n`;
  return s;
}

/** File operations of every dma-buf (dma_buf_fops): no read or write, so both are EINVAL. */
export const dmaBufFops: FileOperations = {
  name: 'dma-buf',
  release: (_inode, file) => releaseDmaBuf(file.privateData as DmaBuf),
  llseek: dmaBufLlseek,
  mmap: dmaBufMmapInternal,
  poll: (file, pt) => dmaBufPoll(dmaBufOfFile(file), pt),
  unlockedIoctl: (file, cmd, arg, task) => dmaBufIoctl(dmaBufOfFile(file), cmd, arg, task),
  showFdinfo: dmaBufShowFdinfo,
};
