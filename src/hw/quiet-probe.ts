import { promisesMade, wakeCount } from '../lib/index.ts';

/*
 * Counts the promises made (promisesMade): an `await`, a `then` and
 * an async call each make one. With wakeCount (a promise that others
 * settle is a wakeablePromise, a rule lint keeps) it counts what can queue
 * a promise job from synchronous code: code that leaves both unchanged
 * queued none and woke nobody. The simulation queues no ticks and no
 * queueMicrotask callbacks (a program's own would go unseen, as a tick
 * that settles a plain promise always did). The count rides on the hook
 * that carries the threads' task locals, which is on for good once a
 * system runs.
 */
let holders = 0;

/** Starts counting for one more holder; no kernel counterpart: simulation machinery. */
export function holdContinuationCount(): void {
  if (holders++ === 0) promisesMade();
}

/** Stops counting for one holder. */
export function releaseContinuationCount(): void {
  --holders;
}

/**
 * A mark that moves whenever JavaScript may have queued a job; -1 when
 * nothing is counting (no loop with quiet sleeps runs), which callers take
 * as "may have". No kernel counterpart: simulation machinery.
 */
export function continuationMark(): number {
  return holders > 0 ? promisesMade() + wakeCount() : -1;
}

/**
 * A probe that answers whether nothing but itself is left to run: `probe()`
 * queues it and `onAnswer(quiet)` gets the answer once every microtask
 * queued so far (and every one those queue) has run. It starts as a
 * microtask (a reaction to a settled promise: cheaper than queueMicrotask),
 * so that its second half, a nextTick, is queued from inside the microtask
 * checkpoint: Node runs such a tick only once the microtask queue is
 * empty. What could still be queued then is a tick, or a microtask a tick
 * queued, and either was queued after the first half ran: quiet is when
 * no promise was made and nobody woken in between. (A tick that settles a
 * plain promise would go unseen: the simulation queues no ticks.) No
 * simulated thread can run then until an event wakes one. Only valid
 * while holdContinuationCount is held.
 */
export function quietProbe(onAnswer: (quiet: boolean) => void): () => void {
  let mark = 0;
  const end = (): void => onAnswer(holders > 0 && promisesMade() + wakeCount() === mark);
  const start = (): void => {
    mark = promisesMade() + wakeCount();
    process.nextTick(end);
  };
  const settled = Promise.resolve();
  return () => void settled.then(start);
}
