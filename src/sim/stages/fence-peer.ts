import type { Sys } from '../../proc/index.ts';
import { O_RDWR, POLLIN, SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC, SYNC_IOC_FILE_INFO, type SwSyncCreateFenceData, type SyncFileInfo } from '../../uapi/index.ts';
import type { StageContext } from './stage.ts';

/** The debugfs file whose every open is a new software timeline (sw_sync). */
const SW_SYNC = '/sys/kernel/debug/sync/sw_sync';

/**
 * A process that trades fences with its peer, the handshake of two
 * engines (a renderer and a compositor, a codec and a display) that each
 * need the other's work before finishing their own: it opens a sw_sync
 * timeline, and for each frame makes a fence on it (the frame's point),
 * sends the fence's sync_file fd to its peer over their socket with the
 * frame number, receives the peer's, waits for the peer's fence (poll)
 * and checks its status (SYNC_IOC_FILE_INFO), and signals its own
 * (SW_SYNC_IOC_INC). `order` says when it signals: `signal-first` before
 * it waits, `wait-first` only after the peer's fence signalled -- so two
 * `wait-first` peers each wait for the other before signalling: a fence
 * deadlock. The last peer hands each frame number it received to the
 * probe, the first says when it made each.
 */
export async function fencePeerStage(sys: Sys, ctx: StageContext): Promise<number> {
  const sock = ctx.downFd >= 0 ? ctx.downFd : ctx.upFd;
  const first = ctx.upFd < 0;
  const last = ctx.downFd < 0;
  const timeline = await sys.open(SW_SYNC, O_RDWR);
  const signalOwn = () => sys.ioctl(timeline, SW_SYNC_IOC_INC, { value: 1 });
  for (let n = 0; n < ctx.frames; n++) {
    if (first) ctx.probe.produced(n);
    const made: SwSyncCreateFenceData = { value: n + 1, name: `${ctx.spec.name} frame ${n}`, fence: -1 };
    await sys.ioctl(timeline, SW_SYNC_IOC_CREATE_FENCE, made);
    const msg = new Uint8Array(4);
    new DataView(msg.buffer).setUint32(0, n, true);
    await sys.sendmsg(sock, { data: msg, fds: [made.fence] });
    await sys.close(made.fence);
    const got = await sys.recvmsg(sock, { maxFds: 1, maxLen: 4 });
    const theirs = got.fds[0];
    if (theirs === undefined) break;
    if (ctx.spec.order === 'signal-first') await signalOwn();
    await sys.poll([{ fd: theirs, events: POLLIN }], -1);
    const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
    await sys.ioctl(theirs, SYNC_IOC_FILE_INFO, info);
    await sys.close(theirs);
    if (ctx.spec.order === 'wait-first') await signalOwn();
    if (info.status !== 1) ctx.probe.failed(ctx.spec.name, n, `the peer's fence signalled with status ${info.status}`);
    else if (last) ctx.probe.consumed(ctx.spec.name, n, got.data);
  }
  await sys.close(timeline);
  return 0;
}
