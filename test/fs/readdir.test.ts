import { describe, it, expect } from 'vitest';
import { KernelError } from '../../src/lib/index.ts';
import { DT_CHR, DT_DIR, O_RDONLY, SEEK_END, SEEK_SET } from '../../src/uapi/index.ts';
import { Vfs, iterateDir, registerChrdev, vfsOpen, type DirContext, type File } from '../../src/fs/index.ts';
import { TestTask } from './helpers.ts';

/** Every entry iterateDir offers from the file's position, with the position each sat at. */
function walk(f: File, room = Infinity): { name: string; ino: number; type: number; pos: number }[] {
  const out: { name: string; ino: number; type: number; pos: number }[] = [];
  const ctx: DirContext = {
    pos: 0,
    actor(name, ino, type) {
      if (out.length >= room) return false;
      out.push({ name, ino, type, pos: ctx.pos });
      return true;
    },
  };
  iterateDir(f, ctx);
  return out;
}

describe('directory iteration (dcache_readdir)', () => {
  it('offers ".", "..", then children newest first, one position each; ".." of a mount root is the root itself', async () => {
    const vfs = new Vfs();
    const task = new TestTask();
    registerChrdev(vfs, { path: '/dev/dri/card0', major: 226, minor: 0, mode: 0o666, fops: {} });
    registerChrdev(vfs, { path: '/dev/dri/renderD128', major: 226, minor: 128, mode: 0o666, fops: {} });
    const dri = await vfsOpen(vfs, task, '/dev/dri', O_RDONLY);
    const devIno = vfs.root.children!.get('dev')!.ino;
    expect(walk(dri)).toEqual([
      { name: '.', ino: dri.inode.ino, type: DT_DIR, pos: 0 },
      { name: '..', ino: devIno, type: DT_DIR, pos: 1 },
      { name: 'renderD128', ino: dri.inode.children!.get('renderD128')!.ino, type: DT_CHR, pos: 2 },
      { name: 'card0', ino: dri.inode.children!.get('card0')!.ino, type: DT_CHR, pos: 3 },
    ]);
    expect(dri.pos).toBe(4);
    expect(walk(dri)).toEqual([]);
    // /dev is devtmpfs's root: its ".." is itself, as the mount root's d_parent is
    const dev = await vfsOpen(vfs, task, '/dev', O_RDONLY);
    expect(walk(dev).slice(0, 2).map((e) => e.ino)).toEqual([devIno, devIno]);
    // a full caller leaves the position on the entry it refused
    dri.fOp.llseek!(dri, 0, SEEK_SET);
    expect(walk(dri, 3).map((e) => e.name)).toEqual(['.', '..', 'renderD128']);
    expect(dri.pos).toBe(3);
    expect(() => dri.fOp.llseek!(dri, 0, SEEK_END)).toThrow(KernelError);
    dri.put();
    dev.put();
  });

  it('is ENOTDIR for a file without an iterate op', async () => {
    const vfs = new Vfs();
    registerChrdev(vfs, { path: '/dev/null', major: 1, minor: 3, mode: 0o666, fops: {} });
    const f = await vfsOpen(vfs, new TestTask(), '/dev/null', O_RDONLY);
    try {
      walk(f);
      expect.unreachable();
    } catch (e) {
      expect((e as KernelError).code).toBe('ENOTDIR');
    }
    f.put();
  });
});
