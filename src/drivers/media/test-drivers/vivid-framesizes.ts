import { kerr } from '../../../lib/index.ts';
import {
  V4L2_FRMIVAL_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_DISCRETE,
  V4L2_FRMSIZE_TYPE_STEPWISE,
  V4L2_PIX_FMT_YUYV,
  type V4l2Fract,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
} from '../../../uapi/index.ts';

/** Limits of vivid's capture frame (MIN_WIDTH, MAX_WIDTH, ...) and how far its scaler zooms (MAX_ZOOM). */
export const VIVID_MIN_WIDTH = 16;
export const VIVID_MIN_HEIGHT = 16;
export const VIVID_MAX_WIDTH = 4096;
export const VIVID_MAX_HEIGHT = 2304;
const MAX_ZOOM = 4;

/** vivid's webcam frame sizes, smallest first (webcam_sizes). */
export const WEBCAM_SIZES: readonly { width: number; height: number }[] = [
  { width: 320, height: 180 },
  { width: 640, height: 360 },
  { width: 640, height: 480 },
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
  { width: 3840, height: 2160 },
];

/**
 * vivid's webcam frame intervals, longest first (webcam_intervals): a
 * frame size of index i offers the first 2*(6-i) of them, so larger
 * frames cannot go as fast.
 */
export const WEBCAM_INTERVALS: readonly V4l2Fract[] = [
  [1, 1], [1, 2], [1, 4], [1, 5], [1, 10], [2, 25], [1, 15], [1, 25], [1, 30], [1, 40], [1, 50], [1, 60],
].map(([numerator, denominator]) => ({ numerator: numerator!, denominator: denominator! }));

/** Index of the webcam size nearest `w`x`h`, the first on a tie (v4l2_find_nearest_size). */
export function nearestWebcamSize(w: number, h: number): number {
  let best = 0;
  let bestErr = Infinity;
  for (let i = 0; i < WEBCAM_SIZES.length; i++) {
    const err = Math.abs(WEBCAM_SIZES[i]!.width - w) + Math.abs(WEBCAM_SIZES[i]!.height - h);
    if (err < bestErr) {
      bestErr = err;
      best = i;
    }
  }
  return best;
}

/** How many webcam intervals the webcam size of index `i` offers. */
export function webcamIvalCount(i: number): number {
  return 2 * (WEBCAM_SIZES.length - i);
}

/** True for a pixel format vivid's capture takes (vivid_get_format), of those modelled here. */
function vividKnowsFormat(fourcc: number): boolean {
  return fourcc >>> 0 === V4L2_PIX_FMT_YUYV;
}

/**
 * Describes frame size `fs.index` of the capture node for the current
 * input (vidioc_enum_framesizes): the webcam lists its six discrete sizes;
 * the other inputs, whose scaler is on by default, one stepwise range
 * from 16x16 to four times vivid's largest frame in steps of two. EINVAL
 * for a format vivid does not have, or past the last size.
 */
export function vividEnumFramesizes(webcam: boolean, fs: V4l2Frmsizeenum): void {
  if (!vividKnowsFormat(fs.pixel_format)) throw kerr('EINVAL', `vivid: no format 0x${(fs.pixel_format >>> 0).toString(16)}`);
  const index = fs.index >>> 0;
  if (webcam) {
    const size = WEBCAM_SIZES[index];
    if (!size) throw kerr('EINVAL', `vivid: no frame size ${index}`);
    fs.type = V4L2_FRMSIZE_TYPE_DISCRETE;
    fs.discrete = { ...size };
    return;
  }
  if (index !== 0) throw kerr('EINVAL', `vivid: no frame size ${index}`);
  fs.type = V4L2_FRMSIZE_TYPE_STEPWISE;
  fs.stepwise = {
    min_width: VIVID_MIN_WIDTH,
    max_width: VIVID_MAX_WIDTH * MAX_ZOOM,
    step_width: 2,
    min_height: VIVID_MIN_HEIGHT,
    max_height: VIVID_MAX_HEIGHT * MAX_ZOOM,
    step_height: 2,
  };
}

/**
 * Describes frame interval `fi.index` for a format and size
 * (vidioc_enum_frameintervals): on the webcam, the intervals its size
 * offers, EINVAL for a size it does not have; on another input, its one
 * current interval `current` for any size within the scaler's range.
 * EINVAL for a format vivid does not have, or past the last interval.
 */
export function vividEnumFrameintervals(webcam: boolean, current: V4l2Fract, fi: V4l2Frmivalenum): void {
  if (!vividKnowsFormat(fi.pixel_format)) throw kerr('EINVAL', `vivid: no format 0x${(fi.pixel_format >>> 0).toString(16)}`);
  const index = fi.index >>> 0;
  const w = fi.width >>> 0;
  const h = fi.height >>> 0;
  if (!webcam) {
    if (index !== 0) throw kerr('EINVAL', `vivid: no frame interval ${index}`);
    if (w < VIVID_MIN_WIDTH || w > VIVID_MAX_WIDTH * MAX_ZOOM || h < VIVID_MIN_HEIGHT || h > VIVID_MAX_HEIGHT * MAX_ZOOM) throw kerr('EINVAL', `vivid: no frame size ${w}x${h}`);
    fi.type = V4L2_FRMIVAL_TYPE_DISCRETE;
    fi.discrete = { ...current };
    return;
  }
  const size = WEBCAM_SIZES.findIndex((s) => s.width === w && s.height === h);
  if (size < 0) throw kerr('EINVAL', `vivid: the webcam has no ${w}x${h}`);
  if (index >= webcamIvalCount(size)) throw kerr('EINVAL', `vivid: no frame interval ${index} at ${w}x${h}`);
  fi.type = V4L2_FRMIVAL_TYPE_DISCRETE;
  fi.discrete = { ...WEBCAM_INTERVALS[index]! };
}
