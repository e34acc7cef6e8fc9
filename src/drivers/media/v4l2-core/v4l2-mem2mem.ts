import type { Device } from '../../../dma/index.ts';
import { PollTable, registerChrdev, userArg, type DeviceNode, type File, type FileOperations, type Task, type Vfs } from '../../../fs/index.ts';
import type { Clock } from '../../../hw/index.ts';
import { KernelBug, PAGE_SIZE, kerr } from '../../../lib/index.ts';
import {
  O_NONBLOCK,
  POLLERR,
  POLLIN,
  POLLOUT,
  POLLRDNORM,
  POLLWRNORM,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_CAP_DEVICE_CAPS,
  V4L2_CAP_STREAMING,
  V4L2_BUF_FLAG_TIMESTAMP_COPY,
  V4L2_CAP_VIDEO_M2M,
  V4L2_MEMORY_MMAP,
  VIDIOC_DQBUF,
  VIDIOC_ENUM_FMT,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  VIDIOC_S_FMT,
  VIDIOC_TRY_FMT,
  type V4l2Buffer,
  type V4l2Capability,
  type V4l2ExportBuffer,
  type V4l2Fmtdesc,
  type V4l2Format,
  type V4l2RequestBuffers,
} from '../../../uapi/index.ts';
import { Vb2Queue, type Vb2Buffer, type Vb2MemOps } from '../videobuf2/index.ts';
import { vb2Dqbuf, vb2Expbuf, vb2Qbuf, vb2Querybuf, vb2Reqbufs, vb2Streamoff, vb2Streamon } from '../videobuf2/vb2-v4l2.ts';
import { clearFmtdesc, fillFmtdesc } from './fmtdesc.ts';
import { V4L2_KERNEL_VERSION, VIDEO_GID, VIDEO_MAJOR, videoDevnodeNr, videoSysfs } from './video-device.ts';

/**
 * mmap offsets at and above this name CAPTURE buffers (DST_QUEUE_OFF_BASE):
 * both queues number their offsets from 0, so the node tells them apart.
 */
export const M2M_DST_QUEUE_OFF_BASE = 1 << 30;

/**
 * One job as the driver sees it: `sequence` is what the CAPTURE buffer
 * will report, the context's job count unless the driver sets another
 * (a decoder's frame number, even when the job fails).
 */
export interface M2mJob {
  sequence: number;
}

/**
 * What a mem-to-mem driver implements (v4l2_m2m_ops, its format ioctls
 * and the vb2 hooks it adds to the m2m helpers'). An optional format op
 * left out makes its ioctl ENOTTY.
 */
export interface M2mNodeOps<S> {
  /** Per-file driver state (the driver's ctx), made at open. */
  createState(): S;
  /** Sizes of the plane of queue `type` (OUTPUT or CAPTURE) for the file's current formats (queue_setup). */
  planeSize(state: S, type: number): number;
  /** Reports the format of queue `f.type` (vidioc_g_fmt_vid_out / _cap). */
  gFmt(state: S, f: V4l2Format): void;
  /** Adjusts and sets the format of queue `f.type`; the core has refused it with EBUSY while that queue has buffers. */
  sFmt(state: S, f: V4l2Format): void;
  /**
   * Runs one job (device_run + the interrupt that ends it): reads `src`,
   * writes `dst` by the device's DMA and sets dst.bytesused; a throw marks
   * both buffers ERROR. May sleep (simulated device time).
   */
  deviceRun(state: S, src: Vb2Buffer, dst: Vb2Buffer, job: M2mJob): Promise<void>;
  /**
   * Sets `f.pixelformat` (and flags, and a description for formats the
   * core does not know) of the `f.index`-th format of queue `f.type`;
   * EINVAL past the last (vidioc_enum_fmt_vid_out / _cap).
   */
  enumFmt?(state: S, f: V4l2Fmtdesc): void;
  /** Corrects `f` as S_FMT would, changing nothing (vidioc_try_fmt_vid_out / _cap). */
  tryFmt?(state: S, f: V4l2Format): void;
  /**
   * The driver's part of stop_streaming on queue `type`, after the m2m
   * helpers waited for the context's job and gave back its waiting
   * buffers. May sleep.
   */
  stopStreaming?(state: S, type: number): void | Promise<void>;
  /** Frees the file's driver state when it closes, after both queues are released (the driver's release). May sleep. */
  release?(state: S): void | Promise<void>;
}

/** One open file of an m2m node (struct v4l2_m2m_ctx): its two queues and the buffers ready for jobs. */
export class M2mContext<S> {
  readonly node: M2mNode<S>;
  readonly file: File;
  readonly state: S;
  readonly srcQ: Vb2Queue;
  readonly dstQ: Vb2Queue;
  /** Buffers handed over by buf_queue, waiting for a job (rdy_queue of each side). */
  readonly srcReady: Vb2Buffer[] = [];
  readonly dstReady: Vb2Buffer[] = [];
  /** The job of this context being run, if any. */
  running: Promise<void> | null = null;
  /** Jobs completed. */
  jobs = 0;

  constructor(node: M2mNode<S>, file: File) {
    this.node = node;
    this.file = file;
    this.state = node.ops.createState();
    const mk = (type: number, ready: Vb2Buffer[]) =>
      new Vb2Queue({
        type,
        ioModes: node.ioModes,
        memOps: node.memOps,
        dev: node.dev.device,
        clock: node.dev.clock,
        timestampFlags: node.timestampFlags,
        ops: {
          queueSetup: (_q, count) => ({ count: Math.max(count, 1), size: node.ops.planeSize(this.state, type) }),
          bufPrepare: (vb) => {
            const need = node.ops.planeSize(this.state, type);
            if (vb.planeSize < need) throw kerr('EINVAL', `${node.name}: plane of ${vb.planeSize} bytes < ${need}`);
          },
          bufQueue: (vb) => {
            ready.push(vb);
            node.dev.trySchedule();
          },
          startStreaming: () => node.dev.trySchedule(),
          stopStreaming: (q) => this.stopStreaming(q, ready),
        },
      });
    this.srcQ = mk(V4L2_BUF_TYPE_VIDEO_OUTPUT, this.srcReady);
    this.dstQ = mk(V4L2_BUF_TYPE_VIDEO_CAPTURE, this.dstReady);
  }

  /** True when both queues stream and each has a buffer ready (v4l2_m2m_try_schedule's test). */
  get ready(): boolean {
    return this.running === null && this.srcQ.startStreamingCalled && this.dstQ.startStreamingCalled && this.srcReady.length > 0 && this.dstReady.length > 0;
  }

  /** The queue of buffer type `type`; EINVAL for any other type. */
  queueOf(type: number): Vb2Queue {
    if (type === V4L2_BUF_TYPE_VIDEO_OUTPUT) return this.srcQ;
    if (type === V4L2_BUF_TYPE_VIDEO_CAPTURE) return this.dstQ;
    throw kerr('EINVAL', `${this.node.name}: buffer type ${type} not supported`);
  }

  /** Waits for this context's job, gives back every buffer still waiting on `q` as failed, then runs the driver's stop. */
  private async stopStreaming(q: Vb2Queue, ready: Vb2Buffer[]): Promise<void> {
    if (this.running) await this.running;
    while (ready.length > 0) q.bufferDone(ready.shift()!, 'error');
    await this.node.ops.stopStreaming?.(this.state, q.type);
  }
}

/**
 * A mem-to-mem device (struct v4l2_m2m_dev): one engine shared by every
 * node and file, running one job at a time in the order contexts became
 * ready, each job on the simulated clock.
 */
export class M2mDevice {
  readonly device: Device;
  readonly clock: Clock;
  private readonly jobQueue: M2mContext<unknown>[] = [];
  private current: M2mContext<unknown> | null = null;
  /** Jobs run since boot. */
  jobsRun = 0;
  /** Nodes registered on this device (an encoder and a decoder may share one engine). */
  readonly nodes: M2mNode<never>[] = [];

  constructor(device: Device, clock: Clock) {
    this.device = device;
    this.clock = clock;
  }

  /** Queues every ready context and starts the next job if the engine is idle (v4l2_m2m_try_schedule + try_run). */
  trySchedule(): void {
    for (const node of this.nodes) for (const ctx of node.contexts) if (ctx.ready && !this.jobQueue.includes(ctx as M2mContext<unknown>) && this.current !== ctx) this.jobQueue.push(ctx as M2mContext<unknown>);
    if (this.current) return;
    const ctx = this.jobQueue.shift();
    if (!ctx) return;
    if (!ctx.ready) return this.trySchedule();
    this.current = ctx;
    const src = ctx.srcReady.shift()!;
    const dst = ctx.dstReady.shift()!;
    const job = this.device.ctx.soc.cores.spawn(`kworker/${this.device.name}`, () => this.runJob(ctx, src, dst)).finally(() => {
      ctx.running = null;
      this.current = null;
      this.trySchedule();
    });
    ctx.running = job;
    job.catch(() => undefined);
  }

  /** One job: the driver's device_run, then both buffers completed (v4l2_m2m_buf_done_and_job_finish). */
  private async runJob(ctx: M2mContext<unknown>, src: Vb2Buffer, dst: Vb2Buffer): Promise<void> {
    let ok = true;
    const job: M2mJob = { sequence: ctx.jobs };
    try {
      await ctx.node.ops.deviceRun(ctx.state, src, dst, job);
    } catch (e) {
      if (e instanceof KernelBug) throw e;
      ok = false;
    }
    if (!ok) dst.bytesused = 0;
    // both sides count jobs unless the driver numbers its results; the capture carries the source's timestamp (TIMESTAMP_COPY)
    src.sequence = ctx.jobs;
    dst.sequence = job.sequence >>> 0;
    dst.timestampNs = src.timestampNs;
    dst.field = src.field;
    ctx.jobs++;
    this.jobsRun++;
    ctx.srcQ.bufferDone(src, ok ? 'done' : 'error');
    ctx.dstQ.bufferDone(dst, ok ? 'done' : 'error');
  }
}

/** What an m2m node takes. */
export interface M2mNodeOptions<S> {
  vfs: Vfs;
  dev: M2mDevice;
  nr: number;
  name: string;
  driver: string;
  card: string;
  memOps: Vb2MemOps;
  ioModes: number;
  ops: M2mNodeOps<S>;
  /**
   * V4L2_BUF_FLAG_TIMESTAMP_* of both queues (q->timestamp_flags);
   * default _COPY: a result carries its source's timestamp.
   */
  timestampFlags?: number;
}

/**
 * A mem-to-mem video node: every open file gets its own context with an
 * OUTPUT queue (frames in) and a CAPTURE queue (frames out); the ioctls
 * pick the queue by buffer type (v4l2_m2m_ioctl_*), mmap by offset
 * (CAPTURE from M2M_DST_QUEUE_OFF_BASE), and closing the file stops both
 * queues and frees their buffers (v4l2_m2m_ctx_release).
 */
export class M2mNode<S> {
  readonly name: string;
  readonly dev: M2mDevice;
  readonly ops: M2mNodeOps<S>;
  readonly memOps: Vb2MemOps;
  readonly ioModes: number;
  readonly timestampFlags: number;
  readonly node: DeviceNode;
  readonly contexts = new Set<M2mContext<S>>();
  private readonly driver: string;
  private readonly card: string;

  constructor(opts: M2mNodeOptions<S>) {
    this.name = opts.name;
    this.dev = opts.dev;
    this.ops = opts.ops;
    this.memOps = opts.memOps;
    this.ioModes = opts.ioModes;
    this.timestampFlags = opts.timestampFlags ?? V4L2_BUF_FLAG_TIMESTAMP_COPY;
    this.driver = opts.driver;
    this.card = opts.card;
    const nr = videoDevnodeNr(opts.vfs, opts.nr);
    this.node = registerChrdev(opts.vfs, { path: `/dev/video${nr}`, major: VIDEO_MAJOR, minor: nr, mode: 0o660, gid: VIDEO_GID, fops: this.fops(), privateData: this, sysfs: videoSysfs(opts.name, `platform/${opts.dev.device.name}`) });
    this.dev.nodes.push(this as unknown as M2mNode<never>);
  }

  /** The node's path. */
  get path(): string {
    return this.node.path;
  }

  private ctxOf(file: File): M2mContext<S> {
    const ctx = file.privateData as M2mContext<S> | undefined;
    if (!ctx || ctx.node !== this) throw new KernelBug(`${this.name}: file without a context`);
    return ctx;
  }

  private fops(): FileOperations {
    return {
      name: 'v4l2-m2m',
      open: (_inode, file) => {
        const ctx = new M2mContext<S>(this, file);
        file.privateData = ctx;
        this.contexts.add(ctx);
      },
      release: async (_inode, file) => {
        const ctx = this.ctxOf(file);
        try {
          await ctx.srcQ.release();
          await ctx.dstQ.release();
        } finally {
          this.contexts.delete(ctx);
          await this.ops.release?.(ctx.state);
        }
      },
      unlockedIoctl: (file, cmd, arg, task) => this.ioctl(this.ctxOf(file), file, cmd, arg, task),
      poll: (file, pt) => this.poll(this.ctxOf(file), file, pt),
      mmap: (file, vma) => {
        const ctx = this.ctxOf(file);
        const base = M2M_DST_QUEUE_OFF_BASE / PAGE_SIZE;
        if (vma.pgoff >= base) {
          vma.pgoff -= base;
          ctx.dstQ.mmap(vma);
        } else ctx.srcQ.mmap(vma);
      },
    };
  }

  /**
   * The poll mask (v4l2_m2m_poll): POLLOUT|POLLWRNORM once a source
   * buffer is done, POLLIN|POLLRDNORM once a result is, POLLERR when
   * neither queue streams. Never sleeps.
   */
  private poll(ctx: M2mContext<S>, file: File, pt: PollTable | null): number {
    if (!ctx.srcQ.streaming && !ctx.dstQ.streaming) return POLLERR;
    const all = pt ? new PollTable(pt.qproc, pt.key | POLLIN | POLLRDNORM) : null;
    let mask = 0;
    if (ctx.srcQ.streaming && ctx.srcQ.poll(file, all) & POLLIN) mask |= POLLOUT | POLLWRNORM;
    if (ctx.dstQ.streaming) mask |= ctx.dstQ.poll(file, all) & (POLLIN | POLLRDNORM);
    return mask;
  }

  /** CAPTURE MMAP offsets as userspace sees them (v4l2_m2m_adjust_mem_offset). */
  private adjust(q: Vb2Queue, b: V4l2Buffer): void {
    if (q.type === V4L2_BUF_TYPE_VIDEO_CAPTURE && b.memory === V4L2_MEMORY_MMAP && b.m && b.m.offset !== undefined) b.m.offset += M2M_DST_QUEUE_OFF_BASE;
  }

  /** Dispatches an ioctl to the file's context (video_ioctl2 with v4l2_m2m_ioctl_*); ENOTTY for others. */
  async ioctl(ctx: M2mContext<S>, file: File, cmd: number, arg: unknown, task: Task): Promise<number> {
    switch (cmd >>> 0) {
      case VIDIOC_QUERYCAP >>> 0: {
        const cap = userArg<V4l2Capability>(arg);
        cap.driver = this.driver;
        cap.card = this.card;
        cap.bus_info = `platform:${this.dev.device.name}`;
        cap.version = V4L2_KERNEL_VERSION;
        cap.device_caps = V4L2_CAP_VIDEO_M2M | V4L2_CAP_STREAMING;
        cap.capabilities = (cap.device_caps | V4L2_CAP_DEVICE_CAPS) >>> 0;
        cap.reserved = [0, 0, 0];
        return 0;
      }
      case VIDIOC_G_FMT >>> 0: {
        const f = userArg<V4l2Format>(arg);
        ctx.queueOf(f.type);
        this.ops.gFmt(ctx.state, f);
        return 0;
      }
      case VIDIOC_S_FMT >>> 0: {
        const f = userArg<V4l2Format>(arg);
        ctx.queueOf(f.type);
        // one side's format sizes the other's buffers here, so either side's buffers pin both formats
        if (ctx.srcQ.busy || ctx.dstQ.busy) throw kerr('EBUSY', `${this.name}: S_FMT while buffers are allocated`);
        this.ops.sFmt(ctx.state, f);
        return 0;
      }
      case VIDIOC_ENUM_FMT >>> 0: {
        const op = this.ops.enumFmt;
        if (!op) throw kerr('ENOTTY', `${this.name}: no ENUM_FMT`);
        const f = userArg<V4l2Fmtdesc>(arg);
        ctx.queueOf(f.type);
        clearFmtdesc(f);
        op.call(this.ops, ctx.state, f);
        fillFmtdesc(f);
        return 0;
      }
      case VIDIOC_TRY_FMT >>> 0: {
        const op = this.ops.tryFmt;
        if (!op) throw kerr('ENOTTY', `${this.name}: no TRY_FMT`);
        const f = userArg<V4l2Format>(arg);
        ctx.queueOf(f.type);
        op.call(this.ops, ctx.state, f);
        return 0;
      }
      case VIDIOC_REQBUFS >>> 0: {
        const req = userArg<V4l2RequestBuffers>(arg);
        const q = ctx.queueOf(req.type);
        await vb2Reqbufs(q, req);
        q.owner = req.count ? file : null;
        return 0;
      }
      case VIDIOC_QUERYBUF >>> 0: {
        const b = userArg<V4l2Buffer>(arg);
        const q = ctx.queueOf(b.type);
        vb2Querybuf(q, b);
        this.adjust(q, b);
        return 0;
      }
      case VIDIOC_QBUF >>> 0: {
        const b = userArg<V4l2Buffer>(arg);
        const q = ctx.queueOf(b.type);
        const vb = q.bufs[b.index];
        // an OUTPUT buffer carries the bytes userspace filled in (__fill_vb2_buffer); 0 means the whole plane
        const before = vb ? { bytesused: vb.bytesused, timestampNs: vb.timestampNs } : null;
        if (vb && q.isOutput && vb.state === 'dequeued') {
          vb.bytesused = b.bytesused >>> 0 || (b.length >>> 0) || vb.length;
          // the timestamp of an OUTPUT buffer comes from userspace and is copied to the result
          vb.timestampNs = (b.timestamp?.tv_sec ?? 0) * 1e9 + (b.timestamp?.tv_usec ?? 0) * 1e3;
        }
        try {
          await vb2Qbuf(q, task, b);
        } catch (e) {
          if (vb && before && vb.state === 'dequeued') Object.assign(vb, before);
          throw e;
        }
        this.adjust(q, b);
        return 0;
      }
      case VIDIOC_DQBUF >>> 0: {
        const b = userArg<V4l2Buffer>(arg);
        const q = ctx.queueOf(b.type);
        await vb2Dqbuf(q, task, b, (file.flags & O_NONBLOCK) !== 0);
        this.adjust(q, b);
        return 0;
      }
      case VIDIOC_EXPBUF >>> 0: {
        const eb = userArg<V4l2ExportBuffer>(arg);
        vb2Expbuf(ctx.queueOf(eb.type), task, eb);
        return 0;
      }
      case VIDIOC_STREAMON >>> 0: {
        const type = intArg(arg);
        await vb2Streamon(ctx.queueOf(type), type);
        this.dev.trySchedule();
        return 0;
      }
      case VIDIOC_STREAMOFF >>> 0: {
        const type = intArg(arg);
        await vb2Streamoff(ctx.queueOf(type), type);
        return 0;
      }
      default:
        throw kerr('ENOTTY', `${this.name}: unknown ioctl 0x${(cmd >>> 0).toString(16)}`);
    }
  }
}

/** Reads an int-pointer argument: a number or `{ value }`; EFAULT otherwise. */
function intArg(arg: unknown): number {
  if (typeof arg === 'number') return arg;
  if (arg && typeof arg === 'object' && typeof (arg as { value?: unknown }).value === 'number') return (arg as { value: number }).value;
  throw kerr('EFAULT', 'bad int pointer');
}
