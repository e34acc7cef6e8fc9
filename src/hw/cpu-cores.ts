import { currentCpuContext, runAsCpuContext, type CostLedger, type CpuContext } from '../lib/index.ts';
import type { Clock } from './clock.ts';

/** The CPU cores of a SoC: how many and at what clock. */
export interface CpuCoresConfig {
  count: number;
  clockHz: number;
}

/**
 * The CPU cores that threads run on. A thread that owes CPU work takes the
 * core that frees first and holds it for the whole of that work (no
 * preemption inside one stretch: the stretches are the length of a system
 * call's work, microseconds); when every core is busy it waits its turn.
 * Reservations are made in the order threads ask, which the clock makes
 * deterministic.
 */
export class CpuCores {
  readonly cfg: CpuCoresConfig;
  /** When each core is next free, in simulated ns. */
  private readonly freeAt: Float64Array;
  /** Busy ns of each core. */
  readonly busyNs: Float64Array;
  private readonly clock: Clock;
  private readonly ledger: CostLedger;

  constructor(cfg: CpuCoresConfig, clock: Clock, ledger: CostLedger) {
    this.cfg = cfg;
    this.clock = clock;
    this.ledger = ledger;
    this.freeAt = new Float64Array(cfg.count);
    this.busyNs = new Float64Array(cfg.count);
    ledger.runIrq = (ns) => {
      this.irqUntilNs = this.reserve(this.ledger.irq, ns);
    };
  }

  /** When the interrupt-context work charged last ends. */
  private irqUntilNs = 0;

  /** Busy ns summed over the cores. */
  get totalBusyNs(): number {
    let n = 0;
    for (const b of this.busyNs) n += b;
    return n;
  }

  /**
   * Runs the CPU work the current thread owes (schedule() at the end of a
   * system call or of a kernel thread's work): waits for a core, then holds
   * it for the debt. Returns at once when nothing is owed. With no thread
   * current, waits until the interrupt-context work charged last ends.
   */
  async runDebt(ctx: CpuContext | undefined = currentCpuContext()): Promise<void> {
    if (!ctx) {
      // work done with no thread current ran on a core as it was charged: waiting for it means waiting until it ends
      if (this.irqUntilNs > this.clock.now) await this.clock.sleepUntil(this.irqUntilNs);
      return;
    }
    const end = this.takeDebt(ctx);
    if (end >= 0) await this.clock.sleepUntil(end);
  }

  /**
   * The first half of runDebt for a thread: reserves a core for what `ctx`
   * owes and returns when that work ends, for the caller to sleep until;
   * -1 when nothing is owed.
   */
  takeDebt(ctx: CpuContext): number {
    const user = ctx.userDebtNs;
    const sys = ctx.sysDebtNs;
    if (user + sys <= 0) return -1;
    ctx.userDebtNs = 0;
    ctx.sysDebtNs = 0;
    ctx.userNs += user;
    ctx.sysNs += sys;
    return this.reserve(ctx, user + sys);
  }

  /**
   * Starts `fn` as work of the kernel thread `name` (queue_work on a
   * driver's worker, kthread_run): its CPU work is that thread's, and runs
   * on a core when the work ends, before whoever waits for it goes on.
   */
  spawn<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const ctx = this.ledger.kthread(name);
    return runAsCpuContext(ctx, () =>
      this.clock.spawn(async () => {
        try {
          return await fn();
        } finally {
          await this.runDebt(ctx);
        }
      }),
    );
  }

  /** Takes the core that frees first for `ns` of `ctx`'s work; returns when that work ends. */
  private reserve(ctx: CpuContext, ns: number): number {
    let core = 0;
    for (let i = 1; i < this.freeAt.length; i++) if (this.freeAt[i]! < this.freeAt[core]!) core = i;
    const start = Math.max(this.clock.now, this.freeAt[core]!);
    const end = start + ns;
    this.freeAt[core] = end;
    this.busyNs[core]! += ns;
    this.ledger.ran(ctx, start, ns);
    return end;
  }
}
