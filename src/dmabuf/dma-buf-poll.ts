import { pollWait, type PollTable } from '../fs/index.ts';
import { POLLERR, POLLIN, POLLOUT } from '../uapi/index.ts';
import type { DmaBuf } from './dma-buf.ts';
import { dmaBufTrackRef, dmaBufUntrackRef } from './dma-buf-refs.ts';
import { DmaFenceCb, type DmaFence } from './dma-fence.ts';
import { dmaResvUsageRw } from './dma-resv.ts';

/**
 * One direction's poll state of a buffer (struct dma_buf_poll_cb_t): while
 * `active` is set a callback waits on one fence and holds a reference to
 * the buffer's file, so the buffer outlives the poll that armed it.
 */
export interface DmaBufPollCb {
  /** The poll events this callback will report (0 when idle). */
  active: number;
  readonly dmabuf: DmaBuf;
  /** The fence callback slot while armed. */
  cb: DmaFenceCb | null;
}

/**
 * Ends an armed poll callback (dma_buf_poll_cb): wakes the pollers with
 * its events, disarms it, and drops the fence and file references it held.
 */
function pollCbDone(dcb: DmaBufPollCb, fence: DmaFence | null): void {
  const events = dcb.active;
  dcb.active = 0;
  dcb.cb = null;
  dcb.dmabuf.pollWq.wakeUp(events);
  fence?.put();
  dmaBufUntrackRef(dcb.dmabuf, 'fence-callback', dcb);
  dcb.dmabuf.file.put();
}

/** Names a poll callback for the reference views. */
const pollCbName = (dcb: DmaBufPollCb) => `poll callback for ${dcb === dcb.dmabuf.cbIn ? 'POLLIN' : 'POLLOUT'}`;

/**
 * Arms `dcb` on the first unsignalled fence an access would wait for
 * (dma_buf_poll_add_cb): writers wait for every fence (READ usage and
 * stronger), readers only for writers (WRITE usage). False when there is
 * nothing to wait for.
 */
function pollAddCb(d: DmaBuf, write: boolean, dcb: DmaBufPollCb): boolean {
  for (const { fence } of d.resv.fencesUnlocked(dmaResvUsageRw(write))) {
    fence.get();
    const cb = new DmaFenceCb((f) => pollCbDone(dcb, f));
    dcb.cb = cb;
    if (fence.addCallback(cb)) return true;
    dcb.cb = null;
    fence.put();
  }
  return false;
}

/**
 * Poll of a dma-buf (dma_buf_poll): POLLIN once every writer's fence has
 * signalled, POLLOUT once every fence has. While fences are pending it arms
 * one callback per direction that wakes the pollers when that fence
 * signals, and the poller asks again. Never sleeps.
 */
export function dmaBufPoll(d: DmaBuf, pt: PollTable | null): number {
  if (!d.resv) return POLLERR;
  pollWait(d.file, d.pollWq, pt);
  let events = (pt ? pt.key : ~0) & (POLLIN | POLLOUT);
  if (!events) return 0;
  if (events & POLLOUT) {
    const dcb = d.cbOut;
    if (dcb.active) events &= ~POLLOUT;
    else dcb.active = POLLOUT;
    if (events & POLLOUT) {
      d.file.get();
      dmaBufTrackRef(d, 'fence-callback', dcb, pollCbName, 'dma_buf_poll');
      if (!pollAddCb(d, true, dcb)) pollCbDone(dcb, null);
      else events &= ~POLLOUT;
    }
  }
  if (events & POLLIN) {
    const dcb = d.cbIn;
    if (dcb.active) events &= ~POLLIN;
    else dcb.active = POLLIN;
    if (events & POLLIN) {
      d.file.get();
      dmaBufTrackRef(d, 'fence-callback', dcb, pollCbName, 'dma_buf_poll');
      if (!pollAddCb(d, false, dcb)) pollCbDone(dcb, null);
      else events &= ~POLLIN;
    }
  }
  return events;
}
