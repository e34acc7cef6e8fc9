import { describe, it, expect } from 'vitest';
import { PAGE_SIZE, SyscallError } from '../../src/lib/index.ts';
import { makeCred } from '../../src/fs/index.ts';
import { SegfaultError } from '../../src/proc/errors.ts';
import * as U from '../../src/uapi/index.ts';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_PAGESZ,
  AT_SYMLINK_NOFOLLOW,
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_ALARM,
  DT_CHR,
  DT_DIR,
  DT_LNK,
  DT_REG,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  F_ADD_SEALS,
  F_OK,
  F_SEAL_GROW,
  F_SEAL_WRITE,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MFD_ALLOW_SEALING,
  O_CREAT,
  O_DIRECTORY,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  R_OK,
  SEEK_SET,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  TIMER_ABSTIME,
  W_OK,
  X_OK,
  type LinuxDirent64,
} from '../../src/uapi/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { testSystem, heapAlloc, run as runDmabuf } from '../dmabuf/helpers.ts';
import { errno, exportTestBuf, run, setup } from './helpers.ts';

/** Every entry of a directory fd, read with a small buffer so several calls are needed. */
async function listAll(sys: Sys, fd: number, count = 64): Promise<LinuxDirent64[]> {
  const out: LinuxDirent64[] = [];
  for (;;) {
    const chunk = await sys.getdents64(fd, count);
    if (chunk.length === 0) return out;
    out.push(...chunk);
  }
}

const names = (ents: LinuxDirent64[]) => ents.map((e) => e.d_name);

describe('uapi constants of the new calls', () => {
  it('match the values gcc printed against this machine\'s headers (fcntl.h, unistd.h, linux/time.h, linux/falloc.h, dirent.h, sys/auxv.h)', () => {
    // printed by a C program including those headers (Debian bookworm, linux-libc-dev 6.1)
    const fromGcc: Record<string, number> = {
      AT_FDCWD: -100, AT_SYMLINK_NOFOLLOW: 256, AT_EACCESS: 512, AT_SYMLINK_FOLLOW: 1024, AT_NO_AUTOMOUNT: 2048, AT_EMPTY_PATH: 4096,
      F_OK: 0, R_OK: 4, W_OK: 2, X_OK: 1,
      CLOCK_REALTIME: 0, CLOCK_MONOTONIC: 1, CLOCK_PROCESS_CPUTIME_ID: 2, CLOCK_THREAD_CPUTIME_ID: 3, CLOCK_MONOTONIC_RAW: 4,
      CLOCK_REALTIME_COARSE: 5, CLOCK_MONOTONIC_COARSE: 6, CLOCK_BOOTTIME: 7, CLOCK_REALTIME_ALARM: 8, CLOCK_BOOTTIME_ALARM: 9, CLOCK_TAI: 11,
      TIMER_ABSTIME: 1,
      FALLOC_FL_KEEP_SIZE: 1, FALLOC_FL_PUNCH_HOLE: 2, FALLOC_FL_NO_HIDE_STALE: 4, FALLOC_FL_COLLAPSE_RANGE: 8, FALLOC_FL_ZERO_RANGE: 16,
      FALLOC_FL_INSERT_RANGE: 32, FALLOC_FL_UNSHARE_RANGE: 64,
      DT_UNKNOWN: 0, DT_FIFO: 1, DT_CHR: 2, DT_DIR: 4, DT_BLK: 6, DT_REG: 8, DT_LNK: 10, DT_SOCK: 12, DT_WHT: 14,
      AT_NULL: 0, AT_PAGESZ: 6, AT_CLKTCK: 17, AT_UID: 11, AT_EUID: 12, AT_GID: 13, AT_EGID: 14, AT_HWCAP: 16, AT_SECURE: 23, AT_PLATFORM: 15,
      PROT_GROWSDOWN: 0x01000000, PROT_GROWSUP: 0x02000000,
    };
    const ours = U as unknown as Record<string, number>;
    for (const [name, value] of Object.entries(fromGcc)) expect([name, ours[name]]).toEqual([name, value]);
  });
});

describe('getdents64', () => {
  it('lists /dev/dma_heap: ".", "..", then the heaps newest first, with d_off, d_reclen and d_type; then an empty read', async () => {
    const s = testSystem();
    await runDmabuf(s, async (sys) => {
      const fd = await sys.open('/dev/dma_heap', O_RDONLY | O_DIRECTORY);
      const dir = await sys.fstat(fd);
      const ents = await sys.getdents64(fd, 4096);
      const heaps = ents.slice(2).map((e) => e.d_name);
      expect(heaps.sort()).toEqual([s.cma.name, 'system'].sort());
      // a new dentry goes to the head of its parent's list: the heap added last comes first
      expect(ents.slice(2).map((e) => e.d_name)).toEqual([s.cma.name, 'system']);
      expect(ents[0]).toMatchObject({ d_name: '.', d_ino: dir.st_ino, d_type: DT_DIR, d_off: 1, d_reclen: 24 });
      expect(ents[1]).toMatchObject({ d_name: '..', d_type: DT_DIR, d_off: 2, d_reclen: 24 });
      expect(ents[1]!.d_ino).toBe((await sys.stat('/dev')).st_ino);
      expect(ents.map((e) => e.d_off)).toEqual([1, 2, 3, 4]);
      const sysEnt = ents.find((e) => e.d_name === 'system')!;
      expect(sysEnt.d_type).toBe(DT_CHR);
      expect(sysEnt.d_reclen).toBe(32); // 19 + "system" + NUL = 26, padded to 8
      expect(sysEnt.d_ino).toBe((await sys.stat('/dev/dma_heap/system')).st_ino);
      expect(await sys.getdents64(fd, 4096)).toEqual([]);
      // rewinding starts over (dcache_dir_lseek)
      expect(await sys.lseek(fd, 0, SEEK_SET)).toBe(0);
      expect(names(await listAll(sys, fd, 32))).toEqual(names(ents));
      await sys.close(fd);
    });
  });

  it('resumes at d_off after a short buffer, and is EINVAL when the buffer cannot hold one entry', async () => {
    const s = setup();
    await run(s, async (sys) => {
      for (const n of ['a', 'b', 'c']) await sys.close(await sys.open(`/tmp/${n}`, O_CREAT | O_WRONLY, 0o644));
      const fd = await sys.open('/tmp', O_RDONLY);
      const first = await sys.getdents64(fd, 48); // room for two 24-byte entries
      expect(names(first)).toEqual(['.', '..']);
      expect(await errno(sys.getdents64(fd, 23))).toBe('EINVAL');
      const rest = await listAll(sys, fd);
      expect(names(rest)).toEqual(['c', 'b', 'a']);
      expect(rest.every((e) => e.d_type === DT_REG)).toBe(true);
      // lseek to a d_off resumes right after that entry
      await sys.lseek(fd, first[1]!.d_off + 1, SEEK_SET);
      expect(names(await sys.getdents64(fd, 4096))).toEqual(['b', 'a']);
      await sys.close(fd);
    });
  });

  it('is ENOTDIR on a regular file, a device and a memfd, and EBADF on a closed fd', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const f = await sys.open('/tmp/f', O_CREAT | O_RDWR, 0o600);
      expect(await errno(sys.getdents64(f, 4096))).toBe('ENOTDIR');
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      expect(await errno(sys.getdents64(dev, 4096))).toBe('ENOTDIR');
      const m = await sys.memfd_create('m');
      expect(await errno(sys.getdents64(m, 4096))).toBe('ENOTDIR');
      expect(await errno(sys.getdents64(99, 4096))).toBe('EBADF');
    });
  });

  it('lists /proc/self/fd as the open fds (DT_LNK), /proc/self/fdinfo as files, /proc/self and /proc with the pids', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const pid = await sys.getpid();
      const m = await sys.memfd_create('x');
      const t = await sys.open('/tmp/t', O_CREAT | O_RDWR, 0o600);
      await sys.dup2(m, 9);
      const fd = await sys.open('/proc/self/fd', O_RDONLY | O_DIRECTORY);
      const ents = await listAll(sys, fd);
      expect(names(ents)).toEqual(['.', '..', String(m), String(t), String(fd), '9']);
      expect(ents.slice(2).every((e) => e.d_type === DT_LNK)).toBe(true);
      // fd N sits at position N + 2; the walk ends at the fd array's size + 2
      expect(ents.slice(2).map((e) => e.d_off)).toEqual([t + 2, fd + 2, 11, 66]);
      // each listing is made afresh: a closed fd is gone at the next walk
      await sys.close(9);
      await sys.lseek(fd, 0, SEEK_SET);
      expect(names(await listAll(sys, fd))).toEqual(['.', '..', String(m), String(t), String(fd)]);
      const lnk = await sys.lstat(`/proc/self/fd/${m}`);
      expect(ents[2]!.d_ino).toBe(lnk.st_ino);
      await sys.close(fd);

      const info = await sys.open(`/proc/${pid}/fdinfo`, O_RDONLY);
      const infoEnts = await listAll(sys, info);
      expect(infoEnts.slice(2).every((e) => e.d_type === DT_REG)).toBe(true);
      expect(names(infoEnts)).toContain(String(info));
      await sys.close(info);

      const self = await sys.open('/proc/self', O_RDONLY);
      expect(await listAll(sys, self)).toMatchObject([
        { d_name: '.', d_type: DT_DIR },
        { d_name: '..', d_type: DT_DIR },
        { d_name: 'task', d_type: DT_DIR },
        { d_name: 'fd', d_type: DT_DIR },
        { d_name: 'fdinfo', d_type: DT_DIR },
        { d_name: 'status', d_type: DT_REG },
        { d_name: 'comm', d_type: DT_REG },
        { d_name: 'maps', d_type: DT_REG },
      ]);
      await sys.close(self);

      const proc = await sys.open('/proc', O_RDONLY);
      const procEnts = await listAll(sys, proc);
      expect(names(procEnts)).toEqual(['.', '..', 'self', String(pid)]);
      // ".." points at "self" (position 256), "self" at the first pid (258 + pid)
      expect(procEnts.map((e) => e.d_off)).toEqual([1, 256, 258 + pid, 4194304 + 258]);
      expect(procEnts[2]!.d_type).toBe(DT_LNK);
      // reading a directory is EISDIR, and a /proc directory opened for writing too
      expect(await errno(sys.read(proc, 10))).toBe('EISDIR');
      expect(await errno(sys.open('/proc/self/fd', O_WRONLY))).toBe('EISDIR');
      expect(await errno(sys.open('/proc/self/maps', O_RDONLY | O_DIRECTORY))).toBe('ENOTDIR');
      await sys.close(proc);
    });
  });
});

describe('stat, lstat, fstatat', () => {
  it('describe paths as fstat describes their open files, symlinks followed or not', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const pid = await sys.getpid();
      const dev = await sys.open('/dev/testbuf', O_RDWR);
      expect(await sys.stat('/dev/testbuf')).toEqual(await sys.fstat(dev));
      const st = await sys.stat('/dev/testbuf');
      expect(st.st_mode).toBe(S_IFCHR | 0o660);
      expect(st.st_rdev).toBe(U.makedev(240, 0));
      expect((await sys.stat('/dev')).st_mode & S_IFMT).toBe(S_IFDIR);
      // /proc/self: a link to the pid directory
      expect((await sys.lstat('/proc/self')).st_mode).toBe(S_IFLNK | 0o777);
      const pidDir = await sys.stat('/proc/self');
      expect(pidDir.st_mode).toBe(S_IFDIR | 0o555);
      expect(pidDir.st_ino).toBe((await sys.stat(`/proc/${pid}`)).st_ino);
      // an fd link: lstat shows the link (mode by access mode, size 64), stat the file it refers to
      const m = await sys.memfd_create('m');
      const ro = await sys.open('/tmp/ro', O_CREAT | O_WRONLY, 0o644);
      expect(await sys.lstat(`/proc/self/fd/${m}`)).toMatchObject({ st_mode: S_IFLNK | 0o700, st_size: 64 });
      expect((await sys.lstat(`/proc/self/fd/${ro}`)).st_mode).toBe(S_IFLNK | 0o300);
      expect(await sys.stat(`/proc/self/fd/${m}`)).toEqual(await sys.fstat(m));
      expect((await sys.stat('/proc/self/fd')).st_mode).toBe(S_IFDIR | 0o500);
      expect((await sys.stat('/proc/self/maps')).st_mode).toBe(S_IFREG | 0o444);
      expect((await sys.stat(`/proc/self/fdinfo/${m}`)).st_mode).toBe(S_IFREG | 0o400);
      // fstatat: relative to a directory fd, the fd itself with AT_EMPTY_PATH
      const d = await sys.open('/dev', O_RDONLY | O_DIRECTORY);
      expect(await sys.fstatat(d, 'testbuf')).toEqual(st);
      expect(await sys.fstatat(AT_FDCWD, 'dev/testbuf')).toEqual(st);
      expect(await sys.fstatat(d, '', AT_EMPTY_PATH)).toEqual(await sys.fstat(d));
      expect(await sys.fstatat(m, '', AT_EMPTY_PATH)).toEqual(await sys.fstat(m));
      expect((await sys.fstatat(AT_FDCWD, '/proc/self', AT_SYMLINK_NOFOLLOW)).st_mode & S_IFMT).toBe(S_IFLNK);
    });
  });

  it('fail as Linux does: ENOENT, ENOTDIR, EBADF, EINVAL for unknown flags, ENOENT for an empty path without AT_EMPTY_PATH', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const f = await sys.open('/tmp/f', O_CREAT | O_RDWR, 0o600);
      expect(await errno(sys.stat('/tmp/nope'))).toBe('ENOENT');
      expect(await errno(sys.stat('/nope/x'))).toBe('ENOENT');
      expect(await errno(sys.stat('/tmp/f/x'))).toBe('ENOTDIR');
      expect(await errno(sys.stat('/tmp/f/'))).toBe('ENOTDIR');
      expect(await errno(sys.stat(''))).toBe('ENOENT');
      expect(await errno(sys.stat('/proc/self/fd/77'))).toBe('ENOENT');
      expect(await errno(sys.stat('/proc/99999'))).toBe('ENOENT');
      expect(await errno(sys.fstatat(f, 'x'))).toBe('ENOTDIR');
      expect(await errno(sys.fstatat(55, 'x'))).toBe('EBADF');
      expect(await errno(sys.fstatat(55, '', AT_EMPTY_PATH))).toBe('EBADF');
      expect(await errno(sys.fstatat(AT_FDCWD, '/tmp', 0x1))).toBe('EINVAL');
      // an absolute path ignores even a bad dirfd
      expect(await errno(sys.fstatat(55, '/tmp'))).toBe('ok');
    });
  });
});

describe('access, faccessat', () => {
  it('checks mode, owner and group as open does; root passes read and write, and exec only with an exec bit', async () => {
    const s = setup();
    await run(s, async (sys) => {
      await sys.close(await sys.open('/tmp/mine', O_CREAT | O_WRONLY, 0o640));
      await sys.close(await sys.open('/tmp/x', O_CREAT | O_WRONLY, 0o700));
      expect(await errno(sys.access('/tmp/mine', F_OK))).toBe('ok');
      expect(await errno(sys.access('/tmp/mine', R_OK | W_OK))).toBe('ok');
      expect(await errno(sys.access('/tmp/mine', X_OK))).toBe('EACCES');
      expect(await errno(sys.access('/tmp/x', X_OK))).toBe('ok');
      expect(await errno(sys.access('/tmp/gone', F_OK))).toBe('ENOENT');
      expect(await errno(sys.access('/tmp/mine', 8))).toBe('EINVAL');
      expect(await errno(sys.faccessat(AT_FDCWD, '/tmp/mine', R_OK, 0x4000))).toBe('EINVAL');
      const d = await sys.open('/tmp', O_RDONLY);
      expect(await errno(sys.faccessat(d, 'mine', R_OK))).toBe('ok');
      expect(await errno(sys.faccessat(d, '', W_OK, AT_EMPTY_PATH))).toBe('ok');
    });
    // another user: group read on 0640, nothing on the device (0660 root:44) unless in group 44
    await run(
      s,
      async (sys) => {
        expect(await errno(sys.access('/tmp/mine', R_OK))).toBe('EACCES');
        expect(await errno(sys.access('/tmp/mine', F_OK))).toBe('ok');
        expect(await errno(sys.access('/dev/testbuf', R_OK | W_OK))).toBe('ok');
        expect(await errno(sys.access('/dev/testbuf', X_OK))).toBe('EACCES');
        expect(await errno(sys.access('/tmp', W_OK | X_OK))).toBe('ok');
        // a memfd belongs to its creator, 0777; the proc link follows to it
        const m = await sys.memfd_create('m');
        expect(await errno(sys.access(`/proc/self/fd/${m}`, R_OK | W_OK | X_OK))).toBe('ok');
      },
      makeCred(1000, 1000, [44]),
    );
    await run(
      s,
      async (sys) => {
        expect(await errno(sys.access('/dev/testbuf', R_OK))).toBe('EACCES');
      },
      makeCred(1001, 1001),
    );
  });

  it('another user may stat /proc/<pid> but not search its fd directory', async () => {
    const s = setup();
    const owner = spawnProcess(
      s.k,
      async (sys: Sys) => {
        await sys.memfd_create('held');
        await sys.nanosleep({ tv_sec: 1, tv_nsec: 0 });
      },
      [],
      undefined,
      { stdio: false },
    );
    const other = spawnProcess(
      s.k,
      async (sys: Sys) => {
        await sys.nanosleep({ tv_sec: 0, tv_nsec: 1000 });
        expect((await sys.stat(`/proc/${owner.pid}`)).st_uid).toBe(0);
        expect(await errno(sys.stat(`/proc/${owner.pid}/fd/0`))).toBe('EACCES');
        expect(await errno(sys.open(`/proc/${owner.pid}/fd`, O_RDONLY))).toBe('EACCES');
        expect(await errno(sys.access(`/proc/${owner.pid}/maps`, R_OK))).toBe('ok');
      },
      [],
      makeCred(1000, 1000),
      { stdio: false },
    );
    await s.soc.clock.run();
    expect(await other.exitCode).toBe(0);
    if (other.process.group.uncaughtError) throw other.process.group.uncaughtError;
    expect(await owner.exitCode).toBe(0);
  });
});

describe('clock_gettime, nanosleep, clock_nanosleep', () => {
  it('read the simulated clock and sleep in simulated time', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const t0 = await sys.clock_gettime(CLOCK_MONOTONIC);
      const r0 = await sys.clock_gettime(CLOCK_REALTIME);
      expect(r0.tv_sec - t0.tv_sec).toBe(1_672_531_200);
      expect(r0.tv_nsec).toBe(t0.tv_nsec);
      await sys.nanosleep({ tv_sec: 1, tv_nsec: 500_000_000 });
      const t1 = await sys.clock_gettime(CLOCK_MONOTONIC);
      const ns = (t: { tv_sec: number; tv_nsec: number }) => t.tv_sec * 1e9 + t.tv_nsec;
      expect(ns(t1) - ns(t0)).toBe(1_500_000_000);
      expect(s.soc.clock.now).toBe(ns(t1));
      expect(await sys.clock_gettime(CLOCK_BOOTTIME)).toEqual(t1);
      expect(await sys.clock_gettime(CLOCK_MONOTONIC_RAW)).toEqual(t1);
      // coarse clocks stop at the last 10 ms tick
      await sys.nanosleep({ tv_sec: 0, tv_nsec: 3_000_123 });
      const c = await sys.clock_gettime(CLOCK_MONOTONIC_COARSE);
      expect(c.tv_nsec % 10_000_000).toBe(0);
      expect(ns(c)).toBeLessThanOrEqual(s.soc.clock.now);
      expect(s.soc.clock.now - ns(c)).toBeLessThan(10_000_000);
      // absolute sleeps: until the clock reads req, at once when it already has
      await sys.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, { tv_sec: 3, tv_nsec: 0 });
      expect(s.soc.clock.now).toBe(3e9);
      await sys.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, { tv_sec: 1, tv_nsec: 0 });
      expect(s.soc.clock.now).toBe(3e9);
      await sys.clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, { tv_sec: 1_672_531_204, tv_nsec: 250 });
      expect(s.soc.clock.now).toBe(4e9 + 250);
      await sys.clock_nanosleep(CLOCK_BOOTTIME, 0, { tv_sec: 0, tv_nsec: 750 });
      expect(s.soc.clock.now).toBe(4e9 + 1000);
    });
  });

  it('give EINVAL for unknown clocks and bad timespecs, EOPNOTSUPP for a clock that cannot sleep, EFAULT for no timespec', async () => {
    const s = setup();
    await run(s, async (sys) => {
      expect(await errno(sys.clock_gettime(99))).toBe('EINVAL');
      expect(await errno(sys.clock_gettime(CLOCK_REALTIME_ALARM))).toBe('EINVAL');
      expect(await errno(sys.clock_gettime(CLOCK_PROCESS_CPUTIME_ID))).toBe('EINVAL');
      expect(await errno(sys.nanosleep({ tv_sec: 0, tv_nsec: 1_000_000_000 }))).toBe('EINVAL');
      expect(await errno(sys.nanosleep({ tv_sec: 0, tv_nsec: -1 }))).toBe('EINVAL');
      expect(await errno(sys.nanosleep({ tv_sec: -1, tv_nsec: 0 }))).toBe('EINVAL');
      expect(await errno(sys.nanosleep(null as never))).toBe('EFAULT');
      expect(await errno(sys.clock_nanosleep(99, 0, { tv_sec: 0, tv_nsec: 1 }))).toBe('EINVAL');
      expect(await errno(sys.clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, { tv_sec: 0, tv_nsec: 1 }))).toBe('EOPNOTSUPP');
      expect(await errno(sys.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, { tv_sec: 0, tv_nsec: 2e9 }))).toBe('EINVAL');
      expect(s.soc.clock.now).toBe(0);
    });
  });

  it('a sleeper killed by a signal ends at once, with the signal as its status', async () => {
    const s = setup();
    const sleeper = spawnProcess(s.k, async (sys: Sys) => {
      await sys.nanosleep({ tv_sec: 100, tv_nsec: 0 });
      return 7;
    }, [], undefined, { stdio: false });
    const killer = spawnProcess(s.k, async (sys: Sys) => {
      await sys.nanosleep({ tv_sec: 0, tv_nsec: 5000 });
      await sys.kill(sleeper.pid, U.SIGTERM);
    }, [], undefined, { stdio: false });
    await s.soc.clock.run();
    expect(await sleeper.exitCode).toBe(128 + U.SIGTERM);
    expect(await killer.exitCode).toBe(0);
    expect(s.soc.clock.now).toBeLessThan(1e6);
  });
});

describe('mprotect', () => {
  it('splits a mapping, and a store to the read-only part is a SIGSEGV while the rest stays writable', async () => {
    const s = setup();
    let fault: unknown;
    const status = await run(s, async (sys) => {
      const a = await sys.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.store(a + PAGE_SIZE, Uint8Array.of(1, 2, 3));
      await sys.mprotect(a + PAGE_SIZE, 2 * PAGE_SIZE, PROT_READ);
      const maps = (await sys.readFile('/proc/self/maps')).trim().split('\n');
      expect(maps.map((l) => l.split(' ')[1])).toEqual(['rw-p', 'r--p', 'rw-p']);
      expect(Array.from(await sys.load(a + PAGE_SIZE, 3))).toEqual([1, 2, 3]);
      await sys.store(a, Uint8Array.of(9));
      await sys.store(a + 3 * PAGE_SIZE, Uint8Array.of(9));
      // PROT_NONE, then back: the bytes are still there
      await sys.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_NONE);
      expect(await errno(sys.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('ok');
      expect(Array.from(await sys.load(a + PAGE_SIZE, 3))).toEqual([1, 2, 3]);
      try {
        await sys.store(a + 2 * PAGE_SIZE, Uint8Array.of(1));
      } catch (e) {
        fault = e;
        throw e;
      }
    });
    expect(status).toBe(128 + U.SIGSEGV);
    expect(fault).toBeInstanceOf(SegfaultError);
    expect((fault as SegfaultError).signal).toBe('SIGSEGV');
  });

  it('is EACCES for PROT_WRITE on a shared mapping of a buffer exported read-only, EINVAL unaligned, ENOMEM over holes', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const ro = await exportTestBuf(sys, 2 * PAGE_SIZE, O_RDONLY);
      const a = await sys.mmap(0, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED, ro, 0);
      expect(await errno(sys.mprotect(a, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('EACCES');
      expect(await errno(sys.mprotect(a, PAGE_SIZE, PROT_NONE))).toBe('ok');
      const rw = await exportTestBuf(sys, PAGE_SIZE, O_RDWR);
      const b = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, rw, 0);
      expect(await errno(sys.mprotect(b, PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('ok');
      await sys.store(b, Uint8Array.of(5));
      expect(await errno(sys.mprotect(b + 1, PAGE_SIZE, PROT_READ))).toBe('EINVAL');
      expect(await errno(sys.mprotect(b, PAGE_SIZE, 0x40))).toBe('EINVAL');
      expect(await errno(sys.mprotect(b, 0, PROT_READ))).toBe('ok');
      const c = await sys.mmap(0, 3 * PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      await sys.munmap(c + PAGE_SIZE, PAGE_SIZE);
      expect(await errno(sys.mprotect(c, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('ENOMEM');
      expect(await errno(sys.mprotect(c + PAGE_SIZE, PAGE_SIZE, PROT_READ))).toBe('ENOMEM');
      // Linux keeps what it changed before the hole
      const maps = await sys.readFile('/proc/self/maps');
      expect(maps).toContain(`${c.toString(16).padStart(8, '0')}-${(c + PAGE_SIZE).toString(16).padStart(8, '0')} rw-p`);
      // a private file mapping may be made writable even when the file is read-only
      const p = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_PRIVATE, ro, 0);
      expect(await errno(sys.mprotect(p, PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('ok');
    });
    expect(s.dev.bufs.every((b) => b.vmas === 0)).toBe(true);
  });

  it('keeps a write-sealed memfd mapping read-only (F_SEAL_FUTURE_WRITE clears VM_MAYWRITE) and counts mapping pieces for the exporter', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const rw = await exportTestBuf(sys, 4 * PAGE_SIZE, O_RDWR);
      const a = await sys.mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
      await sys.mprotect(a + PAGE_SIZE, PAGE_SIZE, PROT_READ);
      expect(s.dev.bufs[0]!.vmas).toBe(3);
      await sys.munmap(a, 4 * PAGE_SIZE);
      expect(s.dev.bufs[0]!.vmas).toBe(0);
      const m = await sys.memfd_create('m', MFD_ALLOW_SEALING);
      await sys.ftruncate(m, PAGE_SIZE);
      const b = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, m, 0);
      await sys.fcntl(m, F_ADD_SEALS, U.F_SEAL_FUTURE_WRITE);
      const c = await sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, m, 0);
      expect(await errno(sys.mprotect(c, PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('EACCES');
      // the mapping made before the seal may still become writable
      expect(await errno(sys.mprotect(b, PAGE_SIZE, PROT_READ | PROT_WRITE))).toBe('ok');
    });
  });
});

describe('fallocate', () => {
  it('on a memfd: allocates pages (i_blocks), extends unless KEEP_SIZE, punches holes that read back zero', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const m = await sys.memfd_create('m');
      await sys.fallocate(m, 0, 0, 3 * PAGE_SIZE);
      let st = await sys.fstat(m);
      expect([st.st_size, st.st_blocks]).toEqual([3 * PAGE_SIZE, 3 * 8]);
      await sys.fallocate(m, FALLOC_FL_KEEP_SIZE, 3 * PAGE_SIZE, PAGE_SIZE);
      st = await sys.fstat(m);
      expect([st.st_size, st.st_blocks]).toEqual([3 * PAGE_SIZE, 4 * 8]);
      await sys.pwrite(m, new Uint8Array(3 * PAGE_SIZE).fill(0xaa), 0);
      const a = await sys.mmap(0, 3 * PAGE_SIZE, PROT_READ, MAP_SHARED, m, 0);
      expect((await sys.load(a + PAGE_SIZE, 1))[0]).toBe(0xaa);
      // a hole over the middle page and the 100 bytes around it
      await sys.fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE_SIZE - 100, PAGE_SIZE + 200);
      st = await sys.fstat(m);
      expect([st.st_size, st.st_blocks]).toEqual([3 * PAGE_SIZE, 3 * 8]);
      const back = await sys.pread(m, 3 * PAGE_SIZE, 0);
      expect(back[PAGE_SIZE - 101]).toBe(0xaa);
      expect(back.subarray(PAGE_SIZE - 100, 2 * PAGE_SIZE + 100).every((b) => b === 0)).toBe(true);
      expect(back[2 * PAGE_SIZE + 100]).toBe(0xaa);
      // the mapping sees the hole too
      expect(Array.from(await sys.load(a + PAGE_SIZE - 1, 1))).toEqual([0]);
      expect(Array.from(await sys.load(a + PAGE_SIZE, 1))).toEqual([0]);
    });
  });

  it('checks in vfs_fallocate\'s order: EINVAL, EOPNOTSUPP, EBADF, ESPIPE, ENODEV; shmem refuses other modes and honours seals', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const m = await sys.memfd_create('m', MFD_ALLOW_SEALING);
      expect(await errno(sys.fallocate(99, 0, 0, 1))).toBe('EBADF');
      expect(await errno(sys.fallocate(m, 0, -1, 1))).toBe('EINVAL');
      expect(await errno(sys.fallocate(m, 0, 0, 0))).toBe('EINVAL');
      expect(await errno(sys.fallocate(m, 0x100, 0, 1))).toBe('EOPNOTSUPP');
      expect(await errno(sys.fallocate(m, FALLOC_FL_PUNCH_HOLE, 0, 1))).toBe('EOPNOTSUPP');
      expect(await errno(sys.fallocate(m, FALLOC_FL_ZERO_RANGE, 0, 1))).toBe('EOPNOTSUPP');
      const ro = await sys.open(`/proc/self/fd/${m}`, O_RDONLY);
      expect(await errno(sys.fallocate(ro, 0, 0, 1))).toBe('EBADF');
      const [r, w] = await sys.pipe();
      expect(await errno(sys.fallocate(w, 0, 0, 1))).toBe('ESPIPE');
      expect(await errno(sys.fallocate(r, 0, 0, 1))).toBe('EBADF');
      const buf = await exportTestBuf(sys, PAGE_SIZE, O_RDWR);
      expect(await errno(sys.fallocate(buf, 0, 0, PAGE_SIZE))).toBe('ENODEV');
      const [sa] = await sys.socketpair();
      expect(await errno(sys.fallocate(sa!, 0, 0, 1))).toBe('ENODEV');
      await sys.ftruncate(m, PAGE_SIZE);
      await sys.fcntl(m, F_ADD_SEALS, F_SEAL_GROW);
      expect(await errno(sys.fallocate(m, 0, 0, 2 * PAGE_SIZE))).toBe('EPERM');
      expect(await errno(sys.fallocate(m, 0, 0, PAGE_SIZE))).toBe('ok');
      await sys.fcntl(m, F_ADD_SEALS, F_SEAL_WRITE);
      expect(await errno(sys.fallocate(m, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE_SIZE))).toBe('EPERM');
      expect(await errno(sys.fallocate(m, 0, 0, 2 ** 50))).toBe('EFBIG');
    });
  });

  it('on a real dma-buf is ENODEV, on a tmpfs file it allocates and punches', async () => {
    const s = testSystem();
    await runDmabuf(s, async (sys) => {
      const fd = await heapAlloc(sys, 'system', PAGE_SIZE);
      expect(await errno(sys.fallocate(fd, 0, 0, PAGE_SIZE))).toBe('ENODEV');
      const t = await sys.open('/tmp/t', O_CREAT | O_RDWR, 0o600);
      await sys.write(t, new Uint8Array(100).fill(7));
      await sys.fallocate(t, 0, 0, 1000);
      expect((await sys.fstat(t)).st_size).toBe(1000);
      await sys.fallocate(t, FALLOC_FL_KEEP_SIZE, 0, 5000);
      expect((await sys.fstat(t)).st_size).toBe(1000);
      await sys.fallocate(t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20);
      const b = await sys.pread(t, 100, 0);
      expect([b[9], b[10], b[29], b[30]]).toEqual([7, 0, 0, 7]);
      expect(await errno(sys.fallocate(t, FALLOC_FL_ZERO_RANGE, 0, 1))).toBe('EOPNOTSUPP');
    });
  });
});

describe('uname, getauxval', () => {
  it('name the system and give the page size from the auxiliary vector', async () => {
    const s = setup();
    await run(s, async (sys) => {
      const u = await sys.uname();
      expect(u).toMatchObject({ sysname: 'Linux', release: '6.1.0-unimem', machine: 'armv7l' });
      for (const v of Object.values(u)) expect(v.length).toBeLessThanOrEqual(64);
      expect(await sys.getauxval(AT_PAGESZ)).toBe(4096);
      expect(await sys.getauxval(U.AT_CLKTCK)).toBe(100);
      expect(await sys.getauxval(U.AT_UID)).toBe(0);
      const e = await sys.getauxval(12345).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SyscallError);
      expect((e as SyscallError).code).toBe('ENOENT');
    });
  });
});
