import { fencePeerStage } from '../../stages/fence-peer.ts';
import { stageDescriptor } from '../descriptor.ts';

/** Two (or more) processes trading sw_sync fences, each waiting for its peer's: the frames they check are the frame numbers sent with the fences. */
export const fencePeerDescriptor = stageDescriptor({
  name: 'fence-peer',
  description: 'trades sw_sync fences with its peer each frame: makes one, sends it, waits for the peer\'s, signals its own (`order`)',
  device: null,
  role: 'peer',
  program: fencePeerStage,
  plan: () => ({ inFmt: null, outFmt: null }),
  // What the last peer consumed is the frame number its peer sent along with that frame's fence.
  check: (_x, n, bytes) => bytes.length === 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === n,
  placement: (st) => `${st.name}: fence-peer, no buffers: a sw_sync timeline, its fences passed as sync_file fds`,
});
