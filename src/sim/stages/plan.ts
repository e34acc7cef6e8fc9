import { frameFormat, type FrameFormat } from '../../formats/index.ts';
import type { ScenarioSpec, StageKind } from '../scenario-schema.ts';

/** The platform device kind each stage drives (null: the CPU). */
export const STAGE_DEVICE_KIND: Record<StageKind, string | null> = {
  capture: 'camera',
  decode: 'video',
  render: 'gpu',
  convert: 'isp',
  compose: 'gpu',
  cpu: null,
  display: 'display',
  'usb-display': 'usb',
  encode: 'jpeg',
  'jpeg-decode': 'jpeg',
  audio: 'audio',
};

/** The device node each stage opens, as bootSystem registers them. */
export const STAGE_NODE: Record<StageKind, string> = {
  capture: '/dev/video8',
  decode: '/dev/video12',
  render: '/dev/dri/card2',
  convert: '/dev/video9',
  compose: '/dev/dri/card2',
  cpu: '',
  display: '/dev/dri/card1',
  'usb-display': '/dev/dri/card3',
  encode: '/dev/video10',
  'jpeg-decode': '/dev/video11',
  audio: '/dev/snd/pcmC0D0p',
};

/** A pipeline that cannot work, found before anything runs: which process and field. */
export class StagePlanError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The frames a stage takes in and gives out. */
export interface StageFormats {
  inFmt: FrameFormat | null;
  outFmt: FrameFormat | null;
}

const SOURCES: StageKind[] = ['capture', 'decode', 'render'];
const ALONE: StageKind[] = ['jpeg-decode', 'audio'];
const SINKS: StageKind[] = ['display', 'usb-display', 'encode'];

/**
 * Follows the frames through a process pipeline: a source first, a sink
 * (or a checking CPU stage) last, and at each link the format one stage
 * gives is one the next can take. Throws StagePlanError naming the
 * process and field that break it.
 */
export function planFormats(spec: ScenarioSpec): StageFormats[] {
  const stages = spec.processes ?? [];
  const { width, height } = spec.format;
  const out: StageFormats[] = [];
  let prev: FrameFormat | null = null;
  stages.forEach((st, i) => {
    const fail = (field: string, msg: string): never => {
      throw new StagePlanError(i, field, msg);
    };
    if (ALONE.includes(st.stage)) {
      if (stages.length !== 1) fail('stage', `a ${st.stage} process runs alone`);
    } else if (SOURCES.includes(st.stage) !== (i === 0)) {
      fail('stage', i === 0 ? `a pipeline starts with a source (${SOURCES.join(', ')}), not ${st.stage}` : `a ${st.stage} process can only come first`);
    }
    if (SINKS.includes(st.stage) && i !== stages.length - 1) fail('stage', `a ${st.stage} process ends the pipeline`);
    if (i === stages.length - 1 && i > 0 && !SINKS.includes(st.stage) && st.stage !== 'cpu') fail('stage', `the last process must consume the frames (display, usb-display, encode or cpu), not ${st.stage}`);
    switch (st.stage) {
      case 'capture': {
        const fourcc = st.fourcc ?? spec.format.fourcc;
        if (fourcc === 'NV12') fail('fourcc', 'the camera gives YUYV or XR24');
        prev = frameFormat(width, height, fourcc);
        out.push({ inFmt: null, outFmt: prev });
        return;
      }
      case 'decode':
        if (spec.format.fourcc === 'YUYV') fail('stage', 'the decoder gives NV12 or XR24 (set format.fourcc)');
        prev = frameFormat(width, height, spec.format.fourcc);
        out.push({ inFmt: null, outFmt: prev });
        return;
      case 'render':
        if (spec.format.fourcc !== 'XR24') fail('stage', 'the GPU renders XR24 (set format.fourcc)');
        prev = frameFormat(width, height, 'XR24');
        out.push({ inFmt: null, outFmt: prev });
        return;
      case 'jpeg-decode':
        out.push({ inFmt: null, outFmt: frameFormat(width, height, spec.format.fourcc) });
        return;
      case 'audio':
        out.push({ inFmt: null, outFmt: null });
        return;
      case 'convert': {
        const src = prev!;
        if (src.fourcc === 'XR24') fail('stage', 'the ISP takes YUYV or NV12, and gets XR24 here');
        const fourcc = st.fourcc ?? 'XR24';
        if (fourcc === 'YUYV') fail('fourcc', 'the ISP gives NV12 or XR24');
        if (src.width % (4 * st.scale) !== 0 || src.height % (4 * st.scale) !== 0) fail('scale', `the ISP needs sizes in multiples of ${4 * st.scale} for scale ${st.scale} (have ${src.width}x${src.height})`);
        prev = frameFormat(src.width / st.scale, src.height / st.scale, fourcc);
        out.push({ inFmt: src, outFmt: prev });
        return;
      }
      case 'compose':
        if (prev!.fourcc !== 'XR24') fail('stage', `the GPU composes XR24 frames, and gets ${prev!.fourcc} here`);
        out.push({ inFmt: prev, outFmt: prev });
        return;
      case 'cpu':
        if (st.rows > prev!.height) fail('rows', `exceeds the frame height ${prev!.height}`);
        out.push({ inFmt: prev, outFmt: prev });
        return;
      case 'display':
      case 'usb-display':
        if (prev!.fourcc !== 'XR24') fail('stage', `the display scans out XR24, and gets ${prev!.fourcc} here`);
        out.push({ inFmt: prev, outFmt: null });
        return;
      case 'encode':
        out.push({ inFmt: prev, outFmt: null });
        return;
    }
  });
  return out;
}
