import * as asound from './asound.ts';
import * as compatDrm from './ioctl-args-compat.ts';
import * as compatV4l2 from './ioctl-args-compat-v4l2.ts';
import * as dmaBuf from './dma-buf.ts';
import * as dmaHeap from './dma-heap.ts';
import * as drm from './drm.ts';
import * as gpuDrm from './gpu-drm.ts';
import * as swSync from './sw-sync.ts';
import * as syncFile from './sync-file.ts';
import * as udmabuf from './udmabuf.ts';
import * as vgem from './vgem.ts';
import * as videodev2 from './videodev2.ts';

/** Names of the request codes, as strace prints them. */
const IOCTL_PREFIX = /^(VIDIOC_|DRM_IOCTL_|DMA_BUF_IOCTL_|DMA_HEAP_IOCTL_|SW_SYNC_IOC_|SYNC_IOC_|UDMABUF_|SNDRV_PCM_IOCTL_|SNDRV_CTL_IOCTL_)/;

let names: Map<number, string> | null = null;

/** The name of an ioctl request code (`VIDIOC_QBUF`, a 32-bit caller's `VIDIOC_QBUF32`), or its number in hex when it is none of Linux's that unimem knows. */
export function ioctlName(request: number): string {
  if (!names) {
    names = new Map();
    for (const mod of [videodev2, drm, gpuDrm, vgem, dmaBuf, dmaHeap, swSync, syncFile, udmabuf, asound, compatDrm, compatV4l2])
      for (const [k, v] of Object.entries(mod)) if (typeof v === 'number' && IOCTL_PREFIX.test(k) && !names.has(v >>> 0)) names.set(v >>> 0, k);
  }
  return names.get(request >>> 0) ?? `0x${(request >>> 0).toString(16)}`;
}
