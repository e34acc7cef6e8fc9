import { kerr } from '../../src/lib/index.ts';
import { WaitQueueHead, makeCred, type Cred, type File, type Task } from '../../src/fs/index.ts';

/** A minimal Task for fs tests: a private fd table and a signal flag. */
export class TestTask implements Task {
  readonly pid: number;
  readonly cred: Cred;
  readonly comm = 'test';
  readonly signalWait = new WaitQueueHead();
  readonly fds: (File | null)[] = [];
  pending = false;

  constructor(uid = 1000, gid = 1000, groups: number[] = [], pid = 1) {
    this.pid = pid;
    this.cred = makeCred(uid, gid, groups);
  }

  fget(fd: number): File {
    const f = this.fds[fd];
    if (!f) throw kerr('EBADF');
    return f.get();
  }

  installFd(file: File): number {
    let fd = this.fds.indexOf(null);
    if (fd < 0) fd = this.fds.length;
    this.fds[fd] = file;
    return fd;
  }

  signalPending(): boolean {
    return this.pending;
  }

  signal(): void {
    this.pending = true;
    this.signalWait.wakeUp();
  }
}
