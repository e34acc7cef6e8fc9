import { describe, expect, it } from 'vitest';
import { DMA_BIDIRECTIONAL, createDevice, createDmaContext, type Device, type DmaContext } from '../../src/dma/index.ts';
import { addSystemHeap, dmaBufAttach, createDmaBufSystem, dmaBufDetach, dmaBufGet, dmaBufPut, dmaBufMapAttachment, registerUdmabuf, type DmaBufSystem } from '../../src/dmabuf/index.ts';
import { Soc } from '../../src/hw/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import { bootMm, type Mm } from '../../src/mm/index.ts';
import { createProcSystem, spawnProcess, type ProcKernel, type Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  EPOLLIN,
  EPOLLOUT,
  EPOLL_CTL_ADD,
  F_ADD_SEALS,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MREMAP_MAYMOVE,
  O_CLOEXEC,
  O_CREAT,
  O_RDWR,
  PROT_READ,
  PROT_WRITE,
  UDMABUF_CREATE,
  UDMABUF_FLAGS_CLOEXEC,
} from '../../src/uapi/index.ts';
import { errno, heapAlloc, mismatches, pattern } from './helpers.ts';

interface System {
  soc: Soc;
  mm: Mm;
  ctx: DmaContext;
  k: ProcKernel;
  dbs: DmaBufSystem;
  dma0: Device;
}

/**
 * A SoC whose process layer has the mm, so programs create memfds with
 * memfd_create: 128 MiB of DRAM, a non-coherent cache, the system heap,
 * /dev/udmabuf and a 32-bit DMA engine.
 */
function system(): System {
  const soc = new Soc({
    seed: 11,
    banks: [{ name: 'dram', base: 0x4000_0000, size: 128 * MiB, kind: 'dram' }],
    cache: { size: 64 * 1024, ways: 4 },
    masters: [
      { name: 'dma0', coherent: false, bandwidth: 2e9, latencyNs: 100 },
      { name: 'udmabuf', coherent: false, bandwidth: 1e9, latencyNs: 0 },
    ],
  });
  const mm = bootMm(soc, { vmalloc: 64 * MiB });
  const ctx = createDmaContext(soc, mm, { flushThreshold: 1 << 30 });
  const base = { coherent: false, needsContiguous: false, alignment: PAGE_SIZE, segmentBoundary: 0xffff_ffff, cma: null, iommu: null, bounce: false };
  const dma0 = createDevice(ctx, soc.master('dma0'), { ...base, name: 'dma0', kind: 'dma-engine', dmaMaskBits: 32, maxSegmentSize: 16 * MiB });
  const misc = createDevice(ctx, soc.master('udmabuf'), { ...base, name: 'udmabuf', kind: 'misc', dmaMaskBits: 64, maxSegmentSize: 64 * MiB });
  const k = createProcSystem({ soc, mm });
  const dbs = createDmaBufSystem({ vfs: k.vfs, soc });
  addSystemHeap(dbs, mm);
  registerUdmabuf(dbs, { mm, device: misc });
  return { soc, mm, ctx, k, dbs, dma0 };
}

async function run(s: System, main: (sys: Sys) => Promise<void>): Promise<void> {
  const sp = spawnProcess(s.k, main);
  await s.soc.clock.run();
  await sp.exitCode;
  if (sp.process.group.uncaughtError) throw sp.process.group.uncaughtError;
}

describe('reference rows on a system-heap dma-buf fd', () => {
  it('dmabuf_fsync EINVAL, dmabuf_ftruncate EINVAL, dmabuf_mremap_grow EFAULT, dmabuf_epoll_idle nready=1 events=IN/OUT', async () => {
    const s = system();
    await run(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', 65536);
      expect(await errno(sys.fsync(fd))).toBe('EINVAL');
      expect(await errno(sys.fdatasync(fd))).toBe('EINVAL');
      expect(await errno(sys.ftruncate(fd, 4096))).toBe('EINVAL');
      const m = await sys.mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      expect(await errno(sys.mremap(m, 65536, 2 * 65536, MREMAP_MAYMOVE))).toBe('EFAULT');
      expect(await errno(sys.mremap(m, 65536, 2 * 65536, 0))).toBe('EFAULT');
      // the mapping is untouched
      await sys.store(m + 65535, Uint8Array.of(1));
      const ep = await sys.epoll_create1(O_CLOEXEC);
      await sys.epoll_ctl(ep, EPOLL_CTL_ADD, fd, { events: EPOLLIN | EPOLLOUT, data: fd });
      const evs = await sys.epoll_wait(ep, 8, 100);
      expect(evs).toEqual([{ events: EPOLLIN | EPOLLOUT, data: fd }]);
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });
});

describe('udmabuf through system calls', () => {
  it('a program writes a pattern into a memfd, seals it against shrinking, makes a udmabuf of it and reads the same bytes through the dma-buf', async () => {
    const s = system();
    const free0 = s.mm.pages.freeCount();
    const size = 16 * PAGE_SIZE;
    const data = pattern(size, 3);
    await run(s, async (sys) => {
      const mfd = await sys.memfd_create('frame', MFD_ALLOW_SEALING | MFD_CLOEXEC);
      expect(await sys.write(mfd, data)).toBe(size);
      await sys.fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK);
      const dev = await sys.open('/dev/udmabuf', O_RDWR);
      const buf = await sys.ioctl(dev, UDMABUF_CREATE, { memfd: mfd, flags: UDMABUF_FLAGS_CLOEXEC, offset: 0, size });
      const m = await sys.mmap(0, size, PROT_READ, MAP_SHARED, buf, 0);
      // read and write: udmabuf's first CPU access maps its misc device in that direction, and a
      // read-only (DMA_FROM_DEVICE) map would invalidate the lines write() left dirty on this non-coherent SoC
      await sys.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW });
      expect(mismatches(await sys.load(m, size), data)).toBe(0);
      await sys.ioctl(buf, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW });
      // a device reads the same frames through its DMA mapping
      const d = dmaBufGet(s.k.processes.get(await sys.getpid())!, buf);
      const att = await dmaBufAttach(d, s.dma0);
      const sgt = await dmaBufMapAttachment(att, DMA_BIDIRECTIONAL);
      const seen = new Uint8Array(size);
      let off = 0;
      for (let i = 0; i < sgt.nents; i++) {
        const sg = sgt.sgl[i]!;
        await s.soc.master('dma0').read(sg.dmaAddress, seen, off, sg.dmaLength);
        off += sg.dmaLength;
      }
      expect(off).toBe(size);
      expect(mismatches(seen, data)).toBe(0);
      await dmaBufDetach(d, att);
      await dmaBufPut(d);
      // the udmabuf holds the memfd's pages: F_SEAL_WRITE waits for them, then gives up
      const t0 = s.soc.clock.now;
      expect(await errno(sys.fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE))).toBe('EBUSY');
      // the seal's wait, plus the call's own microseconds of CPU time
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(150_000_000);
      expect(s.soc.clock.now - t0).toBeLessThan(150_020_000);
      // the memfd goes; the dma-buf keeps the pages and the bytes
      await sys.close(mfd);
      expect(mismatches(await sys.load(m, size), data)).toBe(0);
    });
    // every page came back once the dma-buf went
    expect(s.dbs.buffers).toHaveLength(0);
    expect(s.mm.pages.freeCount()).toBe(free0);
    expect(s.k.shmem!.nrPages).toBe(0);
    expect(s.ctx.debug.liveMappings()).toBe(0);
  });

  it('EINVAL without F_SEAL_SHRINK or with F_SEAL_WRITE, EBADFD for a file that is not a memfd', async () => {
    const s = system();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/udmabuf', O_RDWR);
      const create = (memfd: number) => errno(sys.ioctl(dev, UDMABUF_CREATE, { memfd, flags: 0, offset: 0, size: PAGE_SIZE }));
      const unsealed = await sys.memfd_create('unsealed', MFD_ALLOW_SEALING);
      await sys.ftruncate(unsealed, PAGE_SIZE);
      expect(await create(unsealed)).toBe('EINVAL');
      // without MFD_ALLOW_SEALING the memfd carries F_SEAL_SEAL only
      const sealed = await sys.memfd_create('no-sealing');
      await sys.ftruncate(sealed, PAGE_SIZE);
      expect(await create(sealed)).toBe('EINVAL');
      const ws = await sys.memfd_create('write-sealed', MFD_ALLOW_SEALING);
      await sys.ftruncate(ws, PAGE_SIZE);
      await sys.fcntl(ws, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_WRITE);
      expect(await create(ws)).toBe('EINVAL');
      const heap = await heapAlloc(sys, 'system', PAGE_SIZE);
      expect(await create(heap)).toBe('EBADFD');
      const [p] = await sys.pipe();
      expect(await create(p)).toBe('EBADFD');
      const tmp = await sys.open('/tmp/plain', O_RDWR | O_CREAT);
      expect(await create(tmp)).toBe('EINVAL');
      expect(await create(99)).toBe('EBADFD');
      // sealed properly, the same memfd works
      await sys.fcntl(unsealed, F_ADD_SEALS, F_SEAL_SHRINK);
      expect(await create(unsealed)).toBe('ok');
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });
});
