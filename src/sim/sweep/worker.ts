import { parentPort } from 'node:worker_threads';
import { reclaimMemory, recycleMemoryAfterRuns } from '../../hw/index.ts';
import type { PointInput } from './plan.ts';
import { runPoint } from './point.ts';

// The body of a sweep worker (started by bin/sweep-worker.mjs): runs one
// point per message and answers with its row, one at a time, so that the
// pool can hand the next point to whichever worker is free.
const port = parentPort;
if (!port) throw new Error('worker.ts runs in a worker thread started by the sweep pool');
// Points run one at a time here, so once a row is out its system is dead and
// the next point can have its memory's backing without faulting it in again.
recycleMemoryAfterRuns();
port.on('message', (p: PointInput) => {
  runPoint(p)
    .finally(reclaimMemory)
    .then(
      (row) => port.postMessage({ row }),
      (e: unknown) => port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }),
    );
});
