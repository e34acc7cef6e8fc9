/**
 * DOC: dmabuf — buffer sharing, fences and reservation objects
 *
 * Fences: signalling, adding callbacks and is_signaled never sleep; waits
 * and reservation locks are async and wait in simulated time. A fence's
 * callbacks run exactly once, in the order added, when it signals; its
 * release runs once, on the last put. Containers (fence arrays) are never
 * added to a reservation object; getFences/getSingleton return references
 * the caller must put. Adding a fence to a DmaResv needs its lock held and a
 * slot reserved. Waits can be made interruptible by passing the caller's
 * task. Each system owns one FenceContextAllocator and one
 * WwClass('reservation_ww_class').
 */
export * from './dma-fence.ts';
export * from './dma-fence-context.ts';
export * from './dma-fence-array.ts';
export * from './dma-fence-unwrap.ts';
export * from './fence-timeline.ts';
export * from './fence-ww-mutex.ts';
export * from './dma-resv.ts';
