import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DmaFence,
  DmaFenceCb,
  MAX_SCHEDULE_TIMEOUT,
  dmaFenceWaitAnyTimeout,
  type DmaFenceOps,
} from '../../src/dmabuf/dma-fence.ts';
import {
  FenceContextAllocator,
  dmaFenceAllocatePrivateStub,
  dmaFenceContextAlloc,
  dmaFenceGetStub,
} from '../../src/dmabuf/dma-fence-context.ts';
import { SwSyncTimeline } from '../../src/dmabuf/fence-timeline.ts';
import { WaitQueueHead, type Interruptible } from '../../src/fs/index.ts';
import { Clock } from '../../src/hw/index.ts';
import { ERRNO, KernelBug, KernelError } from '../../src/lib/index.ts';

/** A mock fence as the kernel's selftests use, counting its releases and enables. */
function mock(clock: Clock, over: Partial<DmaFenceOps> = {}, context = 1, seqno = 1) {
  const counts = { released: 0, enabled: 0 };
  const ops: DmaFenceOps = {
    getDriverName: () => 'mock',
    getTimelineName: () => 'mock',
    enableSignaling: () => {
      counts.enabled++;
      return true;
    },
    release: () => {
      counts.released++;
    },
    ...over,
  };
  return { fence: new DmaFence(clock, ops, context, seqno), counts };
}

/** The name sync_file gives a fence: driver-timeline<context>-<seqno>. */
function syncFileName(f: DmaFence): string {
  return `${f.getDriverName()}-${f.getTimelineName()}${f.context}-${f.seqno}`;
}

describe('dma_fence: signalling', () => {
  it('signals exactly once; the second signal fails and keeps the first timestamp', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    expect(fence.isSignaled()).toBe(false);
    await clock.run(1234);
    expect(fence.signal()).toBe(true);
    expect(fence.isSignaled()).toBe(true);
    expect(fence.timestamp).toBe(1234);
    await clock.run(5000);
    expect(fence.signal()).toBe(false);
    expect(fence.signal('EIO')).toBe(false);
    expect(fence.timestamp).toBe(1234);
    expect(fence.error).toBe(0);
    expect(fence.getStatus()).toBe(1);
  });

  it('runs callbacks once each, in the order they were added', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    const log: string[] = [];
    const cbs = ['a', 'b', 'c'].map((n) => new DmaFenceCb((f, cb) => log.push(`${n}:${f === fence}:${cb.queuedOn}`)));
    for (const cb of cbs) expect(fence.addCallback(cb)).toBe(true);
    expect(fence.pendingCallbacks).toBe(3);
    fence.signal();
    fence.signal();
    expect(log).toEqual(['a:true:null', 'b:true:null', 'c:true:null']);
    expect(fence.pendingCallbacks).toBe(0);
  });

  it('refuses a callback on a signalled fence and never runs it (-ENOENT)', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    fence.signal();
    let ran = 0;
    const cb = new DmaFenceCb(() => ran++);
    expect(fence.addCallback(cb)).toBe(false);
    expect(cb.queuedOn).toBeNull();
    expect(ran).toBe(0);
  });

  it('removes a callback before the signal, reports it gone after', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    let a = 0;
    let b = 0;
    const ca = new DmaFenceCb(() => a++);
    const cbB = new DmaFenceCb(() => b++);
    fence.addCallback(ca);
    fence.addCallback(cbB);
    expect(fence.removeCallback(ca)).toBe(true);
    expect(fence.removeCallback(ca)).toBe(false);
    fence.signal();
    expect([a, b]).toEqual([0, 1]);
    expect(fence.removeCallback(cbB)).toBe(false);
  });

  it('refuses to queue one callback slot twice', () => {
    const clock = new Clock();
    const f1 = mock(clock).fence;
    const f2 = mock(clock, {}, 2, 1).fence;
    const cb = new DmaFenceCb(() => {});
    f1.addCallback(cb);
    expect(() => f2.addCallback(cb)).toThrow(KernelBug);
    expect(() => f1.addCallback(cb)).toThrow(KernelBug);
    expect(f2.pendingCallbacks).toBe(0);
    expect(f1.pendingCallbacks).toBe(1);
  });

  it('runs every callback even when one throws, then rethrows the first error', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    const ran: number[] = [];
    fence.addCallback(new DmaFenceCb(() => ran.push(1)));
    fence.addCallback(
      new DmaFenceCb(() => {
        throw new Error('cb2');
      }),
    );
    fence.addCallback(new DmaFenceCb(() => ran.push(3)));
    expect(() => fence.signal()).toThrow('cb2');
    expect(ran).toEqual([1, 3]);
    expect(fence.isSignaled()).toBe(true);
  });

  it('keeps every queued callback exactly once and drops removed ones (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 0, maxLength: 40 }), (removeMask) => {
        const clock = new Clock();
        const { fence } = mock(clock);
        const ran: number[] = [];
        const cbs = removeMask.map((_, i) => new DmaFenceCb(() => ran.push(i)));
        for (const cb of cbs) fence.addCallback(cb);
        removeMask.forEach((rm, i) => {
          if (rm) fence.removeCallback(cbs[i]!);
        });
        fence.signal();
        fence.signal();
        const expected = removeMask.flatMap((rm, i) => (rm ? [] : [i]));
        expect(ran).toEqual(expected);
      }),
    );
  });
});

describe('dma_fence: enable_signaling and polling', () => {
  it('enables signalling lazily, once, on the first callback or wait', async () => {
    const clock = new Clock();
    const { fence, counts } = mock(clock);
    expect(fence.isSignaled()).toBe(false);
    expect(fence.getStatus()).toBe(0);
    expect(counts.enabled).toBe(0);
    fence.addCallback(new DmaFenceCb(() => {}));
    fence.addCallback(new DmaFenceCb(() => {}));
    expect(counts.enabled).toBe(1);
    expect(await fence.waitTimeout(0)).toBe(0);
    expect(counts.enabled).toBe(1);
    expect(fence.signalingEnabled).toBe(true);
  });

  it('signals at once when enable_signaling reports the work already done', async () => {
    const clock = new Clock();
    const { fence } = mock(clock, { enableSignaling: () => false });
    let ran = 0;
    expect(fence.addCallback(new DmaFenceCb(() => ran++))).toBe(false);
    expect(ran).toBe(0);
    expect(fence.isSignaled()).toBe(true);
    expect(await fence.waitTimeout(100)).toBe(100);
    expect(clock.now).toBe(0);
  });

  it('polls the signaled op and signals the fence, running its callbacks', () => {
    const clock = new Clock();
    let hwDone = false;
    const { fence } = mock(clock, { signaled: () => hwDone });
    let ran = 0;
    fence.addCallback(new DmaFenceCb(() => ran++));
    expect(fence.isSignaled()).toBe(false);
    hwDone = true;
    expect(fence.getStatus()).toBe(1);
    expect(ran).toBe(1);
    expect(fence.signal()).toBe(false);
  });
});

describe('dma_fence: errors', () => {
  it('reports an error set before the signal as a negative status', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    fence.setError('EIO');
    expect(fence.getStatus()).toBe(0);
    fence.signal();
    expect(fence.getStatus()).toBe(-ERRNO.EIO);
    expect(fence.error).toBe(-5);
    expect(fence.errorName).toBe('EIO');
  });

  it('takes the error from signal(error) and from a raw negative errno', () => {
    const clock = new Clock();
    const a = mock(clock).fence;
    a.signal('ETIMEDOUT');
    expect(a.getStatus()).toBe(-ERRNO.ETIMEDOUT);
    const b = mock(clock).fence;
    b.setError(-ERRNO.ECANCELED);
    b.signal();
    expect(b.errorName).toBe('ECANCELED');
  });

  it('refuses an error after the signal, or one that is not a negative errno, changing nothing', () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    expect(() => fence.setError(5)).toThrow(KernelBug);
    expect(() => fence.setError(0)).toThrow(KernelBug);
    expect(() => fence.setError(-4096)).toThrow(KernelBug);
    expect(fence.error).toBe(0);
    fence.signal();
    expect(() => fence.setError('EIO')).toThrow(KernelBug);
    expect(fence.getStatus()).toBe(1);
  });
});

describe('dma_fence: waits in simulated time', () => {
  it('returns the time left when signalled before the timeout', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    clock.after(4000, () => fence.signal());
    const r = await clock.runUntilSettled(clock.spawn(() => fence.waitTimeout(10_000)));
    expect(r).toBe(6000);
    expect(clock.now).toBe(4000);
    expect(fence.timestamp).toBe(4000);
  });

  it('returns 0 after exactly the timeout and leaves no waiter behind', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    await clock.run(100);
    const r = await clock.runUntilSettled(clock.spawn(() => fence.waitTimeout(2500)));
    expect(r).toBe(0);
    expect(clock.now).toBe(2600);
    expect(fence.pendingCallbacks).toBe(0);
    expect(fence.isSignaled()).toBe(false);
  });

  it('a 0 timeout only tests, without sleeping', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    expect(await fence.waitTimeout(0)).toBe(0);
    fence.signal();
    expect(await fence.waitTimeout(0)).toBe(1);
    expect(clock.now).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('returns the whole timeout for a fence that already signalled', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    fence.signal();
    expect(await fence.waitTimeout(777)).toBe(777);
  });

  it('waits forever with MAX_SCHEDULE_TIMEOUT and returns it', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    clock.after(1e9, () => fence.signal());
    const r = await clock.runUntilSettled(clock.spawn(() => fence.waitTimeout(MAX_SCHEDULE_TIMEOUT)));
    expect(r).toBe(MAX_SCHEDULE_TIMEOUT);
    expect(clock.now).toBe(1e9);
    const g = mock(clock).fence;
    const never = clock.spawn(() => g.wait());
    await expect(clock.runUntilSettled(never)).rejects.toThrow(/deadlock/);
  });

  it('returns at least 1 when the signal lands on the deadline before the timer', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    clock.after(500, () => fence.signal());
    expect(await clock.runUntilSettled(fence.waitTimeout(500))).toBe(1);
  });

  it('rejects a negative or NaN timeout with EINVAL', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    await expect(fence.waitTimeout(-1)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fence.waitTimeout(NaN)).rejects.toBeInstanceOf(KernelError);
  });

  it('wakes every waiter in the order they slept', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    const log: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      clock.spawn(async () => {
        const left = await fence.waitTimeout(1000);
        log.push(`${name}:${left}@${clock.now}`);
      });
    }
    clock.after(300, () => fence.signal());
    await clock.run(300);
    expect(log).toEqual(['a:700@300', 'b:700@300', 'c:700@300']);
  });

  it('an interruptible wait ends with EINTR when the task gets a signal, and leaves no waiter', async () => {
    const clock = new Clock();
    const { fence } = mock(clock);
    let pending = false;
    const task: Interruptible = { signalPending: () => pending, signalWait: new WaitQueueHead() };
    clock.after(700, () => {
      pending = true;
      task.signalWait.wakeUp();
    });
    const p = clock.spawn(() => fence.waitTimeout(10_000, task));
    p.catch(() => {});
    await expect(clock.runUntilSettled(p)).rejects.toMatchObject({ code: 'EINTR' });
    expect(clock.now).toBe(700);
    expect(fence.pendingCallbacks).toBe(0);
    expect(task.signalWait.length).toBe(0);
    // With the signal still pending a new wait fails at once, unless the fence has signalled.
    await expect(fence.wait(task)).rejects.toMatchObject({ code: 'EINTR' });
    fence.signal();
    expect(await fence.waitTimeout(5, task)).toBe(5);
  });

  it('wait_any returns the first fence to signal and the time left', async () => {
    const clock = new Clock();
    const fs = [1, 2, 3].map((c) => mock(clock, {}, c).fence);
    clock.after(200, () => fs[2]!.signal());
    clock.after(300, () => fs[0]!.signal());
    const r = await clock.runUntilSettled(dmaFenceWaitAnyTimeout(fs, 1000));
    expect(r).toEqual({ remaining: 800, first: 2 });
    for (const f of fs) expect(f.pendingCallbacks).toBe(0);
    const t = await clock.runUntilSettled(dmaFenceWaitAnyTimeout([fs[1]!], 50));
    expect(t).toEqual({ remaining: 0, first: -1 });
    expect(await dmaFenceWaitAnyTimeout(fs, 0)).toEqual({ remaining: 1, first: 2 });
    await expect(dmaFenceWaitAnyTimeout([], 5)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe('dma_fence: references', () => {
  it('releases exactly once, on the last put', () => {
    const clock = new Clock();
    const { fence, counts } = mock(clock);
    expect(fence.get()).toBe(fence);
    expect(fence.refcount).toBe(2);
    fence.put();
    expect(counts.released).toBe(0);
    fence.put();
    expect(counts.released).toBe(1);
    expect(fence.released).toBe(true);
    expect(() => fence.put()).toThrow(KernelBug);
    expect(() => fence.get()).toThrow(KernelBug);
    expect(counts.released).toBe(1);
  });

  it('signals a fence released with waiters pending, with -EDEADLK, so nobody hangs', () => {
    const clock = new Clock();
    const { fence, counts } = mock(clock);
    let seen = 0;
    fence.addCallback(new DmaFenceCb((f) => (seen = f.getStatus())));
    fence.put();
    expect(seen).toBe(-ERRNO.EDEADLK);
    expect(counts.released).toBe(1);
  });
});

describe('dma_fence: ordering on a timeline', () => {
  it('compares seqnos with 32-bit wrap unless the ops ask for 64 bits', () => {
    const clock = new Clock();
    const at = (seqno: number, use64bitSeqno = false) => mock(clock, { use64bitSeqno }, 9, seqno).fence;
    expect(at(2).isLater(at(1))).toBe(true);
    expect(at(1).isLater(at(2))).toBe(false);
    expect(at(1).isLater(at(1))).toBe(false);
    const a = at(1);
    expect(a.isLaterOrSame(a)).toBe(true);
    expect(at(1).isLaterOrSame(at(1))).toBe(false);
    // 3 comes after 0xfffffff0 once the 32-bit timeline wrapped ...
    expect(at(3).isLater(at(0xffff_fff0))).toBe(true);
    // ... but not on a 64-bit timeline.
    expect(at(3, true).isLater(at(0xffff_fff0, true))).toBe(false);
    expect(at(2 ** 40, true).isLater(at(2 ** 40 - 1, true))).toBe(true);
  });

  it('refuses to compare fences of different contexts', () => {
    const clock = new Clock();
    expect(() => mock(clock, {}, 1, 2).fence.isLater(mock(clock, {}, 2, 1).fence)).toThrow(KernelBug);
  });

  it('describes a fence as debugfs does', () => {
    const clock = new Clock();
    const { fence } = mock(clock, {}, 3, 7);
    expect(fence.describe()).toBe('mock mock seq 7 unsignalled\n');
    fence.signal();
    expect(fence.describe()).toBe('mock mock seq 7 signalled\n');
  });
});

describe('fence contexts and the stub fence', () => {
  it('hands out contexts from 1 upward, per system', () => {
    const a = new FenceContextAllocator(new Clock());
    const b = new FenceContextAllocator(new Clock());
    expect(dmaFenceContextAlloc(a, 1)).toBe(1);
    expect(dmaFenceContextAlloc(a, 3)).toBe(2);
    expect(dmaFenceContextAlloc(a, 1)).toBe(5);
    expect(dmaFenceContextAlloc(b, 1)).toBe(1);
    expect(a.nextContext).toBe(6);
    expect(() => a.alloc(0)).toThrow(KernelBug);
  });

  it('returns one shared signalled stub named stub-stub0-0 that is never released', async () => {
    const clock = new Clock();
    const fctx = new FenceContextAllocator(clock);
    await clock.run(50);
    const s1 = dmaFenceGetStub(fctx);
    await clock.run(90);
    const s2 = dmaFenceGetStub(fctx);
    expect(s2).toBe(s1);
    expect(syncFileName(s1)).toBe('stub-stub0-0');
    expect(s1.getStatus()).toBe(1);
    expect(s1.timestamp).toBe(50);
    s1.put();
    s2.put();
    expect(s1.released).toBe(false);
    expect(s1.refcount).toBe(1);
  });

  it('allocates private stubs with their own timestamp', async () => {
    const clock = new Clock();
    const fctx = new FenceContextAllocator(clock);
    const shared = dmaFenceGetStub(fctx);
    await clock.run(10);
    const p = dmaFenceAllocatePrivateStub(fctx);
    expect(p).not.toBe(shared);
    expect(syncFileName(p)).toBe('stub-stub0-0');
    expect(p.timestamp).toBe(10);
    p.put();
    expect(p.released).toBe(true);
  });
});

describe('software timeline (sw_sync)', () => {
  it('signals points in seqno order as the timeline advances', () => {
    const clock = new Clock();
    const fctx = new FenceContextAllocator(clock);
    const tl = new SwSyncTimeline(fctx, 'tl');
    const f5 = tl.createFence(5);
    const f1 = tl.createFence(1);
    const f3 = tl.createFence(3);
    expect(tl.context).toBe(1);
    expect(syncFileName(f3)).toBe('sw_sync-tl1-3');
    const order: number[] = [];
    for (const f of [f5, f1, f3]) f.addCallback(new DmaFenceCb((x) => order.push(x.seqno)));
    tl.signal(3);
    expect(order).toEqual([1, 3]);
    expect(f5.isSignaled()).toBe(false);
    expect(tl.pendingPoints).toBe(1);
    tl.signalTo(2);
    expect(tl.value).toBe(3);
    tl.signalTo(5);
    expect(order).toEqual([1, 3, 5]);
    expect(tl.pendingPoints).toBe(0);
  });

  it('creates a point the timeline passed already signalled, and shares a pending seqno', () => {
    const clock = new Clock();
    const tl = new SwSyncTimeline(new FenceContextAllocator(clock), 'tl');
    tl.signal(4);
    expect(tl.createFence(4).isSignaled()).toBe(true);
    const a = tl.createFence(9);
    const b = tl.createFence(9);
    expect(b).toBe(a);
    expect(a.refcount).toBe(2);
    a.put();
    b.put();
    expect(tl.pendingPoints).toBe(0);
  });

  it('wraps at 2^32 and still orders points', () => {
    const clock = new Clock();
    const tl = new SwSyncTimeline(new FenceContextAllocator(clock), 'wrap');
    tl.signal(0xffff_fffe);
    const late = tl.createFence(1);
    expect(late.isSignaled()).toBe(false);
    tl.signal(2);
    expect(tl.value).toBe(0);
    expect(late.isSignaled()).toBe(false);
    tl.signal(1);
    expect(late.isSignaled()).toBe(true);
  });

  it('fails pending points with -ENOENT when destroyed', () => {
    const clock = new Clock();
    const tl = new SwSyncTimeline(new FenceContextAllocator(clock), 'dead');
    const f = tl.createFence(10);
    tl.destroy();
    expect(f.getStatus()).toBe(-ERRNO.ENOENT);
    expect(() => tl.createFence(11)).toThrow(KernelBug);
  });

  it('wakes a sleeping consumer when a device job completes it', async () => {
    const clock = new Clock();
    const tl = new SwSyncTimeline(new FenceContextAllocator(clock), 'gpu');
    const done = tl.createFence(1);
    const log: string[] = [];
    clock.spawn(async () => {
      await clock.sleep(3000); // the job runs for 3 us, then its interrupt fires
      tl.signal(1);
      log.push(`irq@${clock.now}`);
    });
    const consumer = clock.spawn(async () => {
      const left = await done.waitTimeout(1_000_000);
      log.push(`woke@${clock.now}:${left}`);
    });
    await clock.runUntilSettled(consumer);
    expect(log).toEqual(['irq@3000', 'woke@3000:997000']);
  });
});
