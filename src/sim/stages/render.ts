import type { Sys } from '../../proc/index.ts';
import { DRM_IOCTL_GPU_COMPOSE, GPU_COMPOSE_FENCE_OUT, GPU_COMPOSE_OP_AVERAGE, O_RDWR } from '../../uapi/index.ts';
import { Downstream } from './link.ts';
import type { StageContext } from './stage.ts';
import { renderTextures } from './ui-layer.ts';
import { createDumb, heapAllocate, mapDumb, primeFdToHandle } from './uapi-calls.ts';

/**
 * A game or UI toolkit rendering on the GPU: uploads its textures once
 * (the CPU writes them through the dumb buffers' mmap), then for each
 * frame has the GPU blend two of them into an output buffer and sends the
 * buffer on at once with the job's fence. No CPU touches a frame.
 */
export async function renderStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.outFmt!;
  const g = await sys.open(ctx.devicePath, O_RDWR);
  const textures: number[] = [];
  for (const bytes of renderTextures(fmt, ctx.seed)) {
    const t = await createDumb(sys, g, fmt.width, fmt.height);
    if (t.pitch !== fmt.stride) throw new Error(`GPU dumb pitch ${t.pitch} != ${fmt.stride}`);
    const map = await mapDumb(sys, g, t.handle, t.size);
    await sys.store(map, bytes);
    await sys.munmap(map, t.size);
    textures.push(t.handle);
  }
  const fds: number[] = [];
  const handles: number[] = [];
  for (let i = 0; i < ctx.slots; i++) {
    fds.push(await heapAllocate(sys, ctx.heap, fmt.size));
    handles.push(await primeFdToHandle(sys, g, fds[i]!));
  }
  const down = new Downstream(sys, ctx.downFd, ctx.slots);
  for (let n = 0; n < ctx.frames; n++) {
    const slot = await down.acquire();
    if (slot === null) break;
    const k = textures.length;
    const job = { dst_handle: handles[slot]!, src_handles: [textures[n % k]!, textures[(n + 1) % k]!], op: GPU_COMPOSE_OP_AVERAGE, flags: GPU_COMPOSE_FENCE_OUT, out_fence: -1 };
    await sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, job);
    ctx.probe.produced(n);
    const sent = await down.send(n, slot, fmt.size, fds[slot]!, job.out_fence);
    await sys.close(job.out_fence);
    if (!sent) break;
  }
  return 0;
}
