import { AsyncLocalStorage } from 'node:async_hooks';
import type { CpuContext } from './cpu-context.ts';

/**
 * What follows the async work of a simulated thread, as `current` and its
 * task's state follow a task in the kernel: the CPU context its work is
 * charged to (cpu-context.ts), the device and buffer it works for in each
 * cost ledger (cost-ledger.ts), and the place in the user's files it runs
 * on behalf of (findings.ts).
 *
 * One AsyncLocalStorage carries them all. Node 20 copies every storage's
 * value onto every promise made (an async hook per storage), about 130 ns
 * a storage for an awaited call, and keeps every storage ever run in that
 * list for the rest of the process: a storage per ledger would have made
 * each run in a process slower than the one before.
 */
export interface TaskLocals {
  readonly cpu?: CpuContext;
  /** Cost scopes, innermost first: each ledger finds its own (CostLedger.withScope). */
  readonly scope?: ScopeLink;
  readonly work?: WorkSite;
}

/** A ledger's scope for the work running now, in a chain of the scopes of all ledgers in use. */
export interface ScopeLink {
  readonly owner: object;
  readonly scope: object;
  readonly next: ScopeLink | undefined;
}

/** The user's place the work runs for, and the program line that can tell where in it (findings.ts). */
export interface WorkSite {
  readonly site: string | undefined;
  readonly program?: () => string | undefined;
}

const locals = new AsyncLocalStorage<TaskLocals>();

/** The task locals of the work running now; undefined outside any. */
export function taskLocals(): TaskLocals | undefined {
  return locals.getStore();
}

/** Runs `fn` with the task locals now, changed by `change` (the ones it leaves out kept), for it and the async work it starts. */
export function runWithTaskLocals<T>(change: TaskLocals, fn: () => T): T {
  const now = locals.getStore();
  return locals.run(now ? { ...now, ...change } : change, fn);
}

/** The scope `owner` set for the work running now (the innermost of its own in the chain), if any. */
export function scopeOf<S extends object>(owner: object): S | undefined {
  for (let l = locals.getStore()?.scope; l; l = l.next) if (l.owner === owner) return l.scope as S;
  return undefined;
}
