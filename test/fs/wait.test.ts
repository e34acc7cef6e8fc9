import { describe, it, expect } from 'vitest';
import { Clock } from '../../src/hw/index.ts';
import { KernelError, KernelBug } from '../../src/lib/index.ts';
import { PollTable, VmArea, WaitQueueEntry, WaitQueueHead, Vfs, anonInodeGetFile, pollWait, waitEvent, type VmaPageSink } from '../../src/fs/index.ts';
import { TestTask } from './helpers.ts';

describe('wait queues', () => {
  it('wakes entries in order with the key, and not those removed', () => {
    const wq = new WaitQueueHead();
    const seen: string[] = [];
    const a = new WaitQueueEntry((_e, key) => seen.push(`a${key}`));
    const b = new WaitQueueEntry((_e, key) => seen.push(`b${key}`));
    wq.add(a);
    wq.add(b);
    wq.wakeUp(4);
    wq.remove(a);
    wq.wakeUp(1);
    expect(seen).toEqual(['a4', 'b4', 'b1']);
    expect(wq.length).toBe(1);
  });

  it('waitEvent sleeps in simulated time until the condition holds', async () => {
    const clock = new Clock();
    const wq = new WaitQueueHead();
    let ready = false;
    const p = waitEvent(wq, () => ready);
    clock.after(500, () => wq.wakeUp()); // spurious: condition still false
    clock.after(900, () => {
      ready = true;
      wq.wakeUp();
    });
    expect(await clock.runUntilSettled(p)).toBe(true);
    expect(clock.now).toBe(900);
    expect(wq.active).toBe(false);
  });

  it('times out on the clock and returns false', async () => {
    const clock = new Clock();
    const wq = new WaitQueueHead();
    const p = waitEvent(wq, () => false, { clock, timeoutNs: 2000 });
    expect(await clock.runUntilSettled(p)).toBe(false);
    expect(clock.now).toBe(2000);
    expect(wq.active).toBe(false);
    expect(await waitEvent(wq, () => false, { clock, timeoutNs: 0 })).toBe(false);
  });

  it('an interruptible sleep ends with EINTR when the task is signalled', async () => {
    const clock = new Clock();
    const wq = new WaitQueueHead();
    const task = new TestTask();
    const p = waitEvent(wq, () => false, { task });
    clock.after(100, () => task.signal());
    const err = await clock.runUntilSettled(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe('EINTR');
    expect(wq.active).toBe(false);
    expect(task.signalWait.active).toBe(false);
  });
});

describe('poll tables', () => {
  it('pollWait registers only while the table has a queue proc', () => {
    const vfs = new Vfs();
    const f = anonInodeGetFile(vfs, 'p', {}, null, 0);
    const wq = new WaitQueueHead();
    const queued: WaitQueueHead[] = [];
    const pt = new PollTable((_file, q) => queued.push(q));
    pollWait(f, wq, pt);
    pt.qproc = null;
    pollWait(f, wq, pt);
    pollWait(f, wq, null);
    expect(queued).toEqual([wq]);
  });
});

describe('VmArea', () => {
  it('remapPfnRange fills frames inside the VMA only and tells the sink', () => {
    const vma = new VmArea(0x10000, 0x14000, 0, 0, null);
    const mapped: number[] = [];
    const sink: VmaPageSink = { pageMapped: (_v, i, pfn) => mapped.push(i, pfn), pageUnmapped: (_v, i) => mapped.push(-i - 1) };
    vma.sink = sink;
    vma.remapPfnRange(0x11000, 0x80000, 0x2000);
    expect([...vma.pfns]).toEqual([-1, 0x80000, 0x80001, -1]);
    expect(mapped).toEqual([1, 0x80000, 2, 0x80001]);
    expect(() => vma.remapPfnRange(0x13000, 1, 0x2000)).toThrow(KernelError);
    expect(() => vma.remapPfnRange(0x10100, 1, 0x1000)).toThrow(KernelError);
    expect(() => vma.setPfn(1, 5)).toThrow(KernelBug);
    vma.zapPages();
    expect([...vma.pfns]).toEqual([-1, -1, -1, -1]);
    expect(mapped.slice(4)).toEqual([-2, -3]);
    vma.insertPage(0x10000, 7);
    expect(() => vma.insertPage(0x10000, 8)).toThrow(KernelError);
  });
});

describe('waitEvent timeouts', () => {
  it('cancels its timer when woken, so simulated time stops at the wake-up', async () => {
    const clock = new Clock();
    const wq = new WaitQueueHead();
    let ready = false;
    const p = waitEvent(wq, () => ready, { clock, timeoutNs: 1e9 });
    clock.after(10, () => {
      ready = true;
      wq.wakeUp();
    });
    await clock.run();
    expect(await p).toBe(true);
    expect(clock.now).toBe(10);
  });
});
