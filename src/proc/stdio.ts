import { kerr } from '../lib/index.ts';
import { File, Inode, type Cred, type FileOperations, type FilePos, type SuperBlock, type Vfs } from '../fs/index.ts';
import { O_RDONLY, O_WRONLY, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, S_IFIFO } from '../uapi/index.ts';

/** Where a spawned program's standard streams lead. */
export interface StdioOptions {
  /** What reads of fd 0 return before end of file. */
  stdin?: Uint8Array | string;
  /** Called with every write to fd 1 or 2, as it happens (a terminal or the CLI's stdout). */
  onWrite?: (fd: 1 | 2, bytes: Uint8Array) => void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The three standard streams a program starts with, as a harness that runs
 * it through pipes gives them: fd 0 reads the given input then end of file,
 * fds 1 and 2 collect what is written (and pass it to onWrite). readlink
 * shows "pipe:[ino]"; like pipes they cannot seek (ESPIPE), and poll as
 * pipes whose other end the harness holds: fd 0 is readable while input
 * remains and hung up (the input's writer is gone), fds 1 and 2 are always
 * writable. Forked children share them.
 */
export class Stdio {
  private readonly input: Uint8Array;
  private inPos = 0;
  private readonly out: Uint8Array[][] = [[], []];
  private readonly onWrite?: (fd: 1 | 2, bytes: Uint8Array) => void;

  constructor(opts: StdioOptions = {}) {
    this.input = typeof opts.stdin === 'string' ? enc.encode(opts.stdin) : (opts.stdin ?? new Uint8Array(0));
    this.onWrite = opts.onWrite;
  }

  /** Everything written to fd 1 so far, as text. */
  get stdout(): string {
    return this.text(0);
  }

  /** Everything written to fd 2 so far, as text. */
  get stderr(): string {
    return this.text(1);
  }

  /** Creates the three files (each with one reference, for fds 0, 1 and 2). */
  files(vfs: Vfs, pipefs: SuperBlock, cred: Cred): [File, File, File] {
    const mk = (flags: number, fops: FileOperations) => {
      const inode = new Inode(pipefs, { mode: S_IFIFO | 0o600, uid: cred.uid, gid: cred.gid });
      return new File(vfs, { inode, fops, flags, cred, name: `pipe:[${inode.ino}]` });
    };
    const reader: FileOperations = {
      name: 'pipe',
      read: (_f: File, len: number, _ppos: FilePos) => {
        const end = Math.min(this.input.length, this.inPos + len);
        const chunk = this.input.slice(this.inPos, end);
        this.inPos = end;
        return chunk;
      },
      poll: () => (this.inPos < this.input.length ? POLLIN | POLLRDNORM : 0) | POLLHUP,
    };
    const writer = (fd: 1 | 2): FileOperations => ({
      name: 'pipe',
      write: (_f: File, data: Uint8Array, _ppos: FilePos) => {
        if (!(data instanceof Uint8Array)) throw kerr('EFAULT', 'buffer is not a Uint8Array');
        const copy = data.slice();
        this.out[fd - 1]!.push(copy);
        this.onWrite?.(fd, copy);
        return data.length;
      },
      poll: () => POLLOUT | POLLWRNORM,
    });
    return [mk(O_RDONLY, reader), mk(O_WRONLY, writer(1)), mk(O_WRONLY, writer(2))];
  }

  private text(i: number): string {
    const parts = this.out[i]!;
    let n = 0;
    for (const p of parts) n += p.length;
    const all = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return dec.decode(all);
  }
}
