/**
 * DOC: drivers — device drivers
 *
 * Drivers use only the public kernel APIs below them (dma, dmabuf, fs),
 * as real drivers do. The devices' hardware is in hw's engines: a driver
 * maps a buffer, hands the engine the mapping's bus segments, and keeps
 * the Linux side. Device jobs are async and take simulated time on the
 * device's port.
 */
export { boundNode, type BoundDevice, type PlatformDriver } from './base/platform-driver.ts';
export { PLATFORM_DRIVERS } from './driver-table.ts';
export { DrmDevice, KMS_MAX_HEIGHT, KMS_MAX_WIDTH, type DrmDeviceOptions } from './gpu/drm/core/index.ts';
export { gpuPlatformDriver } from './gpu/drm/gpu/gpu.ts';
export { KmsDisplay, kmsDisplayPlatformDriver } from './gpu/drm/kms-display/display-kms.ts';
export { UsbDisplay, usbDisplayPlatformDriver } from './gpu/drm/udl/usb-display.ts';
export { registerVgem, type VgemOptions } from './gpu/drm/vgem/vgem.ts';
export { CameraDevice, type CameraOptions } from './media/platform/camera.ts';
export { VividDevice, registerVivid, type VividOptions } from './media/test-drivers/vivid.ts';
export { PcmDevice, pcmPlaybackPlatformDriver, type PcmNewOptions } from './sound/index.ts';
