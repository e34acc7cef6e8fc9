import type { Sys } from '../../proc/index.ts';
import { DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../uapi/index.ts';
import { Downstream, Upstream, waitFrameFence, waitReadable } from './link.ts';
import type { StageContext } from './stage.ts';
import { cpuOverlayValue } from './ui-layer.ts';
import { dmaBufSync } from './uapi-calls.ts';

/**
 * A process whose CPU works on the frames in place: it mmaps each buffer
 * the first time it sees it and keeps the mapping (so the device that
 * wrote it, this CPU and the next device all map it at once), then either
 * draws over the top `rows` lines or reads the whole frame to check it,
 * between DMA_BUF_IOCTL_SYNC START and END unless `sync` is off -- the
 * bug a non-coherent CPU cache punishes. The same buffer goes on; its
 * release comes back through here.
 */
export async function cpuStage(sys: Sys, ctx: StageContext): Promise<number> {
  const fmt = ctx.inFmt!;
  const maps = new Map<number, number>();
  const up = new Upstream(sys, ctx.upFd);
  // It owns no slots: it passes the producer's on and their releases back.
  const down = ctx.downFd >= 0 ? new Downstream(sys, ctx.downFd, 0, false) : null;
  const line = new Uint8Array(fmt.stride);
  const access = ctx.spec.rows > 0 ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ;
  for (;;) {
    // Releases from the next stage go straight back to the producer.
    const [fromUp, fromDown] = await waitReadable(sys, down && !down.gone ? [ctx.upFd, ctx.downFd] : [ctx.upFd]);
    if (fromDown && down) for (const slot of await down.takeReleased()) await up.release(slot);
    if (!fromUp) continue;
    const m = await up.next();
    if (!m) break;
    await waitFrameFence(sys, m);
    let addr = maps.get(m.slot);
    if (addr === undefined) {
      addr = await sys.mmap(0, fmt.size, PROT_READ | PROT_WRITE, MAP_SHARED, m.bufFd, 0);
      maps.set(m.slot, addr);
    }
    if (ctx.spec.sync) await dmaBufSync(sys, m.bufFd, access, true);
    if (ctx.spec.rows > 0) {
      line.fill(cpuOverlayValue(m.frame));
      for (let y = 0; y < ctx.spec.rows; y++) await sys.store(addr + y * fmt.stride, line);
    } else {
      ctx.probe.consumed(ctx.spec.name, m.frame, await sys.load(addr, fmt.size));
    }
    if (ctx.spec.sync) await dmaBufSync(sys, m.bufFd, access, false);
    if (!down || down.gone || !(await down.send(m.frame, m.slot, m.bytesused, m.bufFd))) await up.release(m.slot);
    await sys.close(m.bufFd);
  }
  for (const addr of maps.values()) await sys.munmap(addr, fmt.size);
  return 0;
}
