import type { Sys } from '../../proc/index.ts';
import { O_NONBLOCK, O_RDWR, O_WRONLY, V4L2_BUF_FLAG_ERROR, VIDIOC_QUERYCAP, V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_MEMORY_DMABUF, V4L2_MEMORY_MMAP, VIDIOC_S_PARM, VIDIOC_STREAMOFF, type V4l2Capability, type V4l2Streamparm } from '../../uapi/index.ts';
import { Downstream, waitReadable } from './link.ts';
import type { StageContext } from './stage.ts';
import { dequeueBuffer, exportBuffer, heapAllocate, queueBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from './uapi-calls.ts';

/**
 * A camera process: sets the sensor format, gives the capture queue its
 * buffers (dma-bufs from the heap the consumer needs, queued as DMABUF, or
 * the driver's own MMAP buffers exported with EXPBUF), streams, and sends
 * each captured frame on; a released buffer is queued again. It streams
 * for `frames` sensor frames: those the camera had no buffer for are lost
 * at the sensor, as on a real phone, and not made up for afterwards.
 */
export async function captureStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.outFmt!;
  const v = await sys.open(ctx.devicePath, O_RDWR | O_NONBLOCK);
  await setDebugHooks(sys, v, ctx);
  await setFormat(sys, v, CAP, fmt);
  // The frame rate, as a camera app asks for it; the driver answers with the nearest interval it has.
  const parm: V4l2Streamparm = { type: CAP, parm: { capture: { capability: 0, capturemode: 0, timeperframe: { numerator: 1000, denominator: Math.round(ctx.fps * 1000) }, extendedmode: 0, readbuffers: 0 } } };
  await sys.ioctl(v, VIDIOC_S_PARM, parm);
  const memory = ctx.heap === 'driver' ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF;
  const n = await requestBuffers(sys, v, CAP, memory, ctx.slots);
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(memory === V4L2_MEMORY_MMAP ? await exportBuffer(sys, v, CAP, i) : await heapAllocate(sys, ctx.heap, fmt.size));
  const queue = (i: number) => queueBuffer(sys, v, v4l2Buffer(CAP, memory, i, memory === V4L2_MEMORY_DMABUF ? { fd: fds[i] } : {}, 0, fmt.size));
  for (let i = 0; i < n; i++) await queue(i);
  await streamOn(sys, v, CAP);
  // The link's slots are the capture queue's indexes, all queued to the camera at first.
  const down = new Downstream(sys, ctx.downFd, n, false);
  let sent = 0;
  while (sent < ctx.frames && !down.gone) {
    const [camReady, released] = await waitReadable(sys, [v, ctx.downFd]);
    if (released) for (const slot of await down.takeReleased()) await queue(slot);
    if (!camReady) continue;
    const b = await dequeueBuffer(sys, v, CAP, memory);
    if (b.sequence >= ctx.frames) {
      // The stream's time is up: the frames the sensor lost at its end are dropped too.
      ctx.probe.ended(ctx.spec.name, b.sequence);
      break;
    }
    if (b.flags & V4L2_BUF_FLAG_ERROR) {
      ctx.probe.failed(ctx.spec.name, b.sequence, 'DQBUF returned it with V4L2_BUF_FLAG_ERROR');
      await queue(b.index);
      continue;
    }
    ctx.probe.produced(b.sequence);
    if (!(await down.send(b.sequence, b.index, b.bytesused, fds[b.index]!))) break;
    sent++;
  }
  await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
  return 0;
}

/** Writes a number to a debugfs file, as `echo N > file` does. */
async function writeKnob(sys: Sys, path: string, value: number): Promise<void> {
  const fd = await sys.open(path, O_WRONLY);
  try {
    await sys.write(fd, new TextEncoder().encode(`${value}\n`));
  } finally {
    await sys.close(fd);
  }
}

/**
 * Sets the camera driver's test hooks before streaming, as a test would
 * from a shell: its debugfs directory is named after the platform device
 * QUERYCAP's bus_info gives ("platform:<name>"). `dmaOverrun` makes its DMA
 * run past each buffer; `faultScratch` has its IOMMU fault handler retry
 * over a scratch page instead of failing the frame; `movableBuffers` makes
 * the MMAP buffers it is about to ask for movable (or pinned) dynamic
 * dma-bufs.
 */
async function setDebugHooks(sys: Sys, v: number, ctx: StageContext): Promise<void> {
  const overrun = (ctx.spec.dmaOverrun as number | undefined) ?? 0;
  const scratch = (ctx.spec.faultScratch as boolean | undefined) ?? false;
  const movable = ['off', 'movable', 'pinned'].indexOf((ctx.spec.movableBuffers as string | undefined) ?? 'off');
  if (overrun === 0 && !scratch && movable <= 0) return;
  const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0, reserved: [0, 0, 0] } as V4l2Capability;
  await sys.ioctl(v, VIDIOC_QUERYCAP, cap);
  const dir = `/sys/kernel/debug/${cap.bus_info.replace(/^platform:/, '')}`;
  if (scratch) await writeKnob(sys, `${dir}/fault_scratch`, 1);
  if (overrun > 0) await writeKnob(sys, `${dir}/dma_overrun`, overrun);
  if (movable > 0) await writeKnob(sys, `${dir}/movable_buffers`, movable);
}
