/**
 * Port of the kernel's dma-buf heap selftest,
 * tools/testing/selftests/dmabuf-heaps/dmabuf-heap.c as of Linux 6.1,
 * written against unimem's Sys and run as the first process of a booted
 * platform. As upstream, the heaps are found by listing /dev/dma_heap
 * (getdents64) and every subtest runs on every heap found: on
 * linux-6.1-reference that is the system heap alone (x86 boots no CMA area),
 * on armv7-mobile the system heap and the two CMA heaps.
 *
 * Ported, all of them:
 * - test_alloc_and_import: a 1 MiB buffer, filled through its mmap between
 *   DMA_BUF_IOCTL_SYNC START and END, imported into vgem (found by probing
 *   /dev/dri/cardN with DRM_IOCTL_VERSION as open_vgem does), written again,
 *   the handle closed. Beyond upstream, which only checks that the calls
 *   succeed, the port reads the bytes back (through the mapping and a second
 *   one) and checks that vgem refuses MODE_MAP_DUMB on the imported handle
 *   (EINVAL, as drm_gem_dumb_map_offset does for any imported object).
 * - test_alloc_zeroed at 4 KiB and at 1 MiB: 32 buffers filled with 0xff and
 *   freed, then 32 new ones must read all zero.
 * - test_alloc_compat: DMA_HEAP_IOCTL_ALLOC numbered for a 16-byte (older) and
 *   a 48-byte (newer, garbage in the extra fields) struct both allocate.
 * - test_alloc_errors: the ioctl on fd 0 (a pipe here: ENOTTY), heap_flags
 *   0x111111 (EINVAL), fd_flags ~(O_RDWR|O_CLOEXEC) (EINVAL).
 * Left out: nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_HEAP_IOCTL_ALLOC,
  DMA_HEAP_IOC_MAGIC,
  MAP_SHARED,
  O_CLOEXEC,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  _IOWR,
} from '../../src/uapi/index.ts';
import { errno } from '../dmabuf/helpers.ts';
import { mapDumb, toHandle } from '../drivers/vgem-helpers.ts';
import { gemClose, listDir, openVgem, runPort } from './port-helpers.ts';

const ONE_MEG = 1024 * 1024;
const DEVPATH = '/dev/dma_heap';

/** dmabuf_heap_alloc_fdflags: DMA_HEAP_IOCTL_ALLOC on `heapFd`; returns the new fd. */
async function heapAlloc(sys: Sys, heapFd: number, len: number, fdFlags: number, heapFlags: number): Promise<number> {
  const data = { len, fd: 0, fd_flags: fdFlags, heap_flags: heapFlags };
  await sys.ioctl(heapFd, DMA_HEAP_IOCTL_ALLOC, data);
  return data.fd;
}

/** dmabuf_sync: DMA_BUF_IOCTL_SYNC with START or END, for read and write. */
async function dmabufSync(sys: Sys, fd: number, startStop: number): Promise<void> {
  await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: startStop | DMA_BUF_SYNC_RW });
}

async function heaps(sys: Sys): Promise<string[]> {
  return (await listDir(sys, DEVPATH)).sort();
}

/** Runs `body` for every heap /dev/dma_heap lists, as the selftest's main loop does; checks the list first. */
function eachHeap(platform: string, expected: string[], body: (sys: Sys, heap: string) => Promise<void>): () => Promise<void> {
  return async () => {
    await runPort(platform, 'dmabuf-heap', async (sys) => {
      const names = await heaps(sys);
      expect(names).toEqual(expected);
      for (const heap of names) await body(sys, heap);
    });
  };
}

async function testAllocAndImport(sys: Sys, heap: string): Promise<void> {
  const heapFd = await sys.open(`${DEVPATH}/${heap}`, O_RDWR);
  const dmabufFd = await heapAlloc(sys, heapFd, ONE_MEG, O_RDWR | O_CLOEXEC, 0);
  const p = await sys.mmap(0, ONE_MEG, PROT_READ | PROT_WRITE, MAP_SHARED, dmabufFd, 0);
  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_START);
  await sys.store(p, new Uint8Array(ONE_MEG / 2).fill(1));
  await sys.store(p + ONE_MEG / 2, new Uint8Array(ONE_MEG / 2));
  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_END);

  const vgem = await openVgem(sys);
  expect(vgem, 'vgem is on every platform').toBeGreaterThanOrEqual(0);
  const handle = await toHandle(sys, vgem, dmabufFd);
  expect(handle).toBeGreaterThan(0);

  // vgem cannot map what it imported: drm_gem_dumb_map_offset refuses imported objects
  expect(await errno(mapDumb(sys, vgem, handle))).toBe('EINVAL');

  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_START);
  const before = await sys.load(p, ONE_MEG);
  expect(before.subarray(0, ONE_MEG / 2).every((b) => b === 1)).toBe(true);
  expect(before.subarray(ONE_MEG / 2).every((b) => b === 0)).toBe(true);
  await sys.store(p, new Uint8Array(ONE_MEG).fill(0xff));
  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_END);

  // a second mapping of the buffer sees the last write
  const q = await sys.mmap(0, ONE_MEG, PROT_READ, MAP_SHARED, dmabufFd, 0);
  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_START);
  expect((await sys.load(q, ONE_MEG)).every((b) => b === 0xff)).toBe(true);
  await dmabufSync(sys, dmabufFd, DMA_BUF_SYNC_END);
  await sys.munmap(q, ONE_MEG);

  await gemClose(sys, vgem, handle);
  await sys.munmap(p, ONE_MEG);
  await sys.close(vgem);
  await sys.close(dmabufFd);
  await sys.close(heapFd);
}

async function testAllocZeroed(sys: Sys, heap: string, size: number): Promise<void> {
  const heapFd = await sys.open(`${DEVPATH}/${heap}`, O_RDWR);
  const fds: number[] = [];
  for (let i = 0; i < 32; i++) {
    const fd = await heapAlloc(sys, heapFd, size, O_RDWR | O_CLOEXEC, 0);
    fds.push(fd);
    const p = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    await dmabufSync(sys, fd, DMA_BUF_SYNC_START);
    await sys.store(p, new Uint8Array(size).fill(0xff));
    await dmabufSync(sys, fd, DMA_BUF_SYNC_END);
    await sys.munmap(p, size);
  }
  for (const fd of fds.splice(0)) await sys.close(fd);

  for (let i = 0; i < 32; i++) {
    const fd = await heapAlloc(sys, heapFd, size, O_RDWR | O_CLOEXEC, 0);
    fds.push(fd);
    const p = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    await dmabufSync(sys, fd, DMA_BUF_SYNC_START);
    const bytes = await sys.load(p, size);
    expect(bytes.findIndex((b) => b !== 0), `${heap}: allocation ${i} of ${size} bytes not zeroed at`).toBe(-1);
    await dmabufSync(sys, fd, DMA_BUF_SYNC_END);
    await sys.munmap(p, size);
  }
  for (const fd of fds) await sys.close(fd);
  await sys.close(heapFd);
}

async function testAllocCompat(sys: Sys, heap: string): Promise<void> {
  const heapFd = await sys.open(`${DEVPATH}/${heap}`, O_RDWR);
  // struct dma_heap_allocation_data_smaller { u64 len; u32 fd; u32 fd_flags; }: no heap_flags
  const older = { len: ONE_MEG, fd: 0, fd_flags: O_RDWR | O_CLOEXEC };
  await sys.ioctl(heapFd, _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, 16), older);
  expect((await sys.fstat(older.fd)).st_size).toBe(ONE_MEG);
  await sys.close(older.fd);

  // struct dma_heap_allocation_data_bigger: three u64s of garbage after heap_flags
  const newer = { len: ONE_MEG, fd: 0, fd_flags: O_RDWR | O_CLOEXEC, heap_flags: 0, garbage1: 0xffffffff, garbage2: 0x88888888, garbage3: 0x11111111 };
  await sys.ioctl(heapFd, _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, 48), newer);
  expect((await sys.fstat(newer.fd)).st_size).toBe(ONE_MEG);
  await sys.close(newer.fd);
  await sys.close(heapFd);
}

async function testAllocErrors(sys: Sys, heap: string): Promise<void> {
  const heapFd = await sys.open(`${DEVPATH}/${heap}`, O_RDWR);
  // fd 0 is the process's stdin, a pipe: not a heap
  expect(await errno(heapAlloc(sys, 0, ONE_MEG, O_RDWR | O_CLOEXEC, 0x111111))).toBe('ENOTTY');
  expect(await errno(heapAlloc(sys, heapFd, ONE_MEG, O_RDWR | O_CLOEXEC, 0x111111))).toBe('EINVAL');
  expect(await errno(heapAlloc(sys, heapFd, ONE_MEG, ~(O_RDWR | O_CLOEXEC) >>> 0, 0))).toBe('EINVAL');
  await sys.close(heapFd);
}

const PLATFORMS: [string, string[]][] = [
  ['linux-6.1-reference', ['system']],
  ['armv7-mobile', ['display', 'reserved', 'system']],
];

describe.each(PLATFORMS)('dmabuf-heaps selftest (Linux 6.1) on %s', (platform, expected) => {
  it('test_alloc_and_import: a 1 MiB buffer written through its mmap between SYNC START and END, imported into vgem, written again; the mappings show the bytes', eachHeap(platform, expected, testAllocAndImport));

  it('test_alloc_zeroed 4k: 32 buffers filled with 0xff and freed; 32 new ones read all zero', eachHeap(platform, expected, (sys, heap) => testAllocZeroed(sys, heap, 4096)));

  it('test_alloc_zeroed 1M: the same with 1 MiB buffers', eachHeap(platform, expected, (sys, heap) => testAllocZeroed(sys, heap, ONE_MEG)));

  it('test_alloc_compat: the alloc ioctl numbered for an older (16-byte) and a newer (48-byte) struct both allocate', eachHeap(platform, expected, testAllocCompat));

  it('test_alloc_errors: not a heap fd, bad heap flags and bad fd flags are refused', eachHeap(platform, expected, testAllocErrors));
});
