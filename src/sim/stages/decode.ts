import type { Sys } from '../../proc/index.ts';
import {
  O_RDONLY,
  O_RDWR,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_BUF_TYPE_VIDEO_OUTPUT as OUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_UVD1,
} from '../../uapi/index.ts';
import { Downstream } from './link.ts';
import type { StageContext } from './stage.ts';
import { dequeueBuffer, exportBuffer, heapAllocate, mapBuffer, queueBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from './uapi-calls.ts';

/** Bitstream buffers the decoder's OUTPUT queue asks for (REQBUFS may grant fewer). */
const BITSTREAM_BUFFERS = 2;

/**
 * Reads the next packet of a stream file: a 4-byte little-endian length,
 * then the packet (the container the runner writes). Null at the end.
 */
async function readPacket(sys: Sys, fd: number): Promise<Uint8Array | null> {
  const head = await sys.read(fd, 4);
  if (head.length === 0) return null;
  if (head.length !== 4) throw new Error('stream file: truncated packet header');
  const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  const packet = await sys.read(fd, len);
  if (packet.length !== len) throw new Error(`stream file: truncated packet (${packet.length} of ${len} bytes)`);
  return packet;
}

/**
 * A video player's decode process: reads the stream file packet by packet
 * into the decoder's MMAP bitstream buffers (the only bytes the CPU
 * writes), gives the decoder frame buffers (from the heap the next stage
 * needs, as DMABUF, or its own exported with EXPBUF), and sends every
 * decoded frame on. The decoder keeps the last frame as its reference, so
 * a released frame buffer may be the one it reads next.
 */
export async function decodeStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.outFmt!;
  const file = await sys.open(ctx.input, O_RDONLY);
  const v = await sys.open(ctx.devicePath, O_RDWR);
  await setFormat(sys, v, OUT, fmt, V4L2_PIX_FMT_UVD1);
  await setFormat(sys, v, CAP, fmt);
  // videobuf2 may grant fewer buffers than asked when memory is short: use what REQBUFS gave
  const granted = await requestBuffers(sys, v, OUT, V4L2_MEMORY_MMAP, BITSTREAM_BUFFERS);
  const bits = [];
  for (let i = 0; i < granted; i++) bits.push(await mapBuffer(sys, v, OUT, i));
  const memory = ctx.heap === 'driver' ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF;
  const n = await requestBuffers(sys, v, CAP, memory, ctx.slots);
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(memory === V4L2_MEMORY_MMAP ? await exportBuffer(sys, v, CAP, i) : await heapAllocate(sys, ctx.heap, fmt.size));
  const queueFrame = (i: number) => queueBuffer(sys, v, v4l2Buffer(CAP, memory, i, memory === V4L2_MEMORY_DMABUF ? { fd: fds[i] } : {}, 0, fmt.size));
  await streamOn(sys, v, OUT);
  await streamOn(sys, v, CAP);
  const down = new Downstream(sys, ctx.downFd, n);
  let queued = 0;
  const freeBits = bits.map((_, i) => i);
  let frame = 0;
  for (;;) {
    const packet = await readPacket(sys, file);
    if (!packet) break;
    // The decoder needs a frame buffer for this packet: take back what the consumer released.
    for (const slot of await down.takeReleased()) {
      await queueFrame(slot);
      queued++;
    }
    if (queued === 0) {
      const slot = await down.acquire();
      if (slot === null) break;
      await queueFrame(slot);
      queued++;
    }
    const bi = freeBits.shift()!;
    const b = bits[bi]!;
    if (packet.length > b.length) throw new Error(`packet of ${packet.length} bytes > bitstream buffer of ${b.length}`);
    await sys.store(b.addr, packet);
    await queueBuffer(sys, v, v4l2Buffer(OUT, V4L2_MEMORY_MMAP, bi, {}, packet.length, b.length));
    const out = await dequeueBuffer(sys, v, CAP, memory);
    queued--;
    freeBits.push((await dequeueBuffer(sys, v, OUT, V4L2_MEMORY_MMAP)).index);
    if (out.flags & V4L2_BUF_FLAG_ERROR) {
      ctx.probe.failed(ctx.spec.name, frame++, 'the decoder flagged the frame');
      await queueFrame(out.index);
      queued++;
      continue;
    }
    ctx.probe.produced(out.sequence);
    frame = out.sequence + 1;
    if (!(await down.send(out.sequence, out.index, out.bytesused, fds[out.index]!))) break;
  }
  return 0;
}
