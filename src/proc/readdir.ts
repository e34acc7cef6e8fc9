import { kerr } from '../lib/index.ts';
import { iterateDir, type DirContext } from '../fs/index.ts';
import type { LinuxDirent64 } from '../uapi/index.ts';
import type { Process } from './process.ts';

/** offsetof(struct linux_dirent64, d_name): d_ino, d_off, d_reclen, d_type. */
const DIRENT64_NAME_OFFSET = 19;
const encoder = new TextEncoder();

/** Bytes one entry takes in getdents64's buffer: header, name, NUL, padded to 8. */
function reclen(name: string): number {
  return (DIRENT64_NAME_OFFSET + encoder.encode(name).length + 1 + 7) & ~7;
}

/**
 * getdents64(2): the directory's entries from the file position that fit
 * in `count` bytes of struct linux_dirent64, each with d_off the position
 * of the entry after it; the position moves past them. An empty array is
 * the end. EBADF for a bad fd, ENOTDIR for a file that is not a directory,
 * EINVAL when `count` cannot hold the next entry (filldir64's "result too
 * small"), ENOENT when the directory is gone (a process's /proc entries).
 */
export function sysGetdents64(p: Process, fd: number, count: number): LinuxDirent64[] {
  const f = p.fget(fd);
  try {
    if (!Number.isSafeInteger(count) || count < 0) throw kerr('EINVAL', `count ${count}`);
    const out: LinuxDirent64[] = [];
    let left = count;
    let tooSmall = false;
    const ctx: DirContext = {
      pos: 0,
      actor(name: string, ino: number, type: number): boolean {
        const len = reclen(name);
        if (len > left) {
          tooSmall = true;
          return false;
        }
        const prev = out[out.length - 1];
        if (prev) prev.d_off = ctx.pos;
        out.push({ d_ino: ino, d_off: 0, d_reclen: len, d_type: type, d_name: name });
        left -= len;
        return true;
      },
    };
    iterateDir(f, ctx);
    if (out.length > 0) out[out.length - 1]!.d_off = ctx.pos;
    else if (tooSmall) throw kerr('EINVAL', `${count} bytes cannot hold the next entry`);
    return out;
  } finally {
    f.put();
  }
}
