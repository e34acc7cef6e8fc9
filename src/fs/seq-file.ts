import { kerr } from '../lib/index.ts';
import { S_IFREG } from '../uapi/index.ts';
import type { File, FileOperations, FilePos } from './file.ts';
import { Inode } from './inode.ts';
import type { Vfs } from './vfs.ts';
import { splitPath } from './vfs.ts';
import { genericFileLlseek } from './llseek.ts';

/** Produces the whole text of a generated file (a seq_file show). */
export type SeqShow = () => string;

const encoder = new TextEncoder();

/**
 * File operations of generated text files (seq_file): the text is produced
 * when a read starts at offset 0 and served from that snapshot until the
 * reader seeks back to 0, as seq_read's buffer behaves.
 */
export const seqFileOps: FileOperations = {
  name: 'seq_file',
  /** Serves the snapshot, taking a new one at offset 0 (seq_read). */
  read(file: File, len: number, ppos: FilePos): Uint8Array {
    if (ppos.pos === 0 || !(file.privateData instanceof Uint8Array)) {
      file.privateData = encoder.encode((file.inode.privateData as SeqShow)());
    }
    const text = file.privateData as Uint8Array;
    const start = Math.min(ppos.pos, text.length);
    const end = Math.min(text.length, start + len);
    ppos.pos = end > start ? end : ppos.pos;
    return text.slice(start, end);
  },
  /** Moves within the snapshot (seq_lseek). */
  llseek(file: File, offset: number, whence: number): number {
    const size = file.privateData instanceof Uint8Array ? file.privateData.length : 0;
    return genericFileLlseek(file, offset, whence, size);
  },
};

/** Owner and mode of a generated file (debugfs_create_file's mode). */
export interface SeqFileOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** A generated file in the path tree, removable by its creator. */
export class SeqFileNode {
  readonly path: string;
  readonly inode: Inode;
  private readonly dir: Inode;
  private readonly name: string;

  constructor(path: string, inode: Inode, dir: Inode, name: string) {
    this.path = path;
    this.inode = inode;
    this.dir = dir;
    this.name = name;
  }

  /** Removes the file from the tree (debugfs_remove); open readers keep their snapshot. */
  remove(): void {
    if (this.dir.children!.get(this.name) === this.inode) this.dir.children!.delete(this.name);
  }
}

/**
 * Creates a generated read-only text file at `path`, e.g.
 * /sys/kernel/debug/dma_buf/bufinfo (debugfs_create_file with a seq_file
 * show). Missing parent directories are created. EEXIST when the path exists.
 */
export function registerSeqFile(vfs: Vfs, path: string, show: SeqShow, opts: SeqFileOptions = {}): SeqFileNode {
  return debugfsCreateFile(vfs, path, seqFileOps, show, { ...opts, mode: opts.mode ?? 0o444 });
}

/**
 * Creates a file at `path` whose opens get `fops`, with `data` as the
 * inode's private data (debugfs_create_file): how a debugfs interface that
 * is more than text (sw_sync's timeline file) is made. Missing parents are
 * created; the mode defaults to 0644. EEXIST when the path exists.
 */
export function debugfsCreateFile(vfs: Vfs, path: string, fops: FileOperations, data: unknown, opts: SeqFileOptions = {}): SeqFileNode {
  const names = splitPath(path);
  const name = names.pop();
  if (!name) throw kerr('EINVAL', 'empty path');
  const dir = vfs.mkdirKernel('/' + names.join('/'), 0o755);
  if (dir.children!.has(name)) throw kerr('EEXIST', path);
  const inode = new Inode(dir.sb, {
    mode: S_IFREG | ((opts.mode ?? 0o644) & 0o7777),
    uid: opts.uid ?? 0,
    gid: opts.gid ?? 0,
    fops,
    privateData: data,
  });
  dir.children!.set(name, inode);
  return new SeqFileNode('/' + [...names, name].join('/'), inode, dir, name);
}
