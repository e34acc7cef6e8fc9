import { kerr } from '../lib/index.ts';
import { File, Inode, UMASK, VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE, seqFileOps, type SeqShow, type SuperBlock, type Vfs } from '../fs/index.ts';
import { O_CLOEXEC, O_RDONLY, SIG_DFL, SIG_IGN, S_IFREG } from '../uapi/index.ts';
import type { Process } from './process.ts';

/** A parsed /proc path; `tid` is set under /proc/<pid>/task/<tid>. */
export type ProcPath =
  | { kind: 'fd'; pid: number; fd: number; tid?: number }
  | { kind: 'fdinfo'; pid: number; fd: number; tid?: number }
  | { kind: 'maps'; pid: number; tid?: number }
  | { kind: 'comm'; pid: number; tid?: number }
  | { kind: 'status'; pid: number; tid?: number }
  | { kind: 'dir'; pid: number | null; sub: 'fd' | 'fdinfo' | 'task' | null; tid?: number };

/** A decimal pid or tid as /proc spells it, NaN for anything else. */
function procNumber(s: string): number {
  return /^[1-9]\d*$/.test(s) ? Number(s) : NaN;
}

/**
 * Parses /proc/self/..., /proc/<pid>/{fd/N, fdinfo/N, maps, comm, task},
 * and /proc/<pid>/task/<tid>/ with the same entries but task. Returns
 * null for paths outside /proc; ENOENT for names /proc does not have.
 */
export function parseProcPath(names: string[], selfPid: number): ProcPath | null {
  if (names[0] !== 'proc') return null;
  if (names.length === 1) return { kind: 'dir', pid: null, sub: null };
  const p = names[1]!;
  const pid = p === 'self' ? selfPid : procNumber(p);
  if (!Number.isSafeInteger(pid)) throw kerr('ENOENT', `/proc/${p}`);
  if (names.length === 2) return { kind: 'dir', pid, sub: null };
  if (names[2] === 'task') {
    if (names.length === 3) return { kind: 'dir', pid, sub: 'task' };
    const tid = procNumber(names[3]!);
    if (!Number.isSafeInteger(tid)) throw kerr('ENOENT', '/' + names.join('/'));
    return parseEntry(names, 4, pid, tid);
  }
  return parseEntry(names, 2, pid, undefined);
}

/** Parses what follows a pid (or task/<tid>) directory from `names[at]`: the directory itself, fd, fdinfo, maps, comm. */
function parseEntry(names: string[], at: number, pid: number, tid: number | undefined): ProcPath {
  const t = tid === undefined ? {} : { tid };
  if (names.length === at) return { kind: 'dir', pid, sub: null, ...t };
  const what = names[at]!;
  const rest = names.length - at;
  if (what === 'maps' && rest === 1) return { kind: 'maps', pid, ...t };
  if (what === 'comm' && rest === 1) return { kind: 'comm', pid, ...t };
  if (what === 'status' && rest === 1) return { kind: 'status', pid, ...t };
  if ((what === 'fd' || what === 'fdinfo') && rest <= 2) {
    if (rest === 1) return { kind: 'dir', pid, sub: what, ...t };
    const n = names[at + 1]!;
    if (!/^(0|[1-9]\d*)$/.test(n)) throw kerr('ENOENT', '/' + names.join('/'));
    return { kind: what, pid, fd: Number(n), ...t };
  }
  throw kerr('ENOENT', '/' + names.join('/'));
}

/**
 * The /proc/<pid>/fdinfo/<fd> text (seq_show in fs/proc/fd.c): pos, flags
 * in octal with O_CLOEXEC from the fd, mnt_id, ino, then the file's own
 * show_fdinfo lines. The file is referenced while its show runs, as Linux
 * does, which is why dma-buf prints file_count - 1.
 */
export function fdinfoText(proc: Process, fd: number): string {
  const file = proc.files.peek(fd);
  if (!file) throw kerr('ENOENT', `/proc/${proc.pid}/fdinfo/${fd}`);
  const flags = file.flags | (proc.files.getCloexec(fd) ? O_CLOEXEC : 0);
  file.get();
  try {
    let text = `pos:\t${file.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t${file.inode.sb.mntId}\nino:\t${file.inode.ino}\n`;
    if (file.fOp.showFdinfo) text += file.fOp.showFdinfo(file);
    return text;
  } finally {
    file.put();
  }
}

/** Longest name a task keeps (TASK_COMM_LEN - 1). */
const TASK_COMM_MAX = 15;

/** The /proc/<pid>/comm and /proc/<pid>/task/<tid>/comm text (comm_show): the task's name, cut as the kernel keeps it, and a newline. */
export function commText(task: Process): string {
  return task.comm.slice(0, TASK_COMM_MAX) + '\n';
}

/** A signal set as status prints it (render_sigset_t): 64 bits in hex, signal n at bit n-1. */
function sigsetHex(sigs: Iterable<number>): string {
  let m = 0n;
  for (const s of sigs) m |= 1n << BigInt(s - 1);
  return m.toString(16).padStart(16, '0');
}

/**
 * The /proc/<pid>/status text (proc_pid_status) of `task` read by
 * `reader`: name, umask, state, the ids, the fd table's size, groups,
 * VmSize, the thread count and the signal masks, with Linux's keys and
 * layout. The lines unimem has nothing behind (namespaces, the other Vm*
 * counters, capabilities, seccomp, cpu lists, context switches) are left
 * out rather than made up; a reader finds keys by name.
 */
export function statusText(task: Process, reader: Process): string {
  const g = task.group;
  const state = g.state !== 'running' ? 'Z (zombie)' : task === reader || task.inSyscall === 0 ? 'R (running)' : 'S (sleeping)';
  const { uid, gid, groups } = task.cred;
  const vmKb = task.mm.areas.reduce((n, v) => n + (v.end - v.start), 0) / 1024;
  const actions = [...task.signals.actions];
  const lines = [
    `Name:\t${task.comm.slice(0, TASK_COMM_MAX)}`,
    `Umask:\t${UMASK.toString(8).padStart(4, '0')}`,
    `State:\t${state}`,
    `Tgid:\t${task.pid}`,
    'Ngid:\t0',
    `Pid:\t${task.tid}`,
    `PPid:\t${g.parent?.pid ?? 0}`,
    'TracerPid:\t0',
    `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
    `Gid:\t${gid}\t${gid}\t${gid}\t${gid}`,
    `FDSize:\t${task.files.maxFds}`,
    `Groups:\t${groups.map((x) => `${x} `).join('')}`,
    `VmSize:\t${String(vmKb).padStart(8)} kB`,
    `Threads:\t${g.liveTasks().length}`,
    `SigPnd:\t${sigsetHex(task.signals.pending.keys())}`,
    'ShdPnd:\t0000000000000000',
    `SigBlk:\t${sigsetHex(task.signals.blocked)}`,
    `SigIgn:\t${sigsetHex(actions.filter(([, a]) => a.handler === SIG_IGN).map(([sig]) => sig))}`,
    `SigCgt:\t${sigsetHex(actions.filter(([, a]) => a.handler !== SIG_IGN && a.handler !== SIG_DFL).map(([sig]) => sig))}`,
  ];
  return lines.join('\n') + '\n';
}

/** Width /proc/<pid>/maps pads each line's prefix to before the path (25 + 6 * sizeof(void *) - 1). */
const MAPS_PAD = 72;

/**
 * The /proc/<pid>/maps text (show_map_vma): range, rwx and s/p, offset of
 * the first page in the file, device, inode, and the file's path.
 */
export function mapsText(proc: Process): string {
  let out = '';
  for (const v of proc.mm.areas) {
    const perms =
      (v.flags & VM_READ ? 'r' : '-') + (v.flags & VM_WRITE ? 'w' : '-') + (v.flags & VM_EXEC ? 'x' : '-') + (v.flags & VM_MAYSHARE ? 's' : 'p');
    const h8 = (n: number) => n.toString(16).padStart(8, '0');
    const f = v.file;
    const dev = f ? f.inode.sb.devString : '00:00';
    const ino = f ? f.inode.ino : 0;
    const pgoff = f ? v.pgoff * 4096 : 0;
    const prefix = `${h8(v.start)}-${h8(v.end)} ${perms} ${h8(pgoff)} ${dev} ${ino} `;
    out += f ? `${prefix.padEnd(MAPS_PAD)} ${f.pathName()}\n` : `${prefix}\n`;
  }
  return out;
}

/** Checks that `caller` may look into `target`'s fds and memory (ptrace_may_access, read mode): EACCES. */
export function checkProcAccess(caller: Process, target: Process): void {
  if (caller.cred.uid !== 0 && caller.cred.uid !== target.cred.uid) throw kerr('EACCES', `/proc/${target.pid} belongs to uid ${target.cred.uid}`);
}

/** Makes an open file for a generated /proc text (a seq_file on procfs). */
export function procTextFile(vfs: Vfs, procfs: SuperBlock, path: string, caller: Process, show: SeqShow): File {
  const inode = new Inode(procfs, { mode: S_IFREG | 0o444, uid: caller.cred.uid, gid: caller.cred.gid, fops: seqFileOps, privateData: show });
  return new File(vfs, { inode, fops: seqFileOps, flags: O_RDONLY, cred: caller.cred, name: path });
}
