import type { UsbDisplay } from '../../../drivers/index.ts';
import { displayStage } from '../../stages/display.ts';
import { stageDescriptor } from '../descriptor.ts';
import { planScanout } from './display.ts';

/** The same display server on the USB display's card (KMS is KMS); checked at the USB panel. */
export const usbDisplayDescriptor = stageDescriptor({
  name: 'usb-display',
  description: 'display server on the USB display\'s KMS: takes XR24, checked at the panel',
  device: { kind: 'usb', node: 'card' },
  role: 'sink',
  program: displayStage,
  plan: planScanout,
  setsDisplayMode: true,
  // The host moves the compressed frame: how much that is, only the run knows.
  deviceRate: () => null,
  watch: (x) => {
    (x.device.data as { usb: UsbDisplay }).usb.onFrame = (shot) => x.firstFetch({ fbId: shot.fbId, frame: shot.bytes });
  },
});
