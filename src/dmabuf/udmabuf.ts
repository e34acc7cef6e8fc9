import { VM_MAYSHARE, VM_SHARED, fput, registerChrdev, tmpfsFileOps, userArg, type DeviceNode, type File, type Task } from '../fs/index.ts';
import { KernelBug, PAGE_SIZE, isKernelError, kerr } from '../lib/index.ts';
import {
  DMA_BIDIRECTIONAL,
  dmaMapSgtable,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaUnmapSg,
  sgAllocTableFromPages,
  type Device,
  type DmaDirection,
  type SgTable,
} from '../dma/index.ts';
import type { Mm } from '../mm/index.ts';
import {
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  O_CLOEXEC,
  O_RDWR,
  UDMABUF_CREATE,
  UDMABUF_CREATE_LIST,
  UDMABUF_FLAGS_CLOEXEC,
  type UdmabufCreate,
  type UdmabufCreateList,
} from '../uapi/index.ts';
import { dmaBufFd, dmaBufPut, exportDmaBuf, type DmaBuf, type DmaBufOps, type DmaBufSystem } from './dma-buf.ts';

/** The file seals, re-exported for callers that import them from dma-buf (their home is the uapi module). */
export { F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE } from '../uapi/index.ts';

/** Seals a memfd must have (SEALS_WANTED) and must not have (SEALS_DENIED). */
const SEALS_WANTED = F_SEAL_SHRINK;
const SEALS_DENIED = F_SEAL_WRITE;

/** The misc device's major, and the minor udmabuf gets on the reference machine's misc class. */
export const MISC_MAJOR = 10;
export const UDMABUF_MINOR = 125;

/**
 * What udmabuf needs from a shmem file (a memfd): its seals (F_GET_SEALS)
 * and its pages in DRAM. The fs layer's tmpfs files keep their bytes
 * outside simulated memory, so a memfd that devices can reach provides
 * this on its inode's privateData.
 */
export interface ShmemMapping {
  /** The file's seals (memfd_fcntl F_GET_SEALS). */
  readonly seals: number;
  /** The file's size in bytes (i_size). */
  readonly size: number;
  /**
   * The frame of page `index`, allocated zeroed on first touch, with a
   * reference the caller drops with putPage (shmem_read_mapping_page).
   * EINVAL beyond the end of the file.
   */
  readPage(index: number): number;
  /** Drops a reference readPage gave (put_page). */
  putPage(pfn: number): void;
}

/** The shmem mapping behind a file, or null when the file is not DRAM-backed shmem. */
export function shmemMappingOf(file: File): ShmemMapping | null {
  const m = file.inode.privateData as Partial<ShmemMapping> | null | undefined;
  if (m && typeof m === 'object' && typeof m.readPage === 'function' && typeof m.putPage === 'function' && typeof m.seals === 'number') {
    return m as ShmemMapping;
  }
  return null;
}

/** One udmabuf (struct udmabuf): the memfd pages it references, and the misc device's own mapping for CPU access. */
class Udmabuf {
  readonly pages: Uint32Array;
  /** Which memfd each run of pages came from, to give the references back. */
  readonly sources: readonly { m: ShmemMapping; from: number; count: number }[];
  readonly owner: UdmabufDevice;
  /** The misc device's mapping, made at the first begin_cpu_access (ubuf->sg). */
  sg: SgTable | null = null;
  vmapCnt = 0;
  vaddr = 0;
  constructor(owner: UdmabufDevice, pages: Uint32Array, sources: Udmabuf['sources']) {
    this.owner = owner;
    this.pages = pages;
    this.sources = sources;
  }

  /** Drops the page references (put_page of every page). */
  putPages(): void {
    for (const { m, from, count } of this.sources) for (let i = from; i < from + count; i++) m.putPage(this.pages[i]!);
  }
}

const ubufOf = (d: DmaBuf) => d.priv as Udmabuf;

/** Maps all pages of a udmabuf for `dev` (get_sg_table). */
function getSgTable(dev: Device, u: Udmabuf, dir: DmaDirection): SgTable {
  const sgt = sgAllocTableFromPages(u.pages, 0, u.pages.length * PAGE_SIZE);
  dmaMapSgtable(dev, sgt, dir);
  return sgt;
}

/**
 * The ops of udmabuf buffers (udmabuf_ops): mappings are cached per
 * attachment; CPU access syncs through the udmabuf misc device's own
 * mapping, made at the first begin (end without a begin is EINVAL); mmap
 * faults pages in and needs a shared mapping.
 */
const udmabufOps: DmaBufOps = {
  cacheSgtMapping: true,
  mapDmaBuf: (att, dir) => getSgTable(att.dev, ubufOf(att.dmabuf), dir),
  unmapDmaBuf: (att, sgt, dir) => dmaUnmapSg(att.dev, sgt, dir),
  release(d) {
    const u = ubufOf(d);
    if (u.sg) dmaUnmapSg(u.owner.device, u.sg, DMA_BIDIRECTIONAL);
    if (u.vmapCnt > 0) u.owner.mm.kas.vunmap(u.vaddr);
    u.putPages();
  },
  beginCpuAccess(d, dir) {
    const u = ubufOf(d);
    if (!u.sg) u.sg = getSgTable(u.owner.device, u, dir);
    else dmaSyncSgForCpu(u.owner.device, u.sg, dir);
  },
  endCpuAccess(d, dir) {
    const u = ubufOf(d);
    if (!u.sg) throw kerr('EINVAL', 'udmabuf: end_cpu_access without begin_cpu_access');
    dmaSyncSgForDevice(u.owner.device, u.sg, dir);
  },
  mmap(d, vma) {
    const u = ubufOf(d);
    if (!(vma.flags & (VM_SHARED | VM_MAYSHARE))) throw kerr('EINVAL', 'udmabuf needs a shared mapping');
    vma.memType = 'wb';
    vma.vmOps = {
      fault(v, pageIndex) {
        const i = v.pgoff + pageIndex;
        if (i >= u.pages.length) throw kerr('EFAULT', `page ${i} beyond the udmabuf`);
        return u.pages[i]!;
      },
    };
  },
  vmap(d) {
    const u = ubufOf(d);
    if (u.vmapCnt++ === 0) u.vaddr = u.owner.mm.kas.vmap(u.pages, 'wb');
    return u.vaddr;
  },
  vunmap(d) {
    const u = ubufOf(d);
    if (u.vmapCnt === 0) throw new KernelBug('udmabuf vunmap without vmap');
    if (--u.vmapCnt === 0) u.owner.mm.kas.vunmap(u.vaddr);
  },
  describe(d) {
    const u = ubufOf(d);
    let runs = 0;
    for (let i = 0; i < u.pages.length; i++) if (i === 0 || u.pages[i] !== u.pages[i - 1]! + 1) runs++;
    return { allocated: true, contiguous: runs === 1, deviceLocal: false, memType: 'wb', source: `memfd pages (${u.pages.length})`, runs };
  },
};

/** What /dev/udmabuf needs: the mm for kernel mappings, its misc device for CPU-access syncs, and its module limits. */
export interface UdmabufOptions {
  mm: Mm;
  /** The misc device's struct device: its DMA ops do the CPU-access syncs (64-bit mask in Linux). */
  device: Device;
  /** Largest buffer in MiB (size_limit_mb, default 64). */
  sizeLimitMb?: number;
  /** Most items in one CREATE_LIST (list_limit, default 1024). */
  listLimit?: number;
}

/** One item of a creation request, decoded. */
interface Item {
  memfd: number;
  offset: number;
  size: number;
}

function u64(v: unknown, what: string): number {
  if (typeof v === 'bigint') return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER + 1 : Number(BigInt.asUintN(64, v));
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  throw kerr('EFAULT', `${what} is not an unsigned integer`);
}

/**
 * The /dev/udmabuf misc device: turns pages of sealed memfds into a
 * dma-buf without copying (udmabuf_create).
 */
export class UdmabufDevice {
  readonly system: DmaBufSystem;
  readonly mm: Mm;
  readonly device: Device;
  readonly sizeLimitMb: number;
  readonly listLimit: number;
  node!: DeviceNode;
  /** Buffers created so far. */
  created = 0;

  constructor(system: DmaBufSystem, opts: UdmabufOptions) {
    this.system = system;
    this.mm = opts.mm;
    this.device = opts.device;
    this.sizeLimitMb = opts.sizeLimitMb ?? 64;
    this.listLimit = opts.listLimit ?? 1024;
  }

  /**
   * Creates a buffer from memfd ranges (udmabuf_create): offsets and sizes
   * page aligned and the total within the size limit and non-zero
   * (EINVAL); each fd a DRAM-backed shmem file (EBADFD) sealed against shrinking and not
   * against writing (EINVAL). Returns the new fd (O_CLOEXEC with
   * UDMABUF_FLAGS_CLOEXEC).
   */
  create(task: Task, flags: number, items: readonly Item[]): number {
    const pglimit = (this.sizeLimitMb * 1024 * 1024) / PAGE_SIZE;
    let pagecount = 0;
    for (const it of items) {
      if (it.offset % PAGE_SIZE) throw kerr('EINVAL', `offset ${it.offset} is not page aligned`);
      if (it.size % PAGE_SIZE) throw kerr('EINVAL', `size ${it.size} is not page aligned`);
      pagecount += it.size / PAGE_SIZE;
      if (pagecount > pglimit) throw kerr('EINVAL', `more than ${this.sizeLimitMb} MiB`);
    }
    if (pagecount === 0) throw kerr('EINVAL', 'no pages');
    const pages = new Uint32Array(pagecount);
    const sources: { m: ShmemMapping; from: number; count: number }[] = [];
    const partial = new Udmabuf(this, pages, sources);
    let got = 0;
    try {
      for (const it of items) {
        let memfd: File;
        try {
          memfd = task.fget(it.memfd);
        } catch (e) {
          if (!isKernelError(e, 'EBADF')) throw e;
          throw kerr('EBADFD', `fd ${it.memfd} is not open`);
        }
        try {
          const m = shmemMappingOf(memfd);
          if (!m) {
            // a tmpfs file is shmem, but without DRAM pages and without seals (F_SEAL_SEAL only)
            if (memfd.fOp === tmpfsFileOps) throw kerr('EINVAL', `${memfd.pathName()} has no F_SEAL_SHRINK seal`);
            throw kerr('EBADFD', `${memfd.pathName()} is not a memfd`);
          }
          if ((m.seals & SEALS_WANTED) !== SEALS_WANTED || m.seals & SEALS_DENIED) {
            throw kerr('EINVAL', `memfd seals 0x${m.seals.toString(16)}: F_SEAL_SHRINK needed, F_SEAL_WRITE refused`);
          }
          const first = it.offset / PAGE_SIZE;
          const src = { m, from: got, count: 0 };
          sources.push(src);
          for (let i = 0; i < it.size / PAGE_SIZE; i++) {
            pages[got++] = m.readPage(first + i);
            src.count++;
          }
        } finally {
          fput(memfd);
        }
      }
    } catch (e) {
      partial.putPages();
      throw e;
    }
    const d = exportDmaBuf(this.system, { ops: udmabufOps, size: pagecount * PAGE_SIZE, flags: O_RDWR, priv: partial, expName: 'udmabuf', creator: `${task.comm}[${task.pid}]` });
    this.created++;
    try {
      return dmaBufFd(task, d, flags & UDMABUF_FLAGS_CLOEXEC ? O_CLOEXEC : 0);
    } catch (e) {
      void dmaBufPut(d);
      throw e;
    }
  }

  /** ioctl of /dev/udmabuf (udmabuf_ioctl): CREATE, CREATE_LIST (at most listLimit items), else ENOTTY. */
  ioctl(cmd: number, arg: unknown, task: Task): number {
    if (cmd === UDMABUF_CREATE) {
      const c = userArg<UdmabufCreate>(arg);
      return this.create(task, u64(c.flags, 'flags'), [{ memfd: c.memfd, offset: u64(c.offset, 'offset'), size: u64(c.size, 'size') }]);
    }
    if (cmd === UDMABUF_CREATE_LIST) {
      const h = userArg<UdmabufCreateList>(arg);
      const count = u64(h.count, 'count');
      if (count > this.listLimit) throw kerr('EINVAL', `${count} items exceed list_limit ${this.listLimit}`);
      if (!Array.isArray(h.list) || h.list.length < count) throw kerr('EFAULT', `list holds fewer than ${count} items`);
      const items: Item[] = [];
      for (let i = 0; i < count; i++) {
        const it = h.list[i]!;
        items.push({ memfd: it.memfd, offset: u64(it.offset, 'offset'), size: u64(it.size, 'size') });
      }
      return this.create(task, u64(h.flags, 'flags'), items);
    }
    throw kerr('ENOTTY', `udmabuf ioctl 0x${cmd.toString(16)}`);
  }
}

/** Registers /dev/udmabuf (udmabuf_dev_init). */
export function registerUdmabuf(system: DmaBufSystem, opts: UdmabufOptions): UdmabufDevice {
  const u = new UdmabufDevice(system, opts);
  u.node = registerChrdev(system.vfs, {
    path: '/dev/udmabuf',
    major: MISC_MAJOR,
    minor: UDMABUF_MINOR,
    mode: 0o600,
    privateData: u,
    sysfs: { class: 'misc' },
    fops: {
      name: 'udmabuf',
      unlockedIoctl: (_file, cmd, arg, task) => u.ioctl(cmd, arg, task),
    },
  });
  return u;
}

