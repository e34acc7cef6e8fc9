import { createDevice, createDmaContext, type Device, type DmaContext, type IommuMapper } from '../../src/dma/index.ts';
import {
  addCmaHeap,
  addSystemHeap,
  createDmaBufSystem,
  registerUdmabuf,
  type DmaBuf,
  type DmaBufSystem,
  type DmaHeap,
  type UdmabufDevice,
} from '../../src/dmabuf/index.ts';
import type { ShmemMapping } from '../../src/dmabuf/udmabuf.ts';
import { File, Inode, ROOT_CRED, type Cred } from '../../src/fs/index.ts';
import { DmaFault, Soc, type Translator } from '../../src/hw/index.ts';
import { KernelError, MiB, PAGE_SIZE, SyscallError, kerr } from '../../src/lib/index.ts';
import { bootMm, getPage, type Mm, putPage } from '../../src/mm/index.ts';
import { createProcSystem, spawnProcess, type ProcKernel, type Process, type Sys } from '../../src/proc/index.ts';
import { DMA_HEAP_IOCTL_ALLOC, MAP_SHARED, O_CLOEXEC, O_RDWR, S_IFREG } from '../../src/uapi/index.ts';

/**
 * A small IOMMU for tests: IOVAs handed out upwards from 0x1000_0000, a
 * page table in a map, and the master's translator walking it, so a
 * device behind it DMAs through real translations (and faults on holes).
 */
export class TestIommu implements IommuMapper, Translator {
  private next = 0x1000_0000;
  private readonly pt = new Map<number, number>();
  maps = 0;

  allocIova(size: number, limit: number): number {
    const iova = this.next;
    if (iova + size > limit) throw kerr('ENOMEM', `test iommu: no ${size} bytes of IOVA below ${limit}`);
    this.next += Math.ceil(size / PAGE_SIZE) * PAGE_SIZE + PAGE_SIZE;
    return iova;
  }
  freeIova(): void {}
  map(iova: number, pa: number, size: number): void {
    for (let o = 0; o < size; o += PAGE_SIZE) this.pt.set((iova + o) / PAGE_SIZE, (pa + o) / PAGE_SIZE);
    this.maps++;
  }
  unmap(iova: number, size: number): number {
    for (let o = 0; o < size; o += PAGE_SIZE) this.pt.delete((iova + o) / PAGE_SIZE);
    return size;
  }
  iovaToPhys(iova: number): number {
    const pfn = this.pt.get(Math.floor(iova / PAGE_SIZE));
    return pfn === undefined ? -1 : pfn * PAGE_SIZE + (iova % PAGE_SIZE);
  }
  translate(addr: number, write: boolean): { pa: number; run: number } {
    const pfn = this.pt.get(Math.floor(addr / PAGE_SIZE));
    if (pfn === undefined) throw new DmaFault('iommu', addr, write, 'no translation');
    return { pa: pfn * PAGE_SIZE + (addr % PAGE_SIZE), run: PAGE_SIZE - (addr % PAGE_SIZE) };
  }
}

export interface TestSystem {
  soc: Soc;
  mm: Mm;
  ctx: DmaContext;
  k: ProcKernel;
  dbs: DmaBufSystem;
  system: DmaHeap;
  cma: DmaHeap;
  udmabuf: UdmabufDevice;
  /** Non-coherent, direct, scatter-gather DMA engine with a 32-bit mask. */
  dma0: Device;
  /** Non-coherent camera without IOMMU or scatter-gather: needs contiguous memory below 1 GiB. */
  cam: Device;
  /** ISP behind an IOMMU. */
  isp: Device;
  /** Coherent GPU behind an IOMMU. */
  gpu: Device;
  /** Display controller without IOMMU: contiguous, 32-bit. */
  disp: Device;
  iommu: TestIommu;
}

/**
 * A SoC for dma-buf tests: 192 MiB of lowmem at 0x20000000, 64 MiB of
 * highmem at 0x80000000, a 256 KiB on-chip SRAM at 0x10000000, a 16 MiB
 * default CMA area ("reserved"), a non-coherent 64 KiB cache, the process
 * layer, the dma-buf core with the system and CMA heaps and /dev/udmabuf.
 */
export function testSystem(opts: { prefetch?: number; cma?: number } = {}): TestSystem {
  const soc = new Soc({
    seed: 7,
    banks: [
      { name: 'sram', base: 0x1000_0000, size: 256 * 1024, kind: 'sram' },
      { name: 'dram0', base: 0x2000_0000, size: 192 * MiB, kind: 'dram' },
      { name: 'dram1', base: 0x8000_0000, size: 64 * MiB, kind: 'dram' },
    ],
    cache: { size: 64 * 1024, ways: 4 },
    prefetchProbability: opts.prefetch ?? 0,
    masters: [
      { name: 'dma0', coherent: false, bandwidth: 2e9, latencyNs: 100 },
      { name: 'cam', coherent: false, bandwidth: 1e9, latencyNs: 200 },
      { name: 'isp', coherent: false, bandwidth: 2e9, latencyNs: 200 },
      { name: 'gpu', coherent: true, bandwidth: 4e9, latencyNs: 100 },
      { name: 'disp', coherent: false, bandwidth: 1e9, latencyNs: 200 },
      { name: 'udmabuf', coherent: false, bandwidth: 1e9, latencyNs: 0 },
    ],
  });
  const mm = bootMm(soc, { lowmem: 192 * MiB, vmalloc: 64 * MiB, cma: { default: opts.cma ?? 16 * MiB } });
  const ctx = createDmaContext(soc, mm, { flushThreshold: 1 << 30 });
  const iommu = new TestIommu();
  soc.master('isp').translator = iommu;
  soc.master('gpu').translator = iommu;
  const base = { coherent: false, needsContiguous: false, alignment: PAGE_SIZE, segmentBoundary: 0xffff_ffff, cma: null, iommu: null, bounce: false };
  const dma0 = createDevice(ctx, soc.master('dma0'), { ...base, name: 'dma0', kind: 'dma-engine', dmaMaskBits: 32, maxSegmentSize: 16 * MiB });
  const cam = createDevice(ctx, soc.master('cam'), { ...base, name: 'cam', kind: 'camera', dmaMaskBits: 30, maxSegmentSize: 64 * MiB, needsContiguous: true });
  const isp = createDevice(ctx, soc.master('isp'), { ...base, name: 'isp', kind: 'isp', dmaMaskBits: 32, maxSegmentSize: 64 * MiB, iommu });
  const gpu = createDevice(ctx, soc.master('gpu'), { ...base, name: 'gpu', kind: 'gpu', dmaMaskBits: 40, maxSegmentSize: 64 * MiB, coherent: true, iommu });
  const disp = createDevice(ctx, soc.master('disp'), { ...base, name: 'disp', kind: 'display', dmaMaskBits: 32, maxSegmentSize: 64 * MiB, needsContiguous: true });
  const misc = createDevice(ctx, soc.master('udmabuf'), { ...base, name: 'udmabuf', kind: 'misc', dmaMaskBits: 64, maxSegmentSize: 64 * MiB });
  const k = createProcSystem({ soc, mm });
  const dbs = createDmaBufSystem({ vfs: k.vfs, soc });
  const system = addSystemHeap(dbs, mm);
  const cma = addCmaHeap(dbs, mm, mm.defaultCma!);
  const udmabuf = registerUdmabuf(dbs, { mm, device: misc });
  return { soc, mm, ctx, k, dbs, system, cma, udmabuf, dma0, cam, isp, gpu, disp, iommu };
}

/**
 * testSystem with a process kernel that has the mm (anonymous memory that
 * USERPTR can pin) and a dma-buf core on that kernel's VFS, no heaps.
 */
export function procMmSystem(): TestSystem {
  const s = testSystem();
  const k = createProcSystem({ soc: s.soc, mm: s.mm });
  const dbs = createDmaBufSystem({ vfs: k.vfs, soc: s.soc });
  return { ...s, k, dbs };
}

/**
 * fdinfo's `count` of dma-buf `fd` (the dmabuf_fdinfo_count row): as it
 * is, after a dup, after also mapping `size` bytes with `prot`, and after
 * unmapping and closing the dup again.
 */
export async function fdinfoCountsAcrossDupAndMmap(sys: Sys, fd: number, size: number, prot: number): Promise<string[]> {
  const counts = [(await fdinfo(sys, fd)).count!];
  const dup = await sys.dup(fd);
  counts.push((await fdinfo(sys, fd)).count!);
  const p = await sys.mmap(0, size, prot, MAP_SHARED, fd, 0);
  counts.push((await fdinfo(sys, fd)).count!);
  await sys.munmap(p, size);
  await sys.close(dup);
  counts.push((await fdinfo(sys, fd)).count!);
  return counts;
}

/** Runs a program to completion; rethrows what it threw (assertions) and returns its status. */
export async function run(s: { soc: Soc; k: ProcKernel }, main: (sys: Sys, args: string[]) => Promise<number | void>, cred?: Cred): Promise<number> {
  const sp = spawnProcess(s.k, main, [], cred);
  await s.soc.clock.run();
  const status = await sp.exitCode;
  if (sp.process.group.uncaughtError) throw sp.process.group.uncaughtError;
  return status;
}

/** Starts a program without running the clock. */
export function start(s: { k: ProcKernel }, main: (sys: Sys, args: string[]) => Promise<number | void>): { pid: number; process: Process; exitCode: Promise<number> } {
  return spawnProcess(s.k, main, []);
}

/** The errno name a call fails with, or 'ok'. */
export async function errno(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError || e instanceof KernelError) return e.code;
    throw e;
  }
}

/** Allocates from a heap node; returns the new fd. */
export async function heapAlloc(sys: Sys, heap: string, len: number, fdFlags = O_RDWR | O_CLOEXEC): Promise<number> {
  const h = await sys.open(`/dev/dma_heap/${heap}`, O_RDWR | O_CLOEXEC);
  try {
    const a = { len, fd: 0, fd_flags: fdFlags, heap_flags: 0 };
    await sys.ioctl(h, DMA_HEAP_IOCTL_ALLOC, a);
    return a.fd;
  } finally {
    await sys.close(h);
  }
}

/** /proc/self/fdinfo/N as a map of its fields. */
export async function fdinfo(sys: Sys, fd: number): Promise<Record<string, string>> {
  const text = await sys.readFile(`/proc/self/fdinfo/${fd}`);
  const out: Record<string, string> = {};
  for (const line of text.trim().split('\n')) {
    const i = line.indexOf(':');
    out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** /proc/self/fdinfo/N joined as the reference's rows print it: "pos:0;flags:...;". */
export async function fdinfoRow(sys: Sys, fd: number): Promise<string> {
  const text = await sys.readFile(`/proc/self/fdinfo/${fd}`);
  return text
    .trim()
    .split('\n')
    .map((l) => l.replace(':\t', ':') + ';')
    .join('');
}

/** The buffer most recently exported. */
export function newest(dbs: DmaBufSystem): DmaBuf {
  const d = dbs.buffers[0];
  if (!d) throw new Error('no dma-buf exported');
  return d;
}

/** Deterministic bytes for pattern checks. */
export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 97 + (i >> 12)) & 0xff;
  return b;
}

/** Number of differing bytes. */
export function mismatches(a: Uint8Array, b: Uint8Array): number {
  let n = Math.abs(a.length - b.length);
  const m = Math.min(a.length, b.length);
  for (let i = 0; i < m; i++) if (a[i] !== b[i]) n++;
  return n;
}

/**
 * A memfd with its pages in DRAM, as udmabuf needs one: zeroed pages
 * allocated on first touch, seals as set, mmap faulting the same pages in.
 * It stands in for memfd_create, which the process layer does not have.
 */
export class TestMemfd implements ShmemMapping {
  seals: number;
  readonly size: number;
  readonly file: File;
  private readonly mm: Mm;
  private readonly pfns: Int32Array;

  constructor(s: { mm: Mm; k: ProcKernel }, size: number, seals: number, cred: Cred = ROOT_CRED) {
    this.mm = s.mm;
    this.size = size;
    this.seals = seals;
    this.pfns = new Int32Array(Math.ceil(size / PAGE_SIZE)).fill(-1);
    const inode = new Inode(s.k.vfs.rootfs, { mode: S_IFREG | 0o777, size, privateData: this });
    const readPage = (i: number) => this.readPage(i);
    const putPage = (pfn: number) => this.putPage(pfn);
    const drop = () => this.drop();
    this.file = new File(s.k.vfs, {
      inode,
      flags: O_RDWR,
      cred,
      name: '/memfd:test (deleted)',
      fops: {
        name: 'memfd',
        mmap(_file, vma) {
          vma.memType = 'wb';
          vma.vmOps = {
            fault: (v, i) => {
              const pfn = readPage(v.pgoff + i);
              putPage(pfn);
              return pfn;
            },
          };
        },
        release: () => drop(),
      },
    });
  }

  readPage(index: number): number {
    if (!(index >= 0 && index < this.pfns.length)) throw kerr('EINVAL', `page ${index} beyond the memfd`);
    if (this.pfns[index]! < 0) this.pfns[index] = this.mm.pages.allocPages(0, { highmem: true, zero: true });
    getPage(this.mm.pages, this.pfns[index]!);
    return this.pfns[index]!;
  }

  putPage(pfn: number): void {
    putPage(this.mm.pages, pfn);
  }

  /** Pages the memfd itself still holds. */
  get allocated(): number {
    return this.pfns.filter((p) => p >= 0).length;
  }

  private drop(): void {
    for (let i = 0; i < this.pfns.length; i++) if (this.pfns[i]! >= 0) putPage(this.mm.pages, this.pfns[i]!);
    this.pfns.fill(-1);
  }

  /** Installs the memfd in a process, as memfd_create would, and returns the fd. */
  install(p: Process): number {
    return p.installFd(this.file, 0);
  }
}

/**
 * Leaves highmem fragmented: every other page taken, so a buffer that
 * prefers highmem comes out in scattered single pages there.
 */
export function fragmentHighmem(mm: Mm): void {
  const taken: number[] = [];
  for (;;) {
    let pfn: number;
    try {
      pfn = mm.pages.allocPages(0, { highmem: true });
    } catch {
      break;
    }
    if (!mm.pages.isHighmem(pfn)) {
      mm.pages.freePages(pfn, 0);
      break;
    }
    taken.push(pfn);
  }
  for (let i = 0; i < taken.length; i += 2) mm.pages.freePages(taken[i]!, 0);
}
