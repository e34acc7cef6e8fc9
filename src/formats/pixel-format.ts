import { kerr } from '../lib/index.ts';
import { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_XBGR32, V4L2_PIX_FMT_YUYV } from '../uapi/index.ts';

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

const V4L2_FOURCC: Record<FrameFormat['fourcc'], number> = { YUYV: V4L2_PIX_FMT_YUYV, XR24: V4L2_PIX_FMT_XBGR32, NV12: V4L2_PIX_FMT_NV12 };

/** The V4L2 pixelformat of a frame layout, and back (the drivers' format tables, each driver's struct of fourcc and bpp). */
export function v4l2PixelFormat(fourcc: FrameFormat['fourcc']): number {
  return V4L2_FOURCC[fourcc];
}

/** The frame layout name of a V4L2 pixelformat, or null when no driver here produces it. */
export function frameFourcc(pixelformat: number): FrameFormat['fourcc'] | null {
  for (const [k, v] of Object.entries(V4L2_FOURCC)) if (v === pixelformat) return k as FrameFormat['fourcc'];
  return null;
}
