import { registerChrdev, type DeviceNode, type Task } from '../fs/index.ts';
import { PAGE_SIZE, kerr } from '../lib/index.ts';
import {
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_VALID_FD_FLAGS,
  _IOC_DIR,
  _IOC_NR,
  _IOC_READ,
  _IOC_SIZE,
  _IOC_WRITE,
  type DmaHeapAllocationData,
} from '../uapi/index.ts';
import { dmaBufFd, dmaBufPut, type DmaBuf, type DmaBufSystem } from './dma-buf.ts';

/** The character-device major of /dev/dma_heap/* (Linux allocates one dynamically). */
export const DMA_HEAP_MAJOR = 253;

/** What a heap provides (struct dma_heap_ops). */
export interface DmaHeapOps {
  /**
   * Allocates a zeroed buffer of `len` bytes (a multiple of the page size)
   * and exports it with `fdFlags` as the file's flags. ENOMEM when memory
   * runs out. May sleep.
   */
  allocate(heap: DmaHeap, len: number, fdFlags: number, heapFlags: number, task: Task): Promise<DmaBuf>;
}

/** A registered heap (struct dma_heap): its name, ops and device node /dev/dma_heap/<name>. */
export class DmaHeap {
  readonly system: DmaBufSystem;
  readonly name: string;
  readonly ops: DmaHeapOps;
  readonly priv: unknown;
  readonly minor: number;
  node!: DeviceNode;
  /** Buffers handed out so far. */
  allocations = 0;

  constructor(system: DmaBufSystem, name: string, ops: DmaHeapOps, priv: unknown, minor: number) {
    this.system = system;
    this.name = name;
    this.ops = ops;
    this.priv = priv;
    this.minor = minor;
  }
}

const heapsOf = new WeakMap<DmaBufSystem, Map<string, DmaHeap>>();

/** The heaps registered on a system, by name. */
export function dmaHeaps(system: DmaBufSystem): ReadonlyMap<string, DmaHeap> {
  return heapsOf.get(system) ?? new Map();
}

/** The heap's name, which is also the exp_name of its buffers (dma_heap_get_name). */
export function dmaHeapGetName(heap: DmaHeap): string {
  return heap.name;
}

/**
 * Allocates from a heap and installs the buffer's fd (dma_heap_buffer_alloc):
 * the length is rounded up to whole pages (0 after rounding is EINVAL); on
 * a full fd table the buffer is put and released again.
 */
export async function dmaHeapBufferAlloc(heap: DmaHeap, len: number, fdFlags: number, heapFlags: number, task: Task): Promise<number> {
  const aligned = Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  // PAGE_ALIGN wraps a length near 2^64 to 0
  if (!(aligned > 0) || aligned >= 2 ** 64) throw kerr('EINVAL', `heap allocation of ${len} bytes`);
  const dmabuf = await heap.ops.allocate(heap, aligned, fdFlags, heapFlags, task);
  heap.allocations++;
  try {
    return dmaBufFd(task, dmabuf, fdFlags);
  } catch (e) {
    await dmaBufPut(dmabuf);
    throw e;
  }
}

/** Reads a u32/u64 field of the allocation struct the way copy_from_user of `inSize` bytes sees it. */
function field(a: DmaHeapAllocationData, key: keyof DmaHeapAllocationData, end: number, inSize: number): bigint {
  if (end > inSize) return 0n;
  const v = a[key];
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt.asUintN(64, BigInt(v));
  if (v === undefined) return 0n;
  throw kerr('EFAULT', `${String(key)} is not an integer`);
}

/**
 * ioctl of a heap node (dma_heap_ioctl): any command numbered 0 is the
 * allocation, with the user's struct size reconciled against the kernel's
 * (missing fields read as zero, extra ones ignored); higher numbers are
 * EINVAL. The allocation wants fd 0 on entry, fd_flags within
 * O_ACCMODE|O_CLOEXEC and no heap flags (EINVAL), then writes the new fd.
 */
async function dmaHeapIoctl(heap: DmaHeap, cmd: number, arg: unknown, task: Task): Promise<number> {
  if (_IOC_NR(cmd) >= 1) throw kerr('EINVAL', `dma-heap ioctl number ${_IOC_NR(cmd)}`);
  const kcmd = DMA_HEAP_IOCTL_ALLOC;
  const dir = _IOC_DIR(cmd) & _IOC_DIR(kcmd);
  const inSize = dir & _IOC_WRITE ? _IOC_SIZE(cmd) : 0;
  const outSize = dir & _IOC_READ ? _IOC_SIZE(cmd) : 0;
  if ((inSize > 0 || outSize > 0) && (arg === null || typeof arg !== 'object')) throw kerr('EFAULT', 'bad ioctl argument pointer');
  const a = (arg ?? {}) as DmaHeapAllocationData;
  const len = field(a, 'len', 8, inSize);
  const fd = field(a, 'fd', 12, inSize);
  const fdFlags = Number(field(a, 'fd_flags', 16, inSize) & 0xffffffffn);
  const heapFlags = field(a, 'heap_flags', 24, inSize);
  if ((fd & 0xffffffffn) !== 0n) throw kerr('EINVAL', 'fd must be 0 on entry');
  if (fdFlags & ~DMA_HEAP_VALID_FD_FLAGS) throw kerr('EINVAL', `fd_flags 0${fdFlags.toString(8)}`);
  if (heapFlags !== 0n) throw kerr('EINVAL', `heap_flags 0x${heapFlags.toString(16)}`);
  // size_t arithmetic: PAGE_ALIGN wraps near 2^64
  if (len > 2n ** 64n - BigInt(PAGE_SIZE)) throw kerr('EINVAL', 'length wraps when page aligned');
  const newFd = await dmaHeapBufferAlloc(heap, Number(len), fdFlags, Number(heapFlags), task);
  if (outSize >= 12) a.fd = newFd;
  return 0;
}

/**
 * Registers a heap and its node /dev/dma_heap/<name> (dma_heap_add).
 * EINVAL for an empty name or one already registered.
 */
export function dmaHeapAdd(system: DmaBufSystem, exp: { name: string; ops: DmaHeapOps; priv?: unknown }): DmaHeap {
  if (!exp.name || exp.name.includes('/')) throw kerr('EINVAL', `bad heap name "${exp.name}"`);
  let heaps = heapsOf.get(system);
  if (!heaps) heapsOf.set(system, (heaps = new Map()));
  if (heaps.has(exp.name)) throw kerr('EINVAL', `heap ${exp.name} already registered`);
  const heap = new DmaHeap(system, exp.name, exp.ops, exp.priv, heaps.size);
  heap.node = registerChrdev(system.vfs, {
    path: `/dev/dma_heap/${exp.name}`,
    major: DMA_HEAP_MAJOR,
    minor: heap.minor,
    mode: 0o600,
    privateData: heap,
    sysfs: { class: 'dma_heap' },
    fops: {
      name: 'dma_heap',
      unlockedIoctl: (_file, cmd, arg, task) => dmaHeapIoctl(heap, cmd, arg, task),
    },
  });
  heaps.set(exp.name, heap);
  return heap;
}
