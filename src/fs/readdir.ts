import { kerr } from '../lib/index.ts';
import { DT_DIR, S_IFMT, SEEK_CUR, SEEK_SET } from '../uapi/index.ts';
import type { File } from './file.ts';
import type { Inode } from './inode.ts';

/**
 * Where a directory walk stands and where its entries go (struct
 * dir_context): `pos` is the position of the next entry to offer; `actor`
 * takes one entry at offset `pos` and returns false when the caller's
 * buffer is full, and then the walk stops with `pos` still on that entry.
 */
export interface DirContext {
  pos: number;
  actor(name: string, ino: number, type: number): boolean;
}

/** One entry of a generated directory. */
export interface DirEntry {
  name: string;
  ino: number;
  /** DT_* type. */
  type: number;
}

/** The DT_* type of an inode mode (S_DT): the file-type bits shifted down, DT_UNKNOWN for none. */
export function dtType(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

/** Offers one entry at ctx.pos (dir_emit); false when the caller's buffer is full. */
export function dirEmit(ctx: DirContext, name: string, ino: number, type: number): boolean {
  return ctx.actor(name, ino, type);
}

/**
 * Offers `entries` from position ctx.pos on, one position each (what
 * dcache_readdir and proc_pident_readdir do over their lists), advancing
 * ctx.pos past every entry the caller took.
 */
export function dirEmitList(ctx: DirContext, entries: readonly DirEntry[]): void {
  while (ctx.pos >= 0 && ctx.pos < entries.length) {
    const e = entries[ctx.pos]!;
    if (!dirEmit(ctx, e.name, e.ino, e.type)) return;
    ctx.pos++;
  }
}

/**
 * Walks a directory from its file position (iterate_dir): ENOTDIR when the
 * file has no iterate op (every file that is not a directory). The file
 * position moves past what the caller took. Never sleeps.
 */
export function iterateDir(file: File, ctx: DirContext): void {
  if (!file.fOp.iterateShared) throw kerr('ENOTDIR', `${file.pathName()} is not a directory`);
  ctx.pos = file.pos;
  try {
    file.fOp.iterateShared(file, ctx);
  } finally {
    file.pos = ctx.pos;
  }
}

/**
 * The entries of an in-memory directory as dcache_readdir lists them:
 * ".", "..", then the children newest first (a new dentry goes to the head
 * of its parent's list). At the root of a mount, ".." names the directory
 * itself, as the mount root's d_parent is itself.
 */
export function dcacheEntries(dir: Inode, parent: Inode): DirEntry[] {
  const up = parent.sb === dir.sb ? parent : dir;
  const out: DirEntry[] = [
    { name: '.', ino: dir.ino, type: DT_DIR },
    { name: '..', ino: up.ino, type: DT_DIR },
  ];
  const kids = [...dir.children!];
  for (let i = kids.length - 1; i >= 0; i--) {
    const [name, inode] = kids[i]!;
    out.push({ name, ino: inode.ino, type: dtType(inode.mode) });
  }
  return out;
}

/** Moves a directory's position (dcache_dir_lseek): SEEK_SET and SEEK_CUR to a non-negative position; EINVAL else. */
export function dirLlseek(file: File, offset: number, whence: number): number {
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = file.pos + offset;
  else throw kerr('EINVAL', `whence ${whence} on a directory`);
  if (!Number.isSafeInteger(pos) || pos < 0) throw kerr('EINVAL', `position ${pos}`);
  file.pos = pos;
  return pos;
}
