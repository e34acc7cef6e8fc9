import { createHook, executionAsyncResource } from 'node:async_hooks';
import type { CpuContext } from './cpu-context.ts';

/**
 * What follows the async work of a simulated thread, as `current` and its
 * task's state follow a task in the kernel: the CPU context its work is
 * charged to (cpu-context.ts), the device and buffer it works for in each
 * cost ledger (cost-ledger.ts), and the place in the user's files it runs
 * on behalf of (findings.ts).
 *
 * They ride on the async resource running now, as Node 20's
 * AsyncLocalStorage carries its store: an async hook copies them onto
 * every resource made (a promise, a tick) from the one that made it. The
 * same hook counts the resources made, for the clock's quiet probe
 * (hw/quiet-probe.ts). One hook for both, not a storage and a counter: a
 * hook costs every promise a call into JavaScript (a storage and a
 * counter took an awaited call from 0.42 to 1.0 µs, one hook doing both
 * 0.8), and Node keeps every storage ever run in its list for the rest of
 * the process, so a storage per ledger made each run slower than the last.
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

/** The property of an async resource that holds its task locals. */
const LOCALS = Symbol('unimem.taskLocals');

type Carrier = { [LOCALS]?: TaskLocals };

let made = 0;
const hook = createHook({
  init(_id, _type, _trigger, resource: Carrier) {
    made++;
    const locals = (executionAsyncResource() as Carrier)[LOCALS];
    if (locals !== undefined) resource[LOCALS] = locals;
  },
});
let hooked = false;

/** Turns the hook on, for good: from then on every async resource takes its maker's locals and is counted. */
function useTaskHook(): void {
  if (hooked) return;
  hooked = true;
  hook.enable();
}

/**
 * Async resources made (promises, ticks, timers) since counting began;
 * turns counting on. A mark for the quiet probe: code that leaves it
 * unchanged made no promise. No kernel counterpart: simulation machinery.
 */
export function asyncResourcesMade(): number {
  useTaskHook();
  return made;
}

/** The task locals of the work running now; undefined outside any. */
export function taskLocals(): TaskLocals | undefined {
  return hooked ? (executionAsyncResource() as Carrier)[LOCALS] : undefined;
}

/** Runs `fn` with the task locals now, changed by `change` (the ones it leaves out kept), for it and the async work it starts. */
export function runWithTaskLocals<T>(change: TaskLocals, fn: () => T): T {
  useTaskHook();
  const resource = executionAsyncResource() as Carrier;
  const before = resource[LOCALS];
  resource[LOCALS] = before ? { ...before, ...change } : change;
  try {
    return fn();
  } finally {
    resource[LOCALS] = before;
  }
}

/** The scope `owner` set for the work running now (the innermost of its own in the chain), if any. */
export function scopeOf<S extends object>(owner: object): S | undefined {
  for (let l = taskLocals()?.scope; l; l = l.next) if (l.owner === owner) return l.scope as S;
  return undefined;
}
