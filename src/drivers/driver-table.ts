import { platformDriver, type PlatformDriver } from './base/platform-driver.ts';
import { kmsDisplayPlatformDriver } from './gpu/drm/kms-display/display-kms.ts';
import { gpuPlatformDriver } from './gpu/drm/gpu/gpu.ts';
import { usbDisplayPlatformDriver } from './gpu/drm/udl/usb-display.ts';
import { cameraPlatformDriver } from './media/platform/camera.ts';
import { ispPlatformDriver } from './media/platform/isp.ts';
import { jpegPlatformDriver } from './media/platform/jpeg.ts';
import { videoDecoderPlatformDriver } from './media/platform/vdec.ts';
import { pcmPlaybackPlatformDriver } from './sound/core/pcm.ts';

/** A DMA engine: a master that kernel-level pipelines drive directly; no driver binds it. */
const dmaEngineDevice = platformDriver<null>({
  kind: 'dma-engine',
  name: '',
  description: 'DMA engine: no driver binds it; kernel-level pipelines drive its DMA',
});

/** A plain DMA master for tests and kernel-level pipelines; no driver binds it. */
const genericDevice = platformDriver<null>({
  kind: 'generic',
  name: '',
  description: 'generic DMA master: no driver binds it; kernel-level pipelines drive its DMA',
});

/**
 * Every kind a platform file may name and the driver that binds it, in
 * the order boot probes them (module init order): the DRM drivers take
 * /dev/dri/card1 on after vgem's card0, the V4L2 drivers ask for their
 * own /dev/videoN and take the next free one when it is taken. A new
 * device is one file with its driver's row, listed here.
 */
export const PLATFORM_DRIVERS: readonly PlatformDriver[] = [
  kmsDisplayPlatformDriver,
  gpuPlatformDriver,
  usbDisplayPlatformDriver,
  cameraPlatformDriver,
  ispPlatformDriver,
  jpegPlatformDriver,
  videoDecoderPlatformDriver,
  pcmPlaybackPlatformDriver,
  dmaEngineDevice,
  genericDevice,
];
