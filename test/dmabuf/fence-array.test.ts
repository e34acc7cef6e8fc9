import { describe, expect, it } from 'vitest';
import { DmaFenceCb } from '../../src/dmabuf/dma-fence.ts';
import {
  DmaFenceArray,
  dmaFenceArrayCreate,
  dmaFenceIsArray,
  dmaFenceIsContainer,
  dmaFenceMatchContext,
  toDmaFenceArray,
} from '../../src/dmabuf/dma-fence-array.ts';
import { dmaFenceUnwrap, dmaFenceUnwrapMerge } from '../../src/dmabuf/dma-fence-unwrap.ts';
import { ERRNO, KernelBug } from '../../src/lib/index.ts';
import { mockFences } from './fence-helpers.ts';

describe('dma_fence_array', () => {
  it('signals only when every member has signalled', () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, false);
    let ran = 0;
    expect(arr.addCallback(new DmaFenceCb(() => ran++))).toBe(true);
    expect(arr.pending).toBe(3);
    ms[2]!.signal();
    ms[0]!.signal();
    expect(arr.isSignaled()).toBe(false);
    expect(ran).toBe(0);
    ms[1]!.signal();
    expect(ran).toBe(1);
    expect(arr.getStatus()).toBe(1);
    expect(arr.getDriverName()).toBe('dma_fence_array');
    expect(arr.getTimelineName()).toBe('unbound');
  });

  it('signals on the first member with signal_on_any', () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, true);
    arr.enableSwSignaling();
    ms[1]!.signal();
    expect(arr.isSignaled()).toBe(true);
    expect(ms[0]!.isSignaled()).toBe(false);
    ms[0]!.signal();
    expect(arr.getStatus()).toBe(1);
  });

  it('takes the first member error reported before it signals', () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, false);
    arr.enableSwSignaling();
    ms[0]!.signal();
    ms[2]!.signal('ETIMEDOUT');
    expect(arr.getStatus()).toBe(0);
    ms[1]!.signal('EIO');
    expect(arr.getStatus()).toBe(-ERRNO.ETIMEDOUT);
  });

  it('counts members signalled before enabling, and completes at once when all are', () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence()];
    ms[0]!.signal('EIO');
    ms[1]!.signal();
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, false);
    let ran = 0;
    expect(arr.addCallback(new DmaFenceCb(() => ran++))).toBe(false);
    expect(ran).toBe(0);
    expect(arr.getStatus()).toBe(-ERRNO.EIO);
    // Only the enabling references were taken and given back.
    expect(arr.refcount).toBe(1);
  });

  it('reports completion without anybody enabling signalling (merged sync_file status)', () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, false);
    ms[0]!.signal();
    expect(arr.getStatus()).toBe(0);
    ms[1]!.signal('ECANCELED');
    expect(arr.signalingEnabled).toBe(false);
    expect(arr.getStatus()).toBe(-ERRNO.ECANCELED);
  });

  it('owns its members and drops them exactly once when released', () => {
    const { clock, fctx, released, fence } = mockFences();
    const ms = [fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms.map((m) => m.get()), fctx.alloc(1), 1, false);
    for (const m of ms) m.put();
    expect(released).toEqual([]);
    arr.put();
    expect(arr.released).toBe(true);
    expect(released).toEqual(ms);
  });

  it('stays alive while member callbacks are queued, so it still signals after its user let go', () => {
    const { clock, fctx, released, fence } = mockFences();
    const ms = [fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms, fctx.alloc(1), 1, false);
    let status = 99;
    arr.addCallback(new DmaFenceCb((f) => (status = f.getStatus())));
    expect(arr.refcount).toBe(3);
    arr.put();
    expect(arr.released).toBe(false);
    ms[0]!.signal();
    ms[1]!.signal();
    expect(status).toBe(1);
    expect(arr.released).toBe(true);
    expect(released).toEqual(ms);
  });

  it('refuses empty arrays and nested containers', () => {
    const { clock, fctx, fence } = mockFences();
    expect(() => dmaFenceArrayCreate(clock, [], 5, 1, false)).toThrow(KernelBug);
    const inner = dmaFenceArrayCreate(clock, [fence()], fctx.alloc(1), 1, false);
    expect(() => dmaFenceArrayCreate(clock, [inner], fctx.alloc(1), 1, false)).toThrow(KernelBug);
    expect(inner.refcount).toBe(1);
  });

  it('can be waited on in simulated time', async () => {
    const { clock, fctx, fence } = mockFences();
    const ms = [fence(), fence()];
    const arr = dmaFenceArrayCreate(clock, ms, fctx.alloc(1), 1, false);
    clock.after(100, () => ms[0]!.signal());
    clock.after(250, () => ms[1]!.signal());
    expect(await clock.runUntilSettled(arr.waitTimeout(1000))).toBe(750);
    expect(clock.now).toBe(250);
  });

  it('identifies containers and matches contexts', () => {
    const { clock, fctx, fence } = mockFences();
    const ctx = fctx.alloc(1);
    const same = dmaFenceArrayCreate(clock, [fence(ctx, 1), fence(ctx, 2)], fctx.alloc(1), 1, false);
    const mixed = dmaFenceArrayCreate(clock, [fence(ctx, 3), fence()], fctx.alloc(1), 1, false);
    const single = fence(ctx, 4);
    expect(dmaFenceIsArray(same)).toBe(true);
    expect(dmaFenceIsContainer(single)).toBe(false);
    expect(toDmaFenceArray(single)).toBeNull();
    expect(toDmaFenceArray(same)).toBeInstanceOf(DmaFenceArray);
    expect(dmaFenceMatchContext(same, ctx)).toBe(true);
    expect(dmaFenceMatchContext(mixed, ctx)).toBe(false);
    expect(dmaFenceMatchContext(single, ctx)).toBe(true);
    expect([...dmaFenceUnwrap(mixed)]).toEqual(mixed.fences);
    expect([...dmaFenceUnwrap(single)]).toEqual([single]);
  });
});

describe('dma_fence_unwrap_merge', () => {
  it('keeps the latest pending fence per context, ordered by context, in a new array', () => {
    const { clock, fctx, fence } = mockFences();
    const c1 = fctx.alloc(1);
    const c2 = fctx.alloc(1);
    const c3 = fctx.alloc(1);
    const a1 = fence(c1, 1);
    const a5 = fence(c1, 5);
    const b2 = fence(c2, 2);
    const done = fence(c3, 9);
    done.signal();
    const inner = dmaFenceArrayCreate(clock, [a1.get(), b2.get()], fctx.alloc(1), 1, false);
    const nextCtx = fctx.nextContext;
    const merged = dmaFenceUnwrapMerge(fctx, [done, a5, inner]);
    const arr = toDmaFenceArray(merged)!;
    expect(arr).not.toBeNull();
    expect(arr.fences).toEqual([a5, b2]);
    expect(arr.context).toBe(nextCtx);
    expect(arr.seqno).toBe(1);
    expect(a5.refcount).toBe(2);
    expect(a1.refcount).toBe(2); // held by the caller and by `inner` only
    merged.put();
    expect(a5.refcount).toBe(1);
  });

  it('returns the stub when nothing is pending and the fence itself when one is', () => {
    const { fctx, fence } = mockFences();
    const x = fence();
    const y = fence();
    y.signal();
    const one = dmaFenceUnwrapMerge(fctx, [x, y]);
    expect(one).toBe(x);
    expect(x.refcount).toBe(2);
    x.signal();
    const none = dmaFenceUnwrapMerge(fctx, [x, y]);
    expect(`${none.getDriverName()}-${none.getTimelineName()}${none.context}-${none.seqno}`).toBe('stub-stub0-0');
  });
});
