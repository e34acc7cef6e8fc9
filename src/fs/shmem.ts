import { KernelBug, KernelError, PAGE_SIZE, kerr } from '../lib/index.ts';
import type { Clock, Cpu } from '../hw/index.ts';
import { getPage, type Gfp, type Mm, type PageAllocator, pageCount, type PageOwnerOps, putPage, registerPageOwner, setPageOwner } from '../mm/index.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  O_ACCMODE,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_LARGEFILE,
  O_NOCTTY,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  S_IFREG,
} from '../uapi/index.ts';
import type { Cred } from './cred.ts';
import { File, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, type FileOperations, type FilePos } from './file.ts';
import { Inode, MAY_READ, MAY_WRITE, inodePermission, type Iattr, type InodeOperations, type SuperBlock } from './inode.ts';
import type { Task } from './task.ts';
import { genericFileLlseek } from './llseek.ts';
import { SHMEM_FALLOC_MODES } from './fallocate.ts';
import { VM_MAYWRITE, VM_SHARED, VM_WRITE, type VmArea, type VmOperations } from './vma.ts';
import type { Vfs } from './vfs.ts';

/**
 * Largest shmem file: page indexes must fit the frame's owner word
 * (page->index in 31 bits here), so 8 TiB less a page.
 */
export const SHMEM_MAX_BYTES = 0x7fffffff * PAGE_SIZE;

/** How many pages shmemAllocPage sets aside at most looking for one that is not a neighbour's physical successor. */
const SCATTER_TRIES = 4;

/**
 * Allocates one order-0 page for page `index` of a shmem-backed file
 * (shmem_alloc_folio) whose neighbours `prevPfn` (page index-1) and
 * `nextPfn` (page index+1) are already allocated (-1 when not). A booted
 * Linux system hands shmem its pages from per-CPU lists long since
 * shuffled by other users, so a file's consecutive pages are almost never
 * physically consecutive, and a contiguous-DMA importer of a memfd or a
 * shmem GEM object fails; this allocator's free lists are tidy, so a page
 * that would follow `prevPfn` or precede `nextPfn` physically is set aside
 * and another taken, the set-aside ones then freed. The result is
 * deterministic: the same allocations give the same frames.
 */
export function shmemAllocPage(pages: PageAllocator, gfp: Gfp, prevPfn: number, nextPfn: number): number {
  const aside: number[] = [];
  try {
    for (;;) {
      const pfn = pages.allocPages(0, gfp);
      const adjacent = (prevPfn >= 0 && pfn === prevPfn + 1) || (nextPfn >= 0 && pfn === nextPfn - 1);
      if (!adjacent || aside.length >= SCATTER_TRIES) return pfn;
      aside.push(pfn);
    }
  } finally {
    for (const p of aside) pages.freePages(p, 0);
  }
}

/** Page-cache entries per chunk of an inode's page table (a radix-tree node's worth). */
const CHUNK_SHIFT = 9;
const CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK - 1;

/**
 * The internal shmem mount (shm_mnt) whose files live in simulated DRAM:
 * memfds. It owns the page-cache pages of every such file: movable,
 * zeroed pages from the mm page allocator (GFP_HIGHUSER_MOVABLE), so CMA
 * can migrate them, and the reverse map that finds a page's file when it
 * does. One per kernel; it needs the booted mm.
 */
export class ShmemFs implements PageOwnerOps {
  readonly name = 'shmem';
  readonly vfs: Vfs;
  readonly mm: Mm;
  readonly sb: SuperBlock;
  /** The page-owner id shmem pages carry (page->mapping). */
  readonly ownerId: number;
  /** Pages all shmem files hold in their page caches (Shmem in /proc/meminfo). */
  nrPages = 0;
  /** Frame index -> id of the inode whose page cache holds the page, 0 for none. */
  private readonly rmap: Int32Array;
  private readonly inodes = new Map<number, ShmemInode>();
  private nextId = 1;

  constructor(vfs: Vfs, mm: Mm) {
    this.vfs = vfs;
    this.mm = mm;
    // shm_mnt is the first anonymous device on a booted kernel: memfds show 00:01 in maps
    this.sb = vfs.mountPseudo('tmpfs', { devMinor: 1 });
    this.sb.maxBytes = SHMEM_MAX_BYTES;
    this.ownerId = registerPageOwner(mm.pages, this);
    this.rmap = new Int32Array(mm.frames.count);
  }

  /** The CPU kernel reads and writes of shmem pages go through. */
  get cpu(): Cpu {
    return this.mm.soc.cpu;
  }

  /** The clock their cost is slept on. */
  get clock(): Clock {
    return this.mm.soc.clock;
  }

  /** Live shmem inodes (files not yet evicted). */
  get inodeCount(): number {
    return this.inodes.size;
  }

  /**
   * Creates an unlinked regular file on the mount (shmem_file_setup):
   * mode 0777, no links, the caller's owner, empty, `seals` as given. The
   * caller owns the one reference to the returned file, opened O_RDWR.
   */
  createFile(dentryName: string, cred: Cred, seals: number, flags: number): File {
    const si = new ShmemInode(this, this.nextId++, cred, seals);
    this.inodes.set(si.id, si);
    return si.openFile(`/${dentryName} (deleted)`, flags, cred);
  }

  /** Repoints a migrated page's page-cache slot and unmaps the old frame from every mapping (migrate_folio for shmem). */
  migratePage(oldPfn: number, newPfn: number, index: number): void {
    const f = this.mm.frames;
    const oi = f.index(oldPfn);
    const si = this.inodes.get(this.rmap[oi]!);
    if (!si) throw new KernelBug(`shmem: migrated pfn ${oldPfn} belongs to no file`);
    this.rmap[oi] = 0;
    this.rmap[f.index(newPfn)] = si.id;
    si.pageMigrated(index, oldPfn, newPfn);
  }

  /** @internal Allocates a zeroed page-cache page for page `index` of `si` (shmem_alloc_folio). ENOMEM. */
  allocPage(si: ShmemInode, index: number): number {
    const gfp = { movable: true, highmem: true, zero: true, owner: this.ownerId, priv: index };
    const pfn = shmemAllocPage(this.mm.pages, gfp, index > 0 ? si.findPage(index - 1) : -1, si.findPage(index + 1));
    this.rmap[this.mm.frames.index(pfn)] = si.id;
    this.nrPages++;
    return pfn;
  }

  /**
   * @internal Takes a page out of a page cache (delete_from_page_cache):
   * the page forgets its file, so a user still holding it (udmabuf) keeps
   * a page nobody migrates, and the cache's reference goes.
   */
  releasePage(pfn: number): void {
    this.rmap[this.mm.frames.index(pfn)] = 0;
    setPageOwner(this.mm.pages, pfn, 0, 0);
    this.nrPages--;
    putPage(this.mm.pages, pfn);
  }

  /** @internal Forgets an evicted inode. */
  forget(si: ShmemInode): void {
    this.inodes.delete(si.id);
  }
}

/**
 * A shmem inode (struct shmem_inode_info) whose pages are DRAM frames:
 * its seals, its page cache (a chunked table of pfns, -1 for holes), its
 * mappings (i_mmap) and how many of them are shared-writable
 * (i_mmap_writable, -1 once F_SEAL_WRITE denies them). It is what udmabuf
 * finds on `inode.privateData` (ShmemMapping): readPage hands out a page
 * with a reference, putPage drops it. The page cache holds one reference
 * per page; mappings hold none (they are zapped whenever the page leaves
 * the cache or moves). Evicted, every page dropped, when its last open
 * file is released.
 */
export class ShmemInode {
  readonly fs: ShmemFs;
  readonly id: number;
  readonly inode: Inode;
  /** F_SEAL_* bits (info->seals). */
  seals: number;
  /** i_mmap_writable: shared mappings that may write, or negative while F_SEAL_WRITE denies them. */
  mmapWritable = 0;
  /** Pages in the page cache (nrpages); i_blocks follows it. */
  get nrPages(): number {
    return this.pages;
  }
  private pages = 0;
  /** The mappings of the file (i_mmap). */
  readonly vmas = new Set<VmArea>();
  /** The operations every mapping of this file gets. */
  readonly vmOps: VmOperations;
  private readonly chunks = new Map<number, Int32Array>();
  private openFiles = 0;

  constructor(fs: ShmemFs, id: number, cred: Cred, seals: number) {
    this.fs = fs;
    this.id = id;
    this.seals = seals;
    this.inode = new Inode(fs.sb, { mode: S_IFREG | 0o777, uid: cred.uid, gid: cred.gid, fops: shmemFileOps, iop: shmemInodeOps, privateData: this });
    // unlinked from birth (clear_nlink in __shmem_file_setup)
    this.inode.nlink = 0;
    this.inode.blocks = 0;
    this.vmOps = {
      open: (vma) => this.mapOpen(vma),
      close: (vma) => this.mapClose(vma),
      fault: (vma, i) => this.fault(vma, i),
    };
  }

  /** i_size. */
  get size(): number {
    return this.inode.size;
  }

  /** Opens a new file on this inode (alloc_file_pseudo, or a reopen through /proc); the caller owns the reference. */
  openFile(name: string, flags: number, cred: Cred): File {
    const f = new File(this.fs.vfs, { inode: this.inode, fops: shmemFileOps, flags, cred, fmode: FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE, name });
    this.openFiles++;
    return f;
  }

  /** The frame of page `index`, or -1 for a hole (find_lock_page). */
  findPage(index: number): number {
    const c = this.chunks.get(index >>> CHUNK_SHIFT);
    return c ? c[index & CHUNK_MASK]! : -1;
  }

  /** The frame of page `index`, allocated zeroed when it is a hole (shmem_get_folio, SGP_WRITE). ENOMEM. */
  getPage(index: number): number {
    const ci = index >>> CHUNK_SHIFT;
    let c = this.chunks.get(ci);
    if (!c) {
      c = new Int32Array(CHUNK).fill(-1);
      this.chunks.set(ci, c);
    }
    let pfn = c[index & CHUNK_MASK]!;
    if (pfn < 0) {
      pfn = this.fs.allocPage(this, index);
      c[index & CHUNK_MASK] = pfn;
      this.countPages(1);
    }
    return pfn;
  }

  /**
   * The frame of page `index` with a reference for the caller, allocated
   * zeroed on first touch (shmem_read_mapping_page). EINVAL at or beyond
   * the end of the file.
   */
  readPage(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index * PAGE_SIZE >= this.inode.size) throw kerr('EINVAL', `page ${index} beyond a ${this.inode.size}-byte memfd`);
    const pfn = this.getPage(index);
    getPage(this.fs.mm.pages, pfn);
    return pfn;
  }

  /** Drops a reference readPage gave (put_page). */
  putPage(pfn: number): void {
    putPage(this.fs.mm.pages, pfn);
  }

  /**
   * Sets i_size (shmem_setattr after its checks). Shrinking first unmaps
   * every page past the new end from every mapping, private copies
   * included, then drops those pages from the cache and zeroes the tail of
   * the page the end falls in; growing only moves i_size (holes read zero).
   */
  setSize(size: number): void {
    const old = this.inode.size;
    this.inode.size = size;
    if (size > old) return;
    const keep = Math.ceil(size / PAGE_SIZE);
    if (old > keep * PAGE_SIZE) {
      for (const v of this.vmas) {
        const first = Math.max(0, keep - v.pgoff);
        if (first < v.pages) v.zapPages(first, v.pages - first, true);
      }
    }
    for (const [ci, c] of this.chunks) {
      const base = ci * CHUNK;
      if (base + CHUNK <= keep) continue;
      for (let j = Math.max(0, keep - base); j < CHUNK; j++) {
        const pfn = c[j]!;
        if (pfn < 0) continue;
        c[j] = -1;
        this.countPages(-1);
        this.fs.releasePage(pfn);
      }
      if (base >= keep) this.chunks.delete(ci);
    }
    const tail = size % PAGE_SIZE;
    if (tail) {
      const pfn = this.findPage(keep - 1);
      if (pfn >= 0) this.fs.cpu.fill(pfn * PAGE_SIZE + tail, PAGE_SIZE - tail, 0, 'wb');
    }
  }

  /**
   * Allocates the pages of [offset, offset+len) (shmem_fallocate without
   * PUNCH_HOLE): EPERM when F_SEAL_GROW forbids growing past i_size; on
   * ENOMEM the pages this call allocated go again. i_size grows to the end
   * of the range unless `keepSize`.
   */
  fallocate(offset: number, len: number, keepSize: boolean): void {
    const end = offset + len;
    if (this.seals & F_SEAL_GROW && end > this.inode.size) throw kerr('EPERM', 'F_SEAL_GROW: fallocate past the end');
    const first = Math.floor(offset / PAGE_SIZE);
    const last = Math.ceil(end / PAGE_SIZE);
    const added: number[] = [];
    try {
      for (let i = first; i < last; i++) {
        if (this.findPage(i) >= 0) continue;
        this.getPage(i);
        added.push(i);
      }
    } catch (e) {
      // what this call allocated goes again (shmem_fallocate's undone path)
      for (const i of added) this.dropPage(i);
      throw e;
    }
    if (!keepSize && end > this.inode.size) this.inode.size = end;
  }

  /**
   * Punches a hole in [offset, offset+len) (shmem_fallocate with
   * PUNCH_HOLE): EPERM under a write seal. Whole pages leave every shared
   * mapping (private copies stay, as unmap_mapping_range without
   * even_cows leaves them) and the page cache; the parts of pages at the
   * ends are zeroed. i_size does not change.
   */
  punchHole(offset: number, len: number): void {
    if (this.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) throw kerr('EPERM', 'the memfd is sealed against writing');
    const end = offset + len;
    const first = Math.ceil(offset / PAGE_SIZE);
    const last = Math.floor(end / PAGE_SIZE);
    if (last > first) {
      for (const v of this.vmas) {
        const a = Math.max(first - v.pgoff, 0);
        const b = Math.min(last - v.pgoff, v.pages);
        if (b > a) v.zapPages(a, b - a);
      }
      for (let i = first; i < last; i++) this.dropPage(i);
    }
    // the partial pages at either end keep their frames and lose the bytes in range
    const zeroPart = (from: number, to: number): void => {
      if (to <= from) return;
      const pfn = this.findPage(Math.floor(from / PAGE_SIZE));
      if (pfn >= 0) this.fs.cpu.fill(pfn * PAGE_SIZE + (from % PAGE_SIZE), to - from, 0, 'wb');
    };
    if (first > last) zeroPart(offset, end);
    else {
      zeroPart(offset, Math.min(end, first * PAGE_SIZE));
      if (last >= first) zeroPart(Math.max(offset, last * PAGE_SIZE), end);
    }
  }

  /** Takes page `index` out of the page cache, if it is there (delete_from_page_cache). */
  private dropPage(index: number): void {
    const c = this.chunks.get(index >>> CHUNK_SHIFT);
    if (!c) return;
    const pfn = c[index & CHUNK_MASK]!;
    if (pfn < 0) return;
    c[index & CHUNK_MASK] = -1;
    this.countPages(-1);
    this.fs.releasePage(pfn);
  }

  /** Page `index` moved from `oldPfn` to `newPfn`: repoint the cache and unmap the old frame wherever it is mapped. */
  pageMigrated(index: number, oldPfn: number, newPfn: number): void {
    const c = this.chunks.get(index >>> CHUNK_SHIFT);
    if (!c || c[index & CHUNK_MASK] !== oldPfn) throw new KernelBug(`shmem: page ${index} is not at pfn ${oldPfn}`);
    c[index & CHUNK_MASK] = newPfn;
    for (const v of this.vmas) {
      const i = index - v.pgoff;
      if (i >= 0 && i < v.pages && v.pfns[i] === oldPfn) v.zapPages(i, 1);
    }
  }

  /** Page indexes whose pages someone besides the cache holds (memfd_tag_pins). */
  pinnedPages(): number[] {
    const out: number[] = [];
    const pages = this.fs.mm.pages;
    for (const [ci, c] of this.chunks) {
      for (let j = 0; j < CHUNK; j++) if (c[j]! >= 0 && pageCount(pages, c[j]!) > 1) out.push(ci * CHUNK + j);
    }
    return out;
  }

  /** True while page `index` still has a holder besides the cache. */
  stillPinned(index: number): boolean {
    const pfn = this.findPage(index);
    return pfn >= 0 && pageCount(this.fs.mm.pages, pfn) > 1;
  }

  /** @internal A file on the inode was released: the last one evicts the inode (iput -> shmem_evict_inode). */
  fileReleased(): void {
    if (--this.openFiles > 0) return;
    if (this.vmas.size > 0) throw new KernelBug(`shmem inode ${this.inode.ino} evicted with ${this.vmas.size} mapping(s)`);
    for (const c of this.chunks.values()) {
      for (let j = 0; j < CHUNK; j++) if (c[j]! >= 0) this.fs.releasePage(c[j]!);
    }
    this.chunks.clear();
    this.countPages(-this.pages);
    this.fs.forget(this);
  }

  /** Adds to nrpages and keeps i_blocks in step (shmem_recalc_inode). */
  private countPages(delta: number): void {
    this.pages += delta;
    this.inode.blocks = this.pages * (PAGE_SIZE / 512);
  }

  /** A mapping appeared: new, forked or split off (vma_link / vm_ops->open). */
  private mapOpen(vma: VmArea): void {
    this.vmas.add(vma);
    if (vma.flags & VM_SHARED) this.mmapWritable++;
  }

  /** A mapping went away (vm_ops->close / __remove_shared_vm_struct). */
  private mapClose(vma: VmArea): void {
    if (!this.vmas.delete(vma)) throw new KernelBug('shmem: closing a mapping it never had');
    if (vma.flags & VM_SHARED) this.mmapWritable--;
  }

  /** The frame for page `i` of a mapping (shmem_fault): allocated on first touch; SIGBUS at or beyond the end of the file. */
  private fault(vma: VmArea, i: number): number {
    const index = vma.pgoff + i;
    if (index * PAGE_SIZE >= this.inode.size) throw kerr('EFAULT', `page ${index} beyond the end of the file`);
    return this.getPage(index);
  }

  /** @internal Sets up a new mapping (mmap_region's mapping_map_writable, then shmem_mmap). */
  mmap(vma: VmArea): void {
    if (vma.flags & VM_SHARED && this.mmapWritable < 0) throw kerr('EPERM', 'F_SEAL_WRITE: no shared mapping of a writable fd');
    if (this.seals & F_SEAL_FUTURE_WRITE) {
      if (vma.flags & VM_SHARED && vma.flags & VM_WRITE) throw kerr('EPERM', 'F_SEAL_FUTURE_WRITE: no new writable shared mapping');
      if (vma.flags & VM_SHARED) vma.flags &= ~VM_MAYWRITE;
    }
    vma.memType = 'wb';
    vma.vmOps = this.vmOps;
    vma.privateData = this;
    this.mapOpen(vma);
  }
}

/**
 * Opens a shmem inode again through its /proc/<pid>/fd link (the magic
 * link's do_dentry_open): a new file description on the same inode, e.g.
 * a read-only one to share a write-sealed memfd. EACCES as the mode bits
 * say; O_TRUNC truncates through setattr, so a shrink seal makes the open
 * fail with EPERM. The caller owns the reference.
 */
export async function shmemReopen(si: ShmemInode, task: Task, flags: number, name: string): Promise<File> {
  const acc = flags & O_ACCMODE;
  let mask = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
  if (flags & O_TRUNC) mask |= MAY_WRITE;
  inodePermission(si.inode, task.cred, mask);
  const file = si.openFile(name, (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE, task.cred);
  if (flags & O_TRUNC && acc !== O_RDONLY) {
    try {
      await shmemInodeOps.setattr!(si.inode, { size: 0 });
    } catch (e) {
      file.put();
      throw e;
    }
  }
  return file;
}

/** The shmem inode behind `inode`, or null when it is not a DRAM-backed shmem file. */
export function shmemInodeOf(inode: Inode): ShmemInode | null {
  return inode.privateData instanceof ShmemInode ? inode.privateData : null;
}

function shmemOf(file: File): ShmemInode {
  const si = shmemInodeOf(file.inode);
  if (!si) throw new KernelBug(`${file.pathName()} is not a shmem file`);
  return si;
}

/** Runs the CPU time the copy took on a core before the call goes on (the copy is the caller's system time). */
function runCopyTime(fs: ShmemFs): Promise<void> {
  return fs.mm.soc.cores.runDebt();
}

/**
 * File operations of DRAM-backed shmem files (shmem_file_operations):
 * read and write copy through the CPU and its cache to the page-cache
 * frames (the kernel's cached view), holes read as zeros, writes allocate
 * zeroed pages and honour the write and grow seals one page at a time (a
 * write cut short by F_SEAL_GROW returns what it wrote); mmap maps the
 * same frames write-back cached. Both copies take the CPU's time.
 */
export const shmemFileOps: FileOperations = {
  name: 'shmem',
  /** Copies bytes out from the position, up to i_size (shmem_file_read_iter). */
  async read(file: File, len: number, ppos: FilePos): Promise<Uint8Array> {
    const si = shmemOf(file);
    const fs = si.fs;
    const pos = ppos.pos;
    const n = Math.max(0, Math.min(si.size - pos, len));
    const out = new Uint8Array(n);
    if (n === 0) return out;
    let off = 0;
    while (off < n) {
      const a = pos + off;
      const index = Math.floor(a / PAGE_SIZE);
      const inPage = a - index * PAGE_SIZE;
      let run = Math.min(n - off, PAGE_SIZE - inPage);
      const pfn = si.findPage(index);
      if (pfn >= 0) {
        // one copy over pages whose frames follow each other
        for (let k = index + 1; off + run < n && si.findPage(k) === pfn + (k - index); k++) run += Math.min(n - off - run, PAGE_SIZE);
        fs.cpu.load(pfn * PAGE_SIZE + inPage, out, off, run, 'wb');
      }
      off += run;
    }
    ppos.pos = pos + n;
    await runCopyTime(fs);
    return out;
  },
  /** Copies bytes in page by page, growing the file (generic_perform_write with shmem_write_begin's seal checks). */
  async write(file: File, data: Uint8Array, ppos: FilePos): Promise<number> {
    const si = shmemOf(file);
    const fs = si.fs;
    const inode = file.inode;
    const pos = file.flags & O_APPEND ? inode.size : ppos.pos;
    if (data.length === 0) return 0;
    if (pos >= SHMEM_MAX_BYTES) throw kerr('EFBIG', `position ${pos}`);
    const count = Math.min(data.length, SHMEM_MAX_BYTES - pos);
    let written = 0;
    try {
      while (written < count) {
        const a = pos + written;
        const index = Math.floor(a / PAGE_SIZE);
        const inPage = a - index * PAGE_SIZE;
        const n = Math.min(count - written, PAGE_SIZE - inPage);
        if (si.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) throw kerr('EPERM', 'the memfd is sealed against writing');
        if (si.seals & F_SEAL_GROW && a + n > inode.size) throw kerr('EPERM', 'F_SEAL_GROW: the write would grow the memfd');
        const pfn = si.getPage(index);
        fs.cpu.store(pfn * PAGE_SIZE + inPage, data, written, n, 'wb');
        written += n;
        if (a + n > inode.size) inode.size = a + n;
      }
    } catch (e) {
      // a short write reports what it wrote; the error is for a write that wrote nothing
      if (written === 0 || !(e instanceof KernelError)) throw e;
    }
    ppos.pos = pos + written;
    await runCopyTime(fs);
    return written;
  },
  /** Moves the position against i_size (shmem_file_llseek without SEEK_DATA/SEEK_HOLE). */
  llseek(file: File, offset: number, whence: number): number {
    return genericFileLlseek(file, offset, whence, file.inode.size);
  },
  /** Maps the page-cache frames write-back cached, faulting them in (shmem_mmap). EPERM when a write seal forbids the mapping. */
  mmap(file: File, vma: VmArea): void {
    shmemOf(file).mmap(vma);
  },
  /** Nothing to write back (noop_fsync). */
  fsync(): void {},
  /**
   * Allocates pages or punches a hole (shmem_fallocate): EOPNOTSUPP for
   * modes beyond KEEP_SIZE and PUNCH_HOLE, then the seal checks.
   */
  fallocate(file: File, mode: number, offset: number, len: number): void {
    if (mode & ~SHMEM_FALLOC_MODES) throw kerr('EOPNOTSUPP', `mode 0x${mode.toString(16)} on shmem`);
    const si = shmemOf(file);
    if (mode & FALLOC_FL_PUNCH_HOLE) si.punchHole(offset, len);
    else si.fallocate(offset, len, (mode & FALLOC_FL_KEEP_SIZE) !== 0);
  },
  /** The last file of the inode evicts it and frees its pages (shmem_evict_inode via iput). */
  release(inode: Inode): void {
    shmemInodeOf(inode)!.fileReleased();
  },
};

/** Inode operations of DRAM-backed shmem files (shmem_inode_operations). */
export const shmemInodeOps: InodeOperations = {
  /**
   * Truncates or extends (shmem_setattr): EPERM when F_SEAL_SHRINK forbids
   * shrinking or F_SEAL_GROW growing, EFBIG beyond the largest file.
   */
  setattr(inode: Inode, attr: Iattr): void {
    const si = shmemInodeOf(inode)!;
    if (attr.size === undefined) return;
    const size = attr.size;
    const old = inode.size;
    if ((size < old && si.seals & F_SEAL_SHRINK) || (size > old && si.seals & F_SEAL_GROW)) {
      throw kerr('EPERM', `F_SEAL_${size < old ? 'SHRINK' : 'GROW'}: size ${old} -> ${size}`);
    }
    if (size > SHMEM_MAX_BYTES) throw kerr('EFBIG', `size ${size}`);
    si.setSize(size);
  },
};
