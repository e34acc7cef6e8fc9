import { KernelBug, kerr, type CostLedger } from '../lib/index.ts';
import type { File } from '../fs/index.ts';

/** Default RLIMIT_NOFILE soft limit. */
export const NR_OPEN_DEFAULT = 1024;

/**
 * A process's file descriptor table (struct files_struct / fdtable): each
 * fd holds one reference to its File; the close-on-exec bits live here, per
 * fd, not in the file. New fds take the lowest free number below the
 * RLIMIT_NOFILE limit (EMFILE beyond). Nothing here sleeps; removing an fd
 * hands its reference to the caller, who fputs it.
 */
export class FdTable {
  private files: (File | null)[] = [];
  private cloexec = new Uint8Array(16);
  /** RLIMIT_NOFILE: fds must be below it. */
  readonly limit: number;
  private used = 0;
  /** Lowest fd that may be free (files_struct.next_fd). */
  private nextFd = 0;
  /** Set once exit closed the table; installs then fail. */
  closed = false;
  /** Where each fd's reference was taken: the call site id (a CostLedger's) and simulated ns, per fd. */
  private readonly sites: number[] = [];
  private readonly times: number[] = [];
  /** The ledger that names call sites, when the table records them. */
  private readonly ledger: CostLedger | null;

  /** A table whose fds must stay below `limit`; with `ledger`, each install records the call site and time that made the fd. */
  constructor(limit = NR_OPEN_DEFAULT, ledger: CostLedger | null = null) {
    if (!Number.isInteger(limit) || limit < 0) throw new KernelBug(`bad RLIMIT_NOFILE ${limit}`);
    this.limit = limit;
    this.ledger = ledger;
  }

  /** The call that installed `fd` (fd_install), as a site and simulated time; null when not recorded or not open. */
  origin(fd: number): { site: string; timeNs: number } | null {
    if (!this.ledger || !this.peek(fd)) return null;
    return { site: this.ledger.siteText(this.sites[fd] ?? 0), timeNs: this.times[fd] ?? 0 };
  }

  /** Number of open fds. */
  get count(): number {
    return this.used;
  }

  /** Returns the file at `fd` without taking a reference (files_lookup_fd); EBADF. */
  lookup(fd: number): File {
    const f = Number.isInteger(fd) && fd >= 0 ? this.files[fd] : undefined;
    if (!f) throw kerr('EBADF', `fd ${fd} is not open`);
    return f;
  }

  /** The file at `fd`, or null. */
  peek(fd: number): File | null {
    return (Number.isInteger(fd) && fd >= 0 ? this.files[fd] : null) ?? null;
  }

  /** Returns the lowest free fd at or above `min` (alloc_fd); EMFILE when none is below the limit. */
  allocFd(min = 0): number {
    if (this.closed) throw kerr('EBADF', 'fd table closed by exit');
    let fd = Math.max(min, this.nextFd);
    while (fd < this.files.length && this.files[fd]) fd++;
    if (fd >= this.limit) throw kerr('EMFILE', `no free fd below ${this.limit}`);
    return fd;
  }

  /** Puts `file` at `fd`, taking over the caller's reference (fd_install). */
  install(fd: number, file: File, cloexec: boolean): void {
    if (this.closed) throw kerr('EBADF', 'fd table closed by exit');
    if (fd >= this.limit || fd < 0) throw new KernelBug(`install at fd ${fd} outside the table`);
    if (this.files[fd]) throw new KernelBug(`fd ${fd} is already open`);
    while (this.files.length <= fd) this.files.push(null);
    if (fd >= this.cloexec.length) {
      const nb = new Uint8Array(Math.max(fd + 1, this.cloexec.length * 2));
      nb.set(this.cloexec);
      this.cloexec = nb;
    }
    this.files[fd] = file;
    this.cloexec[fd] = cloexec ? 1 : 0;
    if (this.ledger) {
      while (this.sites.length <= fd) {
        this.sites.push(0);
        this.times.push(0);
      }
      this.sites[fd] = this.ledger.siteHere('fd_install');
      this.times[fd] = this.ledger.nowNs();
    }
    this.used++;
    if (fd === this.nextFd) this.nextFd = fd + 1;
  }

  /** Installs at the lowest free fd; returns it. EMFILE leaves the reference with the caller. */
  installLowest(file: File, cloexec: boolean, min = 0): number {
    const fd = this.allocFd(min);
    this.install(fd, file, cloexec);
    return fd;
  }

  /** Removes `fd` and returns its file, whose reference passes to the caller (file_close_fd); EBADF. */
  remove(fd: number): File {
    const f = this.lookup(fd);
    this.files[fd] = null;
    this.cloexec[fd] = 0;
    this.used--;
    if (fd < this.nextFd) this.nextFd = fd;
    return f;
  }

  /** The close-on-exec bit of `fd`; EBADF. */
  getCloexec(fd: number): boolean {
    this.lookup(fd);
    return this.cloexec[fd] === 1;
  }

  /** Sets or clears close-on-exec on `fd`; EBADF. */
  setCloexec(fd: number, on: boolean): void {
    this.lookup(fd);
    this.cloexec[fd] = on ? 1 : 0;
  }

  /**
   * Size of the kernel's fd array (fdtable->max_fds) as a 64-bit kernel
   * grows it: 64 slots, then multiples of 128 in powers of two
   * (alloc_fdtable), never shrinking. What ends a walk over the fds
   * (/proc/<pid>/fd listings).
   */
  get maxFds(): number {
    const high = this.files.length - 1;
    if (high < 64) return 64;
    let n = 1;
    while (n < Math.floor(high / 128) + 1) n *= 2;
    return 128 * n;
  }

  /** Open fds in ascending order. */
  fds(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.files.length; i++) if (this.files[i]) out.push(i);
    return out;
  }

  /** A copy for fork: every file gains a reference (dup_fd). */
  copy(): FdTable {
    const t = new FdTable(this.limit, this.ledger);
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i];
      if (f) t.install(i, f.get(), this.cloexec[i] === 1);
    }
    return t;
  }

  /** Removes the close-on-exec fds and returns their files (do_close_on_exec). */
  takeCloexec(): File[] {
    const out: File[] = [];
    for (let i = 0; i < this.files.length; i++) if (this.files[i] && this.cloexec[i]) out.push(this.remove(i));
    return out;
  }

  /** Removes every fd, marks the table closed and returns the files (exit_files). */
  takeAll(): File[] {
    const out: File[] = [];
    for (let i = 0; i < this.files.length; i++) if (this.files[i]) out.push(this.remove(i));
    this.closed = true;
    return out;
  }
}
