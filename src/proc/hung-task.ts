import type { ProcKernel } from './kernel.ts';

/**
 * Describes every thread of every process that has not exited, one line
 * each: pid (and tid for a thread other than the main one), name and the
 * system calls it sleeps in, with the fd each works on and what that fd
 * refers to -- what the kernel's hung-task detector prints for a task
 * stuck in D state (check_hung_task, with /proc/<pid>/task/<tid>/wchan's
 * answer), for a run in which nothing can happen any more.
 */
export function describeBlockedTasks(k: ProcKernel): string[] {
  const lines: string[] = [];
  for (const p of k.processes.values()) {
    if (p.group.state !== 'running' || p.group.exiting) continue;
    for (const t of p.group.liveTasks()) {
      const calls = [...t.calls].map((c) => {
        if (c.fd === undefined) return c.name;
        const f = t.files.peek(c.fd);
        return f ? `${c.name}(${c.fd}) on ${f.pathName()}` : `${c.name}(${c.fd})`;
      });
      const who = t.tid === t.pid ? `pid ${t.pid}` : `pid ${t.pid} tid ${t.tid}`;
      lines.push(`${who} (${t.comm}) ${calls.length > 0 ? `blocked in ${calls.join(', ')}` : 'waits outside any system call'}`);
    }
  }
  return lines;
}
