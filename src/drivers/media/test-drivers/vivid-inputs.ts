import { kerr } from '../../../lib/index.ts';
import {
  V4L2_CAP_AUDIO,
  V4L2_CAP_DEVICE_CAPS,
  V4L2_CAP_EXT_PIX_FORMAT,
  V4L2_CAP_HW_FREQ_SEEK,
  V4L2_CAP_META_CAPTURE,
  V4L2_CAP_META_OUTPUT,
  V4L2_CAP_MODULATOR,
  V4L2_CAP_RADIO,
  V4L2_CAP_RDS_CAPTURE,
  V4L2_CAP_RDS_OUTPUT,
  V4L2_CAP_READWRITE,
  V4L2_CAP_SDR_CAPTURE,
  V4L2_CAP_SLICED_VBI_CAPTURE,
  V4L2_CAP_SLICED_VBI_OUTPUT,
  V4L2_CAP_STREAMING,
  V4L2_CAP_TOUCH,
  V4L2_CAP_TUNER,
  V4L2_CAP_VBI_CAPTURE,
  V4L2_CAP_VBI_OUTPUT,
  V4L2_CAP_VIDEO_CAPTURE,
  V4L2_CAP_VIDEO_OUTPUT,
  V4L2_CAP_VIDEO_OUTPUT_OVERLAY,
  V4L2_CAP_VIDEO_OVERLAY,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_NONE,
  V4L2_INPUT_TYPE_CAMERA,
  V4L2_INPUT_TYPE_TUNER,
  V4L2_IN_CAP_DV_TIMINGS,
  V4L2_IN_CAP_STD,
  V4L2_STD_ALL,
  type V4l2Fract,
  type V4l2Input,
} from '../../../uapi/index.ts';

/** What kind of source an input is (enum vivid_input). */
export type VividInputKind = 'webcam' | 'tv' | 'svid' | 'hdmi';

/** One capture input: its kind and its number among inputs of that kind (input_name_counter). */
export interface VividInput {
  kind: VividInputKind;
  counter: number;
}

/**
 * The inputs of vivid's capture node with the default module parameters
 * (num_inputs=4, input_types=0xe4): a webcam, a TV tuner, S-Video, HDMI.
 */
export const VIVID_INPUTS: readonly VividInput[] = [
  { kind: 'webcam', counter: 0 },
  { kind: 'tv', counter: 0 },
  { kind: 'svid', counter: 0 },
  { kind: 'hdmi', counter: 0 },
];

/** Audio inputs a TV or S-Video input can use ("TV", "Line-In": vivid_audio_inputs); vivid has them because it has both kinds of input. */
const VIVID_AUDIO_INPUTS = 2;

/**
 * device_caps of the capture node with default parameters
 * (vivid_set_capabilities): single-planar capture with overlay, read() and
 * streaming, and audio and a tuner because a TV input exists.
 */
export const VIVID_VID_CAP_CAPS =
  (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_OVERLAY | V4L2_CAP_STREAMING | V4L2_CAP_READWRITE | V4L2_CAP_AUDIO | V4L2_CAP_TUNER) >>> 0;

/** Caps every node shares but radio's (streaming and read/write I/O). */
const IO = V4L2_CAP_STREAMING | V4L2_CAP_READWRITE;

/**
 * `capabilities` of any vivid node with default parameters
 * (node_types=0xe1d3d): the union of the caps of all its nodes (video,
 * VBI, SDR, radio, metadata and touch, capture and output) as
 * vidioc_querycap ORs them, with V4L2_CAP_DEVICE_CAPS. The core adds
 * V4L2_CAP_EXT_PIX_FORMAT.
 */
export const VIVID_ALL_NODE_CAPS =
  (VIVID_VID_CAP_CAPS |
    (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_OVERLAY | IO | V4L2_CAP_AUDIO) |
    (V4L2_CAP_VBI_CAPTURE | V4L2_CAP_SLICED_VBI_CAPTURE | IO | V4L2_CAP_AUDIO | V4L2_CAP_TUNER) |
    (V4L2_CAP_VBI_OUTPUT | V4L2_CAP_SLICED_VBI_OUTPUT | IO | V4L2_CAP_AUDIO) |
    (V4L2_CAP_SDR_CAPTURE | V4L2_CAP_TUNER | IO) |
    (V4L2_CAP_RADIO | V4L2_CAP_RDS_CAPTURE | V4L2_CAP_HW_FREQ_SEEK | V4L2_CAP_TUNER | V4L2_CAP_READWRITE) |
    (V4L2_CAP_RDS_OUTPUT | V4L2_CAP_MODULATOR | V4L2_CAP_READWRITE) |
    (V4L2_CAP_META_CAPTURE | IO | V4L2_CAP_AUDIO | V4L2_CAP_TUNER) |
    (V4L2_CAP_META_OUTPUT | IO | V4L2_CAP_AUDIO) |
    (V4L2_CAP_TOUCH | IO | V4L2_CAP_VIDEO_CAPTURE) |
    V4L2_CAP_DEVICE_CAPS |
    V4L2_CAP_EXT_PIX_FORMAT) >>>
  0;

/**
 * Describes input `inp.index` as vivid does (vidioc_enum_input) in its
 * default state: every input a camera but the TV tuner; TV and S-Video
 * take any analog standard and both audio inputs; HDMI sets DV timings.
 * Status is 0: the HDMI input has its EDID and a signal, and the tuner
 * sits on a channel with colour. EINVAL past the last input.
 */
export function vividEnumInput(inp: V4l2Input): void {
  const input = VIVID_INPUTS[inp.index >>> 0];
  if (!input) throw kerr('EINVAL', `vivid: no input ${inp.index >>> 0}`);
  inp.type = V4L2_INPUT_TYPE_CAMERA;
  switch (input.kind) {
    case 'webcam':
      inp.name = `Webcam ${input.counter}`;
      inp.capabilities = 0;
      break;
    case 'tv':
      inp.name = `TV ${input.counter}`;
      inp.type = V4L2_INPUT_TYPE_TUNER;
      inp.std = V4L2_STD_ALL;
      inp.audioset = (1 << VIVID_AUDIO_INPUTS) - 1;
      inp.capabilities = V4L2_IN_CAP_STD;
      break;
    case 'svid':
      inp.name = `S-Video ${input.counter}`;
      inp.std = V4L2_STD_ALL;
      inp.audioset = (1 << VIVID_AUDIO_INPUTS) - 1;
      inp.capabilities = V4L2_IN_CAP_STD;
      break;
    case 'hdmi':
      inp.name = `HDMI ${input.counter}`;
      inp.capabilities = V4L2_IN_CAP_DV_TIMINGS;
      break;
  }
}

/**
 * The frame interval a non-webcam input imposes (vivid_update_format_cap):
 * TV and S-Video run the default standard, PAL, at 1000/25000 s; HDMI the
 * default timings, CEA 1280x720p60, at its frame's pixels over its pixel
 * clock, both divided by 100 (1650*750/100 over 74250000/100).
 */
export function vividInputInterval(kind: Exclude<VividInputKind, 'webcam'>): V4l2Fract {
  if (kind === 'hdmi') return { numerator: (1650 * 750) / 100, denominator: 74250000 / 100 };
  return { numerator: 1000, denominator: 25000 };
}

/** What a non-webcam input delivers when selected: the source's size, field order and colorspace. */
export interface VividSource {
  width: number;
  height: number;
  field: number;
  colorspace: number;
}

/**
 * The source a TV, S-Video or HDMI input brings in its default state
 * (vivid_update_format_cap and the colorspace vidioc_s_input picks): TV
 * and S-Video run PAL, 720x576 interlaced in SMPTE 170M; HDMI the default
 * timings, CEA 1280x720p60, progressive in Rec. 709 (a CE mode).
 */
export function vividInputSource(kind: Exclude<VividInputKind, 'webcam'>): VividSource {
  if (kind === 'hdmi') return { width: 1280, height: 720, field: V4L2_FIELD_NONE, colorspace: V4L2_COLORSPACE_REC709 };
  return { width: 720, height: 576, field: V4L2_FIELD_INTERLACED, colorspace: V4L2_COLORSPACE_SMPTE170M };
}
