/**
 * Port of IGT's tests/vgem_basic.c (igt-gpu-tools, the version of 2023 whose
 * subtests are documented in its header; its vgem calls are those Linux
 * 6.1's vgem answers), written against unimem's Sys and run as the first
 * process of linux-6.1-reference. As IGT's fixture does, each subtest opens
 * vgem's primary node (drm_open_driver(DRIVER_VGEM): the first
 * /dev/dri/cardN whose DRM_IOCTL_VERSION says "vgem"), which makes the
 * process the DRM master.
 *
 * Ported: setversion, second-client, create, mmap, bad-flag, bad-pad,
 * bad-handle, bad-fence, busy-fence, dmabuf-export, dmabuf-mmap,
 * dmabuf-fence, dmabuf-fence-before, sysfs, debugfs. Where IGT only checks
 * that calls succeed, the port also checks what they return (the versions
 * SET_VERSION writes back, the bytes through each mapping, the contents of
 * the sysfs and debugfs files).
 * Left out: unload, which unloads and reloads the vgem module; unimem's
 * drivers are built in and cannot be unloaded.
 */
import { describe, expect, it } from 'vitest';
import type { PollFd, Sys } from '../../src/proc/index.ts';
import {
  DRM_CAP_PRIME,
  DRM_CLOEXEC,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_SET_VERSION,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
  DRM_RDWR,
  F_OK,
  MAP_SHARED,
  O_DIRECTORY,
  O_RDONLY,
  POLLIN,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  S_IFDIR,
  S_IFMT,
  VGEM_FENCE_WRITE,
  type DrmSetVersion,
} from '../../src/uapi/index.ts';
import { errno } from '../dmabuf/helpers.ts';
import { dumb, fenceAttach, fenceSignal, mapDumb, toFd, toHandle } from '../drivers/vgem-helpers.ts';
import { drmDriverName, gemClose, listDir, loadU32, openVgem, runPort, storeU32 } from './port-helpers.ts';

/** One IGT subtest: the fixture opens vgem, `body` runs, the fixture closes it. */
function subtest(body: (sys: Sys, fd: number) => Promise<void>): () => Promise<void> {
  return async () => {
    await runPort('linux-6.1-reference', 'vgem_basic', async (sys) => {
      const fd = await openVgem(sys);
      expect(fd, 'vgem is on the platform').toBeGreaterThanOrEqual(0);
      await body(sys, fd);
      await sys.close(fd);
    });
  };
}

/** struct vgem_bo created by MODE_CREATE_DUMB (IGT's vgem_create). */
async function vgemCreate(sys: Sys, fd: number, width: number, height: number, bpp: number) {
  return dumb(sys, fd, width, height, bpp);
}

/** IGT's vgem_mmap: MODE_MAP_DUMB, then mmap of the DRM fd at the fake offset. */
async function vgemMmap(sys: Sys, fd: number, bo: { handle: number; size: number }, prot: number): Promise<number> {
  return sys.mmap(0, bo.size, prot, MAP_SHARED, fd, await mapDumb(sys, fd, bo.handle));
}

/** IGT's prime_busy: poll for POLLOUT (excl) or POLLIN without waiting; busy when nothing is ready. */
async function primeBusy(sys: Sys, fd: number, excl: boolean): Promise<boolean> {
  const pfd: PollFd[] = [{ fd, events: excl ? POLLOUT : POLLIN }];
  return (await sys.poll(pfd, 0)) === 0;
}

async function getCap(sys: Sys, fd: number, capability: number): Promise<number> {
  const c = { capability, value: 0 as number | bigint };
  await sys.ioctl(fd, DRM_IOCTL_GET_CAP, c);
  return Number(c.value);
}

/** The device number of a character device fd as major and minor (fstat's st_rdev, new_encode_dev layout). */
async function rdevOf(sys: Sys, fd: number): Promise<[number, number]> {
  const rdev = (await sys.fstat(fd)).st_rdev;
  return [(rdev >>> 8) & 0xfff, (rdev & 0xff) | ((rdev >>> 12) & 0xfff00)];
}

/**
 * Reads every file (not directory) of `dir` as IGT's sysfs and debugfs
 * subtests do: readdir, skip dot entries, fstatat following links, skip
 * directories, read the rest to EOF. Returns what each file held.
 */
async function readFilesOf(sys: Sys, dir: string): Promise<Map<string, string>> {
  const dfd = await sys.open(dir, O_RDONLY | O_DIRECTORY);
  const out = new Map<string, string>();
  for (const name of await listDir(sys, dir)) {
    if (name.startsWith('.')) continue;
    const st = await sys.fstatat(dfd, name, 0);
    if ((st.st_mode & S_IFMT) === S_IFDIR) continue;
    out.set(name, await sys.readFile(`${dir}/${name}`));
  }
  await sys.close(dfd);
  return out;
}

describe('IGT vgem_basic on linux-6.1-reference', () => {
  it('setversion: the master asks for interface 1.4 and gets 1.4 back with the driver\'s 1.0', subtest(async (sys, fd) => {
    const sv: DrmSetVersion = { drm_di_major: 1, drm_di_minor: 4, drm_dd_major: -1, drm_dd_minor: -1 };
    expect(await sys.ioctl(fd, DRM_IOCTL_SET_VERSION, sv)).toBe(0);
    expect(sv).toEqual({ drm_di_major: 1, drm_di_minor: 4, drm_dd_major: 1, drm_dd_minor: 0 });
  }));

  it('second-client: the primary and the render node open again beside the first client', subtest(async (sys) => {
    for (const node of ['card', 'renderD']) {
      const other = await openVgem(sys, node);
      expect(other).toBeGreaterThanOrEqual(0);
      expect((await drmDriverName(sys, other)).name).toBe('vgem');
      await sys.close(other);
    }
  }));

  it('create: 0x0x0 is EINVAL; 1x1x1 is a page, 1024x1024x8 1 MiB, 32768x32768x16 2 GiB', subtest(async (sys, fd) => {
    expect(await errno(vgemCreate(sys, fd, 0, 0, 0))).toBe('EINVAL');
    for (const [w, h, bpp, size] of [
      [1, 1, 1, 4096],
      [1024, 1024, 8, 1 << 20],
      [1 << 15, 1 << 15, 16, 2 ** 31],
    ] as const) {
      const bo = await vgemCreate(sys, fd, w, h, bpp);
      expect(bo.size, `${w}x${h}x${bpp}`).toBe(size);
      await gemClose(sys, fd, bo.handle);
    }
  }));

  it('mmap: a 4 MiB object mapped write-only stays writable after its handle is closed', subtest(async (sys, fd) => {
    const bo = await vgemCreate(sys, fd, 1024, 1024, 32);
    const ptr = await vgemMmap(sys, fd, bo, PROT_WRITE);
    // a second mapping, made while the handle exists, to read back what the first one writes
    const rd = await vgemMmap(sys, fd, bo, PROT_READ);
    await gemClose(sys, fd, bo.handle);
    expect(await errno(mapDumb(sys, fd, bo.handle))).toBe('ENOENT');
    // IGT stores 0 into ptr[page]; the port stores the page number so that the bytes prove the stores landed
    for (let page = 0; page < bo.size >> 12; page++) await storeU32(sys, ptr, page * 4, page);
    for (let page = 0; page < bo.size >> 12; page++) expect(await loadU32(sys, rd, page * 4)).toBe(page);
    await sys.munmap(ptr, bo.size);
    await sys.munmap(rd, bo.size);
  }));

  it('bad-flag: FENCE_ATTACH and FENCE_SIGNAL with flags 0xff are EINVAL', subtest(async (sys, fd) => {
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: 0, flags: 0xff, out_fence: 0, pad: 0 }))).toBe('EINVAL');
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: 0, flags: 0xff }))).toBe('EINVAL');
  }));

  it('bad-pad: FENCE_ATTACH with a non-zero pad is EINVAL', subtest(async (sys, fd) => {
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: 0, flags: 0, out_fence: 0, pad: 1 }))).toBe('EINVAL');
  }));

  it('bad-handle: FENCE_ATTACH to handle 0xff is ENOENT', subtest(async (sys, fd) => {
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: 0xff, flags: 0, out_fence: 0, pad: 0 }))).toBe('ENOENT');
  }));

  it('bad-fence: FENCE_SIGNAL of fence 0xff is ENOENT', subtest(async (sys, fd) => {
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: 0xff, flags: 0 }))).toBe('ENOENT');
  }));

  it('busy-fence: a write fence cannot join a pending read fence (EBUSY)', subtest(async (sys, fd) => {
    const bo = await vgemCreate(sys, fd, 1024, 1, 32);
    const fence = await fenceAttach(sys, fd, bo.handle, 0);
    expect(fence).toBe(1);
    expect(await errno(sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_ATTACH, { handle: bo.handle, flags: VGEM_FENCE_WRITE, out_fence: 0, pad: 0 }))).toBe('EBUSY');
    // closing the fd (the fixture) signals the pending fence
  }));

  it('dmabuf-export: a vgem object exported by PRIME imports into another client of any driver', subtest(async (sys, fd) => {
    expect(await getCap(sys, fd, DRM_CAP_PRIME)).toBe(DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT);
    // drm_open_driver(DRIVER_ANY): the first card, vgem again on this machine
    const other = await openVgem(sys);
    expect(await getCap(sys, other, DRM_CAP_PRIME) & DRM_PRIME_CAP_IMPORT).toBeTruthy();
    const bo = await vgemCreate(sys, fd, 1024, 1, 32);
    const dmabuf = await toFd(sys, fd, bo.handle, DRM_CLOEXEC);
    await gemClose(sys, fd, bo.handle);
    const handle = await toHandle(sys, other, dmabuf);
    expect(handle).toBeGreaterThan(0);
    await sys.close(dmabuf);
    await gemClose(sys, other, handle);
    await sys.close(other);
  }));

  it('dmabuf-mmap: what the dma-buf mapping writes, after the export fd is closed, vgem\'s own mapping reads', subtest(async (sys, fd) => {
    const bo = await vgemCreate(sys, fd, 1024, 1024, 32);
    const exp = await toFd(sys, fd, bo.handle, DRM_CLOEXEC | DRM_RDWR);
    const ptr = await sys.mmap(0, bo.size, PROT_WRITE, MAP_SHARED, exp, 0);
    await sys.close(exp);
    for (let page = 0; page < bo.size >> 12; page++) await storeU32(sys, ptr, page * 4, page);
    await sys.munmap(ptr, bo.size);

    const rd = await vgemMmap(sys, fd, bo, PROT_READ);
    await gemClose(sys, fd, bo.handle);
    for (let page = 0; page < bo.size >> 12; page++) expect(await loadU32(sys, rd, page * 4), `ptr[${page}]`).toBe(page);
    await sys.munmap(rd, bo.size);
  }));

  it('dmabuf-fence: a read fence attached after export blocks writers only, a write fence everyone, until signalled', subtest(async (sys, fd) => {
    const bo = await vgemCreate(sys, fd, 1024, 1, 32);
    const dmabuf = await toFd(sys, fd, bo.handle, DRM_CLOEXEC);

    let fence = await fenceAttach(sys, fd, bo.handle, 0);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(true);
    await fenceSignal(sys, fd, fence);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(false);

    fence = await fenceAttach(sys, fd, bo.handle, VGEM_FENCE_WRITE);
    expect(await primeBusy(sys, dmabuf, false)).toBe(true);
    expect(await primeBusy(sys, dmabuf, true)).toBe(true);
    await fenceSignal(sys, fd, fence);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(false);

    await sys.close(dmabuf);
    await gemClose(sys, fd, bo.handle);
  }));

  it('dmabuf-fence-before: fences attached before the export are seen through the dma-buf the same way', subtest(async (sys, fd) => {
    let bo = await vgemCreate(sys, fd, 1024, 1, 32);
    let fence = await fenceAttach(sys, fd, bo.handle, 0);
    let dmabuf = await toFd(sys, fd, bo.handle, DRM_CLOEXEC);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(true);
    await fenceSignal(sys, fd, fence);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(false);
    await sys.close(dmabuf);
    await gemClose(sys, fd, bo.handle);

    bo = await vgemCreate(sys, fd, 1024, 1, 32);
    fence = await fenceAttach(sys, fd, bo.handle, VGEM_FENCE_WRITE);
    dmabuf = await toFd(sys, fd, bo.handle, DRM_CLOEXEC);
    expect(await primeBusy(sys, dmabuf, false)).toBe(true);
    expect(await primeBusy(sys, dmabuf, true)).toBe(true);
    await fenceSignal(sys, fd, fence);
    expect(await primeBusy(sys, dmabuf, false)).toBe(false);
    expect(await primeBusy(sys, dmabuf, true)).toBe(false);
    await sys.close(dmabuf);
    await gemClose(sys, fd, bo.handle);
  }));

  it('sysfs: every file of /sys/dev/char/<major>:<minor> of the fd reads, dev and uevent as Linux prints them', subtest(async (sys, fd) => {
    const [major, minor] = await rdevOf(sys, fd);
    expect([major, minor]).toEqual([226, 0]);
    const path = `/sys/dev/char/${major}:${minor}`;
    await sys.access(path, F_OK);
    const files = await readFilesOf(sys, path);
    // power/, device and subsystem are directories (or links to them), which IGT skips
    expect([...files.keys()].sort()).toEqual(['dev', 'uevent']);
    expect(files.get('dev')).toBe('226:0\n');
    expect(files.get('uevent')).toBe('MAJOR=226\nMINOR=0\nDEVNAME=dri/card0\nDEVTYPE=drm_minor\n');
  }));

  it('debugfs: every file of /sys/kernel/debug/dri/<minor> reads; name, clients and gem_names as the DRM core prints them', subtest(async (sys, fd) => {
    const [, minor] = await rdevOf(sys, fd);
    const path = `/sys/kernel/debug/dri/${minor}`;
    await sys.access(`${path}/name`, F_OK);
    const files = await readFilesOf(sys, path);
    expect([...files.keys()].sort()).toEqual(['clients', 'gem_names', 'name']);
    expect(files.get('name')).toBe('vgem dev=vgem unique=vgem\n');
    const clients = files.get('clients')!.split('\n');
    expect(clients[0]).toBe('             command  tgid dev master a   uid      magic');
    expect(clients[1]).toMatch(/^ {10}vgem_basic +\d+ +0 {3}y {4}y +0 +0$/);
    expect(files.get('gem_names')).toBe('  name     size handles refcount\n');
  }));
});
