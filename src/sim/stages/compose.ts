import type { Sys } from '../../proc/index.ts';
import { DRM_IOCTL_GPU_COMPOSE, GPU_COMPOSE_FENCE_OUT, GPU_COMPOSE_OP_AVERAGE, O_RDWR, POLLIN } from '../../uapi/index.ts';
import { Downstream, Upstream, waitFrameFence } from './link.ts';
import type { StageContext } from './stage.ts';
import { uiLayer } from './ui-layer.ts';
import { createDumb, heapAllocate, mapDumb, primeFdToHandle } from './uapi-calls.ts';

/**
 * A compositor process on the GPU's render node: imports each incoming
 * frame by PRIME (the same dma-buf gives the same handle each time),
 * blends it with its own UI layer into an output buffer from the heap the
 * display needs, and sends the output on at once with the GPU job's fence
 * as a sync_file -- the display waits for the GPU, not the compositor.
 * The source goes back to its producer once that fence has signalled,
 * because until then the GPU is still reading it.
 */
export async function composeStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.outFmt!;
  const g = await sys.open(ctx.devicePath, O_RDWR);
  const ui = await createDumb(sys, g, fmt.width, fmt.height);
  if (ui.pitch !== fmt.stride) throw new Error(`GPU dumb pitch ${ui.pitch} != ${fmt.stride}`);
  const uiMap = await mapDumb(sys, g, ui.handle, ui.size);
  await sys.store(uiMap, uiLayer(fmt, ctx.seed));
  await sys.munmap(uiMap, ui.size);
  const fds: number[] = [];
  const handles: number[] = [];
  for (let i = 0; i < ctx.slots; i++) {
    fds.push(await heapAllocate(sys, ctx.heap, fmt.size));
    handles.push(await primeFdToHandle(sys, g, fds[i]!));
  }
  const up = new Upstream(sys, ctx.upFd);
  const down = new Downstream(sys, ctx.downFd, ctx.slots);
  for (let m = await up.next(); m; m = await up.next()) {
    await waitFrameFence(sys, m);
    const src = await primeFdToHandle(sys, g, m.bufFd);
    await sys.close(m.bufFd);
    const slot = await down.acquire();
    if (slot === null) break;
    const job = { dst_handle: handles[slot]!, src_handles: [src, ui.handle], op: GPU_COMPOSE_OP_AVERAGE, flags: GPU_COMPOSE_FENCE_OUT, out_fence: -1 };
    await sys.ioctl(g, DRM_IOCTL_GPU_COMPOSE, job);
    const sent = await down.send(m.frame, slot, fmt.size, fds[slot]!, job.out_fence);
    await sys.poll([{ fd: job.out_fence, events: POLLIN }], -1);
    await sys.close(job.out_fence);
    await up.release(m.slot);
    if (!sent) break;
  }
  return 0;
}
