import { SyscallError } from '../lib/index.ts';

/**
 * A CPU access the process's mappings do not allow: outside every mapping,
 * a write to a read-only one (SIGSEGV), or a page with no frame behind it
 * (SIGBUS). The load/store call rejects with it, code EFAULT, and the
 * process is killed by the signal, as Linux's fault path does; its exit
 * status is 128 + the signal number.
 */
export class SegfaultError extends SyscallError {
  readonly signal: 'SIGSEGV' | 'SIGBUS';
  /** The faulting user address. */
  readonly addr: number;
  constructor(syscall: string, signal: 'SIGSEGV' | 'SIGBUS', addr: number, detail: string) {
    super(syscall, 'EFAULT', `${signal} at 0x${addr.toString(16)}: ${detail}`);
    this.name = 'SegfaultError';
    this.signal = signal;
    this.addr = addr;
  }
}

/**
 * Thrown into a program that no longer runs: it called exit, was killed, or
 * exec replaced it. It unwinds the program's stack; the process runner
 * treats it as the end of that image. Every later call through the same
 * `sys` throws it again.
 */
export class ProcessUnwind extends Error {
  readonly pid: number;
  readonly reason: 'exit' | 'killed' | 'exec';
  constructor(pid: number, reason: 'exit' | 'killed' | 'exec') {
    super(`process ${pid}: ${reason === 'exec' ? 'replaced by exec' : reason === 'exit' ? 'exited' : 'killed'}`);
    this.name = 'ProcessUnwind';
    this.pid = pid;
    this.reason = reason;
  }
}
