import { chrdevFindFreeMinor, PollTable, registerChrdev, userArg, type ChrdevSysfs, type DeviceNode, type File, type FileOperations, type Task, type Vfs } from '../../../fs/index.ts';
import { kerr } from '../../../lib/index.ts';
import {
  O_NONBLOCK,
  POLLERR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
  V4L2_CAP_DEVICE_CAPS,
  V4L2_CAP_EXT_PIX_FORMAT,
  V4L2_CAP_IO_MC,
  V4L2_FIELD_ALTERNATE,
  V4L2_FIELD_ANY,
  V4L2_INPUT_TYPE_CAMERA,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_USERPTR,
  V4L2_MODE_HIGHQUALITY,
  V4L2_OUTPUT_TYPE_ANALOG,
  VIDIOC_DQBUF,
  VIDIOC_ENUMINPUT,
  VIDIOC_ENUMOUTPUT,
  VIDIOC_ENUM_FMT,
  VIDIOC_ENUM_FRAMEINTERVALS,
  VIDIOC_ENUM_FRAMESIZES,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_G_INPUT,
  VIDIOC_G_OUTPUT,
  VIDIOC_G_PARM,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_CREATE_BUFS,
  VIDIOC_PREPARE_BUF,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_S_INPUT,
  VIDIOC_S_OUTPUT,
  VIDIOC_S_PARM,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Capability,
  type V4l2ExportBuffer,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2Frmivalenum,
  type V4l2Frmsizeenum,
  type V4l2Input,
  type V4l2Output,
  type V4l2CreateBuffers,
  type V4l2RequestBuffers,
  type V4l2Streamparm,
} from '../../../uapi/index.ts';
import { clearFmtdesc, fillFmtdesc } from './fmtdesc.ts';
import type { Vb2Buffer, Vb2Queue } from '../videobuf2/vb2-core.ts';
import {
  vb2CheckOwner,
  vb2Expbuf,
  vb2IoctlDqbuf,
  vb2IoctlQbuf,
  vb2IoctlCreateBufs,
  vb2IoctlPrepareBuf,
  vb2IoctlReqbufs,
  vb2IoctlStreamoff,
  vb2IoctlStreamon,
  vb2Querybuf,
} from '../videobuf2/vb2-v4l2.ts';

/** Major number of V4L2 device nodes (VIDEO_MAJOR). */
export const VIDEO_MAJOR = 81;

/** Device node numbers V4L2 hands out (VIDEO_NUM_DEVICES). */
const VIDEO_NUM_DEVICES = 256;

/**
 * The N of the next /dev/videoN (the number __video_register_device picks):
 * the driver's wish `nr` when it is free, else the first free number after
 * it (wrapping around), or the first free one for -1. So a second camera
 * whose driver asks for 8 again gets the next free node. ENFILE when all
 * are taken.
 */
export function videoDevnodeNr(vfs: Vfs, nr: number): number {
  return chrdevFindFreeMinor(vfs, VIDEO_MAJOR, nr < 0 ? 0 : nr, VIDEO_NUM_DEVICES);
}

/** LINUX_VERSION_CODE of the kernel the ABI follows, reported by QUERYCAP. */
export const V4L2_KERNEL_VERSION = (6 << 16) | (1 << 8);

/** The group udev gives video nodes on Debian ("video"). */
export const VIDEO_GID = 44;

/**
 * What a driver implements for its node (the v4l2_ioctl_ops it needs).
 * The format and parameter calls see only the buffer type the node
 * serves; the core has checked it (EINVAL otherwise). An optional op the
 * driver leaves out makes its ioctl ENOTTY, as video_ioctl2 does for an
 * ioctl with no handler.
 */
export interface V4l2IoctlOps {
  /** Fills in driver, card, bus_info and capabilities (vidioc_querycap). */
  querycap(file: File, cap: V4l2Capability): void;
  /** Reports the current format (vidioc_g_fmt_vid_cap). */
  gFmt(file: File, f: V4l2Format): void;
  /** Adjusts and sets the format; EBUSY while buffers exist (vidioc_s_fmt_vid_cap). May sleep. */
  sFmt(file: File, f: V4l2Format): void | Promise<void>;
  /**
   * Sets `f.pixelformat` (and flags) of the `f.index`-th format; EINVAL
   * past the last (vidioc_enum_fmt_vid_cap). The core names known formats.
   */
  enumFmt?(file: File, f: V4l2Fmtdesc): void;
  /** Corrects `f` as S_FMT would, changing nothing (vidioc_try_fmt_vid_cap). */
  tryFmt?(file: File, f: V4l2Format): void;
  /** Reports the streaming parameters, the frame interval (vidioc_g_parm). */
  gParm?(file: File, p: V4l2Streamparm): void;
  /** Sets the streaming parameters and writes back what it set (vidioc_s_parm). May sleep. */
  sParm?(file: File, p: V4l2Streamparm): void | Promise<void>;
  /** Describes the `index`-th frame size of a pixel format; EINVAL past the last or for another format (vidioc_enum_framesizes). */
  enumFramesizes?(file: File, fs: V4l2Frmsizeenum): void;
  /** Describes the `index`-th frame interval of a format and size; EINVAL past the last (vidioc_enum_frameintervals). */
  enumFrameintervals?(file: File, fi: V4l2Frmivalenum): void;
  /** Describes input `inp.index` (the core cleared the rest); EINVAL past the last (vidioc_enum_input). */
  enumInput?(file: File, inp: V4l2Input): void;
  /** The index of the current input (vidioc_g_input). */
  gInput?(file: File): number;
  /** Selects input `i`; EINVAL past the last, EBUSY when the switch is not allowed now (vidioc_s_input). May sleep. */
  sInput?(file: File, i: number): void | Promise<void>;
  /** Describes output `out.index` (the core cleared the rest); EINVAL past the last (vidioc_enum_output). */
  enumOutput?(file: File, out: V4l2Output): void;
  /** The index of the current output (vidioc_g_output). */
  gOutput?(file: File): number;
  /** Selects output `o`; EINVAL past the last, EBUSY when the switch is not allowed now (vidioc_s_output). May sleep. */
  sOutput?(file: File, o: number): void | Promise<void>;
}

/** What videoRegisterDevice takes. */
export interface VideoDeviceOptions {
  vfs: Vfs;
  /** N of /dev/videoN (and the minor number). */
  nr: number;
  /** The node's name (video_device.name), for messages. */
  name: string;
  /** V4L2_CAP_* bits of this node (video_device.device_caps). */
  deviceCaps: number;
  queue: Vb2Queue;
  ioctlOps: V4l2IoctlOps;
  /** The parent device's directory below /sys/devices (e.g. "platform/vivid.0"); default a virtual device. */
  sysfsParent?: string;
}

/**
 * Where a V4L2 node sits in sysfs (video_register_device's device_register
 * in the video4linux class): its `name` attribute prints the
 * video_device's name and `dev_debug` its debug level (0).
 */
export function videoSysfs(name: string, parent?: string): ChrdevSysfs {
  return { class: 'video4linux', parent, attrs: { name: () => `${name}\n`, dev_debug: () => '0\n' } };
}

/**
 * A V4L2 device node (struct video_device) with one vb2 queue, whose file
 * operations are the vb2_fop_* helpers and whose streaming ioctls are the
 * vb2_ioctl_* helpers: the file that allocates buffers owns the queue,
 * other files get EBUSY for the calls that change it (EXPBUF and QUERYBUF
 * stay open to all), and closing the owner stops streaming and frees the
 * buffers.
 */
export class VideoDevice {
  readonly nr: number;
  readonly name: string;
  readonly deviceCaps: number;
  readonly queue: Vb2Queue;
  readonly ioctlOps: V4l2IoctlOps;
  readonly node: DeviceNode;
  /** Files open on the node. */
  users = 0;

  constructor(opts: VideoDeviceOptions) {
    this.nr = videoDevnodeNr(opts.vfs, opts.nr);
    this.name = opts.name;
    this.deviceCaps = opts.deviceCaps;
    this.queue = opts.queue;
    this.ioctlOps = opts.ioctlOps;
    this.node = registerChrdev(opts.vfs, {
      path: `/dev/video${this.nr}`,
      major: VIDEO_MAJOR,
      minor: this.nr,
      mode: 0o660,
      gid: VIDEO_GID,
      fops: this.fops(),
      privateData: this,
      sysfs: videoSysfs(opts.name, opts.sysfsParent),
    });
  }

  /** Removes the node (video_unregister_device); open files keep working. */
  unregister(): void {
    this.node.unregister();
  }

  private fops(): FileOperations {
    return {
      name: 'v4l2',
      open: (_inode, file) => {
        file.privateData = this;
        this.users++;
      },
      release: async (_inode, file) => {
        this.users--;
        if (this.queue.owner === file) await this.queue.release();
      },
      read: async (file, len, _ppos, task) => {
        this.checkOwner(file);
        const out = await this.queue.read(task, len, (file.flags & O_NONBLOCK) !== 0);
        if (this.queue.fileioActive) this.queue.owner = file;
        return out;
      },
      unlockedIoctl: (file, cmd, arg, task) => this.ioctl(file, cmd, arg, task),
      mmap: (_file, vma) => this.queue.mmap(vma),
      poll: (file, pt) => (this.queue.isOutput ? outputPoll(this.queue, file, pt) : this.queue.poll(file, pt)),
    };
  }

  /** The driver's handler of an optional ioctl; ENOTTY when it has none (the ioctl is not in valid_ioctls). */
  private op<K extends OptionalOp>(name: K, cmd: number): NonNullable<V4l2IoctlOps[K]> {
    const fn = this.ioctlOps[name];
    if (!fn) throw kerr('ENOTTY', `${this.name}: no handler for ioctl 0x${(cmd >>> 0).toString(16)}`);
    return fn as NonNullable<V4l2IoctlOps[K]>;
  }

  /** EINVAL for a buffer type the node does not serve (check_fmt). */
  private checkType(type: number, what: string): void {
    if (type !== this.queue.type) throw kerr('EINVAL', `${what}: type ${type} not supported by ${this.name}`);
  }

  /** EBUSY when another file owns the queue (vb2_queue_is_busy). */
  private checkOwner(file: File): void {
    vb2CheckOwner(this.queue, file, this.name);
  }

  /**
   * Dispatches an ioctl (video_ioctl2 with the vb2_ioctl_* helpers):
   * ENOTTY for requests the node does not implement, EFAULT for a missing
   * argument, EINVAL for a format of another buffer type. A request that
   * cannot sleep returns its value at once, so that the system call ends
   * without a turn of its own, as it does in the kernel.
   */
  ioctl(file: File, cmd: number, arg: unknown, task: Task): number | Promise<number> {
    const q = this.queue;
    switch (cmd >>> 0) {
      case VIDIOC_QUERYCAP >>> 0: {
        const cap = userArg<V4l2Capability>(arg);
        cap.driver = '';
        cap.card = '';
        cap.bus_info = '';
        cap.capabilities = 0;
        this.ioctlOps.querycap(file, cap);
        cap.version = V4L2_KERNEL_VERSION;
        // every node supports the extended pix format fields, so the core sets the bit (v4l_querycap)
        cap.device_caps = (this.deviceCaps | V4L2_CAP_EXT_PIX_FORMAT) >>> 0;
        cap.capabilities = (cap.capabilities | this.deviceCaps | V4L2_CAP_DEVICE_CAPS | V4L2_CAP_EXT_PIX_FORMAT) >>> 0;
        cap.reserved = [0, 0, 0];
        return 0;
      }
      case VIDIOC_ENUMINPUT >>> 0: {
        const inp = userArg<V4l2Input>(arg);
        const ioMc = (this.deviceCaps & V4L2_CAP_IO_MC) !== 0;
        const op = ioMc ? null : this.op('enumInput', cmd);
        // everything after index is cleared before the driver fills it in (INFO_FL_CLEAR)
        Object.assign(inp, { name: '', type: 0, audioset: 0, tuner: 0, std: 0, status: 0, capabilities: 0, reserved: [0, 0, 0] });
        if (ioMc) {
          // a media-controller node has one input, named after the node (v4l_enuminput)
          if ((inp.index >>> 0) !== 0) throw kerr('EINVAL', `${this.name}: no input ${inp.index >>> 0}`);
          inp.name = this.name.slice(0, 31);
          inp.type = V4L2_INPUT_TYPE_CAMERA;
          return 0;
        }
        op!.call(this.ioctlOps, file, inp);
        return 0;
      }
      case VIDIOC_G_INPUT >>> 0: {
        const out = userArg<{ value: number }>(arg);
        out.value = this.deviceCaps & V4L2_CAP_IO_MC ? 0 : this.op('gInput', cmd).call(this.ioctlOps, file);
        return 0;
      }
      case VIDIOC_ENUMOUTPUT >>> 0: {
        const out = userArg<V4l2Output>(arg);
        const ioMc = (this.deviceCaps & V4L2_CAP_IO_MC) !== 0;
        const op = ioMc ? null : this.op('enumOutput', cmd);
        Object.assign(out, { name: '', type: 0, audioset: 0, modulator: 0, std: 0, capabilities: 0, reserved: [0, 0, 0] });
        if (ioMc) {
          // a media-controller node has one output, named after the node (v4l_enumoutput)
          if ((out.index >>> 0) !== 0) throw kerr('EINVAL', `${this.name}: no output ${out.index >>> 0}`);
          out.name = this.name.slice(0, 31);
          out.type = V4L2_OUTPUT_TYPE_ANALOG;
          return 0;
        }
        op!.call(this.ioctlOps, file, out);
        return 0;
      }
      case VIDIOC_G_OUTPUT >>> 0: {
        const out = userArg<{ value: number }>(arg);
        out.value = this.deviceCaps & V4L2_CAP_IO_MC ? 0 : this.op('gOutput', cmd).call(this.ioctlOps, file);
        return 0;
      }
      case VIDIOC_G_FMT >>> 0: {
        const f = userArg<V4l2Format>(arg);
        if (f.type !== q.type) throw kerr('EINVAL', `G_FMT: type ${f.type} not supported by ${this.name}`);
        this.ioctlOps.gFmt(file, f);
        return 0;
      }
      case VIDIOC_ENUM_FMT >>> 0: {
        const op = this.op('enumFmt', cmd);
        const f = userArg<V4l2Fmtdesc>(arg);
        this.checkType(f.type, 'ENUM_FMT');
        clearFmtdesc(f);
        op.call(this.ioctlOps, file, f);
        fillFmtdesc(f);
        return 0;
      }
      case VIDIOC_TRY_FMT >>> 0: {
        const op = this.op('tryFmt', cmd);
        const f = userArg<V4l2Format>(arg);
        this.checkType(f.type, 'TRY_FMT');
        op.call(this.ioctlOps, file, f);
        return 0;
      }
      case VIDIOC_G_PARM >>> 0: {
        const op = this.op('gParm', cmd);
        const p = userArg<V4l2Streamparm>(arg);
        this.checkType(p.type, 'G_PARM');
        // the core clears everything after type before the driver fills it in
        p.parm = isOutputType(p.type)
          ? { output: { capability: 0, outputmode: 0, timeperframe: { numerator: 0, denominator: 0 }, extendedmode: 0, writebuffers: 0, reserved: [0, 0, 0, 0] } }
          : { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 0, denominator: 0 }, extendedmode: 0, readbuffers: 0, reserved: [0, 0, 0, 0] } };
        op.call(this.ioctlOps, file, p);
        return 0;
      }
      case VIDIOC_ENUM_FRAMESIZES >>> 0: {
        const op = this.op('enumFramesizes', cmd);
        const fs = userArg<V4l2Frmsizeenum>(arg);
        fs.type = 0;
        delete fs.discrete;
        delete fs.stepwise;
        fs.reserved = [0, 0];
        op.call(this.ioctlOps, file, fs);
        return 0;
      }
      case VIDIOC_ENUM_FRAMEINTERVALS >>> 0: {
        const op = this.op('enumFrameintervals', cmd);
        const fi = userArg<V4l2Frmivalenum>(arg);
        fi.type = 0;
        delete fi.discrete;
        delete fi.stepwise;
        fi.reserved = [0, 0];
        op.call(this.ioctlOps, file, fi);
        return 0;
      }
      case VIDIOC_QUERYBUF >>> 0:
        vb2Querybuf(q, userArg<V4l2Buffer>(arg));
        return 0;
      case VIDIOC_EXPBUF >>> 0:
        vb2Expbuf(q, task, userArg<V4l2ExportBuffer>(arg));
        return 0;
      default:
        // the requests that may sleep (a driver's s_fmt, the queue's locks and waits)
        return this.ioctlSleeping(file, cmd, arg, task);
    }
  }

  /** The requests that may sleep, for ioctl. */
  private async ioctlSleeping(file: File, cmd: number, arg: unknown, task: Task): Promise<number> {
    const q = this.queue;
    switch (cmd >>> 0) {
      case VIDIOC_S_INPUT >>> 0: {
        const i = intArg(arg) >>> 0;
        if (this.deviceCaps & V4L2_CAP_IO_MC) {
          if (i !== 0) throw kerr('EINVAL', `${this.name}: no input ${i}`);
          return 0;
        }
        await this.op('sInput', cmd).call(this.ioctlOps, file, i);
        return 0;
      }
      case VIDIOC_S_OUTPUT >>> 0: {
        const o = intArg(arg) >>> 0;
        if (this.deviceCaps & V4L2_CAP_IO_MC) {
          if (o !== 0) throw kerr('EINVAL', `${this.name}: no output ${o}`);
          return 0;
        }
        await this.op('sOutput', cmd).call(this.ioctlOps, file, o);
        return 0;
      }
      case VIDIOC_S_FMT >>> 0: {
        const f = userArg<V4l2Format>(arg);
        if (f.type !== q.type) throw kerr('EINVAL', `S_FMT: type ${f.type} not supported by ${this.name}`);
        await this.ioctlOps.sFmt(file, f);
        return 0;
      }
      case VIDIOC_S_PARM >>> 0: {
        const op = this.op('sParm', cmd);
        const p = userArg<V4l2Streamparm>(arg);
        this.checkType(p.type, 'S_PARM');
        const side = isOutputType(p.type) ? p.parm?.output : p.parm?.capture;
        if (!side || !side.timeperframe) throw kerr('EFAULT', 'S_PARM: no parameters');
        // extendedmode is never used and only the high-quality mode bit is kept (v4l_s_parm)
        side.extendedmode = 0;
        side.reserved = [0, 0, 0, 0];
        if ('capturemode' in side) side.capturemode = (side.capturemode >>> 0) & V4L2_MODE_HIGHQUALITY;
        else side.outputmode = (side.outputmode >>> 0) & V4L2_MODE_HIGHQUALITY;
        await op.call(this.ioctlOps, file, p);
        return 0;
      }
      case VIDIOC_REQBUFS >>> 0: {
        await vb2IoctlReqbufs(q, file, userArg<V4l2RequestBuffers>(arg), this.name);
        return 0;
      }
      case VIDIOC_CREATE_BUFS >>> 0:
        await vb2IoctlCreateBufs(q, file, userArg<V4l2CreateBuffers>(arg), this.name);
        return 0;
      case VIDIOC_PREPARE_BUF >>> 0:
        await vb2IoctlPrepareBuf(q, file, task, userArg<V4l2Buffer>(arg), this.name);
        return 0;
      case VIDIOC_QBUF >>> 0: {
        const b = userArg<V4l2Buffer>(arg);
        const vb = q.isOutput ? q.bufs[b.index] : undefined;
        const before = vb ? { bytesused: vb.bytesused, field: vb.field } : null;
        if (vb && vb.state === 'dequeued' && b.type === q.type) fillOutputBuffer(q, vb, b);
        try {
          await vb2IoctlQbuf(q, file, task, b, this.name);
        } catch (e) {
          if (vb && before && vb.state === 'dequeued') Object.assign(vb, before);
          throw e;
        }
        return 0;
      }
      case VIDIOC_DQBUF >>> 0:
        await vb2IoctlDqbuf(q, file, task, userArg<V4l2Buffer>(arg), (file.flags & O_NONBLOCK) !== 0, this.name);
        return 0;
      case VIDIOC_STREAMON >>> 0:
        await vb2IoctlStreamon(q, file, intArg(arg), this.name);
        return 0;
      case VIDIOC_STREAMOFF >>> 0:
        await vb2IoctlStreamoff(q, file, intArg(arg), this.name);
        return 0;
      default:
        throw kerr('ENOTTY', `${this.name}: unknown ioctl 0x${(cmd >>> 0).toString(16)}`);
    }
  }
}

type OptionalOp =
  | 'enumFmt'
  | 'tryFmt'
  | 'gParm'
  | 'sParm'
  | 'enumFramesizes'
  | 'enumFrameintervals'
  | 'enumInput'
  | 'gInput'
  | 'sInput'
  | 'enumOutput'
  | 'gOutput'
  | 'sOutput';

/**
 * The poll mask of an output queue (vb2_core_poll for is_output): nothing
 * unless the caller asks for output events, POLLOUT|POLLWRNORM once a
 * buffer is done, POLLERR when not streaming. The queue signals a done
 * buffer with the capture events, so the poll listens for those too.
 */
function outputPoll(q: Vb2Queue, file: File, pt: PollTable | null): number {
  if (pt && !(pt.key & (POLLOUT | POLLWRNORM))) return 0;
  const all = pt ? new PollTable(pt.qproc, pt.key | POLLIN | POLLRDNORM) : null;
  const mask = q.poll(file, all);
  return (mask & POLLERR) | (mask & POLLIN ? POLLOUT | POLLWRNORM : 0);
}

/**
 * Takes what userspace says of an OUTPUT buffer it queues
 * (vb2_fill_vb2_v4l2_buffer with __verify_length): the bytes it filled,
 * the whole plane when it says 0, EINVAL past the plane's length, and its
 * field, EINVAL for ALTERNATE (an output buffer must say TOP or BOTTOM).
 */
function fillOutputBuffer(q: Vb2Queue, vb: Vb2Buffer, b: V4l2Buffer): void {
  const userLength = q.memory === V4L2_MEMORY_USERPTR || q.memory === V4L2_MEMORY_DMABUF;
  const length = userLength ? b.length >>> 0 : vb.length;
  const bytesused = b.bytesused >>> 0;
  if (bytesused > length) throw kerr('EINVAL', `qbuf: bytesused ${bytesused} > length ${length}`);
  const field = (b.field ?? V4L2_FIELD_ANY) >>> 0;
  if (field === V4L2_FIELD_ALTERNATE) throw kerr('EINVAL', 'qbuf: the field of an output buffer cannot be ALTERNATE');
  vb.bytesused = bytesused || length;
  vb.field = field;
}

/** True for output buffer types (V4L2_TYPE_IS_OUTPUT, for the types here). */
function isOutputType(type: number): boolean {
  return type === V4L2_BUF_TYPE_VIDEO_OUTPUT || type === V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

/** Reads an int-pointer argument: a number or `{ value }`; EFAULT otherwise. */
function intArg(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { value?: unknown }).value === 'number') return (arg as { value: number }).value;
  throw kerr('EFAULT', 'bad int pointer');
}

/** Creates /dev/video`nr` for a driver's queue (video_register_device). EEXIST when the node exists. */
export function videoRegisterDevice(opts: VideoDeviceOptions): VideoDevice {
  return new VideoDevice(opts);
}
