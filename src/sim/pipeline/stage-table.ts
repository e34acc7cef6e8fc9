import type { StageDescriptor } from './descriptor.ts';
import { audioDescriptor } from './stages/audio.ts';
import { captureDescriptor } from './stages/capture.ts';
import { composeDescriptor } from './stages/compose.ts';
import { convertDescriptor } from './stages/convert.ts';
import { cpuDescriptor } from './stages/cpu.ts';
import { decodeDescriptor } from './stages/decode.ts';
import { displayDescriptor } from './stages/display.ts';
import { encodeDescriptor } from './stages/encode.ts';
import { fencePeerDescriptor } from './stages/fence-peer.ts';
import { jpegDecodeDescriptor } from './stages/jpeg-decode.ts';
import { renderDescriptor } from './stages/render.ts';
import { usbDisplayDescriptor } from './stages/usb-display.ts';

/**
 * Every stage a process pipeline may name. A new stage is one file with
 * its descriptor (and its userspace program), listed here.
 */
export const STAGES: readonly StageDescriptor[] = [
  captureDescriptor,
  decodeDescriptor,
  renderDescriptor,
  convertDescriptor,
  composeDescriptor,
  cpuDescriptor,
  displayDescriptor,
  usbDisplayDescriptor,
  encodeDescriptor,
  jpegDecodeDescriptor,
  audioDescriptor,
  fencePeerDescriptor,
];
