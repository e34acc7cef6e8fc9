import { POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM } from '../uapi/index.ts';
import type { File } from './file.ts';
import type { WaitQueueHead } from './wait.ts';

/** What poll reports for a file without a poll operation (DEFAULT_POLLMASK). */
export const DEFAULT_POLLMASK = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;

/** Registers a poller on a wait queue the file's poll op names (poll_queue_proc). */
export type PollQueueProc = (file: File, wq: WaitQueueHead, pt: PollTable) => void;

/**
 * The table a poller hands to each file's poll op (poll_table). On the first
 * pass `qproc` is set and the op registers on its wait queues through
 * pollWait; on later passes it is null and the op only reports the mask.
 */
export class PollTable {
  qproc: PollQueueProc | null;
  /** The events the poller is interested in (poll_table._key). */
  key: number;

  constructor(qproc: PollQueueProc | null, key = ~0) {
    this.qproc = qproc;
    this.key = key;
  }
}

/**
 * Puts the poller on `wq` so a later wake-up re-polls this file
 * (poll_wait). A file's poll op calls it for each queue whose wake-up can
 * change its mask, then returns the current mask. Never sleeps.
 */
export function pollWait(file: File, wq: WaitQueueHead, pt: PollTable | null): void {
  if (pt && pt.qproc) pt.qproc(file, wq, pt);
}
