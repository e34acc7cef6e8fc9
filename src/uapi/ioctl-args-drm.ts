import {
  DRM_IOCTL_BASE,
  DRM_IOCTL_GEM_CLOSE,
  DRM_IOCTL_GEM_FLINK,
  DRM_IOCTL_GEM_OPEN,
  DRM_IOCTL_GET_CAP,
  DRM_IOCTL_GET_UNIQUE,
  DRM_IOCTL_MODE_CREATE_DUMB,
  DRM_IOCTL_MODE_DESTROY_DUMB,
  DRM_IOCTL_MODE_MAP_DUMB,
  DRM_IOCTL_PRIME_FD_TO_HANDLE,
  DRM_IOCTL_PRIME_HANDLE_TO_FD,
  DRM_IOCTL_SET_VERSION,
  DRM_IOCTL_VERSION,
} from './drm.ts';
import type { IoctlArgLayout, UserMemory } from './ioctl-arg.ts';
import { _IOC_DIR, _IOW } from './ioctl.ts';
import { struct } from './struct-layout.ts';
import { DRM_IOCTL_VGEM_FENCE_ATTACH, DRM_IOCTL_VGEM_FENCE_SIGNAL } from './vgem.ts';

/** DRM_IOCTL_SET_CLIENT_CAP: a client opts into a capability (struct drm_set_client_cap, 16 bytes). */
export const DRM_IOCTL_SET_CLIENT_CAP = _IOW(DRM_IOCTL_BASE, 0x0d, 16 /* struct drm_set_client_cap */);

/** The layouts of the DRM core requests and vgem's (LP64: size_t and pointers are 8 bytes). */

export const drmVersionLayout = struct('drm_version', [
  ['version_major', 's32'],
  ['version_minor', 's32'],
  ['version_patchlevel', 's32'],
  ['name_len', 'u64'],
  ['name', 'u64'],
  ['date_len', 'u64'],
  ['date', 'u64'],
  ['desc_len', 'u64'],
  ['desc', 'u64'],
]);
export const drmGetCapLayout = struct('drm_get_cap', [
  ['capability', 'u64'],
  ['value', 'u64'],
]);
export const drmSetClientCapLayout = struct('drm_set_client_cap', [
  ['capability', 'u64'],
  ['value', 'u64'],
]);
export const drmSetVersionLayout = struct('drm_set_version', [
  ['drm_di_major', 's32'],
  ['drm_di_minor', 's32'],
  ['drm_dd_major', 's32'],
  ['drm_dd_minor', 's32'],
]);
export const drmUniqueLayout = struct('drm_unique', [
  ['unique_len', 'u64'],
  ['unique', 'u64'],
]);
export const drmGemCloseLayout = struct('drm_gem_close', [
  ['handle', 'u32'],
  ['pad', 'u32'],
]);
export const drmGemFlinkLayout = struct('drm_gem_flink', [
  ['handle', 'u32'],
  ['name', 'u32'],
]);
export const drmGemOpenLayout = struct('drm_gem_open', [
  ['name', 'u32'],
  ['handle', 'u32'],
  ['size', 'u64'],
]);
export const drmPrimeHandleLayout = struct('drm_prime_handle', [
  ['handle', 'u32'],
  ['flags', 'u32'],
  ['fd', 's32'],
]);
export const drmModeCreateDumbLayout = struct('drm_mode_create_dumb', [
  ['height', 'u32'],
  ['width', 'u32'],
  ['bpp', 'u32'],
  ['flags', 'u32'],
  ['handle', 'u32'],
  ['pitch', 'u32'],
  ['size', 'u64'],
]);
export const drmModeMapDumbLayout = struct('drm_mode_map_dumb', [
  ['handle', 'u32'],
  ['pad', 'u32'],
  ['offset', 'u64'],
]);
export const drmModeDestroyDumbLayout = struct('drm_mode_destroy_dumb', [['handle', 'u32']]);
export const drmVgemFenceAttachLayout = struct('drm_vgem_fence_attach', [
  ['handle', 'u32'],
  ['flags', 'u32'],
  ['out_fence', 'u32'],
  ['pad', 'u32'],
]);
export const drmVgemFenceSignalLayout = struct('drm_vgem_fence_signal', [
  ['fence', 'u32'],
  ['flags', 'u32'],
]);

const encoder = new TextEncoder();

/**
 * DRM_IOCTL_VERSION: the handler gives each string cut to the caller's
 * length and the full length; the kernel copies those bytes (no NUL) to
 * the caller's buffer when both length and pointer are non-zero
 * (drm_copy_field). A fault stops the ioctl there: the lengths of the
 * strings not reached keep the caller's values.
 */
const version: IoctlArgLayout = {
  cmd: DRM_IOCTL_VERSION,
  name: 'DRM_IOCTL_VERSION',
  layout: drmVersionLayout,
  dir: _IOC_DIR(DRM_IOCTL_VERSION),
  copyOut: 'always',
  toArg: (s) => ({ ...s, name: '', date: '', desc: '' }),
  fromArg(arg, s, mem, ok) {
    if (!ok) return;
    for (const k of ['version_major', 'version_minor', 'version_patchlevel']) s[k] = arg[k];
    for (const f of ['name', 'date', 'desc']) {
      copyField(mem, s[f], arg[f]);
      s[`${f}_len`] = arg[`${f}_len`];
    }
  },
};

/** copy_to_user of a string's bytes to a user buffer, when there are any and the pointer is not NULL. */
function copyField(mem: UserMemory, ptr: unknown, value: unknown): void {
  const bytes = encoder.encode(typeof value === 'string' ? value : '');
  if (bytes.length > 0 && ptr !== 0) mem.write(BigInt(ptr as number | bigint), bytes);
}

/** DRM_IOCTL_GET_UNIQUE: the id goes to the caller's buffer when it fits, then the length (drm_getunique). */
const getUnique: IoctlArgLayout = {
  cmd: DRM_IOCTL_GET_UNIQUE,
  name: 'DRM_IOCTL_GET_UNIQUE',
  layout: drmUniqueLayout,
  dir: _IOC_DIR(DRM_IOCTL_GET_UNIQUE),
  copyOut: 'always',
  toArg: (s) => ({ unique_len: s.unique_len, unique: '' }),
  fromArg(arg, s, mem, ok) {
    if (!ok) return;
    copyField(mem, s.unique, arg.unique);
    s.unique_len = arg.unique_len;
  },
};

/** A request whose struct the handler takes as it is; drm_ioctl copies it back even when the handler fails. */
function plain(cmd: number, name: string, layout: ReturnType<typeof struct>): IoctlArgLayout {
  return { cmd, name, layout, dir: _IOC_DIR(cmd), copyOut: 'always' };
}

/**
 * Every DRM request with its argument layout. drm_ioctl installs no fd
 * itself: PRIME_HANDLE_TO_FD's fd is installed by the handler (dma_buf_fd)
 * before the copy-out, so a failed copy leaves it installed, as in 6.1.
 */
export const DRM_IOCTL_ARGS: readonly IoctlArgLayout[] = [
  version,
  getUnique,
  plain(DRM_IOCTL_GET_CAP, 'DRM_IOCTL_GET_CAP', drmGetCapLayout),
  plain(DRM_IOCTL_SET_CLIENT_CAP, 'DRM_IOCTL_SET_CLIENT_CAP', drmSetClientCapLayout),
  plain(DRM_IOCTL_SET_VERSION, 'DRM_IOCTL_SET_VERSION', drmSetVersionLayout),
  plain(DRM_IOCTL_GEM_CLOSE, 'DRM_IOCTL_GEM_CLOSE', drmGemCloseLayout),
  plain(DRM_IOCTL_GEM_FLINK, 'DRM_IOCTL_GEM_FLINK', drmGemFlinkLayout),
  plain(DRM_IOCTL_GEM_OPEN, 'DRM_IOCTL_GEM_OPEN', drmGemOpenLayout),
  plain(DRM_IOCTL_PRIME_HANDLE_TO_FD, 'DRM_IOCTL_PRIME_HANDLE_TO_FD', drmPrimeHandleLayout),
  plain(DRM_IOCTL_PRIME_FD_TO_HANDLE, 'DRM_IOCTL_PRIME_FD_TO_HANDLE', drmPrimeHandleLayout),
  plain(DRM_IOCTL_MODE_CREATE_DUMB, 'DRM_IOCTL_MODE_CREATE_DUMB', drmModeCreateDumbLayout),
  plain(DRM_IOCTL_MODE_MAP_DUMB, 'DRM_IOCTL_MODE_MAP_DUMB', drmModeMapDumbLayout),
  plain(DRM_IOCTL_MODE_DESTROY_DUMB, 'DRM_IOCTL_MODE_DESTROY_DUMB', drmModeDestroyDumbLayout),
  plain(DRM_IOCTL_VGEM_FENCE_ATTACH, 'DRM_IOCTL_VGEM_FENCE_ATTACH', drmVgemFenceAttachLayout),
  plain(DRM_IOCTL_VGEM_FENCE_SIGNAL, 'DRM_IOCTL_VGEM_FENCE_SIGNAL', drmVgemFenceSignalLayout),
];
