import { describe, it, expect } from 'vitest';
import * as U from '../../src/uapi/index.ts';

/*
 * The fourcc values were printed by gcc against libdrm-dev 2.4.114's
 * drm_fourcc.h (printf of DRM_FORMAT_XRGB8888, _ARGB8888, _NV12). The gpu
 * header has no system copy: its request is checked by decoding it.
 */
describe('drm_fourcc.h', () => {
  it('format codes match the header', () => {
    expect(U.DRM_FORMAT_XRGB8888).toBe(0x34325258);
    expect(U.DRM_FORMAT_ARGB8888).toBe(0x34325241);
    expect(U.DRM_FORMAT_NV12).toBe(0x3231564e);
    expect(U.fourcc_code('Y', 'U', 'Y', 'V')).toBe(U.V4L2_PIX_FMT_YUYV);
    expect(U.fourccToString(U.DRM_FORMAT_NV12)).toBe('NV12');
  });
});

describe('gpu_drm.h', () => {
  it('DRM_IOCTL_GPU_COMPOSE is a read-write driver request of 24 bytes on the drm base', () => {
    const r = U.DRM_IOCTL_GPU_COMPOSE;
    expect(r).toBe(0xc0186440);
    expect(U._IOC_DIR(r)).toBe(U._IOC_READ | U._IOC_WRITE);
    expect(U._IOC_TYPE(r)).toBe('d'.charCodeAt(0));
    expect(U._IOC_NR(r)).toBe(U.DRM_COMMAND_BASE + U.DRM_GPU_COMPOSE);
    expect(U._IOC_SIZE(r)).toBe(24);
    expect([U.GPU_COMPOSE_OP_AVERAGE, U.GPU_COMPOSE_FENCE_OUT]).toEqual([0, 1]);
  });
});
