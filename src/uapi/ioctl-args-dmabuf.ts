import { DMA_BUF_IOCTL_EXPORT_SYNC_FILE, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, DMA_BUF_IOCTL_SYNC, DMA_BUF_NAME_LEN, DMA_BUF_SET_NAME_A, DMA_BUF_SET_NAME_B } from './dma-buf.ts';
import { DMA_HEAP_IOCTL_ALLOC } from './dma-heap.ts';
import { U32_POINTER, type IoctlArgLayout, type UserMemory } from './ioctl-arg.ts';
import { _IOC_READ, _IOC_WRITE } from './ioctl.ts';
import { array, char, decodeCString, decodeStruct, encodeStruct, struct } from './struct-layout.ts';
import { SW_SYNC_IOC_CREATE_FENCE, SW_SYNC_IOC_INC } from './sw-sync.ts';
import { SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE } from './sync-file.ts';
import { UDMABUF_CREATE, UDMABUF_CREATE_LIST } from './udmabuf.ts';

/** The layouts of the dma-buf, dma-heap, sync_file, sw_sync and udmabuf requests (LP64). */

export const dmaBufSyncLayout = struct('dma_buf_sync', [['flags', 'u64']]);
export const dmaBufExportSyncFileLayout = struct('dma_buf_export_sync_file', [
  ['flags', 'u32'],
  ['fd', 's32'],
]);
export const dmaBufImportSyncFileLayout = struct('dma_buf_import_sync_file', [
  ['flags', 'u32'],
  ['fd', 's32'],
]);
export const dmaHeapAllocationDataLayout = struct('dma_heap_allocation_data', [
  ['len', 'u64'],
  ['fd', 'u32'],
  ['fd_flags', 'u32'],
  ['heap_flags', 'u64'],
]);
export const syncMergeDataLayout = struct('sync_merge_data', [
  ['name', char(32)],
  ['fd2', 's32'],
  ['fence', 's32'],
  ['flags', 'u32'],
  ['pad', 'u32'],
]);
export const syncFenceInfoLayout = struct('sync_fence_info', [
  ['obj_name', char(32)],
  ['driver_name', char(32)],
  ['status', 's32'],
  ['flags', 'u32'],
  ['timestamp_ns', 'u64'],
]);
export const syncFileInfoLayout = struct('sync_file_info', [
  ['name', char(32)],
  ['status', 's32'],
  ['flags', 'u32'],
  ['num_fences', 'u32'],
  ['pad', 'u32'],
  ['sync_fence_info', 'u64'],
]);
export const swSyncCreateFenceDataLayout = struct('sw_sync_create_fence_data', [
  ['value', 'u32'],
  ['name', char(32)],
  ['fence', 's32'],
]);
export const udmabufCreateLayout = struct('udmabuf_create', [
  ['memfd', 'u32'],
  ['flags', 'u32'],
  ['offset', 'u64'],
  ['size', 'u64'],
]);
export const udmabufCreateItemLayout = struct('udmabuf_create_item', [
  ['memfd', 'u32'],
  ['__pad', 'u32'],
  ['offset', 'u64'],
  ['size', 'u64'],
]);
/** The list's items follow the header in memory (a flexible array member: `list` is at offset 8, outside sizeof). */
export const udmabufCreateListLayout = struct('udmabuf_create_list', [
  ['flags', 'u32'],
  ['count', 'u32'],
  ['list', array(udmabufCreateItemLayout, 0)],
]);

/** The granule of user mappings (4 KiB pages on x86_64 and the arm64 kernels here). */
const USER_PAGE_SIZE = 4096;

/**
 * Reads a NUL-terminated string of at most `max` bytes with its NUL
 * (strndup_user): EFAULT when a byte before the NUL cannot be read, EINVAL
 * when no NUL comes within `max` bytes. Reads up to each page end at a
 * time: a page is readable whole or not at all, so no read goes past the
 * page holding the NUL.
 */
export function strndupUser(mem: UserMemory, addr: bigint, max: number): string {
  const got: number[] = [];
  let a = addr;
  while (got.length < max) {
    const n = Math.min(USER_PAGE_SIZE - Number(a % BigInt(USER_PAGE_SIZE)), max - got.length);
    const chunk = mem.read(a, n);
    const nul = chunk.indexOf(0);
    if (nul >= 0) return decodeCString(Uint8Array.from([...got, ...chunk.subarray(0, nul)]));
    got.push(...chunk);
    a += BigInt(n);
  }
  throw mem.fail('EINVAL', `string longer than ${max - 1} bytes`);
}

const setName = (cmd: number, name: string): IoctlArgLayout => ({
  cmd,
  name,
  layout: struct('const char *', [['ptr', 'u64']]),
  dir: _IOC_WRITE,
  copyOut: 'success',
  pointee: (mem, addr) => strndupUser(mem, addr, DMA_BUF_NAME_LEN),
});

/** SYNC_IOC_FILE_INFO: the handler fills an array; the kernel copies it to sync_fence_info before the struct. */
const fileInfo: IoctlArgLayout = {
  cmd: SYNC_IOC_FILE_INFO,
  name: 'SYNC_IOC_FILE_INFO',
  layout: syncFileInfoLayout,
  dir: _IOC_READ | _IOC_WRITE,
  copyOut: 'success',
  toArg: (s) => ({ ...s, sync_fence_info: s.sync_fence_info === 0 ? 0 : [] }),
  fromArg(arg, s, mem, ok) {
    if (!ok) return;
    const infos = arg.sync_fence_info;
    if (Array.isArray(infos) && infos.length > 0) {
      const size = syncFenceInfoLayout.size;
      const bytes = new Uint8Array(size * infos.length);
      infos.forEach((fi, i) => encodeStruct(syncFenceInfoLayout, fi as Record<string, unknown>, bytes, {}, i * size));
      mem.write(BigInt(s.sync_fence_info as number | bigint), bytes);
    }
    for (const k of ['name', 'status', 'flags', 'num_fences', 'pad']) s[k] = arg[k];
  },
};

/** UDMABUF_CREATE_LIST: `list` is read from after the header only when the handler reaches it (after the count check). */
const createList: IoctlArgLayout = {
  cmd: UDMABUF_CREATE_LIST,
  name: 'UDMABUF_CREATE_LIST',
  layout: udmabufCreateListLayout,
  dir: _IOC_WRITE,
  copyOut: 'success',
  toArg(s, mem, addr) {
    const arg: Record<string, unknown> = { flags: s.flags, count: s.count };
    let list: Record<string, unknown>[] | undefined;
    Object.defineProperty(arg, 'list', {
      enumerable: true,
      get() {
        if (!list) {
          const n = s.count as number;
          const size = udmabufCreateItemLayout.size;
          const bytes = mem.read(addr + BigInt(udmabufCreateListLayout.size), n * size);
          list = [];
          for (let i = 0; i < n; i++) list.push(decodeStruct(udmabufCreateItemLayout, bytes, i * size));
        }
        return list;
      },
    });
    return arg;
  },
};

/** Every request of these families with its argument layout. */
export const DMABUF_IOCTL_ARGS: readonly IoctlArgLayout[] = [
  { cmd: DMA_BUF_IOCTL_SYNC, name: 'DMA_BUF_IOCTL_SYNC', layout: dmaBufSyncLayout, dir: _IOC_WRITE, copyOut: 'success' },
  setName(DMA_BUF_SET_NAME_A, 'DMA_BUF_SET_NAME_A'),
  setName(DMA_BUF_SET_NAME_B, 'DMA_BUF_SET_NAME_B'),
  {
    cmd: DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
    name: 'DMA_BUF_IOCTL_EXPORT_SYNC_FILE',
    layout: dmaBufExportSyncFileLayout,
    dir: _IOC_READ | _IOC_WRITE,
    copyOut: 'success',
    fdAfterCopy: 'fd',
  },
  { cmd: DMA_BUF_IOCTL_IMPORT_SYNC_FILE, name: 'DMA_BUF_IOCTL_IMPORT_SYNC_FILE', layout: dmaBufImportSyncFileLayout, dir: _IOC_WRITE, copyOut: 'success' },
  // dma_heap_ioctl installs the fd inside the allocation, before its copy_to_user: a failed copy leaves it installed
  { cmd: DMA_HEAP_IOCTL_ALLOC, name: 'DMA_HEAP_IOCTL_ALLOC', layout: dmaHeapAllocationDataLayout, dir: _IOC_READ | _IOC_WRITE, copyOut: 'success', anySize: true },
  { cmd: SYNC_IOC_MERGE, name: 'SYNC_IOC_MERGE', layout: syncMergeDataLayout, dir: _IOC_READ | _IOC_WRITE, copyOut: 'success', fdAfterCopy: 'fence' },
  fileInfo,
  {
    cmd: SW_SYNC_IOC_CREATE_FENCE,
    name: 'SW_SYNC_IOC_CREATE_FENCE',
    layout: swSyncCreateFenceDataLayout,
    dir: _IOC_READ | _IOC_WRITE,
    copyOut: 'success',
    fdAfterCopy: 'fence',
  },
  { cmd: SW_SYNC_IOC_INC, name: 'SW_SYNC_IOC_INC', layout: U32_POINTER, dir: _IOC_WRITE, copyOut: 'success' },
  { cmd: UDMABUF_CREATE, name: 'UDMABUF_CREATE', layout: udmabufCreateLayout, dir: _IOC_WRITE, copyOut: 'success' },
  createList,
];
