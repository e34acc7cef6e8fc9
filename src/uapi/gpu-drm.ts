import { DRM_COMMAND_BASE, DRM_IOCTL_BASE } from './drm.ts';
import { _IOWR } from './ioctl.ts';

/**
 * The gpu driver's private uapi (its own drm header, as vgem has
 * vgem_drm.h): one request, DRM_IOCTL_GPU_COMPOSE, in the driver range
 * from DRM_COMMAND_BASE.
 *
 * struct drm_gpu_compose (24 bytes):
 *   __u32 dst_handle;     GEM handle written by the job
 *   __u32 src_handles[2]; the two GEM handles read by the job
 *   __u32 op;             GPU_COMPOSE_OP_AVERAGE (0): dst = (src0 + src1) / 2 per byte, rounded down
 *   __u32 flags;          GPU_COMPOSE_FENCE_OUT: return the job's fence as a sync_file fd
 *   __s32 out_fence;      written by the kernel with FENCE_OUT, else -1
 */
export const DRM_GPU_COMPOSE = 0x00;
/** Blend each byte of the two sources, rounding down. */
export const GPU_COMPOSE_OP_AVERAGE = 0;
/** Hand back the job's fence as a sync_file fd in out_fence. */
export const GPU_COMPOSE_FENCE_OUT = 0x1;

/** struct drm_gpu_compose; the kernel writes `out_fence`. */
export interface DrmGpuCompose {
  dst_handle: number;
  src_handles: number[];
  op: number;
  flags: number;
  out_fence: number;
}

export const DRM_IOCTL_GPU_COMPOSE = _IOWR(DRM_IOCTL_BASE, DRM_COMMAND_BASE + DRM_GPU_COMPOSE, 24);
