import { INT_POINTER, type IoctlArgLayout } from './ioctl-arg.ts';
import { DMABUF_IOCTL_ARGS } from './ioctl-args-dmabuf.ts';
import { DRM_IOCTL_ARGS } from './ioctl-args-drm.ts';
import { V4L2_IOCTL_ARGS } from './ioctl-args-v4l2.ts';
import { FIOASYNC, FIONBIO, FIONREAD, _IOC_READ, _IOC_SIZESHIFT, _IOC_SIZEBITS, _IOC_WRITE } from './ioctl.ts';

/**
 * The generic file requests: their numbers predate the _IOC encoding (no
 * direction or size bits), so the copies are written out: FIONBIO and
 * FIOASYNC read an int (get_user), FIONREAD writes one (put_user).
 */
const GENERIC_IOCTL_ARGS: readonly IoctlArgLayout[] = [
  { cmd: FIONBIO, name: 'FIONBIO', layout: INT_POINTER, dir: _IOC_WRITE, copyOut: 'success' },
  { cmd: FIOASYNC, name: 'FIOASYNC', layout: INT_POINTER, dir: _IOC_WRITE, copyOut: 'success' },
  { cmd: FIONREAD, name: 'FIONREAD', layout: INT_POINTER, dir: _IOC_READ, copyOut: 'success' },
];

/** Every request whose argument can be passed as a user address, with its layout. */
export const IOCTL_ARG_LAYOUTS: readonly IoctlArgLayout[] = [...GENERIC_IOCTL_ARGS, ...DMABUF_IOCTL_ARGS, ...DRM_IOCTL_ARGS, ...V4L2_IOCTL_ARGS];

const byCmd = new Map(IOCTL_ARG_LAYOUTS.map((l) => [l.cmd >>> 0, l]));

/** The argument layout of request `cmd`; undefined for a request without one (KMS, ALSA: still object-only). */
export function ioctlArgLayout(cmd: number): IoctlArgLayout | undefined {
  return byCmd.get(cmd >>> 0);
}

const SIZE_MASK = (((1 << _IOC_SIZEBITS) - 1) << _IOC_SIZESHIFT) >>> 0;
const anySize = new Map(IOCTL_ARG_LAYOUTS.filter((l) => l.anySize).map((l) => [(l.cmd & ~SIZE_MASK) >>> 0, l]));

/**
 * The request a caller's `cmd` of another struct size stands for, for
 * subsystems that match requests by number (dma_heap_ioctl); undefined
 * when there is none or `cmd` is the request itself.
 */
export function resizedIoctl(cmd: number): IoctlArgLayout | undefined {
  const l = anySize.get((cmd & ~SIZE_MASK) >>> 0);
  return l && l.cmd >>> 0 !== cmd >>> 0 ? l : undefined;
}
