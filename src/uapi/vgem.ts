import { DRM_COMMAND_BASE, DRM_IOCTL_BASE } from './drm.ts';
import { _IOW, _IOWR } from './ioctl.ts';

/**
 * vgem's fence ioctls (include/uapi/drm/vgem_drm.h in the kernel tree; no
 * Debian package ships the header, so the encoding is written out from it).
 */
export const DRM_VGEM_FENCE_ATTACH = 0x1;
export const DRM_VGEM_FENCE_SIGNAL = 0x2;
/** Attach the fence as exclusive (write) rather than shared (read). */
export const VGEM_FENCE_WRITE = 0x1;

/** struct drm_vgem_fence_attach (16 bytes); the kernel writes `out_fence`. */
export interface DrmVgemFenceAttach {
  handle: number;
  flags: number;
  out_fence: number;
  pad: number;
}

/** struct drm_vgem_fence_signal (8 bytes). */
export interface DrmVgemFenceSignal {
  fence: number;
  flags: number;
}

export const DRM_IOCTL_VGEM_FENCE_ATTACH = _IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_VGEM_FENCE_ATTACH, 16);
export const DRM_IOCTL_VGEM_FENCE_SIGNAL = _IOW(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_VGEM_FENCE_SIGNAL, 8);
