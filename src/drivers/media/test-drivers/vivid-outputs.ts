import { kerr } from '../../../lib/index.ts';
import {
  V4L2_CAP_AUDIO,
  V4L2_CAP_READWRITE,
  V4L2_CAP_STREAMING,
  V4L2_CAP_VIDEO_OUTPUT,
  V4L2_CAP_VIDEO_OUTPUT_OVERLAY,
  V4L2_COLORSPACE_REC709,
  V4L2_COLORSPACE_SMPTE170M,
  V4L2_FIELD_INTERLACED,
  V4L2_FIELD_NONE,
  V4L2_OUTPUT_TYPE_ANALOG,
  V4L2_OUT_CAP_DV_TIMINGS,
  V4L2_OUT_CAP_STD,
  V4L2_STD_ALL,
  type V4l2Fract,
  type V4l2Output,
} from '../../../uapi/index.ts';

/** What kind of sink an output is (vivid's SVID and HDMI output types). */
export type VividOutputKind = 'svid' | 'hdmi';

/** One video output: its kind and its number among outputs of that kind (output_name_counter). */
export interface VividOutput {
  kind: VividOutputKind;
  counter: number;
}

/**
 * The outputs of vivid's output node with the default module parameters
 * (num_outputs=2, output_types=0x02): S-Video, then HDMI.
 */
export const VIVID_OUTPUTS: readonly VividOutput[] = [
  { kind: 'svid', counter: 0 },
  { kind: 'hdmi', counter: 0 },
];

/** Audio outputs an S-Video output can use ("Line-Out 1", "Line-Out 2": vivid_audio_outputs). */
const VIVID_AUDIO_OUTPUTS = 2;

/**
 * device_caps of the output node with default parameters
 * (vivid_set_capabilities): single-planar output, output overlay because
 * the instance has its test framebuffer, read/write and streaming, and
 * audio because an S-Video output exists. The core adds
 * V4L2_CAP_EXT_PIX_FORMAT.
 */
export const VIVID_VID_OUT_CAPS = (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_OVERLAY | V4L2_CAP_STREAMING | V4L2_CAP_READWRITE | V4L2_CAP_AUDIO) >>> 0;

/**
 * Describes output `out.index` as vivid does (vidioc_enum_output): every
 * output analog; S-Video takes any standard and both audio outputs, HDMI
 * sets DV timings. EINVAL past the last output.
 */
export function vividEnumOutput(out: V4l2Output): void {
  const output = VIVID_OUTPUTS[out.index >>> 0];
  if (!output) throw kerr('EINVAL', `vivid: no output ${out.index >>> 0}`);
  out.type = V4L2_OUTPUT_TYPE_ANALOG;
  if (output.kind === 'svid') {
    out.name = `S-Video ${output.counter}`;
    out.std = V4L2_STD_ALL;
    out.audioset = (1 << VIVID_AUDIO_OUTPUTS) - 1;
    out.capabilities = V4L2_OUT_CAP_STD;
  } else {
    out.name = `HDMI ${output.counter}`;
    out.capabilities = V4L2_OUT_CAP_DV_TIMINGS;
  }
}

/** What an output sends when selected: the sink's size, field order, colorspace and frame interval. */
export interface VividSinkFormat {
  width: number;
  height: number;
  field: number;
  colorspace: number;
  interval: V4l2Fract;
}

/**
 * The sink an output drives in its default state (vivid_update_format_out):
 * S-Video runs the default standard, PAL, 720x576 interlaced at 25 Hz in
 * SMPTE 170M; HDMI the default timings, CEA 1280x720p60, progressive in
 * Rec. 709 (a CE mode), its interval the frame's pixels over the pixel
 * clock, both divided by 100.
 */
export function vividOutputSink(kind: VividOutputKind): VividSinkFormat {
  if (kind === 'hdmi') {
    return { width: 1280, height: 720, field: V4L2_FIELD_NONE, colorspace: V4L2_COLORSPACE_REC709, interval: { numerator: (1650 * 750) / 100, denominator: 74250000 / 100 } };
  }
  return { width: 720, height: 576, field: V4L2_FIELD_INTERLACED, colorspace: V4L2_COLORSPACE_SMPTE170M, interval: { numerator: 1000, denominator: 25000 } };
}
