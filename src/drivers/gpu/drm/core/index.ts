/**
 * DOC: drm — the DRM/GEM core for render and display drivers
 *
 * A DrmDevice (registerDrmDevice) owns its nodes (/dev/dri/cardN and, with
 * DRIVER_RENDER, renderD(128+N)), its fake-offset space for GEM mmaps and
 * its master (the first opener of the primary node; later primary opens
 * share its DrmMaster, with the unique id SET_VERSION 1.1+ sets and the
 * magic tokens of GET_MAGIC/AUTH_MAGIC; root openers start authenticated),
 * its flink names (GEM_FLINK, GEM_OPEN; a name lasts while the object has
 * handles) and, per node, /sys/kernel/debug/dri/<minor>/{name, clients,
 * gem_names}. Every open is a
 * DrmFile with its own GEM handles (lowest free from 1) and PRIME cache;
 * its last close deletes them all, then runs the driver's postclose.
 * GemObjects are reference counted: handles, user mappings, the dma-buf an
 * object was exported as and kernel users each hold one; when the last
 * handle goes the object drops its exported dma-buf, and the last
 * reference frees the pages (allocated zeroed on first use and kept until
 * then, as shmem keeps them), the fake offset, and for an import the
 * attachment to the foreign buffer. PRIME_FD_TO_HANDLE imports through
 * the driver's gemPrimeImport (default gemPrimeImport: attach and map for
 * the device; gemPrimeImportNoMap only attaches, for a device that never
 * DMAs from an import); an imported object's reservation object is the
 * buffer's, and MAP_DUMB refuses it (it is mapped through its dma-buf).
 * A one-pipeline display (drm-simple-kms) attaches a SimpleDisplayPipe to
 * its device: the core then owns the mode objects, the framebuffer table,
 * GETRESOURCES, ADDFB2, RMFB, PAGE_FLIP (fence wait, latch at vsync,
 * FLIP_COMPLETE event, vblank on/off-delay) and the removal of a closing
 * file's framebuffers; the driver's pipe funcs say what it checks of a
 * flip's framebuffer, what it does at a vsync, and whether the CRTC
 * fetches every frame. Pipe funcs run in interrupt context and must not
 * sleep.
 * Ioctls are dispatched by nr through the core's table and the driver's
 * (from DRM_COMMAND_BASE), after the permission check (render clients
 * only where DRM_RENDER_ALLOW is set).
 * Ioctl handlers, opens, releases and imports may sleep; mmap faults,
 * exports and lookups never do.
 */
export {
  DRIVER_GEM,
  DRIVER_MODESET,
  DRIVER_RENDER,
  DrmDevice,
  DrmFile,
  drmProbedNodes,
  registerDrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmMinor,
} from './drm-device.ts';
export { KmsFramebuffer, type KmsFramebufferGeometry } from './drm-framebuffer.ts';
export { GemObject, gemHandleCreate, gemObjectDmaBuf, gemObjectLookup, gemObjectName, gemObjectSize } from './drm-gem.ts';
export { DRM_MASTER, DRM_RENDER_ALLOW, userU32, type DrmIoctlDesc } from './drm-ioctl.ts';
export { gemPrimeImport, gemPrimeImportNoMap } from './drm-prime.ts';
export {
  DRM_SIMPLE_KMS_IOCTLS,
  FIRST_FB_ID,
  KMS_CONNECTOR_ID,
  KMS_CRTC_ID,
  KMS_ENCODER_ID,
  KMS_MAX_HEIGHT,
  KMS_MAX_WIDTH,
  KMS_PLANE_ID,
  KMS_VBLANK_OFFDELAY_NS,
  SimpleDisplayPipe,
  drmSimpleKmsPostclose,
  fillIds,
  flipEvent,
  simpleDisplayPipeOf,
  waitFbWriters,
  type PendingFlip,
  type SimpleDisplayPipeConfig,
  type SimpleDisplayPipeFuncs,
  type SimplePipeStats,
} from './drm-simple-kms.ts';
