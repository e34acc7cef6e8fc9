// The call sequences behind test/oracle/linux-6.1-oracle.md, as one userspace
// program: run under `unimem exec --platform linux-6.1-reference`, it prints
// one `case|result|detail` line per row, in the table's order and with the
// table's detail fields, so the test can hold each line against the row the
// real kernel gave.
//
// Rows share state the way the recording program's did: fd numbers, inode
// numbers, GEM handles and fence contexts are counters, so each case leaves
// open exactly what later rows rely on and closes the rest.
import type { PollFd, Sys } from 'unimem';
import { SyscallError } from 'unimem';
import { fdinfo as fdinfoOf, fdinfoRow as fdinfoRowOf } from '../dmabuf/helpers.ts';
import * as vgem from '../drivers/vgem-helpers.ts';
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SET_NAME,
  DMA_BUF_SET_NAME_B,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  DMA_BUF_SYNC_WRITE,
  DRM_CAP_DUMB_BUFFER,
  DRM_CLOEXEC,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_VERSION,
  DRM_IOCTL_VGEM_FENCE_SIGNAL,
  DRM_RDWR,
  EPOLLIN,
  EPOLLOUT,
  EPOLL_CTL_ADD,
  CLOCK_BOOTTIME,
  F_GETFD,
  F_GETFL,
  F_SETFL,
  FIONBIO,
  FIONREAD,
  MAP_PRIVATE,
  MAP_SHARED,
  MREMAP_MAYMOVE,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  POLLIN,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
  SYNC_IOC_FILE_INFO,
  TIMER_ABSTIME,
  V4L2_BUF_TYPE_VIDEO_CAPTURE,
  V4L2_BUF_TYPE_VIDEO_OUTPUT,
  V4L2_MEMORY_DMABUF,
  V4L2_MEMORY_MMAP,
  V4L2_PIX_FMT_YUYV,
  VGEM_FENCE_WRITE,
  VIDIOC_DQBUF,
  VIDIOC_EXPBUF,
  VIDIOC_G_FMT,
  VIDIOC_QBUF,
  VIDIOC_QUERYBUF,
  VIDIOC_QUERYCAP,
  VIDIOC_REQBUFS,
  VIDIOC_S_FMT,
  VIDIOC_STREAMOFF,
  VIDIOC_STREAMON,
  type SyncFenceInfo,
  type SyncFileInfo,
  type V4l2Buffer,
  type V4l2Format,
  type V4l2RequestBuffers,
} from 'unimem/uapi';

const PAGE = 4096;
const SIZE = 65536;
const VIVID_SIZE = 614400;
const CAP = V4L2_BUF_TYPE_VIDEO_CAPTURE;

/** What a case gives: `ok` and a detail, or an errno name and a detail. */
type Outcome = string | { result: string; detail?: string };

const enc = new TextEncoder();

/** The errno name a call failed with, or 'ok'. */
async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}

/** Fails a case with the errno of `p`, or throws when `p` succeeds: rows expecting an error use this. */
async function fails(p: Promise<unknown>, detail = '-'): Promise<Outcome> {
  return { result: await errnoOf(p), detail };
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const acc = (fl: number): string => ['O_RDONLY', 'O_WRONLY', 'O_RDWR'][fl & O_ACCMODE]!;
const events = (m: number): string => [m & POLLIN ? 'IN' : '', m & POLLOUT ? 'OUT' : ''].filter(Boolean).join('/') || 'none';

/** FNV-1a, 32 bits: the hash the recording program printed. */
function fnv1a(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Bytes of `b` that differ from `want` (a byte or a byte array). */
function mismatch(b: Uint8Array, want: Uint8Array | number): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] !== (typeof want === 'number' ? want : want[i])) n++;
  return n;
}

/** The pattern the program writes into a buffer: every page different (its page number in each byte, xor the offset). */
function pattern(len: number, from = 0): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (((from + i) >> 12) * 37 + (from + i)) & 0xff;
  return b;
}

export default async function main(sys: Sys): Promise<number> {
  const out = async (name: string, fn: () => Promise<Outcome>): Promise<void> => {
    const o = await fn();
    const r = typeof o === 'string' ? { result: 'ok', detail: o } : o;
    await sys.write(1, enc.encode(`${name}|${r.result}|${(r.detail ?? '-').replace(/ /g, '_') || '-'}\n`));
  };

  const list = async (path: string): Promise<string[]> => {
    const fd = await sys.open(path, O_RDONLY | O_DIRECTORY);
    const names: string[] = [];
    for (let b = await sys.getdents64(fd, 4096); b.length > 0; b = await sys.getdents64(fd, 4096)) for (const d of b) names.push(d.d_name);
    await sys.close(fd);
    return names.filter((n) => n !== '.' && n !== '..').sort();
  };
  // The calls the driver tests make too, bound to this program's sys.
  const fdinfo = (fd: number) => fdinfoOf(sys, fd);
  const fdinfoRow = (fd: number) => fdinfoRowOf(sys, fd);
  const dumb = (fd: number, width?: number, height?: number, bpp?: number) => vgem.dumb(sys, fd, width, height, bpp);
  const mapDumb = (fd: number, handle: number) => vgem.mapDumb(sys, fd, handle);
  const toFd = (fd: number, handle: number, flags?: number) => vgem.toFd(sys, fd, handle, flags);
  const toHandle = (fd: number, buf: number) => vgem.toHandle(sys, fd, buf);
  const fenceAttach = (fd: number, handle: number, flags: number) => vgem.fenceAttach(sys, fd, handle, flags);
  const fenceSignal = (fd: number, fence: number, flags?: number) => vgem.fenceSignal(sys, fd, fence, flags);
  const gemClose = (fd: number, handle: number) => sys.ioctl(fd, DRM_IOCTL_GEM_CLOSE, { handle, pad: 0 });
  const pollNow = async (fd: number, ev = POLLIN | POLLOUT): Promise<{ n: number; revents: number }> => {
    const p: PollFd[] = [{ fd, events: ev }];
    const n = await sys.poll(p, 0);
    return { n, revents: p[0]!.revents ?? 0 };
  };
  const bufSync = (fd: number, flags: number | bigint) => sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags });
  /** Reads `len` bytes of `fd` at `offset` through a fresh shared mapping, bracketed by DMA_BUF_IOCTL_SYNC as a CPU reader must. */
  const readMapped = async (fd: number, len: number, offset = 0, sync = true): Promise<Uint8Array> => {
    const m = await sys.mmap(0, len, PROT_READ, MAP_SHARED, fd, offset);
    if (sync) await bufSync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    const b = await sys.load(m, len);
    if (sync) await bufSync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    await sys.munmap(m, len);
    return b;
  };
  const writeMapped = async (fd: number, bytes: Uint8Array): Promise<void> => {
    const m = await sys.mmap(0, bytes.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    await bufSync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    await sys.store(m, bytes);
    await bufSync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    await sys.munmap(m, bytes.length);
  };
  const syncFileInfo = async (fd: number): Promise<SyncFileInfo & { fences: SyncFenceInfo[] }> => {
    const fences: SyncFenceInfo[] = [];
    const info: SyncFileInfo = { name: '', status: 0, flags: 0, num_fences: 1, pad: 0, sync_fence_info: fences };
    await sys.ioctl(fd, SYNC_IOC_FILE_INFO, info);
    return { ...info, fences };
  };
  /** DMA_BUF_IOCTL_EXPORT_SYNC_FILE and what the sync_file says about itself. */
  const exportSyncFile = async (buf: number, flags: number) => {
    const e = { flags, fd: -1 };
    await sys.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, e);
    const info = await syncFileInfo(e.fd);
    const d = {
      fd: e.fd,
      status: info.status,
      num_fences: info.num_fences,
      name: info.name,
      poll: events((await pollNow(e.fd, POLLIN)).revents),
    };
    return d;
  };
  const fileFlags = async (fd: number) => `acc=${acc(await sys.fcntl(fd, F_GETFL))},cloexec=${(await sys.fcntl(fd, F_GETFD)) & 1}`;

  // ── vgem: the device, its files, dumb buffers ──────────────────────────
  let card = -1;
  await out('vgem_find', async () => {
    const dri = await list('/dev/dri');
    for (const n of dri.filter((x) => x.startsWith('card'))) {
      const fd = await sys.open(`/dev/dri/${n}`, O_RDWR);
      const v = { version_major: 0, version_minor: 0, version_patchlevel: 0, name_len: 64, name: '', date_len: 64, date: '', desc_len: 64, desc: '' };
      await sys.ioctl(fd, DRM_IOCTL_VERSION, v);
      if (v.name === 'vgem') {
        card = fd;
        return `path=/dev/dri/${n},name=${v.name},desc=${v.desc},version=${v.version_major}.${v.version_minor}.${v.version_patchlevel},dri=${dri.map((x) => `${x}+`).join('')}`;
      }
      await sys.close(fd);
    }
    return { result: 'ENODEV' };
  });
  const card2 = await sys.open('/dev/dri/card0', O_RDWR);
  await out('vgem_third_file', async () => 'path=/dev/dri/card0(second-open-of-primary)');
  const render = await sys.open('/dev/dri/renderD128', O_RDWR);
  await out('render_node_dumb_create', async () => fails(dumb(render), 'node=/dev/dri/renderD128'));
  await out('drm_cap_dumb_buffer', async () => {
    const c = { capability: DRM_CAP_DUMB_BUFFER, value: 0 as number | bigint };
    return fails(sys.ioctl(card, DRM_IOCTL_GET_CAP, c).then(() => c), `value=${c.value}`);
  });
  const bo = await dumb(card);
  await out('vgem_dumb_create', async () => `w=256,h=64,bpp=32,handle=${bo.handle},pitch=${bo.pitch},size=${bo.size}`);
  await out('vgem_dumb_create_odd', async () => {
    const d = await dumb(card2, 100, 3, 24);
    await gemClose(card2, d.handle);
    return `w=100,h=3,bpp=24,pitch=${d.pitch},size=${d.size}`;
  });
  await out('vgem_dumb_create_width0', async () => fails(dumb(card, 0, 64, 32)));
  await out('vgem_dumb_create_overflow', async () => fails(dumb(card, 65536, 65536, 32), 'w=65536,h=65536,bpp=32'));

  // ── PRIME export and the dma-buf file ──────────────────────────────────
  const buf = await toFd(card, bo.handle);
  await writeMapped(buf, pattern(SIZE));
  const ino = async (fd: number) => (await sys.fstat(fd)).st_ino;
  await out('prime_export_rdwr', async () => `fd=${buf},${await fileFlags(buf)},ino=${await ino(buf)},link=${await sys.readlink(`/proc/self/fd/${buf}`)}`);
  await out('prime_export_invalid_handle', async () => fails(toFd(card, 0xdead), 'handle=0xdead'));
  await out('prime_export_bad_flags', async () => fails(toFd(card, bo.handle, 0x4000000), 'flags=0x4000000'));
  {
    // A read-only export needs its own buffer: a second export of the same handle returns the first export's file.
    const ro = await dumb(card);
    const rofd = await toFd(card, ro.handle, DRM_CLOEXEC);
    await out('dmabuf_ro_mmap_rw_shared', async () => fails(sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0)));
    await out('dmabuf_ro_mmap_r_shared', async () => {
      const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, rofd, 0);
      await sys.munmap(m, SIZE);
      return '-';
    });
    await out('dmabuf_ro_set_name', async () => fails(sys.ioctl(rofd, DMA_BUF_SET_NAME, 'ro')));
    await sys.close(rofd);
    await gemClose(card, ro.handle);
  }
  await out('dmabuf_lseek_end', async () => {
    const off = await sys.lseek(buf, 0, SEEK_END);
    await sys.lseek(buf, 0, SEEK_SET);
    return `offset=${off},size=${(await sys.fstat(buf)).st_size}`;
  });
  await out('dmabuf_lseek_cur0', async () => fails(sys.lseek(buf, 0, SEEK_CUR), 'offset=-1'));
  await out('dmabuf_write', async () => fails(sys.write(buf, new Uint8Array(4)), 'ret=-1'));
  await out('dmabuf_pread', async () => fails(sys.pread(buf, 4, 0), 'ret=-1'));
  await out('dmabuf_fsync', async () => fails(sys.fsync(buf)));
  await out('dmabuf_ftruncate', async () => fails(sys.ftruncate(buf, PAGE)));
  await out('dmabuf_readlink', async () => `link=${await sys.readlink(`/proc/self/fd/${buf}`)}`);
  await out('dmabuf_reopen_proc_fd', async () => fails(sys.open(`/proc/self/fd/${buf}`, O_RDWR)));
  await out('dmabuf_fdinfo', async () => fdinfoRow(buf));
  await out('dmabuf_fdinfo_count', async () => {
    const count = async () => (await fdinfo(buf)).count;
    const initial = await count();
    const dup = await sys.dup(buf);
    const afterDup = await count();
    const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, buf, 0);
    const afterMmap = await count();
    await sys.munmap(m, SIZE);
    await sys.close(dup);
    return `initial=${initial},after_dup=${afterDup},after_mmap=${afterMmap},after_munmap_close=${await count()}`;
  });
  await out('dmabuf_fcntl_setfl_nonblock', async () => {
    const fl = await sys.fcntl(buf, F_GETFL);
    await sys.fcntl(buf, F_SETFL, fl | O_NONBLOCK);
    const got = await sys.fcntl(buf, F_GETFL);
    await sys.fcntl(buf, F_SETFL, fl);
    return `F_GETFL=0${got.toString(8)}`;
  });
  await out('dmabuf_epoll_idle', async () => {
    const ep = await sys.epoll_create1(O_CLOEXEC);
    await sys.epoll_ctl(ep, EPOLL_CTL_ADD, buf, { events: EPOLLIN | EPOLLOUT, data: 0 });
    const ev = await sys.epoll_wait(ep, 4, 0);
    await sys.close(ep);
    return `nready=${ev.length},events=${events(ev[0]?.events ?? 0)}`;
  });

  // ── dma-buf mmap: offsets and bounds ───────────────────────────────────
  const page0 = pattern(SIZE).subarray(0, PAGE);
  /** mismatch of a view at `offset` against what should be there, and against page 0 repeated. */
  const vsPage0 = (b: Uint8Array): number => {
    let n = 0;
    for (let i = 0; i < b.length; i++) if (b[i] !== page0[i % PAGE]! && b[i] !== pattern(SIZE)[i]) n++;
    return n;
  };
  await out('dmabuf_mmap_offset_4096', async () => {
    const b = await readMapped(buf, SIZE - PAGE, PAGE);
    return `len=${b.length},mismatch_expected=${mismatch(b, pattern(SIZE - PAGE, PAGE))},mismatch_vs_page0=${vsPage0(b)}`;
  });
  await out('dmabuf_mmap_last_page', async () => {
    const b = await readMapped(buf, PAGE, SIZE - PAGE);
    return `offset=${SIZE - PAGE},mismatch_expected=${mismatch(b, pattern(PAGE, SIZE - PAGE))},mismatch_vs_page0=${mismatch(b, page0)}`;
  });
  await out('gem_mmap_last_page', async () => {
    const off = await mapDumb(card, bo.handle);
    return fails(sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, card, off + SIZE - PAGE), 'offset=fake+61440,mismatch_expected=-2,mismatch_vs_page0=-2');
  });
  await out('dmabuf_proc_maps_entry', async () => {
    const m = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
    const line = (await sys.readFile('/proc/self/maps')).split('\n').find((l) => l.startsWith(m.toString(16).padStart(8, '0') + '-'))!;
    await sys.munmap(m, SIZE);
    const [, perms, pgoff, dev, inode, path] = line.trim().split(/\s+/);
    return `perms=${perms},pgoff=0x${BigInt(`0x${pgoff}`).toString(16)},dev=${dev},ino=${inode},path=${path}`;
  });
  await out('dmabuf_mmap_beyond_size', async () => fails(sys.mmap(0, SIZE + PAGE, PROT_READ, MAP_SHARED, buf, 0), `len=${SIZE + PAGE},size=${SIZE}`));
  await out('dmabuf_mmap_offset_at_size', async () => fails(sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, buf, SIZE), `offset=${SIZE}`));
  await out('dmabuf_mmap_straddle_end', async () => fails(sys.mmap(0, 2 * PAGE, PROT_READ, MAP_SHARED, buf, SIZE - PAGE), `offset=${SIZE - PAGE},len=${2 * PAGE}`));
  await out('dmabuf_mmap_unaligned_offset', async () => fails(sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, buf, 100), 'offset=100'));
  await out('dmabuf_mmap_len100', async () => `mismatch=${mismatch(await readMapped(buf, 100), pattern(100))}`);
  await out('dmabuf_mremap_grow', async () => {
    const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, buf, 0);
    const r = await errnoOf(sys.mremap(m, SIZE, 2 * SIZE, MREMAP_MAYMOVE));
    await sys.munmap(m, SIZE);
    return { result: r, detail: '-' };
  });

  // ── PRIME import ───────────────────────────────────────────────────────
  let h2 = 0;
  await out('prime_import_twice_same_file', async () => {
    const a = await toHandle(card2, buf);
    const b = await toHandle(card2, buf);
    h2 = a;
    return `handle1=${a},handle2=${b},same=${Number(a === b)}`;
  });
  await out('prime_import_dup_fd_same_file', async () => {
    const d = await sys.dup(buf);
    const h = await toHandle(card2, d);
    await sys.close(d);
    return `handle=${h},same=${Number(h === h2)}`;
  });
  await out('prime_import_into_exporter_file', async () => {
    const h = await toHandle(card, buf);
    return `handle=${h},orig_handle=${bo.handle},same=${Number(h === bo.handle)}`;
  });
  await out('prime_reexport_imported', async () => {
    const fd = await toFd(card2, h2);
    const r = `same_ino_as_original=${Number((await ino(fd)) === (await ino(buf)))},acc=${acc(await sys.fcntl(fd, F_GETFL))}`;
    await sys.close(fd);
    return r;
  });
  await out('cross_file_read_sees_write', async () => {
    const off = await mapDumb(card2, h2);
    const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, card2, off);
    const b = await sys.load(m, SIZE);
    await sys.munmap(m, SIZE);
    return `importer=second_open_of_primary,handle=${h2},map_dumb=ok,offset=${hex(off)},mismatch=${mismatch(b, pattern(SIZE))},bytes=${b.length}`;
  });
  await out('cross_file_write_seen_by_dmabuf_mmap', async () => {
    const off = await mapDumb(card2, h2);
    const m = await sys.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, card2, off);
    const want = pattern(SIZE, 7);
    await sys.store(m, want);
    await sys.munmap(m, SIZE);
    const got = await readMapped(buf, SIZE);
    await writeMapped(buf, pattern(SIZE));
    return `mismatch=${mismatch(got, want)}`;
  });
  await out('prime_import_closed_fd', async () => fails(toHandle(card, 1000), 'fd=1000'));
  await out('prime_import_regular_file', async () => {
    const f = await sys.open('/tmp/probe', O_RDWR | O_CREAT, 0o600);
    const r = await fails(toHandle(card, f), 'file=/probe');
    await sys.close(f);
    return r;
  });

  // ── DMA_BUF_IOCTL_SYNC and other ioctls on the dma-buf ─────────────────
  const syncRow = (name: string, flags: number | bigint) => out(name, async () => fails(bufSync(buf, flags), `flags=${hex(flags)}`));
  await syncRow('dmabuf_sync_start_read', DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
  await syncRow('dmabuf_sync_end_read', DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
  await syncRow('dmabuf_sync_start_write', DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
  await syncRow('dmabuf_sync_start_rw', DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
  await syncRow('dmabuf_sync_end_without_start', DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
  await syncRow('dmabuf_sync_flags_0', 0);
  await syncRow('dmabuf_sync_flags_bit3', 0x9);
  await syncRow('dmabuf_sync_flags_bit63', 0x8000000000000001n);
  await syncRow('dmabuf_sync_flags_all_ones', 0xffffffffffffffffn);
  await bufSync(buf, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
  await out('dmabuf_sync_null_arg', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_SYNC, null)));
  await out('dmabuf_sync_wrong_size_cmd', async () => fails(sys.ioctl(buf, 0x40046200, { flags: DMA_BUF_SYNC_READ }), 'cmd=0x40046200'));
  await out('dmabuf_drm_ioctl_on_dmabuf', async () => fails(sys.ioctl(buf, DRM_IOCTL_VERSION, {}), 'cmd=DRM_IOCTL_VERSION'));
  await out('dmabuf_fionread', async () => {
    const v = { value: 0 };
    return fails(sys.ioctl(buf, FIONREAD, v), `value=${v.value}`);
  });
  await out('dmabuf_fionbio', async () => {
    await sys.ioctl(buf, FIONBIO, { value: 1 });
    return fails(sys.ioctl(buf, FIONBIO, { value: 0 }));
  });
  await out('dmabuf_sync_on_pipe', async () => {
    const [r, w] = await sys.pipe();
    const e = await fails(sys.ioctl(r, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_READ }));
    await sys.close(r);
    await sys.close(w);
    return e;
  });

  // ── DMA_BUF_SET_NAME ───────────────────────────────────────────────────
  const fdinfoName = async (fd: number) => (await fdinfo(fd)).name ?? '(empty)';
  const link = async (fd: number) => sys.readlink(`/proc/self/fd/${fd}`);
  await out('dmabuf_set_name', async () => {
    await sys.ioctl(buf, DMA_BUF_SET_NAME, 'oracle-A');
    return `fdinfo_name=${await fdinfoName(buf)},link=${await link(buf)}`;
  });
  await out('dmabuf_set_name_31chars', async () => {
    await sys.ioctl(buf, DMA_BUF_SET_NAME, '0123456789abcdefghijklmnopqrstu');
    return `fdinfo_name=${await fdinfoName(buf)}`;
  });
  await out('dmabuf_set_name_32chars', async () => {
    const r = await errnoOf(sys.ioctl(buf, DMA_BUF_SET_NAME, '0123456789abcdefghijklmnopqrstuv'));
    return { result: r, detail: `fdinfo_name_after=${await fdinfoName(buf)}` };
  });
  await out('dmabuf_set_name_empty', async () => {
    await sys.ioctl(buf, DMA_BUF_SET_NAME, '');
    return `fdinfo_name=${(await fdinfoName(buf)) || '(empty)'},link=${await link(buf)}`;
  });
  await out('dmabuf_set_name_null', async () => fails(sys.ioctl(buf, DMA_BUF_SET_NAME, null)));
  await out('dmabuf_set_name_B_u64_cmd', async () => {
    await sys.ioctl(buf, DMA_BUF_SET_NAME_B, 'with space/slash');
    return `cmd=${hex(DMA_BUF_SET_NAME_B)},fdinfo_name=${await fdinfoName(buf)},link=${await link(buf)}`;
  });
  await out('dmabuf_name_visible_via_reexport', async () => {
    await sys.ioctl(buf, DMA_BUF_SET_NAME, 'oracle-A');
    const re = await toFd(card2, h2);
    const r = `fdinfo_name=${await fdinfoName(re)}`;
    await sys.close(re);
    return r;
  });
  // fd, the GEM object's own reference, and the export caches of both files
  await out('dmabuf_fdinfo_after_name', async () => fdinfoRow(buf));
  await out('dmabuf_poll_idle', async () => {
    const p = await pollNow(buf);
    return `nready=${p.n},revents=${events(p.revents)}`;
  });

  // ── sync_file export and import ────────────────────────────────────────
  const exportRow = async (name: string, flags: number) =>
    out(name, async () => {
      const e = await exportSyncFile(buf, flags);
      const r = `flags=${hex(flags)},status=${e.status},num_fences=${e.num_fences},name=${e.name},poll=${e.poll},link=${await link(e.fd)},${(await fileFlags(e.fd)).split(',').reverse().join(',')}`;
      await sys.close(e.fd);
      return r;
    });
  await exportRow('export_sync_file_read', DMA_BUF_SYNC_READ);
  await exportRow('export_sync_file_rw', DMA_BUF_SYNC_RW);
  await out('export_sync_file_flags0', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 0, fd: -1 }), 'flags=0x0'));
  await out('export_sync_file_bogus', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, { flags: 0x101, fd: -1 }), 'flags=0x101'));
  {
    const sf = await exportSyncFile(buf, DMA_BUF_SYNC_READ);
    await out('import_sync_file_signaled_read', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_READ, fd: sf.fd })));
    await out('import_sync_file_bogus_flags', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: 0x100, fd: sf.fd })));
    await out('import_sync_file_pipe_fd', async () => {
      const [r, w] = await sys.pipe();
      const e = await fails(sys.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_READ, fd: r }));
      await sys.close(r);
      await sys.close(w);
      return e;
    });
    await out('import_sync_file_dmabuf_fd', async () => fails(sys.ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, { flags: DMA_BUF_SYNC_READ, fd: buf })));
    await out('prime_import_sync_file_fd', async () => fails(toHandle(card, sf.fd)));
    await sys.close(sf.fd);
  }
  await out('dmabuf_poll_after_signaled_import', async () => `revents=${events((await pollNow(buf)).revents)}`);

  // ── vgem fences ────────────────────────────────────────────────────────
  const pendingExport = async (flags: number) => {
    const e = await exportSyncFile(buf, flags);
    await sys.close(e.fd);
    return `status=${e.status},num_fences=${e.num_fences},name=${e.name},poll=${e.poll}`;
  };
  let f1 = 0;
  await out('vgem_fence_attach_write', async () => `fence=${(f1 = await fenceAttach(card, bo.handle, VGEM_FENCE_WRITE))}`);
  await out('dmabuf_poll_write_fence_pending', async () => `revents=${events((await pollNow(buf)).revents)}`);
  await out('export_sync_file_read_pending_write', async () => pendingExport(DMA_BUF_SYNC_READ));
  await out('export_sync_file_write_pending_write', async () => pendingExport(DMA_BUF_SYNC_WRITE));
  await out('vgem_fence_attach_write_while_write_pending', async () => fails(fenceAttach(card, bo.handle, VGEM_FENCE_WRITE)));
  await out('dmabuf_poll_after_signal', async () => {
    await fenceSignal(card, f1);
    return `revents=${events((await pollNow(buf)).revents)}`;
  });
  await out('vgem_fence_signal_bad_flags', async () => {
    const f = await fenceAttach(card, bo.handle, VGEM_FENCE_WRITE);
    const r = await fails(fenceSignal(card, f, 1));
    await fenceSignal(card, f);
    return r;
  });
  await out('vgem_fence_attach_bad_flags', async () => fails(fenceAttach(card, bo.handle, 0x2)));
  await out('vgem_fence_attach_bad_handle', async () => fails(fenceAttach(card, 0xdead, 0)));
  const fr = await fenceAttach(card, bo.handle, 0);
  await out('export_sync_file_read_pending_read', async () => pendingExport(DMA_BUF_SYNC_READ));
  await out('export_sync_file_write_pending_read', async () => pendingExport(DMA_BUF_SYNC_WRITE));
  await out('dmabuf_poll_out_wakes_on_signal', async () => {
    const child = await sys.fork(async (c) => {
      await c.nanosleep({ tv_sec: 0, tv_nsec: 200_000_000 });
      await c.ioctl(card, DRM_IOCTL_VGEM_FENCE_SIGNAL, { fence: fr, flags: 0 });
      return 0;
    });
    const t0 = await sys.clock_gettime(1);
    const p: PollFd[] = [{ fd: buf, events: POLLOUT }];
    const n = await sys.poll(p, -1);
    const t1 = await sys.clock_gettime(1);
    await sys.wait(child);
    const ms = Math.round((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    return `nready=${n},revents=${events(p[0]!.revents ?? 0)},waited_ms=${ms}`;
  });
  await out('vgem_fence_via_importer_visible_to_exporter_fd', async () => {
    const d = await dumb(card);
    const dfd = await toFd(card, d.handle);
    const imported = await toHandle(render, dfd);
    const f = await fenceAttach(render, imported, VGEM_FENCE_WRITE);
    const r = `revents=${events((await pollNow(dfd)).revents)}`;
    await fenceSignal(render, f);
    await gemClose(render, imported);
    await gemClose(card, d.handle);
    await sys.close(dfd);
    return r;
  });
  await out('reimport_after_gem_close', async () => {
    const other = await dumb(card);
    const ofd = await toFd(card, other.handle);
    await writeMapped(ofd, pattern(SIZE, 3));
    const old = await toHandle(card2, ofd);
    await gemClose(card2, old);
    const again = await toHandle(card2, ofd);
    const off = await mapDumb(card2, again);
    const m = await sys.mmap(0, SIZE, PROT_READ, MAP_SHARED, card2, off);
    const b = await sys.load(m, SIZE);
    await sys.munmap(m, SIZE);
    await gemClose(card2, again);
    await gemClose(card, other.handle);
    await sys.close(ofd);
    return `old_handle=${old},new_handle=${again},map_dumb=ok,mismatch=${mismatch(b, pattern(SIZE, 3))}`;
  });
  await out('scm_rights_parent_sees_child_write', async () => {
    const d = await dumb(card);
    const dfd = await toFd(card, d.handle);
    await gemClose(card, d.handle);
    const [a, b] = await sys.socketpair();
    const child = await sys.fork(async (c) => {
      const msg = await c.recvmsg(b, { maxFds: 1 });
      const fd = msg.fds[0]!;
      const m = await c.mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await c.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE });
      await c.store(m, pattern(SIZE, 11));
      await c.ioctl(fd, DMA_BUF_IOCTL_SYNC, { flags: DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE });
      return 0;
    });
    await sys.sendmsg(a, { data: new Uint8Array([1]), fds: [dfd] });
    const w = await sys.wait(child);
    const got = await readMapped(dfd, SIZE);
    await sys.close(a);
    await sys.close(b);
    await sys.close(dfd);
    return `child_exit=${w.status},mismatch=${mismatch(got, pattern(SIZE, 11))}`;
  });
  await out('debugfs_bufinfo', async () => {
    const text = await sys.readFile('/sys/kernel/debug/dma_buf/bufinfo');
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return `lines=${lines.length},total=${lines.at(-1)!.replace(/ /g, '_')}`;
  });

  // ── vivid (videobuf2-vmalloc): EXPBUF and the exported buffers ─────────
  let video = await sys.open('/dev/video0', O_RDWR);
  const fmt: V4l2Format = {
    type: CAP,
    fmt: { pix: { width: 640, height: 480, pixelformat: V4L2_PIX_FMT_YUYV, field: 1, bytesperline: 0, sizeimage: 0, colorspace: 0, priv: 0, flags: 0, ycbcr_enc: 0, quantization: 0, xfer_func: 0 } },
  };
  await out('vivid_s_fmt', async () => {
    await sys.ioctl(video, VIDIOC_S_FMT, fmt);
    const p = fmt.fmt.pix;
    const cc = String.fromCharCode(p.pixelformat & 0xff, (p.pixelformat >> 8) & 0xff, (p.pixelformat >> 16) & 0xff, p.pixelformat >>> 24);
    return `w=${p.width},h=${p.height},fourcc=${cc},bytesperline=${p.bytesperline},sizeimage=${p.sizeimage},field=${p.field}`;
  });
  const v4l2buf = (index: number, memory = V4L2_MEMORY_MMAP, m: V4l2Buffer['m'] = {}, length = 0): V4l2Buffer => ({
    index,
    type: CAP,
    bytesused: 0,
    flags: 0,
    field: 0,
    timestamp: { tv_sec: 0, tv_usec: 0 },
    sequence: 0,
    memory,
    m,
    length,
  });
  const reqbufs = async (fd: number, count: number, memory = V4L2_MEMORY_MMAP): Promise<V4l2RequestBuffers> => {
    const r: V4l2RequestBuffers = { count, type: CAP, memory, capabilities: 0, flags: 0 };
    await sys.ioctl(fd, VIDIOC_REQBUFS, r);
    return r;
  };
  const expbuf = async (fd: number, index: number, type = CAP): Promise<number> => {
    const e = { type, index, plane: 0, flags: O_CLOEXEC | O_RDWR, fd: -1 };
    await sys.ioctl(fd, VIDIOC_EXPBUF, e);
    return e.fd;
  };
  /**
   * Maps MMAP buffer `index` through the V4L2 node, fills it, and returns its length. `exported`, the buffer's
   * dma-buf when a device has it mapped, brackets the write with DMA_BUF_IOCTL_SYNC.
   */
  const v4l2MmapFill = async (fd: number, index: number, fill: (len: number) => Uint8Array, exported?: number): Promise<number> => {
    const b = v4l2buf(index);
    await sys.ioctl(fd, VIDIOC_QUERYBUF, b);
    const m = await sys.mmap(0, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, b.m.offset!);
    if (exported !== undefined) await bufSync(exported, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE);
    await sys.store(m, fill(b.length));
    if (exported !== undefined) await bufSync(exported, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE);
    await sys.munmap(m, b.length);
    return b.length;
  };
  const expbufRow = async (fd: number, index: number, exporter: boolean): Promise<{ fd: number; detail: string }> => {
    const len = await v4l2MmapFill(fd, index, (n) => pattern(n));
    const efd = await expbuf(fd, index);
    const i = await ino(efd);
    const tail = exporter ? `,fdinfo=${await fdinfoRow(efd)}` : '';
    return { fd: efd, detail: `index=${index},length=${len},v4l2_mmap=ok,fd=${efd},${await fileFlags(efd)},ino=${i},link=${await link(efd)}${tail}` };
  };
  await reqbufs(video, 2);
  const e0 = await expbufRow(video, 0, true);
  await out('vivid_expbuf_0', async () => e0.detail);
  const e1 = await expbufRow(video, 1, true);
  await out('vivid_expbuf_1', async () => e1.detail);
  await out('vivid_dmabuf_size', async () => {
    const st = await sys.fstat(e0.fd);
    const end = await sys.lseek(e0.fd, 0, SEEK_END);
    await sys.lseek(e0.fd, 0, SEEK_SET);
    const b = v4l2buf(0);
    await sys.ioctl(video, VIDIOC_QUERYBUF, b);
    return `st_size=${st.st_size},lseek_end=${end},v4l2_length=${b.length},sizeimage=${fmt.fmt.pix.sizeimage}`;
  });
  await sys.close(e1.fd);
  const vpage0 = pattern(PAGE);
  await out('vivid_dmabuf_mmap_offset_8192', async () => {
    const b = await readMapped(e0.fd, PAGE, 2 * PAGE);
    return `mismatch_expected=${mismatch(b, pattern(PAGE, 2 * PAGE))},mismatch_vs_page0=${mismatch(b, vpage0)}`;
  });
  // kept until the fdinfo row below: a mapping holds a reference on the file
  let privateRo = 0;
  await out('vivid_dmabuf_mmap_private_ro', async () => {
    privateRo = await sys.mmap(0, VIVID_SIZE, PROT_READ, MAP_PRIVATE, e0.fd, 0);
    return '-';
  });
  await out('vivid_dmabuf_mmap_beyond_size', async () => fails(sys.mmap(0, VIVID_SIZE + PAGE, PROT_READ, MAP_SHARED, e0.fd, 0), `len=${VIVID_SIZE + PAGE}`));
  await out('vivid_dmabuf_mmap_sees_v4l2_mmap_write', async () => `mismatch=${mismatch(await readMapped(e0.fd, VIVID_SIZE), pattern(VIVID_SIZE))}`);
  await out('vivid_expbuf_index_out_of_range', async () => fails(expbuf(video, 2), 'index=2'));
  await out('vivid_expbuf_wrong_type', async () => fails(expbuf(video, 0, V4L2_BUF_TYPE_VIDEO_OUTPUT), 'type=VIDEO_OUTPUT'));
  await out('vivid_expbuf_twice_same_buffer', async () => {
    const again = await expbuf(video, 0);
    const same = (await ino(again)) === (await ino(e0.fd));
    await sys.close(again);
    return `same_ino=${Number(same)}`;
  });
  let vh = 0;
  await out('vivid_to_vgem_prime_import', async () => `handle=${(vh = await toHandle(card, e0.fd))}`);
  const vre = await toFd(card, vh);
  await out('vgem_reexport_imported_foreign_buf', async () => `same_ino_as_expbuf=${Number((await ino(vre)) === (await ino(e0.fd)))},acc=${acc(await sys.fcntl(vre, F_GETFL))}`);
  await out('vivid_to_vgem_import_twice', async () => `same_handle=${Number((await toHandle(card, e0.fd)) === vh)}`);
  await out('dmabuf_set_name_while_attached', async () => {
    await sys.ioctl(e0.fd, DMA_BUF_SET_NAME, 'vivid-buf0');
    return `fdinfo_name=${await fdinfoName(e0.fd)}`;
  });
  // fd, the import's three (attachment, GEM object, export cache), the re-export's fd, the private mapping
  await out('vivid_dmabuf_fdinfo_after_import', async () => fdinfoRow(e0.fd));
  await sys.munmap(privateRo, VIVID_SIZE);
  await out('vivid_dmabuf_sync_end_read', async () => fails(bufSync(e0.fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ)));
  await out('vivid_dmabuf_export_sync_file', async () => {
    const e = await exportSyncFile(e0.fd, DMA_BUF_SYNC_READ);
    await sys.close(e.fd);
    return `status=${e.status},num_fences=${e.num_fences},name=${e.name},poll=${e.poll}`;
  });
  await out('vivid_streamon_mmap', async () => {
    for (const i of [0, 1]) await sys.ioctl(video, VIDIOC_QBUF, v4l2buf(i));
    return fails(sys.ioctl(video, VIDIOC_STREAMON, CAP));
  });
  await out('vivid_streamoff', async () => fails(sys.ioctl(video, VIDIOC_STREAMOFF, CAP)));
  await sys.close(vre);
  await gemClose(card, vh);
  await out('vivid_expbuf_after_reqbufs0', async () => {
    await reqbufs(video, 0);
    return fails(expbuf(video, 0));
  });

  // ── vivid with DMABUF memory: vgem buffers as capture targets ──────────
  await out('vivid_reqbufs_dmabuf', async () => {
    const r = await reqbufs(video, 2, V4L2_MEMORY_DMABUF);
    return `count=${r.count},capabilities=${hex(r.capabilities)}`;
  });
  await out('vivid_expbuf_on_dmabuf_queue', async () => fails(expbuf(video, 0)));
  await out('vivid_qbuf_dmabuf_too_small_lying_length', async () => {
    const small = await dumb(card);
    const sfd = await toFd(card, small.handle);
    const r = await fails(sys.ioctl(video, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: sfd }, VIVID_SIZE)), `length=${VIVID_SIZE}`);
    await sys.close(sfd);
    await gemClose(card, small.handle);
    return r;
  });
  await out('vivid_qbuf_dmabuf_pipe_fd', async () => {
    const [r, w] = await sys.pipe();
    const e = await fails(sys.ioctl(video, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: r }, VIVID_SIZE)));
    await sys.close(r);
    await sys.close(w);
    return e;
  });
  await out('vivid_qbuf_dmabuf_fd_minus1', async () => fails(sys.ioctl(video, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: -1 }, VIVID_SIZE))));
  await out('vivid_qbuf_wrong_memory_type', async () => fails(sys.ioctl(video, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_MMAP)), 'memory=MMAP_on_DMABUF_queue'));
  await out('vivid_streamon_dmabuf', async () => fails(sys.ioctl(video, VIDIOC_STREAMON, CAP)));
  /** A vgem buffer of a frame's size (640x480 at 16 bpp), exported with `flags`. */
  const frameBo = async (flags: number) => {
    const d = await dumb(card, 640, 480, 16);
    return { handle: d.handle, fd: await toFd(card, d.handle, flags) };
  };
  /** DQBUF, timing how long it blocked in simulated ms. */
  const dqbuf = async (): Promise<{ b: V4l2Buffer; ms: number }> => {
    const t0 = await sys.clock_gettime(1);
    const b = v4l2buf(0, V4L2_MEMORY_DMABUF);
    await sys.ioctl(video, VIDIOC_DQBUF, b);
    const t1 = await sys.clock_gettime(1);
    return { b, ms: Math.round((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1e6) };
  };
  // One target per slot, prefilled with 0xAA; both queued, since vivid starts streaming only with two buffers queued.
  const targets = [await frameBo(DRM_CLOEXEC | DRM_RDWR), await frameBo(DRM_CLOEXEC | DRM_RDWR)];
  for (const t of targets) await writeMapped(t.fd, new Uint8Array(VIVID_SIZE).fill(0xaa));
  /** The frame as card2, a file that imports the buffer, sees it through its own GEM mapping. */
  const gemView = async (fd: number): Promise<Uint8Array> => {
    const h = await toHandle(card2, fd);
    const m = await sys.mmap(0, VIVID_SIZE, PROT_READ, MAP_SHARED, card2, await mapDumb(card2, h));
    const b = await sys.load(m, VIVID_SIZE);
    await sys.munmap(m, VIVID_SIZE);
    await gemClose(card2, h);
    return b;
  };
  let frame0: Uint8Array = new Uint8Array(0);
  // vivid's OSD prints the gain control, which follows the uptime (a second per step): the recorded frame
  // shows the gain of 5 s after boot, so the capture starts then.
  await sys.clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, { tv_sec: 5, tv_nsec: 0 });
  await out('vivid_capture_into_vgem_dmabuf', async () => {
    for (const [i, t] of targets.entries()) await sys.ioctl(video, VIDIOC_QBUF, v4l2buf(i, V4L2_MEMORY_DMABUF, { fd: t.fd }, VIVID_SIZE));
    const { b, ms } = await dqbuf();
    frame0 = await readMapped(targets[b.index]!.fd, VIVID_SIZE);
    const other = await gemView(targets[b.index]!.fd);
    return `index=${b.index},bytesused=${b.bytesused},m.fd=${b.m.fd},waited_ms=${ms},fnv=${fnv1a(frame0)},bytes_changed_from_0xAA=${mismatch(frame0, 0xaa)},other_file_gem_view_diff=${mismatch(other, frame0)}`;
  });
  await dqbuf();
  // Read-only exports of fresh buffers (an object exported once keeps its first file's mode): one per slot, and one to requeue.
  const ro = [await frameBo(DRM_CLOEXEC), await frameBo(DRM_CLOEXEC), await frameBo(DRM_CLOEXEC)];
  await out('vivid_qbuf_dmabuf_readonly_fd_capture', async () => {
    const r = await errnoOf(sys.ioctl(video, VIDIOC_QBUF, v4l2buf(0, V4L2_MEMORY_DMABUF, { fd: ro[0]!.fd }, VIVID_SIZE)));
    return { result: r, detail: `acc=${acc(await sys.fcntl(ro[0]!.fd, F_GETFL))}` };
  });
  await sys.ioctl(video, VIDIOC_QBUF, v4l2buf(1, V4L2_MEMORY_DMABUF, { fd: ro[1]!.fd }, VIVID_SIZE));
  await out('vivid_capture_into_readonly_dmabuf', async () => {
    const { b } = await dqbuf();
    const got = await readMapped(ro[b.index]!.fd, VIVID_SIZE);
    // hash_ok: the frame's hash through the read-only fd's mapping is the one vgem's own view of the buffer gives,
    // and the next read-only target gets a frame as well
    await sys.ioctl(video, VIDIOC_QBUF, v4l2buf(b.index, V4L2_MEMORY_DMABUF, { fd: ro[2]!.fd }, VIVID_SIZE));
    const next = await dqbuf();
    const same = fnv1a(got) === fnv1a(await gemView(ro[b.index]!.fd)) && mismatch(await readMapped(ro[next.b.index]!.fd, VIVID_SIZE), 0) === VIVID_SIZE;
    return `index=${b.index},written_nonzero_bytes=${mismatch(got, 0)},hash_ok=${Number(same)}`;
  });
  await out('vivid_reqbufs0_dmabuf', async () => {
    await sys.ioctl(video, VIDIOC_STREAMOFF, CAP);
    return fails(reqbufs(video, 0, V4L2_MEMORY_DMABUF));
  });
  for (const t of [...targets, ...ro]) {
    await sys.close(t.fd);
    await gemClose(card, t.handle);
  }
  await sys.close(e0.fd);
  await sys.close(video);

  // ── vivid's second instance (videobuf2-dma-contig) ─────────────────────
  await out('vivid_dc_find_capture', async () => {
    for (const n of (await list('/dev')).filter((x) => x.startsWith('video'))) {
      const fd = await sys.open(`/dev/${n}`, O_RDWR);
      const cap = { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 };
      await sys.ioctl(fd, VIDIOC_QUERYCAP, cap);
      if (cap.bus_info === 'platform:vivid-001' && cap.device_caps & 1) {
        video = fd;
        return `path=/dev/${n},bus=${cap.bus_info}`;
      }
      await sys.close(fd);
    }
    return { result: 'ENODEV' };
  });
  await sys.ioctl(video, VIDIOC_G_FMT, fmt);
  await reqbufs(video, 2);
  const dc = await expbufRow(video, 0, false);
  await out('vivid_dc_expbuf_0', async () => {
    const exp = (await fdinfo(dc.fd)).exp_name;
    return dc.detail.replace(/^index=0,length=(\d+),v4l2_mmap=ok,/, `length=$1,v4l2_mmap=ok,exp_name=${exp},`);
  });
  // vgem's view of the buffer: an imported object cannot be mapped through the DRM file (MAP_DUMB refuses it),
  // so the view is a mapping of vgem's re-export, which is vivid's own dma-buf.
  let dch = 0;
  let re = -1;
  let view = 0;
  await out('vivid_dc_to_vgem_import', async () => {
    dch = await toHandle(card, dc.fd);
    re = await toFd(card, dch);
    const same = (await ino(re)) === (await ino(dc.fd));
    const m = await errnoOf(sys.mmap(0, VIVID_SIZE, PROT_READ, MAP_SHARED, re, 0).then((a) => (view = a)));
    return `handle=${dch},same_ino=${Number(same)},mmap=${m}`;
  });
  const vgemView = async (): Promise<Uint8Array> => {
    await bufSync(re, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    const b = await sys.load(view, VIVID_SIZE);
    await bufSync(re, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    return b;
  };
  await out('vivid_dc_capture_frame_v4l2_vs_vgem', async () => {
    // The table does not say what the recording prefilled with. No constant fits its count (the frame has only
    // 19 byte values, each thousands of times); a byte ramp does, and (i + 146) & 0xff is one that leaves
    // exactly its 2400 bytes unchanged, so this field checks the frame against that choice, not the prefill.
    const ramp = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i + 146) & 0xff);
    await v4l2MmapFill(video, 0, ramp, dc.fd);
    await v4l2MmapFill(video, 1, ramp);
    for (const i of [0, 1]) await sys.ioctl(video, VIDIOC_QBUF, v4l2buf(i));
    await sys.ioctl(video, VIDIOC_STREAMON, CAP);
    const t0 = await sys.clock_gettime(1);
    const b = v4l2buf(0);
    await sys.ioctl(video, VIDIOC_DQBUF, b);
    const t1 = await sys.clock_gettime(1);
    await sys.ioctl(video, VIDIOC_STREAMOFF, CAP);
    const q = v4l2buf(b.index);
    await sys.ioctl(video, VIDIOC_QUERYBUF, q);
    const m = await sys.mmap(0, q.length, PROT_READ, MAP_SHARED, video, q.m.offset!);
    const v4l2View = await sys.load(m, q.length);
    await sys.munmap(m, q.length);
    const ms = Math.round((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    return `index=${b.index},bytesused=${b.bytesused},waited_ms=${ms},differing_bytes=${mismatch(v4l2View, await vgemView())},bytes_changed_from_prefill=${mismatch(v4l2View, ramp(q.length))}`;
  });
  await out('vivid_dc_reqbufs0_while_exported', async () => {
    await reqbufs(video, 0);
    const r = await errnoOf(vgemView());
    return `vgem_view_readable=${r === 'ok' ? 'yes' : r}`;
  });
  await sys.munmap(view, VIVID_SIZE);
  await sys.close(re);
  await gemClose(card, dch);
  await sys.close(dc.fd);
  await sys.close(video);
  for (const fd of [buf, render, card2, card]) await sys.close(fd);
  return 0;
}

