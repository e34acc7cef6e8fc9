import type { DmaBuf } from '../../../../dmabuf/index.ts';
import type { DrmFile } from './drm-device.ts';
import type { GemObject } from './drm-gem.ts';

/** A framebuffer's geometry as ADDFB2 gave it (one plane). */
export interface KmsFramebufferGeometry {
  width: number;
  height: number;
  format: number;
  pitch: number;
  offset: number;
}

/** A framebuffer (struct drm_framebuffer, as drm_gem_fb_create builds it): one plane of a GEM object, owned by the file that added it. */
export class KmsFramebuffer {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  readonly pitch: number;
  readonly offset: number;
  /** The object it holds a reference to. */
  readonly obj: GemObject;
  /** The file that added it (fb->filp_head); its close removes it. */
  readonly owner: DrmFile;
  /** The dma-buf behind its object when it was made, on which its reference (and its flips' and scanout's) are tracked. */
  refBuf: DmaBuf | null = null;

  /** Creates the framebuffer (drm_gem_fb_init); the caller gives it one object reference. */
  constructor(id: number, a: KmsFramebufferGeometry, obj: GemObject, owner: DrmFile) {
    this.id = id;
    this.width = a.width;
    this.height = a.height;
    this.format = a.format;
    this.pitch = a.pitch;
    this.offset = a.offset;
    this.obj = obj;
    this.owner = owner;
  }
}
