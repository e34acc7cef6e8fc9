import { describe, expect, it } from 'vitest';
import { DmaFence } from '../../src/dmabuf/dma-fence.ts';
import { dmaFenceArrayCreate, toDmaFenceArray } from '../../src/dmabuf/dma-fence-array.ts';
import { FenceContextAllocator } from '../../src/dmabuf/dma-fence-context.ts';
import { DmaResv, DmaResvUsage, dmaResvUsageName, dmaResvUsageRw } from '../../src/dmabuf/dma-resv.ts';
import { WwAcquireCtx, WwClass, WwMutex } from '../../src/dmabuf/fence-ww-mutex.ts';
import { WaitQueueHead, type Interruptible } from '../../src/fs/index.ts';
import { Clock } from '../../src/hw/index.ts';
import { KernelBug, KernelError } from '../../src/lib/index.ts';
import { mockFences } from './fence-helpers.ts';

const USAGES = [DmaResvUsage.KERNEL, DmaResvUsage.WRITE, DmaResvUsage.READ, DmaResvUsage.BOOKKEEP] as const;

/** Mock fences and one reservation object on their context allocator. */
function setup() {
  const m = mockFences();
  return { ...m, resv: new DmaResv(m.fctx) };
}

/** Locks `resv`, reserves `n` slots and adds the fences, dropping the caller's references. */
async function addAll(resv: DmaResv, entries: [DmaFence, DmaResvUsage][]): Promise<void> {
  await resv.lock();
  resv.reserveFences(entries.length);
  for (const [f, u] of entries) {
    resv.addFence(f, u);
    f.put();
  }
  resv.unlock();
}

describe('dma_resv: adding fences', () => {
  it('refuses a fence without the lock held, changing nothing', async () => {
    const { resv, fence } = setup();
    const f = fence();
    await resv.lock();
    resv.reserveFences(1);
    resv.unlock();
    expect(() => resv.addFence(f, DmaResvUsage.WRITE)).toThrow(KernelBug);
    expect(() => resv.reserveFences(1)).toThrow(KernelBug);
    expect(resv.numFences).toBe(0);
    expect(f.refcount).toBe(1);
  });

  it('refuses a fence without a reserved slot, and forgets reservations at unlock', async () => {
    const { resv, fence } = setup();
    await resv.lock();
    expect(() => resv.addFence(fence(), DmaResvUsage.WRITE)).toThrow(KernelBug);
    resv.reserveFences(2);
    expect(resv.reservedSlots).toBeGreaterThanOrEqual(2);
    resv.addFence(fence(), DmaResvUsage.READ);
    resv.unlock();
    await resv.lock();
    expect(resv.reservedSlots).toBe(0);
    const f = fence();
    expect(() => resv.addFence(f, DmaResvUsage.READ)).toThrow(/no reserved slot/);
    expect(resv.numFences).toBe(1);
    expect(f.refcount).toBe(1);
    resv.reserveFences(1);
    resv.addFence(f, DmaResvUsage.READ);
    expect(resv.numFences).toBe(2);
    resv.unlock();
  });

  it('refuses containers: their members must be added one by one', async () => {
    const { resv, fence, clock, fctx } = setup();
    const arr = dmaFenceArrayCreate(clock, [fence(), fence()], fctx.alloc(1), 1, false);
    await resv.lock();
    resv.reserveFences(1);
    expect(() => resv.addFence(arr, DmaResvUsage.WRITE)).toThrow(KernelBug);
    expect(resv.numFences).toBe(0);
    resv.unlock();
  });

  it('replaces an earlier fence of the same context unless the old usage is stronger', async () => {
    const { resv, fence, fctx, released } = setup();
    const ctx = fctx.alloc(1);
    const r1 = fence(ctx, 1);
    const w2 = fence(ctx, 2);
    const r3 = fence(ctx, 3);
    await resv.lock();
    resv.reserveFences(1);
    resv.addFence(r1, DmaResvUsage.READ);
    r1.put();
    // A later write replaces the read of its own timeline in place, without a slot.
    resv.addFence(w2, DmaResvUsage.WRITE);
    w2.put();
    expect(released).toEqual([r1]);
    expect([...resv.fences(DmaResvUsage.BOOKKEEP)]).toEqual([{ fence: w2, usage: DmaResvUsage.WRITE }]);
    // A later read does not demote the write: it takes a slot of its own.
    const slots = resv.reservedSlots;
    resv.addFence(r3, DmaResvUsage.READ);
    expect(resv.reservedSlots).toBe(slots - 1);
    r3.put();
    expect([...resv.fences(DmaResvUsage.BOOKKEEP)].map((e) => [e.fence.seqno, e.usage])).toEqual([
      [2, DmaResvUsage.WRITE],
      [3, DmaResvUsage.READ],
    ]);
    // Adding the same fence again is a no-op replacement, not a second entry.
    resv.addFence(w2, DmaResvUsage.WRITE);
    expect(resv.numFences).toBe(2);
    expect(w2.refcount).toBe(1);
    resv.unlock();
  });

  it('reuses the slot of a signalled fence and drops its reference', async () => {
    const { resv, fence, released } = setup();
    const old = fence();
    await addAll(resv, [[old, DmaResvUsage.READ]]);
    old.signal();
    const f = fence();
    await resv.lock();
    resv.addFence(f, DmaResvUsage.WRITE);
    resv.unlock();
    expect(released).toEqual([old]);
    expect(resv.numFences).toBe(1);
  });

  it('prunes signalled fences when the list grows', async () => {
    const { resv, fence, released } = setup();
    const fs = [fence(), fence(), fence(), fence()];
    await addAll(
      resv,
      fs.map((f) => [f, DmaResvUsage.READ]),
    );
    fs[1]!.signal();
    fs[3]!.signal();
    await resv.lock();
    resv.reserveFences(1);
    expect(released).toEqual([fs[1], fs[3]]);
    expect([...resv.fences(DmaResvUsage.BOOKKEEP)].map((e) => e.fence)).toEqual([fs[0], fs[2]]);
    resv.unlock();
  });

  it('replaces every fence of a context with replaceFences', async () => {
    const { resv, fence, fctx } = setup();
    const ctx = fctx.alloc(1);
    const a = fence(ctx, 1);
    const b = fence();
    await addAll(resv, [
      [a, DmaResvUsage.BOOKKEEP],
      [b, DmaResvUsage.READ],
    ]);
    const repl = fence();
    await resv.lock();
    resv.replaceFences(ctx, repl, DmaResvUsage.KERNEL);
    expect([...resv.fences(DmaResvUsage.BOOKKEEP)].map((e) => [e.fence, e.usage])).toEqual([
      [repl, DmaResvUsage.KERNEL],
      [b, DmaResvUsage.READ],
    ]);
    resv.unlock();
    expect(a.released).toBe(true);
    expect(repl.refcount).toBe(2);
  });
});

describe('dma_resv: usages', () => {
  it('orders usages as Linux does and maps implicit sync', () => {
    expect(USAGES).toEqual([0, 1, 2, 3]);
    expect(USAGES.map(dmaResvUsageName)).toEqual(['kernel', 'write', 'read', 'bookkeep']);
    expect(dmaResvUsageRw(true)).toBe(DmaResvUsage.READ);
    expect(dmaResvUsageRw(false)).toBe(DmaResvUsage.WRITE);
  });

  it('a usage filter includes every stronger usage (locked and unlocked iteration)', async () => {
    const { resv, fence } = setup();
    const byUsage = USAGES.map(() => fence());
    await addAll(
      resv,
      USAGES.map((u) => [byUsage[u]!, u]),
    );
    await resv.lock();
    for (const u of USAGES) {
      const want = byUsage.slice(0, u + 1);
      expect([...resv.fences(u)].map((e) => e.fence)).toEqual(want);
      expect([...resv.fencesUnlocked(u)].map((e) => e.fence)).toEqual(want);
      const got = resv.getFences(u);
      expect(got).toEqual(want);
      for (const f of got) f.put();
    }
    resv.unlock();
    expect(() => [...resv.fences(DmaResvUsage.READ)]).toThrow(KernelBug);
  });

  it('test_signaled sees a fence exactly at its usage and weaker filters (st-dma-resv)', async () => {
    for (const usage of USAGES) {
      const { resv, fence } = setup();
      const f = fence();
      await addAll(resv, [[f.get(), usage]]);
      for (const filter of USAGES) expect(resv.testSignaled(filter)).toBe(filter < usage);
      f.signal();
      for (const filter of USAGES) expect(resv.testSignaled(filter)).toBe(true);
      expect(resv.getFences(DmaResvUsage.BOOKKEEP)).toEqual([]);
      f.put();
    }
  });

  it('the unlocked walk skips signalled fences and restarts when the list changes', async () => {
    const { resv, fence } = setup();
    const fs = [fence(), fence(), fence()];
    await addAll(
      resv,
      fs.map((f) => [f.get(), DmaResvUsage.WRITE]),
    );
    fs[0]!.signal();
    const seen: [number, boolean][] = [];
    let added = false;
    const late = fence();
    for (const { fence: f, restarted } of resv.fencesUnlocked(DmaResvUsage.READ)) {
      seen.push([fs.indexOf(f), restarted]);
      expect(f.refcount).toBe(3); // the caller's, the resv's and the walk's
      if (!added) {
        added = true;
        expect(resv.trylock()).toBe(true);
        resv.reserveFences(1);
        resv.addFence(late, DmaResvUsage.READ);
        resv.unlock();
      }
    }
    expect(seen).toEqual([
      [1, true],
      [1, true],
      [2, false],
      [-1, false],
    ]);
    expect(fs[1]!.refcount).toBe(2);
  });
});

describe('dma_resv: singleton and waits', () => {
  it('get_singleton: null, the fence itself, or an array of the pending fences', async () => {
    const { resv, fence, fctx } = setup();
    expect(resv.getSingleton(DmaResvUsage.BOOKKEEP)).toBeNull();
    const w = fence();
    const r = fence();
    await addAll(resv, [
      [w.get(), DmaResvUsage.WRITE],
      [r.get(), DmaResvUsage.READ],
    ]);
    const one = resv.getSingleton(DmaResvUsage.WRITE);
    expect(one).toBe(w);
    one!.put();
    const ctx = fctx.nextContext;
    const both = resv.getSingleton(DmaResvUsage.READ)!;
    const arr = toDmaFenceArray(both)!;
    expect(arr.fences).toEqual([w, r]);
    expect([arr.context, arr.seqno]).toEqual([ctx, 1]);
    w.signal();
    expect(both.isSignaled()).toBe(false);
    r.signal();
    expect(both.getStatus()).toBe(1);
    both.put();
    expect(w.refcount).toBe(2);
  });

  it('waits for all fences of the usage and returns the time left', async () => {
    const { resv, fence, clock } = setup();
    const w = fence();
    const r = fence();
    const b = fence();
    await addAll(resv, [
      [w.get(), DmaResvUsage.WRITE],
      [r.get(), DmaResvUsage.READ],
      [b.get(), DmaResvUsage.BOOKKEEP],
    ]);
    clock.after(300, () => r.signal());
    clock.after(500, () => w.signal());
    const start = clock.now;
    const left = await clock.runUntilSettled(resv.waitTimeout(DmaResvUsage.READ, 2000));
    expect(left).toBe(1500);
    expect(clock.now - start).toBe(500);
    expect(b.isSignaled()).toBe(false);
  });

  it('returns 0 after exactly the timeout', async () => {
    const { resv, fence, clock } = setup();
    const f = fence();
    await addAll(resv, [[f.get(), DmaResvUsage.KERNEL]]);
    const start = clock.now;
    expect(await clock.runUntilSettled(resv.waitTimeout(DmaResvUsage.WRITE, 800))).toBe(0);
    expect(clock.now - start).toBe(800);
    expect(f.pendingCallbacks).toBe(0);
  });

  it('a 0 timeout only tests; a bad timeout is EINVAL', async () => {
    const { resv, fence, clock } = setup();
    expect(await resv.waitTimeout(DmaResvUsage.BOOKKEEP, 0)).toBe(1);
    const f = fence();
    await addAll(resv, [[f.get(), DmaResvUsage.WRITE]]);
    expect(await resv.waitTimeout(DmaResvUsage.READ, 0)).toBe(0);
    expect(await resv.waitTimeout(DmaResvUsage.KERNEL, 0)).toBe(1);
    expect(clock.pending).toBe(0);
    await expect(resv.waitTimeout(DmaResvUsage.READ, -5)).rejects.toBeInstanceOf(KernelError);
  });

  it('also waits for fences added while it sleeps', async () => {
    const { resv, fence, clock } = setup();
    const first = fence();
    const second = fence();
    await addAll(resv, [[first.get(), DmaResvUsage.WRITE]]);
    clock.spawn(async () => {
      await clock.sleep(100);
      await addAll(resv, [[second.get(), DmaResvUsage.READ]]);
      first.signal();
      await clock.sleep(400);
      second.signal();
    });
    const left = await clock.runUntilSettled(resv.waitTimeout(DmaResvUsage.READ, 10_000));
    expect(clock.now).toBe(500);
    expect(left).toBe(9500);
  });

  it('holds a reference to the fence it sleeps on, even if the resv lets go', async () => {
    const { resv, fence, clock, released } = setup();
    const f = fence();
    await addAll(resv, [[f, DmaResvUsage.WRITE]]);
    const p = resv.waitTimeout(DmaResvUsage.WRITE, 1000);
    clock.spawn(async () => {
      await clock.sleep(10);
      await resv.lock();
      resv.replaceFences(f.context, fence(), DmaResvUsage.BOOKKEEP);
      resv.unlock();
      expect(f.released).toBe(false);
      await clock.sleep(10);
      f.signal();
    });
    expect(await clock.runUntilSettled(p)).toBe(980);
    expect(released).toContain(f);
  });

  it('an interruptible wait ends with EINTR on a signal', async () => {
    const { resv, fence, clock } = setup();
    const f = fence();
    await addAll(resv, [[f.get(), DmaResvUsage.WRITE]]);
    let pending = false;
    const task: Interruptible = { signalPending: () => pending, signalWait: new WaitQueueHead() };
    clock.after(50, () => {
      pending = true;
      task.signalWait.wakeUp();
    });
    await expect(clock.runUntilSettled(resv.waitTimeout(DmaResvUsage.READ, 1000, task))).rejects.toMatchObject({
      code: 'EINTR',
    });
    expect(clock.now).toBe(50);
  });
});

describe('dma_resv: lock', () => {
  it('serialises lockers in simulated time, handing the lock over in arrival order', async () => {
    const { resv, clock } = setup();
    const log: string[] = [];
    const worker = (name: string, holdNs: number) =>
      clock.spawn(async () => {
        await resv.lock();
        log.push(`${name}+${clock.now}`);
        await clock.sleep(holdNs);
        log.push(`${name}-${clock.now}`);
        resv.unlock();
      });
    worker('a', 100);
    worker('b', 50);
    worker('c', 10);
    await clock.run();
    expect(log).toEqual(['a+0', 'a-100', 'b+100', 'b-150', 'c+150', 'c-160']);
    expect(resv.isLocked()).toBe(false);
  });

  it('trylock fails while held; unlocking a free lock is a KernelBug', async () => {
    const { resv } = setup();
    expect(resv.trylock()).toBe(true);
    expect(resv.trylock()).toBe(false);
    resv.unlock();
    expect(() => resv.unlock()).toThrow(KernelBug);
  });

  it('wait-die: the younger transaction backs off and both complete, in either lock order', async () => {
    const clock = new Clock();
    const fctx = new FenceContextAllocator(clock);
    const cls = new WwClass('reservation_ww_class');
    const x = new DmaResv(fctx, 'x');
    const y = new DmaResv(fctx, 'y');
    const log: string[] = [];
    const txn = (name: string, order: DmaResv[]) =>
      clock.spawn(async () => {
        const ctx = new WwAcquireCtx(cls);
        const held: DmaResv[] = [];
        let contended: DmaResv | null = null;
        for (;;) {
          try {
            for (const r of order) {
              if (r === contended) continue;
              await r.lock(ctx);
              held.push(r);
              await clock.sleep(10);
            }
            break;
          } catch (e) {
            expect((e as KernelError).code).toBe('EDEADLK');
            contended = order[held.length]!;
            log.push(`${name} backs off`);
            for (const r of held.splice(0)) r.unlock();
            await contended.lockSlow(ctx);
            held.push(contended);
          }
        }
        ctx.done();
        log.push(`${name} holds both@${clock.now}`);
        await clock.sleep(5);
        for (const r of held) r.unlock();
        ctx.fini();
      });
    const older = txn('old', [x, y]);
    const younger = txn('young', [y, x]);
    await clock.runUntilSettled(Promise.all([older, younger]));
    expect(log).toEqual(['young backs off', 'old holds both@20', 'young holds both@35']);
    expect(x.isLocked() || y.isLocked()).toBe(false);
  });

  it('dies only when holding other locks, and wounds waiting younger holders at hand-over', async () => {
    const cls = new WwClass('c');
    const m = new WwMutex('m');
    const other = new WwMutex('other');
    const old = new WwAcquireCtx(cls);
    const young = new WwAcquireCtx(cls);
    await m.lock(old);
    // Holding nothing, the younger transaction may wait safely.
    const waitFree = m.lock(young);
    m.unlock();
    await waitFree;
    expect(m.ctx).toBe(young);
    m.unlock();
    // Holding something, it must die rather than wait for an older one.
    await other.lock(young);
    await m.lock(old);
    await expect(m.lock(young)).rejects.toMatchObject({ code: 'EDEADLK' });
    other.unlock();
    m.unlock();
    expect(() => young.fini()).not.toThrow();
    expect(() => new WwAcquireCtx(cls).fini()).not.toThrow();
    // Locking twice with one context, or after done(), is a bug.
    await m.lock(old);
    await expect(m.lock(old)).rejects.toBeInstanceOf(KernelBug);
    expect(() => old.fini()).toThrow(KernelBug);
    m.unlock();
    old.done();
    await expect(m.lock(old)).rejects.toBeInstanceOf(KernelBug);
  });

  it('kills a waiting younger transaction that holds locks when an older one queues', async () => {
    const cls = new WwClass('c');
    const m = new WwMutex('m');
    const other = new WwMutex('other');
    const older = new WwAcquireCtx(cls);
    const younger = new WwAcquireCtx(cls);
    await m.lock(); // held without a context
    await other.lock(younger);
    const pYoung = m.lock(younger); // waits: no older transaction in sight
    pYoung.catch(() => {});
    expect(m.waiting).toBe(1);
    const pOld = m.lock(older);
    await expect(pYoung).rejects.toMatchObject({ code: 'EDEADLK' });
    expect(m.waiting).toBe(1);
    other.unlock();
    m.unlock();
    await pOld;
    expect(m.ctx).toBe(older);
    expect(younger.acquired).toBe(0);
    m.unlock();
  });
});

describe('dma_resv: describe and fini', () => {
  it('describes read-and-stronger fences as debugfs bufinfo does', async () => {
    const { resv, fence } = setup();
    const w = fence(5, 3);
    const b = fence();
    await addAll(resv, [
      [w.get(), DmaResvUsage.WRITE],
      [b, DmaResvUsage.BOOKKEEP],
    ]);
    await resv.lock();
    expect(resv.describe()).toBe('\twrite fence:mock mock seq 3 unsignalled\n');
    w.signal();
    expect(resv.describe()).toBe('\twrite fence:mock mock seq 3 signalled\n');
    resv.unlock();
  });

  it('fini drops every reference exactly once and the object is dead afterwards', async () => {
    const { resv, fence, released } = setup();
    const fs = [fence(), fence()];
    await addAll(
      resv,
      fs.map((f) => [f, DmaResvUsage.READ]),
    );
    await resv.lock();
    expect(() => resv.fini()).toThrow(KernelBug);
    resv.unlock();
    resv.fini();
    expect(released).toEqual(fs);
    await expect(resv.lock()).rejects.toBeInstanceOf(KernelBug);
    expect(() => resv.fini()).toThrow(KernelBug);
    expect(released).toEqual(fs);
  });
});
