/**
 * DOC: drivers — device drivers
 *
 * Drivers use only the public kernel APIs below them (dma, dmabuf, fs),
 * as real drivers do. The devices' hardware is in hw's engines: a driver
 * maps a buffer, hands the engine the mapping's bus segments, and keeps
 * the Linux side. Device jobs are async and take simulated time on the
 * device's port.
 */
export * from './media/videobuf2/index.ts';
export * from './media/test-drivers/vivid.ts';
export * from './gpu/drm/vgem/vgem.ts';
export * from './gpu/drm/gpu/gpu.ts';
export * from './gpu/drm/kms-display/display-kms.ts';
export * from './gpu/drm/udl/usb-display.ts';
export * from './media/platform/camera.ts';
export * from './media/v4l2-core/index.ts';
export * from './media/platform/isp.ts';
export * from './media/platform/jpeg.ts';
export * from './media/platform/vdec.ts';
export * from './sound/index.ts';
export { boundNode, platformDriver, type BootParams, type BoundDevice, type PlatformDeviceSpec, type PlatformDriver, type ProbeContext, type ProbedNode, type ProbeResult } from './base/platform-driver.ts';
export { PLATFORM_DRIVERS } from './driver-table.ts';
