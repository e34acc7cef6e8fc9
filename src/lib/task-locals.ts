import { promiseHooks } from 'node:v8';
import type { CpuContext } from './cpu-context.ts';

/**
 * What follows the async work of a simulated thread, as `current` and its
 * task's state follow a task in the kernel: the CPU context its work is
 * charged to (cpu-context.ts), the device and buffer it works for in each
 * cost ledger (cost-ledger.ts), and the place in the user's files it runs
 * on behalf of (findings.ts).
 *
 * They ride on promises, as a task's state follows it through the kernel:
 * V8's promise hooks give every promise made (an `await`, a `then`, an
 * async function's own) the locals of the code that made it, and the
 * code a promise job runs (what follows an `await`, a `then` callback)
 * gets the locals of the promise it runs for. A tick, a timer or a
 * queueMicrotask callback runs with none; what awaits it goes on with its
 * own. The same hook counts the promises made, for the clock's quiet probe
 * (hw/quiet-probe.ts).
 *
 * Node 20's AsyncLocalStorage does this through async_hooks, which gives
 * every promise an async id and looks up the resource running now for
 * each: an awaited call cost 0.8 us with such a hook, 0.6 with V8's hooks
 * alone, and 0.43 with none; async_hooks took a tenth of `npm start`.
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

/** The property of a promise that holds its task locals. */
const LOCALS = Symbol('unimem.taskLocals');

type Carrier = { [LOCALS]?: TaskLocals };

let made = 0;
/** The locals of the code running now, and those of the code a promise job interrupted, job by job. */
let current: TaskLocals | undefined;
const interrupted: (TaskLocals | undefined)[] = [];
let hooked = false;

/** Turns the hooks on, for good: from then on every promise takes its maker's locals and is counted. */
function useTaskHook(): void {
  if (hooked) return;
  hooked = true;
  promiseHooks.onInit((promise) => {
    made++;
    if (current !== undefined) (promise as Carrier)[LOCALS] = current;
  });
  promiseHooks.onBefore((promise) => {
    interrupted.push(current);
    current = (promise as Carrier)[LOCALS];
  });
  promiseHooks.onAfter(() => {
    current = interrupted.pop();
  });
}

/**
 * Promises made (each `await`, `then` and async call makes one) since
 * counting began; turns counting on. A mark for the quiet probe: code that
 * leaves it unchanged queued no promise job. No kernel counterpart:
 * simulation machinery.
 */
export function promisesMade(): number {
  useTaskHook();
  return made;
}

/** The task locals of the work running now; undefined outside any. */
export function taskLocals(): TaskLocals | undefined {
  return current;
}

/** Runs `fn` with the task locals now, changed by `change` (the ones it leaves out kept), for it and the async work it starts. */
export function runWithTaskLocals<T>(change: TaskLocals, fn: () => T): T {
  useTaskHook();
  const before = current;
  current = before ? { ...before, ...change } : change;
  try {
    return fn();
  } finally {
    current = before;
  }
}

/** The scope `owner` set for the work running now (the innermost of its own in the chain), if any. */
export function scopeOf<S extends object>(owner: object): S | undefined {
  for (let l = taskLocals()?.scope; l; l = l.next) if (l.owner === owner) return l.scope as S;
  return undefined;
}
