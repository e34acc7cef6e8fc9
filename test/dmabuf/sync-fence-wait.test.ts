import { describe, expect, it } from 'vitest';
import { DmaResvUsage, liveFenceCount, type DmaFence } from '../../src/dmabuf/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  O_RDWR,
  SIGKILL,
  SA_RESTART,
  SIGUSR1,
  VGEM_FENCE_WRITE,
} from '../../src/uapi/index.ts';
import { dumb, fenceAttach, fenceSignal, toFd, vgemSystem, type VgemSystem } from '../drivers/vgem-helpers.ts';
import { errno, newest, run } from './helpers.ts';

// DMA_BUF_IOCTL_SYNC START runs dma_buf_begin_cpu_access, which waits,
// interruptibly and without a timeout, for the fences of
// dma_resv_usage_rw(write): a reader for the writers, a writer for every
// fence. END (dma_buf_end_cpu_access) waits for nothing.

const MS = 1_000_000;
/** When the child signals the fence: far below vgem's 10 s timeout, far above a syscall's cost. */
const SIGNAL_AT = 200 * MS;

const sync = (sys: Sys, fd: number, flags: number) => sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags });

/** A vgem dumb buffer exported as a dma-buf, with the vgem fd that can attach fences to it. */
async function vgemBuffer(sys: Sys) {
  const card = await sys.open('/dev/dri/card0', O_RDWR);
  const { handle } = await dumb(sys, card);
  const buf = await toFd(sys, card, handle);
  return { card, handle, buf };
}

/** Forks a child that signals vgem fence `fence` of `card` after `delayNs`; returns its pid. */
function signalLater(sys: Sys, card: number, fence: number, delayNs = SIGNAL_AT): Promise<number> {
  return sys.fork(async (c) => {
    await c.nanosleep({ tv_sec: 0, tv_nsec: delayNs });
    await fenceSignal(c, card, fence);
  });
}

/** Forks a child that sends this process SIGUSR1 at 100 ms, then signals vgem fence `fence` at 200 ms; returns its pid. */
async function signalThenSignalFence(sys: Sys, card: number, fence: number): Promise<number> {
  const parent = await sys.getpid();
  return sys.fork(async (c) => {
    await c.nanosleep({ tv_sec: 0, tv_nsec: 100 * MS });
    await c.kill(parent, SIGUSR1);
    await c.nanosleep({ tv_sec: 0, tv_nsec: 100 * MS });
    await fenceSignal(c, card, fence);
  });
}

/** How long, in simulated ns, `p` took. */
async function took(s: VgemSystem, p: () => Promise<unknown>): Promise<number> {
  const t0 = s.soc.clock.now;
  await p();
  return s.soc.clock.now - t0;
}

/** The unsignalled fences the buffer's reservation lists, of every usage (the reservation keeps its reference). */
function pendingFences(s: VgemSystem): DmaFence[] {
  return [...newest(s.dbs).resv.fencesUnlocked(DmaResvUsage.BOOKKEEP)].map((f) => f.fence);
}

describe('DMA_BUF_IOCTL_SYNC START waits for the fences the access conflicts with', () => {
  it('a pending write fence: START|READ, START|WRITE and START|RW each sleep until a child signals it, and return then', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      for (const flags of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
        const f = await fenceAttach(sys, card, handle, VGEM_FENCE_WRITE);
        const child = await signalLater(sys, card, f);
        const dt = await took(s, () => sync(sys, buf, DMA_BUF_SYNC_START | flags));
        expect(dt, `START flags ${flags}`).toBeGreaterThanOrEqual(SIGNAL_AT);
        // woken by the signal, not by vgem's 10 s timeout
        expect(dt, `START flags ${flags}`).toBeLessThan(SIGNAL_AT + MS);
        expect(pendingFences(s)).toHaveLength(0);
        await sync(sys, buf, DMA_BUF_SYNC_END | flags);
        expect((await sys.wait(child)).status).toBe(0);
      }
    });
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.dbs.buffers).toHaveLength(0);
  });

  it('a pending read fence blocks only a write: START|READ returns at once, START|WRITE and START|RW sleep until it signals', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      for (const flags of [DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
        const f = await fenceAttach(sys, card, handle, 0);
        const child = await signalLater(sys, card, f);
        const readDt = await took(s, () => sync(sys, buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
        expect(readDt).toBeLessThan(MS);
        await sync(sys, buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
        expect(pendingFences(s)).toHaveLength(1);
        const writeDt = await took(s, () => sync(sys, buf, DMA_BUF_SYNC_START | flags));
        expect(readDt + writeDt, `START flags ${flags}`).toBeGreaterThanOrEqual(SIGNAL_AT);
        expect(readDt + writeDt, `START flags ${flags}`).toBeLessThan(SIGNAL_AT + MS);
        await sync(sys, buf, DMA_BUF_SYNC_END | flags);
        expect((await sys.wait(child)).status).toBe(0);
      }
    });
  });

  it('END never waits: with a write fence pending, then a read fence, END|READ, END|WRITE and END|RW return at once', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      // vgem refuses a fence that conflicts with a pending one, so one at a time
      for (const fenceFlags of [VGEM_FENCE_WRITE, 0]) {
        const f = await fenceAttach(sys, card, handle, fenceFlags);
        for (const flags of [DMA_BUF_SYNC_READ, DMA_BUF_SYNC_WRITE, DMA_BUF_SYNC_RW]) {
          expect(await took(s, () => sync(sys, buf, DMA_BUF_SYNC_END | flags)), `END flags ${flags}`).toBeLessThan(MS);
        }
        expect(pendingFences(s)).toHaveLength(1);
        await fenceSignal(sys, card, f);
      }
    });
  });
});

describe('signals end the wait of DMA_BUF_IOCTL_SYNC START', () => {
  it('SIGKILL ends a child blocked on a write fence at once (137); its fence wait leaves no callback, fd or buffer behind', async () => {
    const s = vgemSystem();
    const fences0 = liveFenceCount(s.soc.clock);
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      const f = await fenceAttach(sys, card, handle, VGEM_FENCE_WRITE);
      const [fence] = pendingFences(s) as [DmaFence];
      const files0 = s.k.vfs.openFileCount;
      let returned = false;
      const child = await sys.fork(async (c) => {
        await sync(c, buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
        returned = true;
      });
      await sys.nanosleep({ tv_sec: 0, tv_nsec: 100 * MS });
      // the child sleeps in the fence's wait: its callback is queued
      expect(fence.pendingCallbacks).toBe(1);
      const t0 = s.soc.clock.now;
      await sys.kill(child, SIGKILL);
      const w = await sys.wait(child);
      expect(w.status).toBe(128 + SIGKILL);
      expect(returned).toBe(false);
      expect(s.soc.clock.now - t0).toBeLessThan(MS);
      expect(fence.isSignaled()).toBe(false);
      expect(fence.pendingCallbacks).toBe(0);
      // the child's copies of the fds are gone with it
      expect(s.k.vfs.openFileCount).toBe(files0);
      // the fence is still the vgem file's to signal (not timed out)
      await fenceSignal(sys, card, f);
    });
    expect(s.k.vfs.openFileCount).toBe(0);
    expect(s.dbs.buffers).toHaveLength(0);
    expect(liveFenceCount(s.soc.clock)).toBe(fences0);
  });

  it('a handled signal (no SA_RESTART) makes START fail with EINTR once the handler ran; START then waits again until the fence signals', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      const f = await fenceAttach(sys, card, handle, VGEM_FENCE_WRITE);
      const [fence] = pendingFences(s) as [DmaFence];
      const signaller = await signalThenSignalFence(sys, card, f);
      const handled: number[] = [];
      await sys.sigaction(SIGUSR1, { handler: () => void handled.push(s.soc.clock.now) });
      const t0 = s.soc.clock.now;
      expect(await errno(sync(sys, buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))).toBe('EINTR');
      expect(handled).toHaveLength(1);
      expect(s.soc.clock.now - t0).toBeGreaterThanOrEqual(100 * MS - MS);
      expect(s.soc.clock.now - t0).toBeLessThan(100 * MS + MS);
      expect(fence.isSignaled()).toBe(false);
      expect(fence.pendingCallbacks).toBe(0);
      // called again, it sleeps until the fence signals
      expect(await took(s, () => sync(sys, buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))).toBeGreaterThan(90 * MS);
      expect(fence.isSignaled()).toBe(true);
      await sync(sys, buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
      expect((await sys.wait(signaller)).status).toBe(0);
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });

  it('with SA_RESTART the handler runs and START goes on waiting (-ERESTARTSYS restarts the ioctl) until the fence signals', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      const { card, handle, buf } = await vgemBuffer(sys);
      const f = await fenceAttach(sys, card, handle, VGEM_FENCE_WRITE);
      const signaller = await signalThenSignalFence(sys, card, f);
      const handled: number[] = [];
      await sys.sigaction(SIGUSR1, { handler: () => void handled.push(s.soc.clock.now), flags: SA_RESTART });
      const t = await took(s, () => sync(sys, buf, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ));
      expect(handled).toHaveLength(1);
      expect(t).toBeGreaterThanOrEqual(SIGNAL_AT - MS);
      expect(t).toBeLessThan(SIGNAL_AT + MS);
      await sync(sys, buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
      expect((await sys.wait(signaller)).status).toBe(0);
    });
    expect(s.dbs.buffers).toHaveLength(0);
  });
});
