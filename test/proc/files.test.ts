import { describe, it, expect } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import { SyscallError } from '../../src/lib/index.ts';
import {
  FD_CLOEXEC,
  FIONBIO,
  FIONREAD,
  F_DUPFD,
  F_DUPFD_CLOEXEC,
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  O_CLOEXEC,
  O_CREAT,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  O_APPEND,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  S_IFCHR,
  makedev,
} from '../../src/uapi/index.ts';
import { TEST_IOC_COUNT, TEST_IOC_EXPORT, errno, fdinfoMap, run, setup } from './helpers.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('fd syscalls', () => {
  it('open, write, lseek, read, pread, fstat on a regular file', async () => {
    const s = setup();
    const status = await run(s, async (sys) => {
      const fd = await sys.open('/tmp/log', O_CREAT | O_RDWR, 0o600);
      expect(fd).toBe(0); // no stdio is set up: the first fd is 0
      expect(await sys.write(fd, enc.encode('hello world'))).toBe(11);
      expect(await sys.lseek(fd, 0, SEEK_CUR)).toBe(11);
      expect(await sys.lseek(fd, 6, SEEK_SET)).toBe(6);
      expect(dec.decode(await sys.read(fd, 100))).toBe('world');
      expect(dec.decode(await sys.pread(fd, 5, 0))).toBe('hello');
      expect(await sys.lseek(fd, 0, SEEK_CUR)).toBe(11);
      expect(await errno(sys.lseek(fd, -20, SEEK_END))).toBe('EINVAL');
      expect(await errno(sys.pread(fd, 5, -1))).toBe('EINVAL');
      const st = await sys.fstat(fd);
      expect(st.st_size).toBe(11);
      expect(st.st_mode & 0o777).toBe(0o600);
      await sys.lseek(fd, 2, SEEK_SET);
      const n = { value: -1 };
      await sys.ioctl(fd, FIONREAD, n);
      expect(n.value).toBe(9);
      await sys.close(fd);
      expect(await errno(sys.close(fd))).toBe('EBADF');
      expect(await errno(sys.read(fd, 1))).toBe('EBADF');
      const ro = await sys.open('/tmp/log', O_RDONLY);
      expect(await errno(sys.write(ro, enc.encode('x')))).toBe('EBADF');
      const wo = await sys.open('/tmp/log', O_WRONLY | O_APPEND);
      expect(await errno(sys.read(wo, 1))).toBe('EBADF');
      await sys.write(wo, enc.encode('!'));
      expect(dec.decode(await sys.pread(ro, 100, 0))).toBe('hello world!');
      return 7;
    });
    expect(status).toBe(7);
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('hands out the lowest free fd, honours RLIMIT_NOFILE (EMFILE) and dup/dup2/F_DUPFD', async () => {
    const s = setup();
    await run(
      s,
      async (sys) => {
        const fds: number[] = [];
        for (let i = 0; i < 4; i++) fds.push(await sys.open('/tmp/x', O_CREAT | O_RDWR));
        expect(fds).toEqual([0, 1, 2, 3]);
        expect(await errno(sys.open('/tmp/x', O_RDWR))).toBe('EMFILE');
        expect(await errno(sys.dup(0))).toBe('EMFILE');
        await sys.close(1);
        expect(await sys.dup(3)).toBe(1);
        await sys.close(2);
        expect(await errno(sys.dup2(0, 4))).toBe('EBADF');
        expect(await sys.dup2(0, 2)).toBe(2);
        expect(await sys.dup2(2, 2)).toBe(2);
        expect(await errno(sys.dup2(9, 2))).toBe('EBADF');
        await sys.close(3);
        expect(await errno(sys.fcntl(0, F_DUPFD, 4))).toBe('EINVAL');
        expect(await sys.fcntl(0, F_DUPFD_CLOEXEC, 1)).toBe(3);
        expect(await sys.fcntl(3, F_GETFD)).toBe(FD_CLOEXEC);
        await sys.fcntl(3, F_SETFD, 0);
        expect(await sys.fcntl(3, F_GETFD)).toBe(0);
        expect(await errno(sys.fcntl(3, 999))).toBe('EINVAL');
      },
      undefined,
      4,
    );
    expect(s.k.vfs.openFileCount).toBe(0);
  });

  it('device nodes check credentials; a missing node is ENOENT', async () => {
    const s = setup();
    const user = makeCred(1000, 1000);
    const video = makeCred(1000, 1000, [44]);
    await run(s, async (sys) => {
      expect(await errno(sys.open('/dev/testbuf', O_RDWR))).toBe('EACCES');
      expect(await errno(sys.open('/dev/nothing', O_RDWR))).toBe('ENOENT');
      const e = await sys.open('/dev/testbuf', O_RDWR).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SyscallError);
      expect(e).toMatchObject({ code: 'EACCES', errno: 13, syscall: 'open' });
    }, user);
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/testbuf', O_RDWR | O_CLOEXEC);
      const st = await sys.fstat(fd);
      expect(st.st_mode).toBe(S_IFCHR | 0o660);
      expect(st.st_rdev).toBe(makedev(240, 0));
      // an open of a path sets O_LARGEFILE (0100000) in f_flags, as 64-bit Linux does
      expect((await sys.fcntl(fd, F_GETFL)).toString(8)).toBe('100002');
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dev/testbuf');
      expect(fdinfoMap(await sys.readFile(`/proc/self/fdinfo/${fd}`)).flags).toBe('02100002');
      const c = { value: 0 };
      await sys.ioctl(fd, TEST_IOC_COUNT, c);
      expect(c.value).toBe(1);
      expect(await errno(sys.ioctl(fd, 0x1234, {}))).toBe('ENOTTY');
      expect(await errno(sys.ioctl(fd, TEST_IOC_EXPORT, null))).toBe('EFAULT');
    }, video);
    expect(s.dev.releases).toBe(1);
  });

  it('pseudo files: lseek through llseek, ESPIPE for pread, EINVAL for write, fcntl flags, FIONBIO', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const a = { size: 65536, fd: -1 };
      await sys.ioctl(dev, TEST_IOC_EXPORT, a);
      const fd = a.fd;
      expect(fd).toBe(1);
      expect(await sys.lseek(fd, 0, SEEK_END)).toBe(65536);
      expect(await errno(sys.lseek(fd, 0, SEEK_CUR))).toBe('EINVAL');
      expect(await errno(sys.pread(fd, 10, 0))).toBe('ESPIPE');
      expect(await errno(sys.write(fd, enc.encode('x')))).toBe('EINVAL');
      expect(await errno(sys.read(fd, 1))).toBe('EINVAL');
      expect(await sys.fcntl(fd, F_GETFL)).toBe(O_RDWR);
      expect(await sys.fcntl(fd, F_GETFD)).toBe(FD_CLOEXEC);
      await sys.fcntl(fd, F_SETFL, O_NONBLOCK | O_WRONLY);
      // only SETFL_MASK bits change; the access mode stays
      expect((await sys.fcntl(fd, F_GETFL)).toString(8)).toBe('4002');
      await sys.ioctl(fd, FIONBIO, { value: 0 });
      expect(await sys.fcntl(fd, F_GETFL)).toBe(O_RDWR);
      const n = { value: 0 };
      expect(await errno(sys.ioctl(fd, FIONREAD, n))).toBe('ENOTTY');
      expect(n.value).toBe(0);
      expect(await sys.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:');
      expect(await errno(sys.open(`/proc/self/fd/${fd}`, O_RDWR))).toBe('ENXIO');
      const st = await sys.fstat(fd);
      expect(st.st_size).toBe(65536);
      expect(st.st_ino).toBe(1);
    });
    expect(s.dev.bufs[0]!.released).toBe(1);
  });

  it('fdinfo prints pos, octal flags with the fd\'s O_CLOEXEC, mnt_id, ino and the show_fdinfo lines', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      const a = { size: 65536, fd: -1 };
      await sys.ioctl(dev, TEST_IOC_EXPORT, a);
      const text = await sys.readFile(`/proc/self/fdinfo/${a.fd}`);
      expect(text).toBe('pos:\t0\nflags:\t02000002\nmnt_id:\t11\nino:\t1\nsize:\t65536\ncount:\t1\nexp_name:\ttestbuf\n');
      const d = await sys.dup(a.fd);
      expect(fdinfoMap(await sys.readFile(`/proc/self/fdinfo/${d}`)).flags).toBe('02');
      expect(fdinfoMap(await sys.readFile(`/proc/self/fdinfo/${a.fd}`)).count).toBe('2');
      expect(await errno(sys.readFile('/proc/self/fdinfo/77'))).toBe('ENOENT');
      expect(await errno(sys.readFile('/proc/4242/maps'))).toBe('ENOENT');
      expect(await sys.readlink('/proc/self')).toBe(String(await sys.getpid()));
      expect(await errno(sys.readlink('/tmp'))).toBe('EINVAL');
      expect(await errno(sys.readlink('/tmp/none'))).toBe('ENOENT');
    });
  });
});
