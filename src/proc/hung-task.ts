import type { ProcKernel } from './kernel.ts';

/**
 * Describes every process that has not exited, one line each: pid, name
 * and the system calls it sleeps in, with the fd each works on and what
 * that fd refers to -- what the kernel's hung-task detector prints for a
 * task stuck in D state (check_hung_task, with /proc/<pid>/wchan's
 * answer), for a run in which nothing can happen any more.
 */
export function describeBlockedTasks(k: ProcKernel): string[] {
  const lines: string[] = [];
  for (const p of k.processes.values()) {
    if (p.state !== 'running' || p.exiting) continue;
    const calls = [...p.calls].map((c) => {
      if (c.fd === undefined) return c.name;
      const f = p.files.peek(c.fd);
      return f ? `${c.name}(${c.fd}) on ${f.pathName()}` : `${c.name}(${c.fd})`;
    });
    lines.push(`pid ${p.pid} (${p.comm}) ${calls.length > 0 ? `blocked in ${calls.join(', ')}` : 'waits outside any system call'}`);
  }
  return lines;
}
