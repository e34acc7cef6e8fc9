import { describe, expect, it } from 'vitest';
import { Clock, CpuCores } from '../../src/hw/index.ts';
import { CostLedger, newCpuContext, runAsCpuContext, type CpuContext } from '../../src/lib/index.ts';

function rig(count: number) {
  const clock = new Clock();
  const ledger = new CostLedger(() => clock.now);
  const cores = new CpuCores({ count, clockHz: 1e9 }, clock, ledger);
  return { clock, ledger, cores };
}

/** A thread that charges `ns` of CPU work `times` times, paying after each; returns when it finished each. */
function worker(r: ReturnType<typeof rig>, ctx: CpuContext, ns: number, times: number, done: number[]): Promise<void> {
  return runAsCpuContext(ctx, () =>
    r.clock.spawn(async () => {
      for (let i = 0; i < times; i++) {
        ctx.mode = 'sys';
        r.ledger.charge('syscall', ns);
        await r.cores.runDebt();
        done.push(r.clock.now);
      }
    }),
  );
}

describe('CPU cores', () => {
  it('two threads on one core take turns: the second waits for the first', async () => {
    const r = rig(1);
    const a = newCpuContext('process', 1, () => 'a');
    const b = newCpuContext('process', 2, () => 'b');
    const da: number[] = [];
    const db: number[] = [];
    await r.clock.runUntilSettled(Promise.all([worker(r, a, 1000, 1, da), worker(r, b, 1000, 1, db)]));
    expect(da).toEqual([1000]);
    expect(db).toEqual([2000]);
    expect(r.cores.totalBusyNs).toBe(2000);
    expect(a.sysNs + b.sysNs).toBe(2000);
  });

  it('two threads on two cores run side by side', async () => {
    const r = rig(2);
    const da: number[] = [];
    const db: number[] = [];
    await r.clock.runUntilSettled(Promise.all([worker(r, newCpuContext('process', 1, () => 'a'), 1000, 3, da), worker(r, newCpuContext('process', 2, () => 'b'), 1000, 3, db)]));
    expect(da).toEqual([1000, 2000, 3000]);
    expect(db).toEqual([1000, 2000, 3000]);
  });

  it('user and system time are kept apart, and a kernel thread pays when its work ends', async () => {
    const r = rig(1);
    const p = newCpuContext('process', 7, () => 'prog');
    await r.clock.runUntilSettled(
      runAsCpuContext(p, () =>
        r.clock.spawn(async () => {
          r.ledger.charge('cpu-copy', 500);
          p.mode = 'sys';
          r.ledger.charge('cache-clean', 300);
          await r.cores.runDebt();
        }),
      ),
    );
    expect([p.userNs, p.sysNs, r.clock.now]).toEqual([500, 300, 800]);
    const end = await r.clock.runUntilSettled(r.cores.spawn('kworker/isp', async () => r.ledger.charge('iommu-map', 2000)).then(() => r.clock.now));
    expect(end).toBe(2800);
    expect(r.ledger.kthread('kworker/isp').sysNs).toBe(2000);
  });

  it('interrupt-context work takes a core without waiting, and delays the thread that wants it', async () => {
    const r = rig(1);
    r.ledger.charge('fence-signal', 5000);
    expect(r.ledger.irq.sysNs).toBe(5000);
    const d: number[] = [];
    await r.clock.runUntilSettled(worker(r, newCpuContext('process', 1, () => 'a'), 1000, 1, d));
    expect(d).toEqual([6000]);
  });

  it('costs that keep no core busy are recorded without time', async () => {
    const r = rig(1);
    const p = newCpuContext('process', 1, () => 'a');
    runAsCpuContext(p, () => r.ledger.charge('tlb-miss-walk', 900));
    expect(p.sysDebtNs + p.userDebtNs).toBe(0);
    expect(r.ledger.length).toBe(1);
    expect(r.ledger.at(0)).toMatchObject({ kind: 'tlb-miss-walk', ns: 900, site: 'a' });
  });

  it('attributes a cost to the device, buffer and kernel function of its scope, across an await', async () => {
    const r = rig(1);
    const p = newCpuContext('process', 3, () => 'display');
    p.call = 'ioctl DMA_BUF_IOCTL_SYNC';
    await r.clock.runUntilSettled(
      runAsCpuContext(p, () =>
        r.ledger.withScope({ buffer: 'inode 7 (system)' }, async () => {
          await r.clock.sleep(10);
          r.ledger.withScope({ device: 'isp', fn: 'dma_sync_sg_for_cpu' }, () => r.ledger.charge('cache-invalidate', 100, 4096));
        }),
      ),
    );
    expect(r.ledger.at(0)).toMatchObject({ device: 'isp', buffer: 'inode 7 (system)', site: 'display: ioctl DMA_BUF_IOCTL_SYNC › dma_sync_sg_for_cpu', bytes: 4096 });
  });
});
