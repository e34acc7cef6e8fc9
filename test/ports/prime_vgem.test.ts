/**
 * Port of IGT's tests/prime_vgem.c (igt-gpu-tools, the 2023 version whose
 * subtests are documented in its header), written against unimem's Sys and
 * run as the first process of linux-6.1-reference, a machine with vgem and
 * no i915.
 *
 * Upstream, vgem exports and i915 imports; every subtest reaches the buffer
 * through an i915 path (PREAD/PWRITE, a GTT mapping, the blitter, execbuf).
 * The port keeps each subtest's sequence and its checks, with the importer
 * a second client of vgem (as drm_open_driver opens i915: another open file,
 * here of card0) that imports the dma-buf by PRIME and reaches the buffer
 * through the dma-buf of its own handle (PRIME_HANDLE_TO_FD), mapped, with
 * DMA_BUF_IOCTL_SYNC where i915's PREAD/PWRITE waited for fences, and
 * poll(POLLIN) where i915's set-domain did.
 *
 * Ported that way: basic-read (PREAD -> dma-buf mmap read), basic-write
 * (PWRITE -> dma-buf mmap write), basic-gtt and coherency-gtt (GTT mapping ->
 * dma-buf mapping), basic-fence-read (a child reading blocks in SYNC START
 * until vgem's write fence signals), basic-fence-mmap (a child's mapping
 * waits by poll(POLLIN) for the fence).
 * Left out, because they need i915 itself: basic-blt, basic-fence-blt and
 * coherency-blt (i915's blitter copies), busy, wait, sync and fence-wait
 * (i915 execbuf batches storing into the buffer), shrink (i915's shrinker),
 * basic-fence-flip (an i915 KMS page flip on a vgem framebuffer),
 * fence-read-hang, fence-write-hang and fence-flip-hang (an i915 GPU hang,
 * and vgem's WIP_VGEM_FENCE_NOTIMEOUT flag, which Linux 6.1's vgem refuses).
 */
import { describe, expect, it } from 'vitest';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DRM_CLOEXEC,
  DRM_RDWR,
  F_GETFL,
  MAP_SHARED,
  O_ACCMODE,
  O_RDONLY,
  POLLIN,
  PROT_READ,
  PROT_WRITE,
  VGEM_FENCE_WRITE,
} from '../../src/uapi/index.ts';
import { errno } from '../dmabuf/helpers.ts';
import { dumb, fenceAttach, fenceSignal, mapDumb, toFd, toHandle } from '../drivers/vgem-helpers.ts';
import { gemClose, loadU32, openVgem, runPort, storeU32 } from './port-helpers.ts';

/** The scratch object of every subtest: 1024x1024 at 32 bpp, 4 MiB. */
const W = 1024;
const H = 1024;
const SIZE = W * H * 4;

interface Pair {
  vgem: number;
  /** The importer: a second client of the device. */
  other: number;
  bo: { handle: number; size: number };
  /** The importer's handle of the same buffer. */
  handle: number;
}

/**
 * vgem_create, prime_handle_to_fd, prime_fd_to_handle(importer),
 * close(dmabuf): the opening of every subtest. The export asks for DRM_RDWR
 * where IGT's prime_handle_to_fd does not: the importer's own export of the
 * same device's object is the same dma-buf file, whose access mode the first
 * export set, and the port writes through it.
 */
async function exportImport(sys: Sys, flags = DRM_CLOEXEC | DRM_RDWR): Promise<Pair> {
  const vgem = await openVgem(sys);
  const other = await openVgem(sys);
  const bo = await dumb(sys, vgem, W, H, 32);
  expect(bo.size).toBe(SIZE);
  const dmabuf = await toFd(sys, vgem, bo.handle, flags);
  const handle = await toHandle(sys, other, dmabuf);
  await sys.close(dmabuf);
  return { vgem, other, bo, handle };
}

/** vgem_mmap: MODE_MAP_DUMB and mmap of the vgem fd. */
async function vgemMmap(sys: Sys, p: Pair, prot: number): Promise<number> {
  return sys.mmap(0, SIZE, prot, MAP_SHARED, p.vgem, await mapDumb(sys, p.vgem, p.bo.handle));
}

/** The importer's way in: a dma-buf of its own handle, mapped. */
async function importerMap(sys: Sys, other: number, handle: number, prot: number): Promise<{ fd: number; ptr: number }> {
  const fd = await toFd(sys, other, handle, DRM_CLOEXEC | DRM_RDWR);
  return { fd, ptr: await sys.mmap(0, SIZE, prot, MAP_SHARED, fd, 0) };
}

async function unmapImporter(sys: Sys, m: { fd: number; ptr: number }): Promise<void> {
  await sys.munmap(m.ptr, SIZE);
  await sys.close(m.fd);
}

async function sync(sys: Sys, fd: number, flags: number): Promise<void> {
  await sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags });
}

/** The u32 at the start of each of the first 1024 pages (IGT's ptr[1024*i]). */
async function firstWords(sys: Sys, ptr: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 1024; i++) out.push(await loadU32(sys, ptr, 4096 * i));
  return out;
}

/** What PREAD from the importer gave: the page-start words, read between SYNC START and END (which waits for writers). */
async function importerRead(sys: Sys, m: { fd: number; ptr: number }): Promise<number[]> {
  await sync(sys, m.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
  const words = await firstWords(sys, m.ptr);
  await sync(sys, m.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
  return words;
}

const iota = Array.from({ length: 1024 }, (_, i) => i);
const zeros = new Array<number>(1024).fill(0);

async function readExactly(sys: Sys, fd: number, len: number): Promise<Uint8Array> {
  const out = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const b = await sys.read(fd, len - got);
    if (b.length === 0) throw new Error(`pipe closed after ${got} of ${len} bytes`);
    out.set(b, got);
    got += b.length;
  }
  return out;
}

const toBytes = (words: number[]) => new Uint8Array(Uint32Array.from(words).buffer);
const toWords = (b: Uint8Array) => [...new Uint32Array(b.slice().buffer)];

/**
 * test_fence_read and test_fence_mmap: a child checks the importer sees
 * zeros, tells the parent, which attaches a write fence, lets the child go
 * on, writes through vgem's mapping and signals; the child, waiting by
 * `wait` on the importer's dma-buf, must then see every write. The child
 * sends what it read both times back through the pipe.
 */
async function fenceTest(sys: Sys, wait: 'sync' | 'poll'): Promise<void> {
  const p = await exportImport(sys);
  const master = await sys.pipe();
  const slave = await sys.pipe();
  const child = await sys.fork(async (c) => {
    await c.close(master[0]);
    await c.close(slave[1]);
    const m = await importerMap(c, p.other, p.handle, PROT_READ);
    const before = wait === 'sync' ? await importerRead(c, m) : await firstWords(c, m.ptr);
    await c.write(master[1], Uint8Array.of(1));
    await readExactly(c, slave[0], 1);
    let after: number[];
    if (wait === 'sync') {
      after = await importerRead(c, m);
    } else {
      // i915's set-domain(GTT, read) waits for the writer; poll(POLLIN) on the dma-buf is userspace's way to
      expect(await c.poll([{ fd: m.fd, events: POLLIN }], -1)).toBe(1);
      after = await firstWords(c, m.ptr);
    }
    await c.write(master[1], toBytes([...before, ...after]));
    await unmapImporter(c, m);
    await gemClose(c, p.other, p.handle);
    return 0;
  });
  await sys.close(master[1]);
  await sys.close(slave[0]);
  await readExactly(sys, master[0], 1);
  const fence = await fenceAttach(sys, p.vgem, p.bo.handle, VGEM_FENCE_WRITE);
  await sys.write(slave[1], Uint8Array.of(1));

  const ptr = await vgemMmap(sys, p, PROT_WRITE);
  for (let i = 0; i < 1024; i++) await storeU32(sys, ptr, 4096 * i, i);
  await sys.munmap(ptr, SIZE);
  await fenceSignal(sys, p.vgem, fence);
  await gemClose(sys, p.vgem, p.bo.handle);

  const seen = toWords(await readExactly(sys, master[0], 2 * 1024 * 4));
  expect((await sys.wait(child)).status).toBe(0);
  expect(seen.slice(0, 1024), 'before the fence').toEqual(zeros);
  expect(seen.slice(1024), 'after the fence signalled').toEqual(iota);
  await sys.close(master[0]);
  await sys.close(slave[1]);
  await sys.close(p.other);
  await sys.close(p.vgem);
}

function subtest(body: (sys: Sys) => Promise<void>): () => Promise<void> {
  return async () => {
    await runPort('linux-6.1-reference', 'prime_vgem', body);
  };
}

describe('IGT prime_vgem on linux-6.1-reference, the importer a second vgem client', () => {
  it('basic-read: what vgem\'s mapping wrote, the importer reads after vgem closed its handle', subtest(async (sys) => {
    const p = await exportImport(sys);
    const ptr = await vgemMmap(sys, p, PROT_WRITE);
    for (let i = 0; i < 1024; i++) await storeU32(sys, ptr, 4096 * i, i);
    await sys.munmap(ptr, SIZE);
    await gemClose(sys, p.vgem, p.bo.handle);

    const m = await importerMap(sys, p.other, p.handle, PROT_READ);
    expect(await importerRead(sys, m)).toEqual(iota);
    await unmapImporter(sys, m);
    await gemClose(sys, p.other, p.handle);
    await sys.close(p.other);
    await sys.close(p.vgem);
  }));

  it('basic-write: what the importer writes, vgem\'s mapping (made before, its handle since closed) reads', subtest(async (sys) => {
    const p = await exportImport(sys);
    const ptr = await vgemMmap(sys, p, PROT_READ);
    await gemClose(sys, p.vgem, p.bo.handle);

    const m = await importerMap(sys, p.other, p.handle, PROT_WRITE);
    await sync(sys, m.fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    for (let i = 0; i < 1024; i++) await storeU32(sys, m.ptr, 4096 * i, i);
    await sync(sys, m.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    await unmapImporter(sys, m);
    await gemClose(sys, p.other, p.handle);

    expect(await firstWords(sys, ptr)).toEqual(iota);
    await sys.munmap(ptr, SIZE);
    await sys.close(p.other);
    await sys.close(p.vgem);
  }));

  it('basic-gtt: writes through the importer\'s mapping show in vgem\'s, and the reverse', subtest(async (sys) => {
    const p = await exportImport(sys);
    let m = await importerMap(sys, p.other, p.handle, PROT_WRITE);
    for (let i = 0; i < 1024; i++) await storeU32(sys, m.ptr, 4096 * i, i);
    await unmapImporter(sys, m);

    const ptr = await vgemMmap(sys, p, PROT_READ | PROT_WRITE);
    for (let i = 0; i < 1024; i++) {
      expect(await loadU32(sys, ptr, 4096 * i)).toBe(i);
      await storeU32(sys, ptr, 4096 * i, ~i);
    }
    await sys.munmap(ptr, SIZE);

    m = await importerMap(sys, p.other, p.handle, PROT_READ);
    expect(await firstWords(sys, m.ptr)).toEqual(iota.map((i) => ~i >>> 0));
    await unmapImporter(sys, m);
    await gemClose(sys, p.other, p.handle);
    await gemClose(sys, p.vgem, p.bo.handle);
    await sys.close(p.other);
    await sys.close(p.vgem);
  }));

  it('coherency-gtt: interleaved writes through the two mappings are each seen at once through the other', subtest(async (sys) => {
    const p = await exportImport(sys);
    const ptr = await vgemMmap(sys, p, PROT_READ | PROT_WRITE);
    const m = await importerMap(sys, p.other, p.handle, PROT_READ | PROT_WRITE);
    for (let i = 0; i < 1024; i++) {
      await storeU32(sys, m.ptr, 4096 * i, i);
      expect(await loadU32(sys, ptr, 4096 * i)).toBe(i);
      await storeU32(sys, ptr, 4096 * i, ~i);
      expect(await loadU32(sys, m.ptr, 4096 * i)).toBe(~i >>> 0);
    }
    await unmapImporter(sys, m);
    await sys.munmap(ptr, SIZE);
    await gemClose(sys, p.other, p.handle);
    await gemClose(sys, p.vgem, p.bo.handle);
    await sys.close(p.other);
    await sys.close(p.vgem);
  }));

  it('(port note) without DRM_RDWR on the first export, the importer\'s export is the same read-only file: a writable shared map is EACCES', subtest(async (sys) => {
    const p = await exportImport(sys, DRM_CLOEXEC);
    const fd = await toFd(sys, p.other, p.handle, DRM_CLOEXEC | DRM_RDWR);
    expect(await errno(sys.mmap(0, SIZE, PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EACCES');
    expect((await sys.fcntl(fd, F_GETFL)) & O_ACCMODE).toBe(O_RDONLY);
    await sys.close(fd);
    await gemClose(sys, p.other, p.handle);
    await gemClose(sys, p.vgem, p.bo.handle);
    await sys.close(p.other);
    await sys.close(p.vgem);
  }));

  it('basic-fence-read: a child\'s read through the importer (SYNC START) waits for vgem\'s write fence and sees the writes', subtest((sys) => fenceTest(sys, 'sync')));

  it('basic-fence-mmap: a child\'s mapping of the importer waits by poll(POLLIN) for the fence and then sees the writes', subtest((sys) => fenceTest(sys, 'poll')));
});
