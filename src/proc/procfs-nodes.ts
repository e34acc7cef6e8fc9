import { kerr } from '../lib/index.ts';
import {
  FMODE_READ,
  FMODE_WRITE,
  File,
  Inode,
  MAY_EXEC,
  dirEmit,
  dirEmitList,
  dirLlseek,
  modePermission,
  type DirContext,
  type DirEntry,
  type FileOperations,
} from '../fs/index.ts';
import { DT_DIR, DT_LNK, DT_REG, O_CLOEXEC, O_CREAT, O_EXCL, O_LARGEFILE, O_NOCTTY, O_TRUNC, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';
import type { ProcPath } from './procfs.ts';

/** Position of "self" in /proc; the pids follow (FIRST_PROCESS_ENTRY, TGID_OFFSET). */
const FIRST_PROCESS_ENTRY = 256;
const TGID_OFFSET = FIRST_PROCESS_ENTRY + 2;
/** Where a finished /proc walk leaves the position (PID_MAX_LIMIT of a 64-bit kernel + TGID_OFFSET). */
const PROC_ROOT_END = 4 * 1024 * 1024 + TGID_OFFSET;
/** The entries of /proc/<pid> unimem has, in the order of Linux's tgid_base_stuff. */
const PID_ENTRIES: readonly { name: string; type: number }[] = [
  { name: 'task', type: DT_DIR },
  { name: 'fd', type: DT_DIR },
  { name: 'fdinfo', type: DT_DIR },
  { name: 'status', type: DT_REG },
  { name: 'comm', type: DT_REG },
  { name: 'maps', type: DT_REG },
];
/** The entries of /proc/<pid>/task/<tid>, in the order of tid_base_stuff (which has no task). */
const TID_ENTRIES = PID_ENTRIES.filter((e) => e.name !== 'task');

/** The mode of a pid or tid directory's entry: fd directories 0500, comm 0644 (a thread group may rename itself), others 0444. */
function entryMode(name: string, type: number): number {
  if (type === DT_DIR) return name === 'task' ? S_IFDIR | 0o555 : S_IFDIR | 0o500;
  return name === 'comm' ? S_IFREG | 0o644 : S_IFREG | 0o444;
}

/** Where a path's inodes are kept in the process's cache: under task/<tid>/ for a thread's directory. */
function keyPrefix(pp: ProcPath): string {
  return pp.tid === undefined ? '' : `task/${pp.tid}/`;
}
/** i_size of every /proc/<pid>/fd/N link. */
const FD_LINK_SIZE = 64;

/**
 * A /proc inode kept in `cache` under `key`, made on first lookup; its
 * mode and owner are set again on every lookup, as pid_revalidate and
 * tid_fd_revalidate do, because the task's credentials or the fd's file
 * may have changed.
 */
function procNode(k: ProcKernel, cache: Map<string, Inode>, key: string, mode: number, uid: number, gid: number): Inode {
  let n = cache.get(key);
  if (!n) {
    n = new Inode(k.procfs, { mode, uid, gid });
    cache.set(key, n);
  }
  n.mode = mode;
  n.uid = uid;
  n.gid = gid;
  if ((mode & S_IFMT) === S_IFDIR) n.nlink = 2;
  return n;
}

/** The /proc root directory (proc_root), root-owned 0555. */
function rootNode(k: ProcKernel): Inode {
  return procNode(k, k.procNodes, '/proc', S_IFDIR | 0o555, 0, 0);
}

/** A live or zombie process for a /proc lookup; ENOENT once reaped. */
function procTask(k: ProcKernel, pid: number): Process {
  const t = k.processes.get(pid);
  if (!t || t.group.state === 'reaped') throw kerr('ENOENT', `/proc/${pid}`);
  return t;
}

/**
 * The task a /proc path names (proc_pid_lookup, proc_task_lookup): the
 * process's leader, or under task/<tid> that thread of it. ENOENT for a
 * process that is gone or a tid that is not one of its threads.
 */
export function procPathTask(k: ProcKernel, pp: ProcPath & { pid: number }): Process {
  const t = procTask(k, pp.pid);
  if (pp.tid === undefined) return t;
  const th = t.group.tasks.find((x) => x.tid === pp.tid);
  if (!th) throw kerr('ENOENT', `/proc/${pp.pid}/task/${pp.tid}`);
  return th;
}

/** Searching /proc/<pid>/fd or fdinfo (0500, the task's owner): the task itself always may (proc_fd_permission). */
function mayEnterFdDir(p: Process, t: Process, dir: Inode): void {
  if (p === t) return;
  modePermission(dir.mode, dir.uid, dir.gid, p.cred, MAY_EXEC);
}

/** The /proc/<pid>/fd/N link's mode: r-x for a file open for reading, -wx for writing (tid_fd_update_inode). */
function fdLinkMode(f: File): number {
  let m = S_IFLNK;
  if (f.mode & FMODE_READ) m |= 0o500;
  if (f.mode & FMODE_WRITE) m |= 0o300;
  return m;
}

/**
 * The inode a /proc path names (proc_root_lookup, proc_pid_lookup,
 * proc_lookupfd): directories, maps, fdinfo files and the symlinks
 * /proc/self and /proc/<pid>/fd/N. With `follow`, /proc/self is the
 * caller's pid directory and an fd link is the inode of the file it
 * refers to (a memfd, a dma-buf, a pipe). ENOENT for a process or fd that
 * does not exist; EACCES to search another user's fd directories.
 */
export function procLookup(k: ProcKernel, p: Process, names: readonly string[], pp: ProcPath, follow: boolean): Inode {
  if (pp.kind === 'dir' && pp.pid === null) return rootNode(k);
  if (names.length === 2 && names[1] === 'self' && !follow) return procNode(k, k.procNodes, '/proc/self', S_IFLNK | 0o777, 0, 0);
  const th = procPathTask(k, pp as ProcPath & { pid: number });
  const t = th.group.leader;
  const { uid, gid } = t.cred;
  const pre = keyPrefix(pp);
  if (pp.kind === 'dir' && pp.sub === null) return procNode(k, t.group.procNodes, pre, S_IFDIR | 0o555, uid, gid);
  if (pp.kind === 'dir' && pp.sub === 'task') {
    const n = procNode(k, t.group.procNodes, 'task', S_IFDIR | 0o555, uid, gid);
    n.nlink = 2 + t.group.tasks.length;
    return n;
  }
  if (pp.kind === 'maps' || pp.kind === 'comm' || pp.kind === 'status') return procNode(k, t.group.procNodes, pre + pp.kind, entryMode(pp.kind, DT_REG), uid, gid);
  const sub = pp.kind === 'dir' ? pp.sub! : pp.kind;
  const dir = procNode(k, t.group.procNodes, pre + sub, S_IFDIR | 0o500, uid, gid);
  if (pp.kind === 'dir') return dir;
  mayEnterFdDir(p, t, dir);
  const f = t.files.peek(pp.fd);
  if (!f) throw kerr('ENOENT', '/' + names.join('/'));
  if (pp.kind === 'fdinfo') return procNode(k, t.group.procNodes, `${pre}fdinfo/${pp.fd}`, S_IFREG | 0o400, uid, gid);
  if (follow) return f.inode;
  const link = procNode(k, t.group.procNodes, `${pre}fd/${pp.fd}`, fdLinkMode(f), uid, gid);
  link.size = FD_LINK_SIZE;
  return link;
}

/**
 * Lists /proc (proc_root_readdir): ".", "..", then "self" at position 256
 * and each process at 258 + pid, the walk ending at PID_MAX_LIMIT + 258.
 */
function readProcRoot(k: ProcKernel, ctx: DirContext): void {
  const root = rootNode(k);
  if (ctx.pos < 2) dirEmitList(ctx, [
    { name: '.', ino: root.ino, type: DT_DIR },
    { name: '..', ino: root.ino, type: DT_DIR },
  ]);
  if (ctx.pos < 2) return;
  if (ctx.pos < FIRST_PROCESS_ENTRY) ctx.pos = FIRST_PROCESS_ENTRY;
  if (ctx.pos === FIRST_PROCESS_ENTRY) {
    const self = procNode(k, k.procNodes, '/proc/self', S_IFLNK | 0o777, 0, 0);
    if (!dirEmit(ctx, 'self', self.ino, DT_LNK)) return;
    ctx.pos = TGID_OFFSET;
  }
  if (ctx.pos < TGID_OFFSET) ctx.pos = TGID_OFFSET;
  const pids = [...k.processes.values()].filter((t) => t.group.state !== 'reaped').sort((a, b) => a.pid - b.pid);
  for (const t of pids) {
    if (TGID_OFFSET + t.pid < ctx.pos) continue;
    ctx.pos = TGID_OFFSET + t.pid;
    const n = procNode(k, t.group.procNodes, '', S_IFDIR | 0o555, t.cred.uid, t.cred.gid);
    if (!dirEmit(ctx, String(t.pid), n.ino, DT_DIR)) return;
  }
  ctx.pos = PROC_ROOT_END;
}

/**
 * Lists /proc/<pid>/fd or fdinfo (proc_readfd_common): ".", "..", then
 * each open fd N at position N + 2, as a symlink (fd) or a regular file
 * (fdinfo); the walk ends at the fd array's size + 2. ENOENT once the
 * process is gone.
 */
function readFdDir(k: ProcKernel, t: Process, sub: 'fd' | 'fdinfo', pre: string, ctx: DirContext): void {
  if (t.group.state === 'reaped') throw kerr('ENOENT', `/proc/${t.pid}/${sub}`);
  const { uid, gid } = t.cred;
  const dir = procNode(k, t.group.procNodes, pre + sub, S_IFDIR | 0o500, uid, gid);
  const pidDir = procNode(k, t.group.procNodes, pre, S_IFDIR | 0o555, uid, gid);
  if (ctx.pos < 2) dirEmitList(ctx, [
    { name: '.', ino: dir.ino, type: DT_DIR },
    { name: '..', ino: pidDir.ino, type: DT_DIR },
  ]);
  if (ctx.pos < 2) return;
  for (const fd of t.files.fds()) {
    if (fd + 2 < ctx.pos) continue;
    ctx.pos = fd + 2;
    const f = t.files.peek(fd)!;
    const n =
      sub === 'fd'
        ? procNode(k, t.group.procNodes, `${pre}fd/${fd}`, fdLinkMode(f), uid, gid)
        : procNode(k, t.group.procNodes, `${pre}fdinfo/${fd}`, S_IFREG | 0o400, uid, gid);
    if (!dirEmit(ctx, String(fd), n.ino, sub === 'fd' ? DT_LNK : DT_REG)) return;
  }
  ctx.pos = t.files.maxFds + 2;
}

/**
 * Lists /proc/<pid> (proc_tgid_base_readdir) or, under `pre`,
 * /proc/<pid>/task/<tid> (proc_tid_base_readdir): ".", "..", then its
 * entries one position each.
 */
function readPidDir(k: ProcKernel, t: Process, pre: string, ctx: DirContext): void {
  if (t.group.state === 'reaped') throw kerr('ENOENT', `/proc/${t.pid}`);
  const { uid, gid } = t.cred;
  const parent = pre === '' ? rootNode(k) : procNode(k, t.group.procNodes, 'task', S_IFDIR | 0o555, uid, gid);
  const entries: DirEntry[] = [
    { name: '.', ino: procNode(k, t.group.procNodes, pre, S_IFDIR | 0o555, uid, gid).ino, type: DT_DIR },
    { name: '..', ino: parent.ino, type: DT_DIR },
  ];
  for (const e of pre === '' ? PID_ENTRIES : TID_ENTRIES) {
    entries.push({ name: e.name, ino: procNode(k, t.group.procNodes, pre + e.name, entryMode(e.name, e.type), uid, gid).ino, type: e.type });
  }
  dirEmitList(ctx, entries);
}

/**
 * Lists /proc/<pid>/task (proc_task_readdir): ".", "..", then each thread
 * by tid, the leader first, at position 2 + its index in the thread list;
 * a thread that ends between two reads shifts the rest.
 */
function readTaskDir(k: ProcKernel, t: Process, ctx: DirContext): void {
  if (t.group.state === 'reaped') throw kerr('ENOENT', `/proc/${t.pid}/task`);
  const { uid, gid } = t.cred;
  const dir = procNode(k, t.group.procNodes, 'task', S_IFDIR | 0o555, uid, gid);
  if (ctx.pos < 2) dirEmitList(ctx, [
    { name: '.', ino: dir.ino, type: DT_DIR },
    { name: '..', ino: procNode(k, t.group.procNodes, '', S_IFDIR | 0o555, uid, gid).ino, type: DT_DIR },
  ]);
  if (ctx.pos < 2) return;
  const tasks = t.group.tasks;
  for (let i = ctx.pos - 2; i < tasks.length; i++) {
    ctx.pos = i + 2;
    const tid = tasks[i]!.tid;
    const n = procNode(k, t.group.procNodes, `task/${tid}/`, S_IFDIR | 0o555, uid, gid);
    if (!dirEmit(ctx, String(tid), n.ino, DT_DIR)) return;
  }
  ctx.pos = Math.max(ctx.pos, tasks.length + 2);
}

/**
 * Opens a /proc directory (/proc, /proc/<pid>, its fd and fdinfo): a file
 * on the directory's inode whose entries are made afresh by every
 * getdents64, so a listing shows the fds open at that moment. Reading it
 * is EISDIR. The caller owns the reference.
 */
export function procDirFile(k: ProcKernel, p: Process, names: readonly string[], pp: ProcPath & { kind: 'dir' }, flags: number): File {
  const inode = procLookup(k, p, names, pp, true);
  const t = pp.pid === null ? null : procPathTask(k, pp as ProcPath & { pid: number }).group.leader;
  if (t && (pp.sub === 'fd' || pp.sub === 'fdinfo')) mayEnterFdDir(p, t, inode);
  const pre = keyPrefix(pp);
  const fops: FileOperations = {
    name: 'proc',
    read(): Uint8Array {
      throw kerr('EISDIR', 'is a directory');
    },
    llseek: dirLlseek,
    iterateShared(_file: File, ctx: DirContext): void {
      if (!t) readProcRoot(k, ctx);
      else if (pp.sub === 'task') readTaskDir(k, t, ctx);
      else if (pp.sub) readFdDir(k, t, pp.sub, pre, ctx);
      else readPidDir(k, t, pre, ctx);
    },
  };
  const fflags = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) | O_LARGEFILE;
  return new File(k.vfs, { inode, fops, flags: fflags, cred: p.cred, name: '/' + names.join('/') });
}
