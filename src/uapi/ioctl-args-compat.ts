import { DRM_IOCTL_BASE, DRM_IOCTL_VERSION } from './drm.ts';
import type { CompatIoctl } from './ioctl-arg.ts';
export type { CompatIoctl } from './ioctl-arg.ts';
import { V4L2_COMPAT_IOCTLS } from './ioctl-args-compat-v4l2.ts';
import { ioctlArgLayout } from './ioctl-args.ts';
import { _IOWR } from './ioctl.ts';
import { struct, type StructLayout } from './struct-layout.ts';

/*
 * The 32-bit layouts of requests whose structs hold pointers, longs or
 * size_t, for 32-bit (compat) processes: their request numbers differ from
 * the native ones (the size is part of the number), so a 32-bit caller's
 * request names its own struct, which the kernel's compat_ioctl handler
 * copies in and out and turns into the native call (drm_compat_ioctl's
 * compat_drm_version; V4L2's in ioctl-args-compat-v4l2.ts). Each entry
 * reuses the native request's handling, field for field, over the
 * narrower struct.
 */

/** struct drm_version32 (36 bytes): size_t lengths and char pointers are 32-bit words. */
export const drmVersion32Layout = struct('drm_version32', [
  ['version_major', 's32'],
  ['version_minor', 's32'],
  ['version_patchlevel', 's32'],
  ['name_len', 'u32'],
  ['name', 'u32'],
  ['date_len', 'u32'],
  ['date', 'u32'],
  ['desc_len', 'u32'],
  ['desc', 'u32'],
]);

/** DRM_IOCTL_VERSION as a 32-bit program computes it (DRM_IOCTL_VERSION32). */
export const DRM_IOCTL_VERSION32 = _IOWR(DRM_IOCTL_BASE, 0x00, drmVersion32Layout.size);

function compat(cmd32: number, native: number, layout: StructLayout): [number, CompatIoctl] {
  const n = ioctlArgLayout(native);
  if (!n) throw new Error(`compat ioctl: native request 0x${native.toString(16)} has no layout`);
  return [cmd32 >>> 0, { native, spec: { ...n, cmd: cmd32, layout } }];
}

const byCmd32 = new Map<number, CompatIoctl>([
  compat(DRM_IOCTL_VERSION32, DRM_IOCTL_VERSION, drmVersion32Layout),
  ...V4L2_COMPAT_IOCTLS.map((c): [number, CompatIoctl] => [c.spec.cmd >>> 0, c]),
]);

/** The compat handling of a 32-bit caller's request `cmd` (compat_ioctl), or undefined when its struct is the same at both word sizes. */
export function compatIoctl(cmd: number): CompatIoctl | undefined {
  return byCmd32.get(cmd >>> 0);
}
