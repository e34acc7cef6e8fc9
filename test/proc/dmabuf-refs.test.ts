import { describe, expect, it } from 'vitest';
import { dmaBufSnapshot, dmabufDumpTable, spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform, type System } from '../../src/sim/index.ts';
import { MAP_SHARED, O_RDWR, POLLIN, PROT_READ, PROT_WRITE, VGEM_FENCE_WRITE } from '../../src/uapi/index.ts';
import { heapAlloc } from '../dmabuf/helpers.ts';
import { fenceAttach, fenceSignal, toHandle } from '../drivers/vgem-helpers.ts';

const SIZE = 65536;

/** Boots armv7-mobile and runs `main` as process `holder`, which must exit 0. */
async function onBoard(main: (sys: Sys, s: System) => Promise<void>): Promise<System> {
  const s = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
  const child = spawnProcess(s.proc, async (sys) => {
    await main(sys, s);
    return 0;
  }, [], undefined, { comm: 'holder' });
  const code = await s.soc.clock.runUntilSettled(child.exitCode);
  if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
  expect(code).toBe(0);
  return s;
}

describe('every reference on every dma-buf, with the call that took it', () => {
  it('/sys/kernel/debug/dma_buf/refs, read by a program, names its fd, its mapping, the child that inherited the fd, and vgem\'s import with its call sites', async () => {
    let text = '';
    let table = '';
    let snap: ReturnType<typeof dmaBufSnapshot> | null = null;
    await onBoard(async (sys, s) => {
      const a = await heapAlloc(sys, 'system', SIZE, O_RDWR);
      const b = await heapAlloc(sys, 'system', SIZE, O_RDWR);
      const addr = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await toHandle(sys, card, a);
      const [rd, wr] = await sys.pipe();
      // the child inherits every fd (a and b among them) and holds them until told to go
      const pid = await sys.fork(async (cs) => {
        await cs.read(rd, 1);
        return 0;
      });
      text = await sys.readFile('/sys/kernel/debug/dma_buf/refs');
      snap = dmaBufSnapshot(s.proc, s.dmabuf);
      table = dmabufDumpTable(snap);
      await sys.write(wr, new Uint8Array([1]));
      await sys.wait(pid);
      await sys.munmap(addr, SIZE);
    });
    // the file: one block per buffer, bufinfo's columns first
    expect(text).toContain('Dma-buf references:');
    expect(text).toContain('Total 2 objects, 131072 bytes');
    const lines = text.split('\n');
    expect(lines.find((l) => l.includes('\tfd\t') && l.includes('holder (pid 1) fd'))).toMatch(/\tholder: ioctl DMA_HEAP_IOCTL_ALLOC › fd_install$/);
    expect(lines.find((l) => l.includes('\tmapping\t'))).toMatch(/holder \(pid 1\) mapping 0x[0-9a-f]+-0x[0-9a-f]+\tholder: mmap › mmap_region$/);
    expect(lines.find((l) => l.includes('\tfd\t') && l.includes('holder (pid 2)'))).toMatch(/\tholder: fork › fd_install$/);
    expect(lines.find((l) => l.includes('\tattachment\t'))).toMatch(/\tdevice vgem \(mapped DMA_BIDIRECTIONAL\)\tholder: ioctl DRM_IOCTL_PRIME_FD_TO_HANDLE › dma_buf_attach$/);
    expect(lines.find((l) => l.includes('\tgem-import\t'))).toMatch(/\tgem object 1 of vgem\tholder: ioctl DRM_IOCTL_PRIME_FD_TO_HANDLE › drm_gem_prime_import$/);
    expect(lines.find((l) => l.includes('\tprime-handle\t'))).toMatch(/\tPRIME handle 1 in vgem file of holder \(pid 1\)\t.*drm_prime_add_buf_handle$/);
    expect(lines.find((l) => l.includes('\tgem-object\t'))).toMatch(/\tgem object 1 of vgem\t.*drm_gem_prime_fd_to_handle$/);

    const s = snap!;
    const [bufB, bufA] = s.buffers; // newest first, as bufinfo lists them
    expect(bufA!.heap).toBe('system');
    expect(bufA!.refs.map((r) => r.kind).sort()).toEqual(['attachment', 'fd', 'fd', 'gem-import', 'gem-object', 'prime-handle']);
    expect(bufB!.refs.map((r) => r.kind).sort()).toEqual(['fd', 'fd', 'mapping', 'mapping']);
    // every reference on the file is accounted for: fds, mappings (the child's copy too) and the kernel's file references
    expect(bufB!.fileRefs).toBe(4);
    expect(bufA!.fileRefs).toBe(5);
    // refs come oldest first, with times in order
    for (const b of s.buffers) for (let i = 1; i < b.refs.length; i++) expect(b.refs[i]!.timeNs).toBeGreaterThanOrEqual(b.refs[i - 1]!.timeNs);
    // dmabuf_dump: both processes hold both buffers, so each one's share of each is half its size
    expect(s.processes.map((p) => [p.comm, p.pid, p.rssBytes, p.pssBytes])).toEqual([
      ['holder', 1, 2 * SIZE, SIZE],
      ['holder', 2, 2 * SIZE, SIZE],
    ]);
    expect(s.processes[0]!.buffers).toEqual([
      { ino: bufB!.ino, fdRefs: 1, mapRefs: 1, pssBytes: SIZE / 2 },
      { ino: bufA!.ino, fdRefs: 1, mapRefs: 0, pssBytes: SIZE / 2 },
    ]);
    expect(s.totals).toEqual({ bytes: 2 * SIZE, kernelOnlyBytes: 0, userspaceRssBytes: 4 * SIZE, userspacePssBytes: 2 * SIZE });
    expect(table).toContain('    Dmabuf Inode |            Size |   Fd Ref Counts |  Map Ref Counts |          holder:1     |          holder:2     |');
    expect(table).toMatch(new RegExp(`\\n\\s+${bufB!.ino} \\|\\s+64 kB \\|\\s+2 \\|\\s+2 \\|\\s+1\\(\\s+1\\) refs \\|\\s+1\\(\\s+1\\) refs \\|`));
  });

  it('a poll on a buffer with a pending write fence holds a fence-callback reference until the fence signals', async () => {
    const seen: string[][] = [];
    await onBoard(async (sys, s) => {
      const a = await heapAlloc(sys, 'system', SIZE, O_RDWR);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const h = await toHandle(sys, card, a);
      const fence = await fenceAttach(sys, card, h, VGEM_FENCE_WRITE);
      const kinds = () => dmaBufSnapshot(s.proc, s.dmabuf).buffers[0]!.refs.filter((r) => r.kind === 'fence-callback').map((r) => `${r.holder} | ${r.site}`);
      expect(await sys.poll([{ fd: a, events: POLLIN, revents: 0 }], 0)).toBe(0);
      seen.push(kinds());
      await fenceSignal(sys, card, fence);
      seen.push(kinds());
    });
    expect(seen).toEqual([['poll callback for POLLIN | holder: poll › dma_buf_poll'], []]);
  });

  it('a buffer only the kernel holds counts as kernel-only, and each process\'s share divides by the processes that hold it', async () => {
    let snap: ReturnType<typeof dmaBufSnapshot> | null = null;
    await onBoard(async (sys, s) => {
      const a = await heapAlloc(sys, 'system', SIZE, O_RDWR);
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      await toHandle(sys, card, a);
      // the handle keeps the buffer: the fd can go
      await sys.close(a);
      snap = dmaBufSnapshot(s.proc, s.dmabuf);
    });
    const s = snap!;
    expect(s.buffers).toHaveLength(1);
    expect(s.buffers[0]!.refs.map((r) => r.kind).sort()).toEqual(['attachment', 'gem-import', 'gem-object', 'prime-handle']);
    expect(s.processes).toEqual([]);
    expect(s.totals.kernelOnlyBytes).toBe(SIZE);
  });
});
