import { describe, it, expect } from 'vitest';
import { KernelError } from '../../src/lib/index.ts';
import {
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_LARGEFILE,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  O_APPEND,
  O_NOFOLLOW,
  S_IFCHR,
  S_IFLNK,
  S_IFREG,
  makedev,
} from '../../src/uapi/index.ts';
import { Inode, Vfs, lookupInode, lookupPath, registerChrdev, registerSeqFile, vfsOpen, fput, type File, type FileOperations } from '../../src/fs/index.ts';
import { TestTask } from './helpers.ts';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

const dec = new TextDecoder();
const enc = new TextEncoder();

async function readAll(f: File, task: TestTask): Promise<string> {
  const out = await f.fOp.read!(f, 1 << 20, f, task);
  return dec.decode(out);
}

describe('device nodes', () => {
  function setup() {
    const vfs = new Vfs();
    const opened: number[] = [];
    const fops: FileOperations = {
      name: 'vgem',
      open: (_inode, _file, task) => void opened.push(task.pid),
      release: () => void opened.push(-1),
    };
    const card = registerChrdev(vfs, { path: '/dev/dri/card0', major: 226, minor: 0, fops, mode: 0o660, gid: 44 });
    return { vfs, opened, card };
  }

  it('checks owner, group and mode against the caller (EACCES), root passes', async () => {
    const { vfs, opened } = setup();
    expect(await code(vfsOpen(vfs, new TestTask(1000, 1000), '/dev/dri/card0', O_RDWR))).toBe('EACCES');
    expect(opened).toEqual([]);
    const video = new TestTask(1000, 1000, [44], 7);
    const f = await vfsOpen(vfs, video, '/dev/dri/card0', O_RDWR | O_CLOEXEC);
    expect(opened).toEqual([7]);
    expect(f.pathName()).toBe('/dev/dri/card0');
    expect(f.flags).toBe(O_RDWR | O_LARGEFILE);
    const st = f.inode.stat();
    expect(st.st_mode).toBe(S_IFCHR | 0o660);
    expect(st.st_rdev).toBe(makedev(226, 0));
    fput(f);
    expect(opened).toEqual([7, -1]);
    const root = await vfsOpen(vfs, new TestTask(0, 0), '/dev/dri/card0', O_RDWR);
    fput(root);
  });

  it('a missing node is ENOENT; an unregistered one too, while open files keep working', async () => {
    const { vfs, card } = setup();
    const root = new TestTask(0, 0);
    expect(await code(vfsOpen(vfs, root, '/dev/dri/card1', O_RDWR))).toBe('ENOENT');
    expect(await code(vfsOpen(vfs, root, '/dev/nope/card0', O_RDWR))).toBe('ENOENT');
    const f = await vfsOpen(vfs, root, '/dev/dri/card0', O_RDWR);
    card.unregister();
    expect(await code(vfsOpen(vfs, root, '/dev/dri/card0', O_RDWR))).toBe('ENOENT');
    expect(f.released).toBe(false);
    fput(f);
    expect(() => registerChrdev(vfs, { path: '/dev/dri', major: 1, minor: 1, fops: {} })).toThrow(KernelError);
  });

  it('an open hook that fails fails the open without release and without leaking', async () => {
    const vfs = new Vfs();
    let releases = 0;
    registerChrdev(vfs, {
      path: '/dev/busy',
      major: 10,
      minor: 1,
      mode: 0o666,
      fops: {
        open: async () => {
          throw new KernelError('EBUSY');
        },
        release: () => void releases++,
      },
    });
    expect(await code(vfsOpen(vfs, new TestTask(), '/dev/busy', O_RDWR))).toBe('EBUSY');
    expect(releases).toBe(0);
    expect(vfs.openFileCount).toBe(0);
  });
});

describe('regular files and directories', () => {
  it('creates with O_CREAT under the umask, refuses O_EXCL on an existing file, truncates', async () => {
    const vfs = new Vfs();
    const t = new TestTask(1000, 1000);
    const f = await vfsOpen(vfs, t, '/tmp/a', O_CREAT | O_WRONLY, 0o666);
    expect(f.inode.stat().st_mode & 0o7777).toBe(0o644);
    expect(f.inode.uid).toBe(1000);
    expect(await f.fOp.write!(f, enc.encode('hello'), f, t)).toBe(5);
    expect(f.pos).toBe(5);
    fput(f);
    expect(await code(vfsOpen(vfs, t, '/tmp/a', O_CREAT | O_EXCL | O_RDWR))).toBe('EEXIST');
    const r = await vfsOpen(vfs, t, '/tmp/a', O_RDONLY);
    expect(await readAll(r, t)).toBe('hello');
    fput(r);
    const ap = await vfsOpen(vfs, t, '/tmp/a', O_WRONLY | O_APPEND);
    await ap.fOp.write!(ap, enc.encode('!'), ap, t);
    fput(ap);
    const r2 = await vfsOpen(vfs, t, 'tmp/./a', O_RDONLY);
    expect(await readAll(r2, t)).toBe('hello!');
    fput(r2);
    const tr = await vfsOpen(vfs, t, '/tmp/a', O_WRONLY | O_TRUNC);
    expect(tr.inode.size).toBe(0);
    fput(tr);
    // another user may read (0644) but not write
    const other = new TestTask(1001, 1001);
    expect(await code(vfsOpen(vfs, other, '/tmp/a', O_WRONLY))).toBe('EACCES');
    expect(await code(vfsOpen(vfs, other, '/tmp/a', O_RDONLY))).toBe('ok');
    expect(await code(vfsOpen(vfs, t, '/probe', O_CREAT | O_RDWR))).toBe('EACCES');
    expect(await code(vfsOpen(vfs, new TestTask(0, 0), '/probe', O_CREAT | O_RDWR))).toBe('ok');
  });

  it('reports ENOTDIR, EISDIR and ENOENT where Linux does', async () => {
    const vfs = new Vfs();
    const root = new TestTask(0, 0);
    fput(await vfsOpen(vfs, root, '/tmp/f', O_CREAT | O_RDWR));
    expect(await code(vfsOpen(vfs, root, '/tmp/f/x', O_RDONLY))).toBe('ENOTDIR');
    expect(await code(vfsOpen(vfs, root, '/tmp/f', O_RDONLY | O_DIRECTORY))).toBe('ENOTDIR');
    expect(await code(vfsOpen(vfs, root, '/tmp', O_RDWR))).toBe('EISDIR');
    expect(await code(vfsOpen(vfs, root, '', O_RDONLY))).toBe('ENOENT');
    const d = await vfsOpen(vfs, root, '/tmp', O_RDONLY | O_DIRECTORY);
    expect(await code(Promise.resolve().then(() => d.fOp.read!(d, 10, d, root)))).toBe('EISDIR');
    fput(d);
  });
});

describe('generated files', () => {
  it('produces text at the first read and serves that snapshot; debugfs is root-only', async () => {
    const vfs = new Vfs();
    let n = 0;
    registerSeqFile(vfs, '/sys/kernel/debug/dma_buf/bufinfo', () => `call ${++n}\n`);
    const root = new TestTask(0, 0);
    const f = await vfsOpen(vfs, root, '/sys/kernel/debug/dma_buf/bufinfo', O_RDONLY);
    expect(dec.decode(await f.fOp.read!(f, 3, f, root))).toBe('cal');
    expect(dec.decode(await f.fOp.read!(f, 100, f, root))).toBe('l 1\n');
    expect((await f.fOp.read!(f, 100, f, root)).length).toBe(0);
    f.pos = 0;
    expect(dec.decode(await f.fOp.read!(f, 100, f, root))).toBe('call 2\n');
    fput(f);
    expect(await code(vfsOpen(vfs, new TestTask(), '/sys/kernel/debug/dma_buf/bufinfo', O_RDONLY))).toBe('EACCES');
    expect(await code(vfsOpen(vfs, root, '/sys/kernel/debug/dma_buf/bufinfo', O_WRONLY))).toBe('ok');
  });
});

describe('symbolic links in path walks', () => {
  function tree() {
    const vfs = new Vfs();
    const task = new TestTask();
    const home = vfs.mkdirKernel('/sys/devices/platform/dev0/cls/node0');
    home.children!.set('dev', new Inode(home.sb, { mode: S_IFREG | 0o444, size: 0 }));
    const cls = vfs.mkdirKernel('/sys/class/cls');
    const link = (dir: Inode, name: string, target: string) => dir.children!.set(name, new Inode(dir.sb, { mode: S_IFLNK | 0o777, symlink: target }));
    link(cls, 'node0', '../../devices/platform/dev0/cls/node0');
    link(home, 'device', '../../../dev0');
    link(home, 'abs', '/sys/class');
    link(cls, 'self', 'self');
    link(cls, 'dangling', 'nowhere');
    return { vfs, task, home, cls };
  }

  it('follows relative links from the directory holding them, and ".." from where a link led', () => {
    const { vfs, task, home } = tree();
    expect(lookupInode(vfs, task, '/sys/class/cls/node0/dev')).toBe(home.children!.get('dev'));
    expect(lookupPath(vfs, task, '/sys/class/cls/node0').path).toBe('/sys/devices/platform/dev0/cls/node0');
    // ".." after a link climbs the target's parents, not the link's
    expect(lookupPath(vfs, task, '/sys/class/cls/node0/..').path).toBe('/sys/devices/platform/dev0/cls');
    expect(lookupPath(vfs, task, '/sys/class/cls/node0/device').path).toBe('/sys/devices/platform/dev0');
    expect(lookupPath(vfs, task, '/sys/class/cls/node0/abs/cls').path).toBe('/sys/class/cls');
  });

  it('leaves the last link unfollowed when asked (lstat, readlink) and follows it with a trailing slash', () => {
    const { vfs, task, cls } = tree();
    expect(lookupInode(vfs, task, '/sys/class/cls/node0', false)).toBe(cls.children!.get('node0'));
    expect(lookupInode(vfs, task, '/sys/class/cls/node0', false).stat().st_size).toBe('../../devices/platform/dev0/cls/node0'.length);
    expect(lookupInode(vfs, task, '/sys/class/cls/node0/', false).isDir).toBe(true);
  });

  it('is ELOOP past MAXSYMLINKS links, ENOENT through a dangling link, ELOOP for O_NOFOLLOW on a link', async () => {
    const { vfs, task } = tree();
    expect(() => lookupPath(vfs, task, '/sys/class/cls/self')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(lookupPath(vfs, task, '/sys/class/cls/dangling').inode).toBeUndefined();
    expect(() => lookupInode(vfs, task, '/sys/class/cls/dangling/x')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(await code(vfsOpen(vfs, task, '/sys/class/cls/node0', O_RDONLY | O_NOFOLLOW))).toBe('ELOOP');
    expect(await code(vfsOpen(vfs, task, '/sys/class/cls/node0', O_RDONLY | O_DIRECTORY).then(fput))).toBe('ok');
  });
});
