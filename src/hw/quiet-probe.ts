import { createHook } from 'node:async_hooks';

/**
 * Counts the continuations JavaScript runs (promise reactions, thenable
 * jobs, queueMicrotask callbacks, nextTick callbacks): the `before` hook
 * fires once for each. Two reads of the count tell whether anything ran
 * in between, which is how a quiet probe knows it ran alone.
 */
let ran = 0;
const counter = createHook({
  before() {
    ran++;
  },
});
let holders = 0;

/** Starts counting continuations for one more holder (the first one enables the hook); no kernel counterpart: simulation machinery. */
export function holdContinuationCount(): void {
  if (holders++ === 0) counter.enable();
}

/** Stops counting for one holder (the last one disables the hook, which costs every promise a call while on). */
export function releaseContinuationCount(): void {
  if (--holders === 0) counter.disable();
}

/**
 * A probe that answers whether nothing but itself is left to run: `probe()`
 * queues it and `onAnswer(quiet)` gets the answer once every microtask
 * queued so far (and every one those queue) has run. It starts as a
 * microtask (a reaction to a settled promise: cheaper than queueMicrotask,
 * which makes an async resource), so that its second half, a nextTick, is queued from inside
 * the microtask checkpoint: Node runs such a tick only once the microtask
 * queue is empty, after the ticks queued before it. When the count moved
 * by exactly one between the two halves (the tick itself), no tick ran
 * before it and no microtask or tick ran that could have queued more: the
 * queues were empty, so no simulated thread can run until an event wakes
 * one. Only valid while holdContinuationCount is held.
 */
export function quietProbe(onAnswer: (quiet: boolean) => void): () => void {
  let mark = 0;
  const end = (): void => onAnswer(ran === mark + 1);
  const start = (): void => {
    mark = ran;
    process.nextTick(end);
  };
  const resolved = Promise.resolve();
  return () => void resolved.then(start);
}
