import { Soc } from '../../src/hw/index.ts';
import { bootMm, type Mm, type MmConfig } from '../../src/mm/index.ts';
import { KernelError, PAGE_SIZE, SyscallError, kerr } from '../../src/lib/index.ts';
import {
  WaitQueueHead,
  allocAnonInode,
  allocFilePseudo,
  pollWait,
  registerChrdev,
  userArg,
  type File,
  type FileOperations,
  type Vfs,
} from '../../src/fs/index.ts';
import { createProcSystem, spawnProcess, type ProcKernel, type Sys } from '../../src/proc/index.ts';
import type { Cred } from '../../src/fs/index.ts';
import { O_CLOEXEC, O_RDWR, POLLIN, POLLOUT, SEEK_END, SEEK_SET, _IOWR, _IOR } from '../../src/uapi/index.ts';

export const DRAM_BASE = 0x80000000;

export function makeSoc(seed = 1): Soc {
  return new Soc({ seed, banks: [{ name: 'dram', base: DRAM_BASE, size: 64 * 1024 * 1024, kind: 'dram' }], masters: [] });
}

/** A buffer a test "exporter" hands out as a pseudo file, like a dma-buf. */
export interface TestBuf {
  pa: number;
  size: number;
  name: string;
  released: number;
  ready: boolean;
  wq: WaitQueueHead;
  vmas: number;
}

/** _IOWR('T', 1, 8): export a buffer as a new fd; writes `fd`. */
export const TEST_IOC_EXPORT = _IOWR('T', 1, 8);
/** _IOR('T', 2, 4): reads back the open count. */
export const TEST_IOC_COUNT = _IOR('T', 2, 4);

/**
 * A small device that behaves as dma-buf exporters do: /dev/testbuf, whose
 * EXPORT ioctl returns a fd of a pseudo file (readlink "/dmabuf:<name>")
 * with llseek, mmap of contiguous DRAM (write-combine or cached), poll on a
 * wait queue and fdinfo lines.
 */
export class TestDevice {
  readonly bufs: TestBuf[] = [];
  opens = 0;
  releases = 0;
  private nextPa = DRAM_BASE + 16 * 1024 * 1024;
  readonly sb;
  memType: 'wb' | 'wc' = 'wb';

  constructor(readonly vfs: Vfs) {
    this.sb = vfs.mountPseudo('dmabuf', { mntId: 11, devMinor: 10 });
    const bufOps: FileOperations = {
      name: 'testbuf',
      llseek(file, offset, whence) {
        const b = file.privateData as TestBuf;
        if (offset !== 0) throw kerr('EINVAL');
        if (whence === SEEK_END) return b.size;
        if (whence === SEEK_SET) return 0;
        throw kerr('EINVAL');
      },
      mmap: (file, vma) => {
        const b = file.privateData as TestBuf;
        if (vma.pgoff + vma.pages > b.size / PAGE_SIZE) throw kerr('EINVAL', 'beyond size');
        vma.memType = this.memType;
        vma.remapPfnRange(vma.start, b.pa / PAGE_SIZE + vma.pgoff, vma.length);
        b.vmas++;
        vma.vmOps = { open: () => void b.vmas++, close: () => void b.vmas-- };
      },
      poll(file, pt) {
        const b = file.privateData as TestBuf;
        pollWait(file, b.wq, pt);
        return b.ready ? POLLIN | POLLOUT : 0;
      },
      release(_inode, file) {
        (file.privateData as TestBuf).released++;
      },
      showFdinfo(file) {
        const b = file.privateData as TestBuf;
        return `size:\t${b.size}\ncount:\t${file.count - 1}\nexp_name:\ttestbuf\n` + (b.name ? `name:\t${b.name}\n` : '');
      },
    };
    registerChrdev(vfs, {
      path: '/dev/testbuf',
      major: 240,
      minor: 0,
      mode: 0o660,
      gid: 44,
      fops: {
        name: 'testdev',
        open: () => void this.opens++,
        release: () => void this.releases++,
        unlockedIoctl: (_file, cmd, arg, task) => {
          if (cmd === TEST_IOC_COUNT) {
            userArg<{ value: number }>(arg).value = this.opens;
            return 0;
          }
          if (cmd !== TEST_IOC_EXPORT) throw kerr('ENOTTY');
          const a = userArg<{ size: number; fd: number; flags?: number }>(arg);
          const b: TestBuf = { pa: this.nextPa, size: a.size, name: '', released: 0, ready: true, wq: new WaitQueueHead(), vmas: 0 };
          this.nextPa += a.size;
          this.bufs.push(b);
          const inode = allocAnonInode(this.sb, a.size, b);
          const f: File = allocFilePseudo(vfs, inode, bufOps, { flags: a.flags ?? O_RDWR, privateData: b, name: () => `/dmabuf:${b.name}` });
          try {
            a.fd = task.installFd(f, O_CLOEXEC);
          } catch (e) {
            f.put();
            throw e;
          }
          return 0;
        },
      },
    });
  }
}

export interface Setup {
  soc: Soc;
  k: ProcKernel;
  dev: TestDevice;
  /** The booted mm the process layer stands on. */
  mm: Mm;
}

/**
 * The mm a process layer needs, booted on `soc`: `cfg` plus a carve-out of
 * DRAM the allocator never hands out, from `DRAM_BASE + 16 MiB` for
 * `carveout` bytes (what TestDevice exports without asking it).
 */
export function testMm(soc: Soc, cfg: MmConfig = {}, carveout = 16 * 1024 * 1024): Mm {
  const testbuf = { name: 'testbuf', base: DRAM_BASE + 16 * 1024 * 1024, size: carveout, nomap: true };
  return bootMm(soc, { ...cfg, reserved: [testbuf, ...(cfg.reserved ?? [])] });
}

/**
 * A SoC with 64 MiB of DRAM, its mm (`mm`: a config for it), the process
 * layer and /dev/testbuf.
 */
export function setup(opts: { rlimitNofile?: number; syscallNs?: number; mm?: MmConfig } = {}): Setup {
  const soc = makeSoc();
  const { mm: mmOpt, ...rest } = opts;
  const mm = testMm(soc, mmOpt);
  const k = createProcSystem({ soc, mm, ...rest });
  const dev = new TestDevice(k.vfs);
  return { soc, k, dev, mm };
}

/** Opens /dev/testbuf, exports a `size`-byte buffer with access mode `flags` and closes the device again; returns the buffer's fd. */
export async function exportTestBuf(sys: Sys, size: number, flags = O_RDWR): Promise<number> {
  const dev = await sys.open('/dev/testbuf', O_RDWR);
  const a = { size, fd: -1, flags };
  await sys.ioctl(dev, TEST_IOC_EXPORT, a);
  await sys.close(dev);
  return a.fd;
}

/** Runs a program to completion on the clock; rethrows what it threw (assertions) and returns its status. */
export async function run(s: Setup, main: (sys: Sys, args: string[]) => Promise<number | void>, cred?: Cred, rlimitNofile?: number): Promise<number> {
  const sp = spawnProcess(s.k, main, [], cred, { rlimitNofile, stdio: false });
  await s.soc.clock.run();
  const status = await sp.exitCode;
  if (sp.process.group.uncaughtError) throw sp.process.group.uncaughtError;
  return status;
}

/** The errno name a call fails with, or 'ok'. */
export async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError || e instanceof KernelError) return e.code;
    throw e;
  }
}

export function fdinfoMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.trim().split('\n')) {
    const i = line.indexOf(':');
    out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}
