import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/lib/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import * as U from '../../src/uapi/index.ts';
import { dumb, fenceAttach } from '../drivers/vgem-helpers.ts';

/** Boots linux-6.1-reference and runs `main` as its first process, which must exit 0 (an EFAULT never kills it). */
async function onReference(main: (sys: Sys) => Promise<void>): Promise<void> {
  const sys = bootSystem(loadPlatform('linux-6.1-reference'), { seed: 1 });
  const child = spawnProcess(sys.proc, async (s) => {
    await main(s);
    return 0;
  }, []);
  const code = await sys.soc.clock.runUntilSettled(child.exitCode);
  if (child.process.group.uncaughtError !== undefined) throw child.process.group.uncaughtError;
  expect(child.process.group.fatalSignal).toBe(0);
  expect(code).toBe(0);
}

/** An anonymous private mapping, returned as the address and as the bigint an ioctl takes. */
async function anon(sys: Sys, prot = U.PROT_READ | U.PROT_WRITE, len = 4096): Promise<number> {
  return sys.mmap(0, len, prot, U.MAP_PRIVATE | U.MAP_ANONYMOUS, -1, 0);
}

/** Writes a struct (object form) at `addr` by its layout. */
async function put(sys: Sys, addr: number, layout: U.StructLayout, obj: Record<string, unknown>): Promise<void> {
  const b = new Uint8Array(layout.size);
  U.encodeStruct(layout, obj, b);
  await sys.store(addr, b);
}

async function get(sys: Sys, addr: number, layout: U.StructLayout): Promise<Record<string, unknown>> {
  return U.decodeStruct(layout, await sys.load(addr, layout.size));
}

async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
  return 'ok';
}

/** The fds the process has open, from /proc/self/fd. */
async function openFds(sys: Sys): Promise<number[]> {
  const fd = await sys.open('/proc/self/fd', U.O_RDONLY | U.O_DIRECTORY);
  const out: number[] = [];
  for (;;) {
    const batch = await sys.getdents64(fd, 4096);
    if (batch.length === 0) break;
    for (const d of batch) if (/^\d+$/.test(d.d_name)) out.push(Number(d.d_name));
  }
  await sys.close(fd);
  return out.filter((n) => n !== fd).sort((a, b) => a - b);
}

const heapLayout = U.ioctlArgLayout(U.DMA_HEAP_IOCTL_ALLOC)!.layout;

describe('ioctl arguments in process memory', () => {
  it('DMA_HEAP_IOCTL_ALLOC: the fd lands in memory, bytes as the object form gives them; EFAULT for unmapped and PROT_NONE memory', async () => {
    await onReference(async (sys) => {
      const heap = await sys.open('/dev/dma_heap/system', U.O_RDWR);
      const m = await anon(sys);
      const req = { len: 8192, fd: 0, fd_flags: U.O_RDWR | U.O_CLOEXEC, heap_flags: 0 };
      await put(sys, m, heapLayout, req);
      expect(await sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, BigInt(m))).toBe(0);
      const got = await get(sys, m, heapLayout);
      const fd = got.fd as number;
      expect(fd).toBeGreaterThan(heap);
      expect(await sys.lseek(fd, 0, U.SEEK_END)).toBe(8192);
      const bytes = await sys.load(m, heapLayout.size);
      await sys.close(fd);
      // the object form, given the same request, reports the same fd and so the same bytes
      const obj = { ...req };
      await sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, obj);
      const objBytes = new Uint8Array(heapLayout.size);
      U.encodeStruct(heapLayout, obj, objBytes);
      expect(objBytes).toEqual(bytes);
      await sys.close(obj.fd);

      const before = await openFds(sys);
      const gone = await anon(sys);
      await sys.munmap(gone, 4096);
      expect(await errno(sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, BigInt(gone)))).toBe('EFAULT');
      const none = await anon(sys, U.PROT_NONE);
      expect(await errno(sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, BigInt(none)))).toBe('EFAULT');
      expect(await errno(sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, 0n))).toBe('EFAULT');
      expect(await openFds(sys)).toEqual(before);

      // read-only: the struct is read, the buffer made and its fd installed, then the copy back fails;
      // dma_heap_ioctl installs the fd before copy_to_user, so it stays (and exit closes it)
      const ro = await anon(sys);
      await put(sys, ro, heapLayout, req);
      await sys.mprotect(ro, 4096, U.PROT_READ);
      expect(await errno(sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, BigInt(ro)))).toBe('EFAULT');
      expect((await openFds(sys)).length).toBe(before.length + 1);
      expect((await get(sys, ro, heapLayout)).fd).toBe(0);
    });
  });

  it('DRM_IOCTL_VERSION fills the name, date and desc buffers in user memory, cut to their lengths, and writes the full lengths', async () => {
    await onReference(async (sys) => {
      const card = await sys.open('/dev/dri/card0', U.O_RDWR);
      const obj = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 64, name: '', date_len: 64, date: '', desc_len: 64, desc: '' };
      await sys.ioctl(card, U.DRM_IOCTL_VERSION, obj);
      const layout = U.ioctlArgLayout(U.DRM_IOCTL_VERSION)!.layout;
      const m = await anon(sys);
      const name = m + 1024;
      const date = m + 2048;
      await put(sys, m, layout, { name_len: 3, name, date_len: 64, date, desc_len: 5, desc: 0 });
      expect(await sys.ioctl(card, U.DRM_IOCTL_VERSION, BigInt(m))).toBe(0);
      const v = await get(sys, m, layout);
      expect(v).toMatchObject({
        version_major: obj.version_major,
        version_minor: obj.version_minor,
        version_patchlevel: obj.version_patchlevel,
        name_len: obj.name.length,
        date_len: obj.date.length,
        desc_len: obj.desc.length,
        name,
        date,
        desc: 0,
      });
      const dec = new TextDecoder();
      // three bytes of the name, no NUL added; the date whole
      expect(dec.decode(await sys.load(name, 4))).toBe(obj.name.slice(0, 3) + '\0');
      expect(dec.decode(await sys.load(date, obj.date.length))).toBe(obj.date);

      // a name buffer that is read-only: EFAULT, and drm_ioctl still copies the struct back
      const ro = await anon(sys, U.PROT_READ);
      await put(sys, m, layout, { name_len: 64, name: ro, date_len: 64, date, desc_len: 0, desc: 0 });
      expect(await errno(sys.ioctl(card, U.DRM_IOCTL_VERSION, BigInt(m)))).toBe('EFAULT');
      const after = await get(sys, m, layout);
      expect(after.version_major).toBe(obj.version_major);
      // the date was never reached: its length is still the caller's
      expect(after.date_len).toBe(64);
      // a struct in read-only memory: the version is read, the copy back faults
      const roStruct = await anon(sys, U.PROT_READ);
      expect(await errno(sys.ioctl(card, U.DRM_IOCTL_VERSION, BigInt(roStruct)))).toBe('EFAULT');
    });
  });

  it('sync_file and vgem fences: EXPORT_SYNC_FILE, FILE_INFO (count, then the array through its pointer) match the object form; a failed copy installs no fd', async () => {
    await onReference(async (sys) => {
      const card = await sys.open('/dev/dri/card0', U.O_RDWR);
      const bo = await dumb(sys, card);
      const prime = { handle: bo.handle, flags: U.DRM_CLOEXEC | U.DRM_RDWR, fd: -1 };
      const primeLayout = U.ioctlArgLayout(U.DRM_IOCTL_PRIME_HANDLE_TO_FD)!.layout;
      const m = await anon(sys);
      await put(sys, m, primeLayout, prime);
      await sys.ioctl(card, U.DRM_IOCTL_PRIME_HANDLE_TO_FD, BigInt(m));
      const buf = (await get(sys, m, primeLayout)).fd as number;
      expect(await sys.lseek(buf, 0, U.SEEK_END)).toBe(bo.size);
      await fenceAttach(sys, card, bo.handle, U.VGEM_FENCE_WRITE);

      const exLayout = U.ioctlArgLayout(U.DMA_BUF_IOCTL_EXPORT_SYNC_FILE)!.layout;
      await put(sys, m, exLayout, { flags: U.DMA_BUF_SYNC_READ, fd: -1 });
      await sys.ioctl(buf, U.DMA_BUF_IOCTL_EXPORT_SYNC_FILE, BigInt(m));
      const sf = (await get(sys, m, exLayout)).fd as number;
      expect(sf).toBeGreaterThan(buf);

      const infoLayout = U.ioctlArgLayout(U.SYNC_IOC_FILE_INFO)!.layout;
      await put(sys, m, infoLayout, { num_fences: 0 });
      await sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, BigInt(m));
      const count = await get(sys, m, infoLayout);
      const objCount: U.SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
      await sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, objCount);
      expect(count).toMatchObject({ name: objCount.name, status: objCount.status, num_fences: 1, sync_fence_info: 0 });

      const arr = m + 512;
      await put(sys, m, infoLayout, { num_fences: 1, sync_fence_info: arr });
      await sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, BigInt(m));
      const objInfo: U.SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 1, pad: 0, sync_fence_info: [] };
      await sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, objInfo);
      const fenceLayout = U.struct('sync_fence_info', [
        ['obj_name', U.char(32)],
        ['driver_name', U.char(32)],
        ['status', 's32'],
        ['flags', 'u32'],
        ['timestamp_ns', 'u64'],
      ]);
      expect(await get(sys, arr, fenceLayout)).toEqual((objInfo.sync_fence_info as U.SyncFenceInfo[])[0]);
      expect((await get(sys, m, infoLayout)).sync_fence_info).toBe(arr);
      // an array pointer into read-only memory: EFAULT
      const ro = await anon(sys, U.PROT_READ);
      await put(sys, m, infoLayout, { num_fences: 1, sync_fence_info: ro });
      expect(await errno(sys.ioctl(sf, U.SYNC_IOC_FILE_INFO, BigInt(m)))).toBe('EFAULT');

      // EXPORT_SYNC_FILE into read-only memory: the fd is made, the copy fails, and the fd is taken back (fd_install comes after copy_to_user)
      const before = await openFds(sys);
      const roEx = await anon(sys);
      await put(sys, roEx, exLayout, { flags: U.DMA_BUF_SYNC_WRITE, fd: -1 });
      await sys.mprotect(roEx, 4096, U.PROT_READ);
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_IOCTL_EXPORT_SYNC_FILE, BigInt(roEx)))).toBe('EFAULT');
      expect(await openFds(sys)).toEqual(before);

      // SYNC_IOC_MERGE likewise
      const mergeLayout = U.ioctlArgLayout(U.SYNC_IOC_MERGE)!.layout;
      await sys.mprotect(roEx, 4096, U.PROT_READ | U.PROT_WRITE);
      await put(sys, roEx, mergeLayout, { name: 'm', fd2: sf });
      await sys.mprotect(roEx, 4096, U.PROT_READ);
      expect(await errno(sys.ioctl(sf, U.SYNC_IOC_MERGE, BigInt(roEx)))).toBe('EFAULT');
      expect(await openFds(sys)).toEqual(before);
      await put(sys, m, mergeLayout, { name: 'm', fd2: sf, fence: -1 });
      await sys.ioctl(sf, U.SYNC_IOC_MERGE, BigInt(m));
      const merged = (await get(sys, m, mergeLayout)).fence as number;
      expect(await openFds(sys)).toEqual([...before, merged].sort((a, b) => a - b));
    });
  });

  it('sw_sync: CREATE_FENCE and INC through user memory; a read-only CREATE_FENCE leaves no fd', async () => {
    await onReference(async (sys) => {
      const tl = await sys.open('/sys/kernel/debug/sync/sw_sync', U.O_RDWR);
      const layout = U.ioctlArgLayout(U.SW_SYNC_IOC_CREATE_FENCE)!.layout;
      const m = await anon(sys);
      await put(sys, m, layout, { value: 2, name: 'f', fence: -1 });
      await sys.ioctl(tl, U.SW_SYNC_IOC_CREATE_FENCE, BigInt(m));
      const fence = (await get(sys, m, layout)).fence as number;
      const info: U.SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 0, pad: 0, sync_fence_info: 0 };
      await sys.ioctl(fence, U.SYNC_IOC_FILE_INFO, info);
      expect(info.status).toBe(0);
      const inc = m + 256;
      await sys.store(inc, new Uint8Array([2, 0, 0, 0]));
      await sys.ioctl(tl, U.SW_SYNC_IOC_INC, BigInt(inc));
      info.num_fences = 0;
      await sys.ioctl(fence, U.SYNC_IOC_FILE_INFO, info);
      expect(info.status).toBe(1);

      const before = await openFds(sys);
      const ro = await anon(sys, U.PROT_READ);
      expect(await errno(sys.ioctl(tl, U.SW_SYNC_IOC_CREATE_FENCE, BigInt(ro)))).toBe('EFAULT');
      expect(await openFds(sys)).toEqual(before);
      const gone = await anon(sys);
      await sys.munmap(gone, 4096);
      expect(await errno(sys.ioctl(tl, U.SW_SYNC_IOC_INC, BigInt(gone)))).toBe('EFAULT');
    });
  });

  it('dma-buf: SET_NAME reads the string from memory (EFAULT at NULL or past the mapping, EINVAL without a NUL in 32 bytes); SYNC with NULL is EFAULT in both forms', async () => {
    await onReference(async (sys) => {
      const heap = await sys.open('/dev/dma_heap/system', U.O_RDWR);
      const a = { len: 4096, fd: 0, fd_flags: U.O_RDWR, heap_flags: 0 };
      await sys.ioctl(heap, U.DMA_HEAP_IOCTL_ALLOC, a);
      const buf = a.fd;
      const m = await anon(sys, U.PROT_READ | U.PROT_WRITE, 8192);
      await sys.store(m, new TextEncoder().encode('camera-frame\0'));
      expect(await sys.ioctl(buf, U.DMA_BUF_SET_NAME_B, BigInt(m))).toBe(0);
      expect(await sys.readlink(`/proc/self/fd/${buf}`)).toBe('/dmabuf:camera-frame');
      await sys.store(m, new TextEncoder().encode('x'.repeat(40)));
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_SET_NAME_A, BigInt(m)))).toBe('EINVAL');
      // a name that ends exactly where the mapping ends, without its NUL: the read faults
      await sys.munmap(m + 4096, 4096);
      await sys.store(m + 4096 - 4, new TextEncoder().encode('abcd'));
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_SET_NAME_B, BigInt(m + 4096 - 4)))).toBe('EFAULT');
      // oracle: dmabuf_set_name_null, dmabuf_sync_null_arg
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_SET_NAME_B, 0n))).toBe('EFAULT');
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_SET_NAME_B, null))).toBe('EFAULT');
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_IOCTL_SYNC, 0n))).toBe('EFAULT');
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_IOCTL_SYNC, null))).toBe('EFAULT');
      expect(await sys.readlink(`/proc/self/fd/${buf}`)).toBe('/dmabuf:camera-frame');
      // SYNC only reads its struct: a read-only mapping is enough
      const ro = await anon(sys);
      await put(sys, ro, U.ioctlArgLayout(U.DMA_BUF_IOCTL_SYNC)!.layout, { flags: U.DMA_BUF_SYNC_START | U.DMA_BUF_SYNC_RW });
      await sys.mprotect(ro, 4096, U.PROT_READ);
      expect(await sys.ioctl(buf, U.DMA_BUF_IOCTL_SYNC, BigInt(ro))).toBe(0);
      await put(sys, m, U.ioctlArgLayout(U.DMA_BUF_IOCTL_SYNC)!.layout, { flags: 0x100 });
      expect(await errno(sys.ioctl(buf, U.DMA_BUF_IOCTL_SYNC, BigInt(m)))).toBe('EINVAL');
    });
  });

  it('udmabuf: CREATE_LIST reads its items after the header; the count is checked before the list is read', async () => {
    await onReference(async (sys) => {
      const memfd = await sys.memfd_create('u', U.MFD_ALLOW_SEALING);
      await sys.ftruncate(memfd, 8192);
      await sys.fcntl(memfd, U.F_ADD_SEALS, U.F_SEAL_SHRINK);
      const dev = await sys.open('/dev/udmabuf', U.O_RDWR);
      const m = await anon(sys);
      const head = U.ioctlArgLayout(U.UDMABUF_CREATE_LIST)!.layout;
      const item = U.struct('udmabuf_create_item', [
        ['memfd', 'u32'],
        ['__pad', 'u32'],
        ['offset', 'u64'],
        ['size', 'u64'],
      ]);
      await put(sys, m, head, { flags: U.UDMABUF_FLAGS_CLOEXEC, count: 2 });
      await put(sys, m + 8, item, { memfd, offset: 0, size: 4096 });
      await put(sys, m + 32, item, { memfd, offset: 4096, size: 4096 });
      const fd = await sys.ioctl(dev, U.UDMABUF_CREATE_LIST, BigInt(m));
      expect(await sys.lseek(fd, 0, U.SEEK_END)).toBe(8192);
      // the list runs off the mapping: EFAULT
      const end = m + 4096 - 8 - 24;
      await put(sys, end, head, { flags: 0, count: 2 });
      expect(await errno(sys.ioctl(dev, U.UDMABUF_CREATE_LIST, BigInt(end)))).toBe('EFAULT');
      // over list_limit: EINVAL before the (unreadable) list is touched
      await put(sys, end, head, { flags: 0, count: 100000 });
      expect(await errno(sys.ioctl(dev, U.UDMABUF_CREATE_LIST, BigInt(end)))).toBe('EINVAL');
    });
  });

  it('V4L2: QUERYCAP, G_INPUT, REQBUFS, QUERYBUF and EXPBUF through memory match the object form; planes are read through their pointer', async () => {
    await onReference(async (sys) => {
      const v = await sys.open('/dev/video0', U.O_RDWR);
      const capLayout = U.ioctlArgLayout(U.VIDIOC_QUERYCAP)!.layout;
      const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 };
      await sys.ioctl(v, U.VIDIOC_QUERYCAP, cap);
      const m = await anon(sys, U.PROT_READ | U.PROT_WRITE, 8192);
      await sys.store(m, new Uint8Array(capLayout.size).fill(0xaa));
      await sys.ioctl(v, U.VIDIOC_QUERYCAP, BigInt(m));
      const objBytes = new Uint8Array(capLayout.size);
      U.encodeStruct(capLayout, cap, objBytes);
      // an _IOR request starts from a zeroed struct: no 0xaa survives
      expect(await sys.load(m, capLayout.size)).toEqual(objBytes);
      const ro = await anon(sys, U.PROT_READ);
      expect(await errno(sys.ioctl(v, U.VIDIOC_QUERYCAP, BigInt(ro)))).toBe('EFAULT');

      await sys.ioctl(v, U.VIDIOC_G_INPUT, BigInt(m));
      expect(new DataView((await sys.load(m, 4)).buffer).getInt32(0, true)).toBe(0);

      const rb = U.ioctlArgLayout(U.VIDIOC_REQBUFS)!.layout;
      await put(sys, m, rb, { count: 2, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE, memory: U.V4L2_MEMORY_MMAP });
      await sys.ioctl(v, U.VIDIOC_REQBUFS, BigInt(m));
      expect((await get(sys, m, rb)).count).toBe(2);

      const bl = U.ioctlArgLayout(U.VIDIOC_QUERYBUF)!.layout;
      await put(sys, m, bl, { index: 1, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE, memory: U.V4L2_MEMORY_MMAP });
      await sys.ioctl(v, U.VIDIOC_QUERYBUF, BigInt(m));
      const qb = (await get(sys, m, bl)) as { length: number; m: { offset: number } };
      const obj = { index: 1, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE, memory: U.V4L2_MEMORY_MMAP } as unknown as U.V4l2Buffer;
      await sys.ioctl(v, U.VIDIOC_QUERYBUF, obj);
      expect(qb.length).toBe(obj.length);
      expect(qb.m.offset).toBe(obj.m.offset);

      const ex = U.ioctlArgLayout(U.VIDIOC_EXPBUF)!.layout;
      await put(sys, m, ex, { type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE, index: 0, flags: U.O_CLOEXEC, fd: -1 });
      await sys.ioctl(v, U.VIDIOC_EXPBUF, BigInt(m));
      const efd = (await get(sys, m, ex)).fd as number;
      expect(await sys.lseek(efd, 0, U.SEEK_END)).toBe(obj.length);

      // a multi-planar buffer: the planes pointer is read first (EFAULT when unmapped), more than 8 planes is EINVAL,
      // and a single-planar node then refuses the type
      const gone = await anon(sys);
      await sys.munmap(gone, 4096);
      await put(sys, m, bl, { index: 0, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory: U.V4L2_MEMORY_MMAP, m: { planes: gone }, length: 1 });
      expect(await errno(sys.ioctl(v, U.VIDIOC_QUERYBUF, BigInt(m)))).toBe('EFAULT');
      await put(sys, m, bl, { index: 0, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory: U.V4L2_MEMORY_MMAP, m: { planes: m + 4096 }, length: 9 });
      expect(await errno(sys.ioctl(v, U.VIDIOC_QUERYBUF, BigInt(m)))).toBe('EINVAL');
      await put(sys, m, bl, { index: 0, type: U.V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory: U.V4L2_MEMORY_MMAP, m: { planes: m + 4096 }, length: 1 });
      expect(await errno(sys.ioctl(v, U.VIDIOC_QUERYBUF, BigInt(m)))).toBe('EINVAL');

      // STREAMON's int pointer; an unmapped one is EFAULT and the queue stays off
      expect(await errno(sys.ioctl(v, U.VIDIOC_STREAMON, BigInt(gone)))).toBe('EFAULT');
      await sys.store(m, new Uint8Array([U.V4L2_BUF_TYPE_VIDEO_CAPTURE, 0, 0, 0]));
      expect(await sys.ioctl(v, U.VIDIOC_STREAMON, BigInt(m))).toBe(0);
      expect(await sys.ioctl(v, U.VIDIOC_STREAMOFF, BigInt(m))).toBe(0);
    });
  });

  it('FIONBIO reads and FIONREAD writes an int in user memory', async () => {
    await onReference(async (sys) => {
      const [r, w] = await sys.pipe2(0);
      const m = await anon(sys);
      await sys.store(m, new Uint8Array([1, 0, 0, 0]));
      await sys.ioctl(r, U.FIONBIO, BigInt(m));
      expect((await sys.fcntl(r, U.F_GETFL)) & U.O_NONBLOCK).toBe(U.O_NONBLOCK);
      await sys.write(w!, new Uint8Array(5));
      await sys.ioctl(r, U.FIONREAD, BigInt(m + 4));
      expect(new DataView((await sys.load(m + 4, 4)).buffer).getInt32(0, true)).toBe(5);
      const ro = await anon(sys, U.PROT_READ);
      expect(await errno(sys.ioctl(r, U.FIONREAD, BigInt(ro)))).toBe('EFAULT');
    });
  });
});
