import { describe, it, expect } from 'vitest';
import { Clock } from '../../src/hw/index.ts';
import { KernelBug } from '../../src/lib/index.ts';
import {
  FMODE_CAN_READ,
  FMODE_PREAD,
  FMODE_READ,
  FMODE_WRITE,
  ROOT_CRED,
  Vfs,
  allocAnonInode,
  allocFilePseudo,
  anonInodeGetFile,
  fput,
  type FileOperations,
} from '../../src/fs/index.ts';
import { getFile } from '../../src/fs/file.ts';
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_RDWR, O_APPEND } from '../../src/uapi/index.ts';

describe('File references', () => {
  it('runs release once, when the last reference goes', () => {
    const vfs = new Vfs();
    let releases = 0;
    const fops: FileOperations = { release: () => void releases++ };
    const f = anonInodeGetFile(vfs, 'test', fops, null, O_RDWR);
    expect(f.count).toBe(1);
    getFile(f);
    getFile(f);
    expect(f.count).toBe(3);
    fput(f);
    fput(f);
    expect(releases).toBe(0);
    expect(vfs.openFileCount).toBe(1);
    fput(f);
    expect(releases).toBe(1);
    expect(f.released).toBe(true);
    expect(vfs.openFileCount).toBe(0);
    expect(() => fput(f)).toThrow(KernelBug);
    expect(() => getFile(f)).toThrow(KernelBug);
    expect(releases).toBe(1);
  });

  it('keeps an async release until flushDelayedFput, and reports its failure', async () => {
    const vfs = new Vfs();
    const clock = new Clock();
    let done = false;
    const f = anonInodeGetFile(vfs, 'slow', { release: async () => { await clock.sleep(1000); done = true; } }, null, 0);
    const p = fput(f);
    expect(p).toBeInstanceOf(Promise);
    const flushed = vfs.flushDelayedFput();
    await clock.runUntilSettled(flushed);
    expect(done).toBe(true);
    expect(clock.now).toBe(1000);

    const g = anonInodeGetFile(vfs, 'bad', { release: async () => { throw new Error('boom'); } }, null, 0);
    fput(g)!.catch(() => undefined);
    await expect(vfs.flushDelayedFput()).rejects.toThrow('boom');
  });

  it('anon inode files share one inode and keep only the access mode and O_NONBLOCK', () => {
    const vfs = new Vfs();
    const a = anonInodeGetFile(vfs, 'sync_file', {}, null, O_RDONLY | O_CLOEXEC | O_APPEND | O_NONBLOCK);
    const b = anonInodeGetFile(vfs, 'sync_file', {}, null, O_RDWR);
    expect(a.inode).toBe(b.inode);
    expect(a.pathName()).toBe('anon_inode:sync_file');
    expect(a.flags).toBe(O_RDONLY | O_NONBLOCK);
    expect(a.mode & (FMODE_READ | FMODE_WRITE)).toBe(FMODE_READ);
    expect(b.mode & (FMODE_READ | FMODE_WRITE)).toBe(FMODE_READ | FMODE_WRITE);
  });

  it('pseudo files get inode numbers of their filesystem, no pread, and a computed name', () => {
    const vfs = new Vfs();
    const sb = vfs.mountPseudo('dmabuf', { mntId: 11, devMinor: 10 });
    expect(sb.devString).toBe('00:0a');
    expect(() => vfs.mountPseudo('other', { mntId: 11 })).toThrow(KernelBug);
    let name = '';
    const i1 = allocAnonInode(sb, 65536);
    const i2 = allocAnonInode(sb, 4096);
    expect([i1.ino, i2.ino]).toEqual([1, 2]);
    const f = allocFilePseudo(vfs, i1, { read: () => new Uint8Array(0) }, { flags: O_RDWR | O_CLOEXEC, name: () => `/dmabuf:${name}` });
    expect(f.flags).toBe(O_RDWR);
    expect(f.mode & FMODE_PREAD).toBe(0);
    expect(f.mode & FMODE_CAN_READ).toBe(FMODE_CAN_READ);
    expect(f.pathName()).toBe('/dmabuf:');
    name = 'oracle-A';
    expect(f.pathName()).toBe('/dmabuf:oracle-A');
    expect(f.inode.stat().st_size).toBe(65536);
    expect(f.inode.stat().st_mode).toBe(0o600);
    expect(f.cred).toBe(ROOT_CRED);
    fput(f);
  });

  it('abortOpen drops a file without release', () => {
    const vfs = new Vfs();
    let releases = 0;
    const f = anonInodeGetFile(vfs, 'x', { release: () => void releases++ }, null, 0);
    f.abortOpen();
    expect(releases).toBe(0);
    expect(vfs.openFileCount).toBe(0);
  });
});
