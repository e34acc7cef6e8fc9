import { Session } from 'node:inspector/promises';

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}

function totalSize(n: SampleNode): number {
  let s = n.selfSize;
  for (const c of n.children) s += totalSize(c);
  return s;
}

/**
 * The bytes of V8 heap that `times` runs of `once` allocate, each, by V8's
 * sampling heap profiler (one sample per `interval` bytes on average, so
 * the figure is an estimate, to within a percent over tens of megabytes),
 * counting what the collector has already freed too: what a hot path
 * allocates per call, garbage included. Off-heap memory (the backing of a
 * large typed array) is not counted. It is what Chrome's allocation
 * sampling shows; no kernel counterpart.
 */
export async function heapBytesPer(times: number, once: () => Promise<void>, interval = 1024): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    for (let i = 0; i < times; i++) await once();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    return totalSize(profile.head as SampleNode) / times;
  } finally {
    session.disconnect();
  }
}
