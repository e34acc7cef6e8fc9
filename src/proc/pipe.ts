import { kerr } from '../lib/index.ts';
import { createPipeFiles } from '../fs/index.ts';
import { O_CLOEXEC, O_DIRECT, O_NONBLOCK } from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/** Flags pipe2 takes here: O_NOTIFICATION_PIPE is left out, as a kernel without CONFIG_WATCH_QUEUE refuses it. */
const PIPE2_FLAGS = O_CLOEXEC | O_NONBLOCK | O_DIRECT;

/**
 * pipe2(2): a new pipe on pipefs, its read end and write end at the two
 * lowest free fds. EINVAL for other flags, EMFILE when two fds are not
 * free (nothing is left open then).
 */
export function sysPipe2(k: ProcKernel, p: Process, flags: number): [number, number] {
  if (!Number.isInteger(flags) || (flags & ~PIPE2_FLAGS) !== 0) throw kerr('EINVAL', `pipe2 flags 0${flags.toString(8)}`);
  p.files.allocFd();
  const [r, w] = createPipeFiles(k.vfs, k.pipefs, p.cred, flags);
  const cloexec = (flags & O_CLOEXEC) !== 0;
  let fr = -1;
  try {
    fr = p.files.installLowest(r, cloexec);
    const fw = p.files.installLowest(w, cloexec);
    return [fr, fw];
  } catch (e) {
    if (fr >= 0) p.files.remove(fr);
    w.put();
    r.put();
    throw e;
  }
}
