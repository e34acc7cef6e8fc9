import { describe, it, expect } from 'vitest';
import { Clock } from '../../src/hw/index.ts';
import { KernelError, PAGE_SIZE } from '../../src/lib/index.ts';
import {
  Inode,
  ROOT_CRED,
  VmArea,
  Vfs,
  WaitQueueHead,
  anonInodeGetFile,
  createPipeFiles,
  epollCreate,
  epollCtl,
  eventpollOf,
  memfdName,
  pollWait,
  vfsFsync,
  vfsFtruncate,
  type File,
  type FileOperations,
} from '../../src/fs/index.ts';
import { doTruncate } from '../../src/fs/truncate.ts';
import { EPOLLET, EPOLLIN, EPOLL_CTL_ADD, O_RDONLY, O_RDWR, POLLIN, S_IFREG } from '../../src/uapi/index.ts';
import { TestTask } from './helpers.ts';

function code(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof KernelError) return e.code;
    throw e;
  }
}

/** A pollable file whose readiness the test sets, with its own wait queue. */
function source(vfs: Vfs, state: { ready: number; wakeInPoll?: boolean }): { file: File; wq: WaitQueueHead } {
  const wq = new WaitQueueHead();
  const fops: FileOperations = {
    poll(file, pt) {
      pollWait(file, wq, pt);
      // a driver that kicks its own queue from poll (as a fence callback firing at once would)
      if (state.wakeInPoll) wq.wakeUp(POLLIN);
      return state.ready;
    },
  };
  return { file: anonInodeGetFile(vfs, 'src', fops, null, O_RDWR), wq };
}

describe('eventpoll without processes', () => {
  it('keeps no reference on watched files and lets go of them before their release runs', () => {
    const vfs = new Vfs();
    const ep = epollCreate(vfs, ROOT_CRED);
    const st = { ready: POLLIN };
    const { file } = source(vfs, st);
    epollCtl(ep, EPOLL_CTL_ADD, file, 3, { events: EPOLLIN, data: 1 }, ROOT_CRED);
    const e = eventpollOf(ep)!;
    expect(file.count).toBe(1);
    expect(e.size).toBe(1);
    expect(e.eventsAvailable).toBe(true);
    file.put();
    expect(e.size).toBe(0);
    expect(e.eventsAvailable).toBe(false);
    expect(e.sendEvents(4)).toEqual([]);
    ep.put();
    expect(vfs.openFileCount).toBe(0);
  });

  it('an epoll file released first unhooks itself from the files it watched', () => {
    const vfs = new Vfs();
    const ep = epollCreate(vfs, ROOT_CRED);
    const st = { ready: 0 };
    const { file, wq } = source(vfs, st);
    epollCtl(ep, EPOLL_CTL_ADD, file, 3, { events: EPOLLIN, data: 1 }, ROOT_CRED);
    expect(wq.length).toBe(1);
    expect(file.watchers?.size).toBe(1);
    ep.put();
    expect(wq.length).toBe(0);
    expect(file.watchers).toBe(null);
    file.put();
  });

  it('wake-ups that arrive while the ready list is being scanned are kept for the next wait', () => {
    const vfs = new Vfs();
    const ep = epollCreate(vfs, ROOT_CRED);
    const st = { ready: POLLIN, wakeInPoll: false };
    const { file, wq } = source(vfs, st);
    epollCtl(ep, EPOLL_CTL_ADD, file, 3, { events: EPOLLIN | EPOLLET, data: 7 }, ROOT_CRED);
    const e = eventpollOf(ep)!;
    st.wakeInPoll = true;
    expect(e.sendEvents(4)).toEqual([{ events: EPOLLIN, data: 7 }]);
    // edge-triggered, but its queue was woken during the scan: queued again
    expect(e.eventsAvailable).toBe(true);
    st.wakeInPoll = false;
    expect(e.sendEvents(4)).toEqual([{ events: EPOLLIN, data: 7 }]);
    expect(e.sendEvents(4)).toEqual([]);
    wq.wakeUp(POLLIN);
    expect(e.sendEvents(4)).toHaveLength(1);
    ep.put();
    file.put();
  });

  it('waits on the clock and gives up at the timeout with no timer left', async () => {
    const vfs = new Vfs();
    const clock = new Clock();
    const ep = epollCreate(vfs, ROOT_CRED);
    const { file } = source(vfs, { ready: 0 });
    epollCtl(ep, EPOLL_CTL_ADD, file, 3, { events: EPOLLIN, data: 1 }, ROOT_CRED);
    const task = new TestTask();
    let got: unknown = null;
    void clock.spawn(async () => {
      got = await eventpollOf(ep)!.wait(1, 5, clock, task);
    });
    await clock.run();
    expect(got).toEqual([]);
    expect(clock.now).toBe(5_000_000);
    ep.put();
    file.put();
  });
});

describe('pipe files', () => {
  it('are a read end and a write end on one FIFO inode', () => {
    const vfs = new Vfs();
    const sb = vfs.mountPseudo('pipefs');
    const [r, w] = createPipeFiles(vfs, sb, ROOT_CRED, 0);
    expect(r.inode).toBe(w.inode);
    expect(r.accMode).toBe(O_RDONLY);
    expect(r.pathName()).toBe(`pipe:[${r.inode.ino}]`);
    r.put();
    w.put();
    expect(vfs.openFileCount).toBe(0);
  });
});

describe('truncate and fsync', () => {
  it('go through the filesystem, or change i_size alone; EINVAL for what cannot be truncated or synced', async () => {
    const vfs = new Vfs();
    const inode = new Inode(vfs.rootfs, { mode: S_IFREG | 0o644, fops: {} });
    await doTruncate(inode, 100);
    expect(inode.size).toBe(100);
    const f = anonInodeGetFile(vfs, 'x', {}, null, O_RDWR);
    await expect(vfsFtruncate(f, 0)).rejects.toThrow(/EINVAL/);
    await expect(vfsFsync(f, false)).rejects.toThrow(/EINVAL/);
    await expect(doTruncate(inode, -1)).rejects.toThrow(/EINVAL/);
    f.put();
  });
});

describe('memfd names', () => {
  it('are checked in UTF-8 bytes and end at a NUL', () => {
    expect(memfdName('abc', 0)).toBe('memfd:abc');
    expect(memfdName('a\0bc', 0)).toBe('memfd:a');
    expect(code(() => memfdName('ü'.repeat(124) + 'x', 0))).toBe('ok');
    expect(code(() => memfdName('ü'.repeat(125), 0))).toBe('EINVAL');
    expect(code(() => memfdName('x', 0x10))).toBe('EINVAL');
    expect(code(() => memfdName(null, 0))).toBe('EFAULT');
  });
});

describe('VmArea', () => {
  it('grows and shrinks its end, keeping its frames', () => {
    const v = new VmArea(0x10000, 0x12000, 0, 0, null);
    v.setPfn(1, 77);
    v.resize(0x14000);
    expect(Array.from(v.pfns)).toEqual([-1, 77, -1, -1]);
    expect(v.pages).toBe(4);
    expect(() => v.resize(0x11000)).toThrow(/mapped page/);
    v.zapPages(1, 1, true);
    v.resize(0x11000);
    expect(v.length).toBe(PAGE_SIZE);
  });
});
