import { describe, expect, it } from 'vitest';
import { CostLedger } from '../../src/lib/cost-ledger.ts';
import { newCpuContext, runAsCpuContext } from '../../src/lib/cpu-context.ts';

/** Every record of the ledger, read back. */
function records(l: CostLedger) {
  return Array.from({ length: l.length }, (_, i) => l.at(i));
}

describe('cost ledger', () => {
  it('sums charges made one after another with the same kind, time and attribution into one record that counts them', () => {
    let now = 100;
    const l = new CostLedger(() => now);
    const ctx = newCpuContext('kthread', 0, () => 'kworker');
    ctx.call = 'dma_sync';
    runAsCpuContext(ctx, () => {
      // a sync over three pages: one operation's charges at one instant
      for (let i = 0; i < 3; i++) l.charge('cache-clean', 10, 4096, 'arch_sync_dma_for_device');
      // another function, then the same again: a record each
      l.charge('cache-clean', 5, 64, 'dma_map_page');
      l.charge('cache-clean', 7, 4096, 'arch_sync_dma_for_device');
      now = 200;
      l.charge('cache-clean', 7, 4096, 'arch_sync_dma_for_device');
      l.withScope({ device: 'gpu' }, () => l.charge('cache-clean', 1, 64, 'arch_sync_dma_for_device'));
    });
    const r = records(l);
    expect(r.map((x) => [x.timeNs, x.ns, x.bytes, x.count, x.device])).toEqual([
      [100, 30, 3 * 4096, 3, ''],
      [100, 5, 64, 1, ''],
      [100, 7, 4096, 1, ''],
      [200, 7, 4096, 1, ''],
      [200, 1, 64, 1, 'gpu'],
    ]);
    expect(new Set(r.map((x) => x.site)).size).toBe(2);
    // the thread owes every charge, merged or not
    expect(ctx.sysDebtNs).toBe(30 + 5 + 7 + 7 + 1);
  });

  it("sums notes in a row with the same device into one record, inside and outside a thread's scope", () => {
    let now = 0;
    const l = new CostLedger(() => now);
    const ctx = newCpuContext('kthread', 0, () => 'kworker');
    const walks = { device: 'gpu' };
    runAsCpuContext(ctx, () => {
      // an SMMU's walks over one transfer: page after page at one instant
      for (let i = 0; i < 4; i++) l.note('tlb-miss-walk', 100, 0, walks);
      l.note('tlb-miss-walk', 100, 0, { device: 'vpu' });
      l.note('tlb-miss-walk', 100, 0, { device: 'vpu' });
      l.withScope({ buffer: 'fb0' }, () => {
        l.note('tlb-miss-walk', 50, 0, walks);
        l.note('tlb-miss-walk', 50, 0, walks);
      });
      now = 10;
      l.note('tlb-miss-walk', 100, 0, walks);
    });
    expect(records(l).map((x) => [x.timeNs, x.ns, x.count, x.device, x.buffer])).toEqual([
      [0, 400, 4, 'gpu', ''],
      [0, 200, 2, 'vpu', ''],
      [0, 100, 2, 'gpu', 'fb0'],
      [10, 100, 1, 'gpu', ''],
    ]);
    // a note keeps no core busy
    expect(ctx.sysDebtNs).toBe(0);
  });

  it('keeps apart charges of one thread in two calls at the same time', () => {
    const l = new CostLedger(() => 5);
    const ctx = newCpuContext('process', 7, () => 'camera');
    runAsCpuContext(ctx, () => {
      ctx.call = 'ioctl VIDIOC_QBUF';
      l.charge('syscall', 100);
      ctx.call = 'ioctl VIDIOC_DQBUF';
      l.charge('syscall', 100);
    });
    expect(records(l).map((x) => [x.count, x.site !== ''])).toEqual([
      [1, true],
      [1, true],
    ]);
    expect(records(l)[0]!.site).not.toBe(records(l)[1]!.site);
  });

  it('keeps each ledger its own scope when their scopes nest, across awaits', async () => {
    const a = new CostLedger(() => 1);
    const b = new CostLedger(() => 1);
    const ctx = newCpuContext('kthread', 0, () => 'kworker');
    await runAsCpuContext(ctx, () =>
      a.withScope({ device: 'isp', buffer: 'a-buf' }, () =>
        b.withScope({ device: 'gpu' }, async () => {
          await null;
          a.charge('cache-clean', 1, 64);
          b.charge('cache-clean', 1, 64);
          // an inner scope of the same ledger adds to its outer one
          await a.withScope({ buffer: 'a-inner' }, async () => {
            await null;
            a.charge('cache-invalidate', 1, 64);
          });
        }),
      ),
    );
    b.charge('syscall', 1);
    expect(records(a).map((r) => [r.kind, r.device, r.buffer])).toEqual([
      ['cache-clean', 'isp', 'a-buf'],
      ['cache-invalidate', 'isp', 'a-inner'],
    ]);
    expect(records(b).map((r) => [r.kind, r.device, r.buffer])).toEqual([
      ['cache-clean', 'gpu', ''],
      ['syscall', '', ''],
    ]);
  });
});
