/**
 * Port of the kernel's udmabuf selftest,
 * tools/testing/selftests/drivers/dma-buf/udmabuf.c as of Linux 6.1, written
 * against unimem's Sys and run as the first process of linux-6.1-reference.
 * As upstream, the memfd is made with MFD_ALLOW_SEALING, sealed with
 * F_SEAL_SHRINK and sized to 4 pages by ftruncate, and /dev/udmabuf opened
 * O_RDWR.
 *
 * Ported, all four of 6.1's cases, with the errno Linux 6.1's udmabuf_create
 * gives (upstream only checks that they fail):
 * - test-1: offset not page aligned (EINVAL);
 * - test-2: size not a multiple of the page (EINVAL);
 * - test-3: fd 0, stdin, which is no memfd (EBADFD);
 * - test-4: the whole memfd works; beyond upstream, the bytes written through
 *   the memfd's mapping are those the udmabuf's mapping shows.
 * Added, for checks the same 6.1 udmabuf_create makes that the selftest does
 * not reach: a memfd without seals (EINVAL), one sealed against writing
 * (EINVAL), and more than size_limit_mb (64 MiB) in one buffer (EINVAL).
 * Also test-5 of later upstream versions (6.11: a CREATE_LIST of four
 * 4-page ranges of a 1024-page memfd, whose pages the memfd's mapping and the
 * udmabuf's mapping show alike), which needs nothing 6.1 lacks.
 * Left out: test-6 and test-7 of 6.11, which need MFD_HUGETLB memfds (2 MiB
 * hugetlbfs pages), not in 6.1's test and not simulated.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  F_ADD_SEALS,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  UDMABUF_CREATE,
  UDMABUF_CREATE_LIST,
  UDMABUF_FLAGS_CLOEXEC,
  type UdmabufCreate,
  type UdmabufCreateList,
} from '../../src/uapi/index.ts';
import { errno } from '../dmabuf/helpers.ts';
import { runPort } from './port-helpers.ts';

const NUM_PAGES = 4;
const NUM_ENTRIES = 4;
const MEMFD_SIZE = 1024; // pages

/** memfd_create("udmabuf-test", MFD_ALLOW_SEALING), then the seals and the size. */
async function sealedMemfd(sys: Sys, size: number, seals = F_SEAL_SHRINK): Promise<number> {
  const memfd = await sys.memfd_create('udmabuf-test', MFD_ALLOW_SEALING);
  if (seals) await sys.fcntl(memfd, F_ADD_SEALS, seals);
  await sys.ftruncate(memfd, size);
  return memfd;
}

/** UDMABUF_CREATE; returns the new fd (the ioctl's return value). */
async function create(sys: Sys, devfd: number, memfd: number, offset: number, size: number): Promise<number> {
  const c: UdmabufCreate = { memfd, flags: 0, offset, size };
  return sys.ioctl(devfd, UDMABUF_CREATE, c);
}

/** One byte at the start of every page, as the 6.11 test's write_to_memfd writes them. */
async function writePages(sys: Sys, addr: number, size: number, chr: number): Promise<void> {
  for (let o = 0; o < size; o += PAGE_SIZE) await sys.store(addr + o, Uint8Array.of(chr));
}

/** Runs the selftest's set-up (open /dev/udmabuf, a sealed 4-page memfd), then `body`. */
function selftest(body: (sys: Sys, devfd: number, memfd: number, size: number) => Promise<void>): () => Promise<void> {
  return async () => {
    await runPort('linux-6.1-reference', 'udmabuf', async (sys) => {
      const devfd = await sys.open('/dev/udmabuf', O_RDWR);
      const size = PAGE_SIZE * NUM_PAGES;
      const memfd = await sealedMemfd(sys, size);
      await body(sys, devfd, memfd, size);
      await sys.close(memfd);
      await sys.close(devfd);
    });
  };
}

describe('udmabuf selftest (Linux 6.1) on linux-6.1-reference', () => {
  it('test-1: an offset that is not page aligned is refused', selftest(async (sys, devfd, memfd) => {
    expect(await errno(create(sys, devfd, memfd, PAGE_SIZE / 2, PAGE_SIZE))).toBe('EINVAL');
  }));

  it('test-2: a size that is not a multiple of the page is refused', selftest(async (sys, devfd, memfd) => {
    expect(await errno(create(sys, devfd, memfd, 0, PAGE_SIZE / 2))).toBe('EINVAL');
  }));

  it('test-3: stdin is not a memfd', selftest(async (sys, devfd, _memfd, size) => {
    expect(await errno(create(sys, devfd, 0, 0, size))).toBe('EBADFD');
  }));

  it('test-4: the whole sealed memfd becomes a dma-buf whose mapping shows the memfd\'s bytes', selftest(async (sys, devfd, memfd, size) => {
    const addr1 = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    await writePages(sys, addr1, size, 0x61);
    const buf = await create(sys, devfd, memfd, 0, size);
    expect(buf).toBeGreaterThan(memfd);
    expect((await sys.fstat(buf)).st_size).toBe(size);
    const addr2 = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
    expect(await sys.load(addr2, size)).toEqual(await sys.load(addr1, size));
    await writePages(sys, addr1, size, 0x62);
    for (let o = 0; o < size; o += PAGE_SIZE) expect((await sys.load(addr2 + o, 1))[0]).toBe(0x62);
    await sys.munmap(addr2, size);
    await sys.munmap(addr1, size);
    await sys.close(buf);
  }));

  it('(6.1 udmabuf_create) a memfd without F_SEAL_SHRINK, or sealed against writing, is refused', selftest(async (sys, devfd, _memfd, size) => {
    const unsealed = await sealedMemfd(sys, size, 0);
    expect(await errno(create(sys, devfd, unsealed, 0, size))).toBe('EINVAL');
    await sys.close(unsealed);
    const writeSealed = await sealedMemfd(sys, size, F_SEAL_SHRINK | F_SEAL_WRITE);
    expect(await errno(create(sys, devfd, writeSealed, 0, size))).toBe('EINVAL');
    await sys.close(writeSealed);
  }));

  it('(6.1 udmabuf_create) more than size_limit_mb (64 MiB) in one buffer is refused; exactly 64 MiB is made', selftest(async (sys, devfd) => {
    const limit = 64 * 1024 * 1024;
    const big = await sealedMemfd(sys, limit + PAGE_SIZE);
    expect(await errno(create(sys, devfd, big, 0, limit + PAGE_SIZE))).toBe('EINVAL');
    const buf = await create(sys, devfd, big, 0, limit);
    expect((await sys.fstat(buf)).st_size).toBe(limit);
    await sys.close(buf);
    await sys.close(big);
  }));

  it('test-5 (6.11): a CREATE_LIST of four ranges of a 1024-page memfd shows the memfd\'s pages in list order', selftest(async (sys, devfd) => {
    const size = MEMFD_SIZE * PAGE_SIZE;
    const memfd = await sealedMemfd(sys, size);
    const addr1 = await sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    await writePages(sys, addr1, size, 0x61);
    const list: UdmabufCreateList = {
      flags: UDMABUF_FLAGS_CLOEXEC,
      count: NUM_ENTRIES,
      list: Array.from({ length: NUM_ENTRIES }, (_, i) => ({ memfd, __pad: 0, offset: i * (size / NUM_ENTRIES), size: PAGE_SIZE * NUM_PAGES })),
    };
    const buf = await sys.ioctl(devfd, UDMABUF_CREATE_LIST, list);
    const len = NUM_ENTRIES * NUM_PAGES * PAGE_SIZE;
    const addr2 = await sys.mmap(0, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
    // pages written after the udmabuf took them are the pages it shows: distinct bytes per page prove the order
    for (let i = 0; i < MEMFD_SIZE; i++) await sys.store(addr1 + i * PAGE_SIZE, Uint8Array.of(i & 0xff, i >> 8));
    let k = 0;
    for (let i = 0; i < NUM_ENTRIES; i++) {
      for (let j = 0; j < NUM_PAGES; j++, k++) {
        const off = i * (size / NUM_ENTRIES) + j * PAGE_SIZE;
        expect(await sys.load(addr2 + k * PAGE_SIZE, 2), `udmabuf page ${k}`).toEqual(await sys.load(addr1 + off, 2));
      }
    }
    await sys.munmap(addr1, size);
    await sys.munmap(addr2, len);
    await sys.close(buf);
    await sys.close(memfd);
  }));
});
