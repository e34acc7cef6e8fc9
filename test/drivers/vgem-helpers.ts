import { createDevice } from '../../src/dma/index.ts';
import { registerVgem, type DrmDevice } from '../../src/drivers/index.ts';
import { MiB, PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DRM_CLOEXEC,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_VGEM_FENCE_ATTACH,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_RDWR,
} from '../../src/uapi/index.ts';
import { testSystem, type TestSystem } from '../dmabuf/helpers.ts';

export interface VgemSystem extends TestSystem {
  vgem: DrmDevice;
}

/** The dma-buf test SoC with vgem registered on a 64-bit, non-coherent platform device of its own. */
export function vgemSystem(): VgemSystem {
  const s = testSystem();
  const device = createDevice(s.ctx, s.soc.master('udmabuf'), {
    name: 'vgem',
    kind: 'gpu',
    dmaMaskBits: 64,
    maxSegmentSize: 64 * MiB,
    coherent: false,
    needsContiguous: false,
    alignment: PAGE_SIZE,
    segmentBoundary: 0xffff_ffff,
    cma: null,
    iommu: null,
    bounce: false,
  });
  const vgem = registerVgem({ dbs: s.dbs, mm: s.mm, device });
  return { ...s, vgem };
}

/** MODE_CREATE_DUMB; returns what the kernel wrote. */
export async function dumb(sys: Sys, fd: number, width = 256, height = 64, bpp = 32): Promise<{ handle: number; pitch: number; size: number }> {
  const a = { width, height, bpp, flags: 0, handle: 0, pitch: 0, size: 0 as number | bigint };
  await sys.ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, a);
  return { handle: a.handle, pitch: a.pitch, size: Number(a.size) };
}

/** MODE_MAP_DUMB; returns the fake offset. */
export async function mapDumb(sys: Sys, fd: number, handle: number): Promise<number> {
  const a = { handle, pad: 0, offset: 0 as number | bigint };
  await sys.ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, a);
  return Number(a.offset);
}

/** PRIME_HANDLE_TO_FD; returns the new fd. */
export async function toFd(sys: Sys, fd: number, handle: number, flags = DRM_CLOEXEC | DRM_RDWR): Promise<number> {
  const a = { handle, flags, fd: -1 };
  await sys.ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, a);
  return a.fd;
}

/** PRIME_FD_TO_HANDLE; returns the handle. */
export async function toHandle(sys: Sys, fd: number, bufFd: number): Promise<number> {
  const a = { handle: 0, flags: 0, fd: bufFd };
  await sys.ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, a);
  return a.handle;
}

/** VGEM_FENCE_ATTACH; returns the fence id. */
export async function fenceAttach(sys: Sys, fd: number, handle: number, flags: number): Promise<number> {
  const a = { handle, flags, out_fence: 0, pad: 0 };
  await sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_ATTACH, a);
  return a.out_fence;
}

/** VGEM_FENCE_SIGNAL. */
export async function fenceSignal(sys: Sys, fd: number, fence: number, flags = 0): Promise<void> {
  await sys.ioctl(fd, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence, flags });
}
