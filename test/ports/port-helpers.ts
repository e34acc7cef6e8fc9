import { expect } from 'vitest';
import { SyscallError } from '../../src/lib/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform, type System } from '../../src/sim/index.ts';
import { DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_VERSION, O_DIRECTORY, O_RDONLY, O_RDWR, type DrmVersion } from '../../src/uapi/index.ts';

// What the ports share: a way to run a port as the first process of a booted
// platform (as a test binary runs on a real machine), and the small libc/libdrm
// helpers the upstream tests call.

/**
 * Boots `platform` and runs `main` as its first process under the name
 * `comm`; the process must exit 0 (an uncaught expect() fails the test with
 * its own message). Afterwards nothing the process made may be left: no open
 * file, no dma-buf. Returns the system for further checks.
 */
export async function runPort(platform: string, comm: string, main: (sys: Sys) => Promise<void>): Promise<System> {
  const s = bootSystem(loadPlatform(platform), { seed: 1 });
  const child = spawnProcess(s.proc, async (sys) => {
    await main(sys);
    return 0;
  }, [], undefined, { comm });
  const code = await s.soc.clock.runUntilSettled(child.exitCode);
  if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
  expect(code).toBe(0);
  expect(s.proc.vfs.openFileCount, 'files left open after the port exited').toBe(0);
  expect(s.dmabuf.buffers.length, 'dma-bufs left after the port exited').toBe(0);
  return s;
}

/** The names in a directory, by getdents64 as readdir(3) reads them, without "." and "..". */
export async function listDir(sys: Sys, path: string): Promise<string[]> {
  const fd = await sys.open(path, O_RDONLY | O_DIRECTORY);
  const names: string[] = [];
  try {
    for (;;) {
      const batch = await sys.getdents64(fd, 4096);
      if (batch.length === 0) break;
      for (const d of batch) if (d.d_name !== '.' && d.d_name !== '..') names.push(d.d_name);
    }
  } finally {
    await sys.close(fd);
  }
  return names;
}

/** The driver name DRM_IOCTL_VERSION gives for a 4-byte name buffer, as the selftests' check_vgem asks it. */
export async function drmDriverName(sys: Sys, fd: number): Promise<{ name: string; nameLen: number }> {
  const v: DrmVersion = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 4, name: '', date_len: 0, date: '', desc_len: 0, desc: '' };
  await sys.ioctl(fd, DRM_IOCTL_VERSION, v);
  return { name: v.name, nameLen: v.name_len };
}

/**
 * Opens the first /dev/dri/cardN (N < 16) whose driver is vgem, as the
 * selftests' open_vgem and IGT's drm_open_driver(DRIVER_VGEM) do; -1 when
 * there is none.
 */
export async function openVgem(sys: Sys, node = 'card'): Promise<number> {
  const base = node === 'card' ? 0 : 128;
  for (let i = base; i < base + 16; i++) {
    let fd: number;
    try {
      fd = await sys.open(`/dev/dri/${node}${i}`, O_RDWR);
    } catch (e) {
      if (e instanceof SyscallError && e.code === 'ENOENT') continue;
      throw e;
    }
    const v = await drmDriverName(sys, fd);
    if (v.nameLen === 4 && v.name === 'vgem') return fd;
    await sys.close(fd);
  }
  return -1;
}

/** DRM_IOCTL_GEM_CLOSE (libdrm's gem_close). */
export async function gemClose(sys: Sys, fd: number, handle: number): Promise<void> {
  await sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
}

/** The u32 at byte offset `off` of a mapping (a C program's `ptr[off / 4]`). */
export async function loadU32(sys: Sys, addr: number, off: number): Promise<number> {
  const b = await sys.load(addr + off, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

/** Stores a little-endian u32 at byte offset `off` of a mapping (`ptr[off / 4] = v`). */
export async function storeU32(sys: Sys, addr: number, off: number, v: number): Promise<void> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  await sys.store(addr + off, b);
}
