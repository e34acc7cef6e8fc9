import { kerr } from '../lib/index.ts';

/** A frame layout: fourcc, bytes per pixel of the first plane, planes' sizes. */
export interface FrameFormat {
  width: number;
  height: number;
  fourcc: 'YUYV' | 'XR24' | 'NV12';
  /** Bytes per line of the first plane (bytesperline / pitch). */
  stride: number;
  /** Bytes of the whole frame (sizeimage). */
  size: number;
}

/** Builds a frame format with Linux's stride and size rules (v4l2_fill_pixfmt / drm dumb pitch). */
export function frameFormat(width: number, height: number, fourcc: FrameFormat['fourcc']): FrameFormat {
  if (!(width > 0 && height > 0) || !Number.isInteger(width) || !Number.isInteger(height)) throw kerr('EINVAL', `bad frame size ${width}x${height}`);
  switch (fourcc) {
    case 'YUYV':
      return { width, height, fourcc, stride: width * 2, size: width * 2 * height };
    case 'XR24':
      return { width, height, fourcc, stride: width * 4, size: width * 4 * height };
    case 'NV12': {
      const h = height + Math.ceil(height / 2);
      return { width, height, fourcc, stride: width, size: width * h };
    }
  }
}
