// A sweep's worker thread. It loads the TypeScript sources through tsx, as
// bin/unimem.mjs does for the command, so a point runs the same code in a
// worker as `unimem run` runs in the main thread.
import { register } from 'tsx/esm/api';

register();
await import('../src/sim/sweep/worker.ts');
