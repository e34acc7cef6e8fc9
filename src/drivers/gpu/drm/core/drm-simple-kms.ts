import { kerr, wakeablePromise } from '../../../../lib/index.ts';
import type { Clock, Timer } from '../../../../hw/index.ts';
import { DmaResvUsage, dmaBufTrackRef, dmaBufUntrackRef, reportFenceTimeout, type DmaFence } from '../../../../dmabuf/index.ts';
import { userArg } from '../../../../fs/index.ts';
import {
  DRM_EVENT_FLIP_COMPLETE,
  DRM_IOCTL_MODE_ADDFB2,
  DRM_IOCTL_MODE_GETRESOURCES,
  DRM_IOCTL_MODE_PAGE_FLIP,
  DRM_IOCTL_MODE_RMFB,
  DRM_MODE_FB_MODIFIERS,
  DRM_MODE_PAGE_FLIP_ASYNC,
  DRM_MODE_PAGE_FLIP_EVENT,
  DRM_MODE_PAGE_FLIP_FLAGS,
  DRM_MODE_PAGE_FLIP_TARGET,
  type DrmModeCardRes,
  type DrmModeCrtcPageFlip,
  type DrmModeFbCmd2,
} from '../../../../uapi/index.ts';
import { drmSendEvent, type DrmDevice, type DrmFile } from './drm-device.ts';
import { gemObjectDmaBuf, gemObjectLookup, gemObjectName } from './drm-gem.ts';
import { DRM_MASTER, userU32, type DrmIoctlDesc } from './drm-ioctl.ts';
import { KmsFramebuffer } from './drm-framebuffer.ts';

/** Mode object ids of the fixed pipeline (one plane, CRTC, encoder, connector); framebuffers get ids after them. */
export const KMS_PLANE_ID = 31;
export const KMS_CRTC_ID = 32;
export const KMS_ENCODER_ID = 33;
export const KMS_CONNECTOR_ID = 34;
export const FIRST_FB_ID = 35;
/** Limits of the controller (mode_config.min/max_width/height). */
export const KMS_MAX_WIDTH = 4096;
export const KMS_MAX_HEIGHT = 4096;
/** How long a commit waits for each completion of the commit before it (the 10 s of drm_atomic_helper_wait_for_dependencies). */
export const KMS_COMMIT_TIMEOUT_NS = 10e9;
/** How the CRTC is named in the core's messages (`[CRTC:32:crtc-0]`). */
const KMS_CRTC_NAME = 'crtc-0';
/** How long the vblank interrupt stays on after the last flip (drm's vblank_offdelay, 5000 ms). */
export const KMS_VBLANK_OFFDELAY_NS = 5e9;

/** A flip waiting for its fences and then for a vsync (the CRTC's pending commit). */
export interface PendingFlip {
  fb: KmsFramebuffer;
  file: DrmFile;
  event: boolean;
  userData: bigint;
  /** The framebuffer's implicit write fences have all signalled. */
  ready: boolean;
  /** Resolves when the flip is committed to the hardware, its fences done (the commit's hw_done), or cancelled. */
  hwDone: Promise<void>;
  hwSettle: () => void;
  /** Resolves when the flip took effect or was cancelled (the commit's flip_done). */
  done: Promise<void>;
  settle: () => void;
}

/** What the core counts of every pipe; a driver's stats object extends it. */
export interface SimplePipeStats {
  /** Flips that took effect. */
  flips: number;
  /** Flips whose framebuffer (or file) went away before they took effect. */
  cancelledFlips: number;
}

/**
 * What differs between drivers on the simple pipe (struct
 * drm_simple_display_pipe_funcs). `P` is the driver's pipe type.
 */
export interface SimpleDisplayPipeFuncs<P extends SimpleDisplayPipe = SimpleDisplayPipe> {
  /**
   * Whether the CRTC fetches the shown framebuffer every frame: then the
   * vblank interrupt stays on while a framebuffer is shown, until
   * KMS_VBLANK_OFFDELAY_NS after the last flip activity, and a flip's
   * cancellation leaves it on; otherwise it runs only for a ready flip.
   */
  readonly fetchesEveryFrame: boolean;
  /**
   * The driver's checks of a flip's framebuffer after the core's (the
   * pipe's check): throws the errno, changes nothing.
   */
  check(pipe: P, fb: KmsFramebuffer): void;
  /**
   * The driver's part of each vsync the interrupt is on (the pipe's
   * update): `latched` says a flip just took effect, `pipe.current` is
   * what is shown now. Must not sleep; device work is spawned.
   */
  update(pipe: P, latched: boolean): void;
}

const pipes = new WeakMap<DrmDevice, SimpleDisplayPipe>();

/** The simple display pipe of a device, or null for a device without one. */
export function simpleDisplayPipeOf(dev: DrmDevice): SimpleDisplayPipe | null {
  return pipes.get(dev) ?? null;
}

function pipeOf(dev: DrmDevice): SimpleDisplayPipe {
  const p = pipes.get(dev);
  if (!p) throw kerr('ENODEV', `${dev.driver.name} has no display pipe`);
  return p;
}

/** What a pipe is built from: the fixed mode, the plane's formats and the driver's funcs. */
export interface SimpleDisplayPipeConfig<S extends SimplePipeStats, P extends SimpleDisplayPipe = SimpleDisplayPipe> {
  /** The fixed mode's size in pixels (hdisplay x vdisplay). */
  width: number;
  height: number;
  refreshHz: number;
  /** The DRM_FORMAT_* codes ADDFB2 takes (the plane's format list). */
  formats: readonly number[];
  /** The driver's stats object; the core counts flips in it. */
  stats: S;
  funcs: SimpleDisplayPipeFuncs<P>;
}

/**
 * The KMS state of a one-pipeline display (struct drm_simple_display_pipe
 * with the mode objects, framebuffer table and vblank of the core): the
 * fixed mode, the framebuffers, the CRTC's current and pending framebuffer,
 * and the vblank machinery. The vblank interrupt is on only while it is
 * needed, as drm_vblank_get/put and the off-delay keep it: while a flip
 * whose fences have signalled waits for its vsync, and -- for a CRTC that
 * fetches every frame -- for KMS_VBLANK_OFFDELAY_NS after the last flip
 * request or completion while a framebuffer is shown, so an idle display
 * stops costing simulated events. The vblank counter follows the hardware
 * frame counter (vsyncs since time 0), so it stays right across
 * interrupt-off periods, as drm_update_vblank_count makes it.
 */
export class SimpleDisplayPipe<S extends SimplePipeStats = SimplePipeStats> {
  readonly dev: DrmDevice;
  readonly width: number;
  readonly height: number;
  /** Nanoseconds between vsyncs. */
  readonly periodNs: number;
  /** The DRM_FORMAT_* codes ADDFB2 takes. */
  readonly formats: readonly number[];
  readonly fbs = new Map<number, KmsFramebuffer>();
  current: KmsFramebuffer | null = null;
  pending: PendingFlip | null = null;
  /** The frame counter at the last vsync handled (drm_crtc_vblank_count). */
  vblankCount = 0;
  /** Simulated time of the last flip request or completion (the last vblank reference dropped). */
  lastActivity = 0;
  readonly stats: S;
  private readonly funcs: SimpleDisplayPipeFuncs;
  private timer: Timer | null = null;

  /** Sets up the pipe on `dev` and attaches it to the device (drm_simple_display_pipe_init); the core's mode ioctls then find it. */
  constructor(dev: DrmDevice, config: SimpleDisplayPipeConfig<S>) {
    this.dev = dev;
    this.width = config.width;
    this.height = config.height;
    this.periodNs = Math.round(1e9 / config.refreshHz);
    this.formats = config.formats;
    this.stats = config.stats;
    this.funcs = config.funcs;
    pipes.set(dev, this);
  }

  /** Runs the driver's checks of a flip's framebuffer (the pipe funcs' check); throws the errno. */
  check(fb: KmsFramebuffer): void {
    this.funcs.check(this, fb);
  }

  /** Allocates the lowest free framebuffer id (idr_alloc over the mode objects). */
  allocFbId(): number {
    let id = FIRST_FB_ID;
    while (this.fbs.has(id)) id++;
    return id;
  }

  /** Turns the vblank interrupt on for the next vsync when something needs it (drm_crtc_vblank_get, or off after the off-delay). */
  armVblank(): void {
    if (this.timer) return;
    const clock = this.dev.dbs.soc.clock;
    const flipReady = this.pending?.ready === true;
    const showing = this.funcs.fetchesEveryFrame && this.current !== null && clock.now - this.lastActivity < KMS_VBLANK_OFFDELAY_NS;
    if (!flipReady && !showing) return;
    const next = (Math.floor(clock.now / this.periodNs) + 1) * this.periodNs;
    this.timer = clock.at(next, () => this.vblank());
  }

  /**
   * The vblank interrupt (drm_crtc_handle_vblank): latches a flip whose
   * fences have signalled and sends its event (drm_crtc_send_vblank_event),
   * then lets the driver update the display.
   */
  private vblank(): void {
    this.timer = null;
    const now = this.dev.dbs.soc.clock.now;
    this.vblankCount = Math.round(now / this.periodNs);
    const p = this.pending;
    const latched = p !== null && p.ready;
    if (latched) {
      this.pending = null;
      untrackFlip(p);
      this.setCurrent(p.fb);
      this.lastActivity = now;
      this.stats.flips++;
      if (p.event) drmSendEvent(p.file, flipEvent(p.userData, now, this.vblankCount));
      p.settle();
    }
    this.funcs.update(this, latched);
    this.armVblank();
  }

  /** Marks a flip ready once its fences signalled and turns the vblank interrupt on for it. */
  flipReady(flip: PendingFlip): void {
    flip.ready = true;
    flip.hwSettle();
    if (this.pending !== flip) return;
    this.lastActivity = this.dev.dbs.soc.clock.now;
    this.armVblank();
  }

  /** Cancels the pending flip, if any; a display that does not fetch every frame has no use for the vblank interrupt then. */
  cancelPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    untrackFlip(p);
    this.stats.cancelledFlips++;
    if (!this.funcs.fetchesEveryFrame) this.disarm();
    p.hwSettle();
    p.settle();
  }

  /**
   * Waits, as a blocking commit's tail waits for the commit before it
   * (drm_atomic_helper_wait_for_dependencies), up to KMS_COMMIT_TIMEOUT_NS
   * for `flip` to reach the hardware (hw_done) and as long again for it to
   * take effect (flip_done). Each wait that runs out is reported as the
   * core's drm_err reports it ("[CRTC:32:crtc-0] flip_done timed out"),
   * with the fence wait-for graph of that moment, and the commit goes on.
   */
  async waitForPending(flip: PendingFlip): Promise<void> {
    const clock = this.dev.dbs.soc.clock;
    const waits: [string, Promise<void>][] = [
      ['hw_done', flip.hwDone],
      ['flip_done', flip.done],
    ];
    for (const [what, done] of waits) {
      if (!(await completionTimeout(clock, done, KMS_COMMIT_TIMEOUT_NS))) {
        reportFenceTimeout(clock, 'drm_atomic_helper_wait_for_dependencies', `[CRTC:${KMS_CRTC_ID}:${KMS_CRTC_NAME}] ${what} timed out after ${KMS_COMMIT_TIMEOUT_NS / 1e9} s`);
      }
    }
  }

  /** Takes `fb` off the CRTC and cancels a flip to it (the plane disable drm_framebuffer_remove commits). */
  unbind(fb: KmsFramebuffer): void {
    if (this.current === fb) this.setCurrent(null);
    if (this.pending?.fb === fb) this.cancelPending();
    if (!this.current && !this.pending) this.disarm();
  }

  /** Removes a framebuffer: off the CRTC, out of the table, its object reference dropped (drm_framebuffer_remove). */
  removeFb(fb: KmsFramebuffer): void {
    this.unbind(fb);
    this.fbs.delete(fb.id);
    if (fb.refBuf) dmaBufUntrackRef(fb.refBuf, 'kms-framebuffer', fb);
    const p = fb.obj.put();
    if (p) this.dev.track(p);
  }

  /** Makes `fb` what the CRTC shows (the plane state's fb), moving the scanout's tracked reference with it. */
  private setCurrent(fb: KmsFramebuffer | null): void {
    const old = this.current;
    if (old === fb) return;
    if (old?.refBuf) dmaBufUntrackRef(old.refBuf, 'kms-scanout', this);
    this.current = fb;
    if (fb?.refBuf) dmaBufTrackRef(fb.refBuf, 'kms-scanout', this, scanoutName, 'drm_crtc_handle_vblank', scanoutVia);
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}

/** Names a framebuffer for the reference views: `framebuffer 36 of display-kms`. */
const fbName = (fb: KmsFramebuffer) => `framebuffer ${fb.id} of ${fb.obj.dev.driver.name}`;
/** Names a pending flip: `page flip to framebuffer 36 of display-kms`. */
const flipName = (f: PendingFlip) => `page flip to ${fbName(f.fb)}${f.ready ? ', waiting for vsync' : ', waiting for its fences'}`;
/** Names a CRTC's scanout: `scanout of display-kms (framebuffer 36)`. */
const scanoutName = (k: SimpleDisplayPipe) => `scanout of ${k.dev.driver.name}${k.current ? ` (framebuffer ${k.current.id})` : ''}`;

/** What a framebuffer holds its buffer through: its GEM object. */
const fbVia = (fb: KmsFramebuffer) => gemObjectName(fb.obj);
/** What a pending flip holds its buffer through: its framebuffer's GEM object. */
const flipVia = (f: PendingFlip) => gemObjectName(f.fb.obj);
/** What the scanout holds its buffer through: the shown framebuffer's GEM object. */
const scanoutVia = (k: SimpleDisplayPipe) => (k.current ? gemObjectName(k.current.obj) : 'no framebuffer');

/** Forgets a flip's tracked reference once it took effect or was cancelled. */
function untrackFlip(f: PendingFlip): void {
  if (f.fb.refBuf) dmaBufUntrackRef(f.fb.refBuf, 'kms-flip', f);
}

/** Sleeps until `done` resolves or `ns` pass (wait_for_completion_timeout); true when it resolved in time. */
function completionTimeout(clock: Clock, done: Promise<void>, ns: number): Promise<boolean> {
  return wakeablePromise((resolve) => {
    let over = false;
    const timer = clock.after(ns, () => {
      over = true;
      resolve(false);
    });
    void done.then(() => {
      if (over) return;
      // a completion in time must not leave its timeout behind to move simulated time on
      timer.cancel();
      resolve(true);
    });
  });
}

/** Builds a struct drm_event_vblank of type FLIP_COMPLETE (32 bytes, little-endian), as drm_crtc_send_vblank_event fills it. */
export function flipEvent(userData: bigint, nowNs: number, sequence: number): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, DRM_EVENT_FLIP_COMPLETE, true);
  v.setUint32(4, 32, true);
  v.setBigUint64(8, BigInt.asUintN(64, userData), true);
  const us = Math.floor(nowNs / 1000);
  v.setUint32(16, Math.floor(us / 1e6) >>> 0, true);
  v.setUint32(20, us % 1e6, true);
  v.setUint32(24, sequence >>> 0, true);
  v.setUint32(28, KMS_CRTC_ID, true);
  return b;
}

/** Writes up to `given` ids into a user array and returns how many there are (the count/copy pairs of drm_mode_getresources). */
export function fillIds(ptr: number[] | number, given: number, ids: number[]): number {
  if (Array.isArray(ptr)) for (let i = 0; i < ids.length && i < given; i++) ptr[i] = ids[i]!;
  return ids.length;
}

/** Waits for fences taken from a reservation object and drops the references taken with them (drm_atomic_helper_wait_for_fences). */
async function waitFences(fences: DmaFence[]): Promise<void> {
  try {
    for (const f of fences) await f.wait();
  } finally {
    for (const f of fences) f.put();
  }
}

/** Waits for the implicit write fences of a framebuffer's object (drm_gem_plane_helper_prepare_fb + drm_atomic_helper_wait_for_fences). */
export function waitFbWriters(fb: KmsFramebuffer): Promise<void> {
  return waitFences(fb.obj.resv.getFences(DmaResvUsage.WRITE));
}

/**
 * DRM_IOCTL_MODE_ADDFB2 (drm_mode_addfb2 + drm_gem_fb_create): one plane
 * of a format in the pipe's list. EINVAL for other formats, modifiers, a
 * size outside the controller's limits, a pitch short of a line, extra
 * planes or a plane running past its object; ENOENT for an unknown handle.
 * Writes fb_id.
 */
function simpleAddFb2(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeFbCmd2>(arg);
  const k = pipeOf(dev);
  const width = userU32(a.width, 'width');
  const height = userU32(a.height, 'height');
  const format = userU32(a.pixel_format, 'pixel_format');
  const flags = userU32(a.flags, 'flags');
  if (flags & ~DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', `bad framebuffer flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_FB_MODIFIERS) throw kerr('EINVAL', 'driver does not support fb modifiers');
  if (!k.formats.includes(format)) throw kerr('EINVAL', `unsupported pixel format 0x${format.toString(16)}`);
  if (width < 1 || width > KMS_MAX_WIDTH || height < 1 || height > KMS_MAX_HEIGHT) throw kerr('EINVAL', `framebuffer ${width}x${height} outside limits`);
  const handle = userU32(a.handles?.[0], 'handles[0]');
  const pitch = userU32(a.pitches?.[0], 'pitches[0]');
  const offset = userU32(a.offsets?.[0] ?? 0, 'offsets[0]');
  for (let i = 1; i < 4; i++) if (a.handles?.[i]) throw kerr('EINVAL', `no plane ${i} in a one-plane format`);
  if (pitch < width * 4) throw kerr('EINVAL', `pitch ${pitch} < ${width * 4}`);
  const obj = gemObjectLookup(file, handle);
  if (!obj) throw kerr('ENOENT', `no gem handle ${handle}`);
  const need = offset + pitch * (height - 1) + width * 4;
  if (need > obj.size) {
    const p = obj.put();
    if (p) dev.track(p);
    throw kerr('EINVAL', `framebuffer needs ${need} bytes of a ${obj.size}-byte object`);
  }
  const fb = new KmsFramebuffer(k.allocFbId(), { width, height, format, pitch, offset }, obj, file);
  fb.refBuf = gemObjectDmaBuf(obj);
  if (fb.refBuf) dmaBufTrackRef(fb.refBuf, 'kms-framebuffer', fb, fbName, 'drm_framebuffer_init', fbVia);
  k.fbs.set(fb.id, fb);
  a.fb_id = fb.id;
  return 0;
}

/**
 * DRM_IOCTL_MODE_RMFB (drm_mode_rmfb): ENOENT unless the file added that
 * framebuffer; a shown one goes off the CRTC. When a flip to it is still
 * waiting for its fences, the plane already points at it, so the removal
 * is a blocking commit that first waits for that flip, up to 10 s for each
 * of its completions (see waitForPending), before turning the plane off.
 */
async function simpleRmFb(dev: DrmDevice, arg: unknown, file: DrmFile): Promise<number> {
  const k = pipeOf(dev);
  const id = typeof arg === 'object' && arg !== null && 'fb_id' in arg ? userU32((arg as { fb_id: unknown }).fb_id, 'fb_id') : userU32(arg, 'fb_id');
  const fb = k.fbs.get(id);
  if (!fb || fb.owner !== file) throw kerr('ENOENT', `no framebuffer ${id} of this file`);
  const p = k.pending;
  if (p && p.fb === fb && !p.ready) await k.waitForPending(p);
  // the framebuffer may have gone while the commit waited (its file closed)
  if (k.fbs.get(id) === fb) k.removeFb(fb);
  return 0;
}

/** DRM_IOCTL_MODE_GETRESOURCES (drm_mode_getresources): the file's framebuffers, one CRTC, one encoder, one connector, the size limits. */
function simpleGetResources(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCardRes>(arg);
  const k = pipeOf(dev);
  const fbIds = [...k.fbs.values()].filter((f) => f.owner === file).map((f) => f.id);
  a.count_fbs = fillIds(a.fb_id_ptr, userU32(a.count_fbs ?? 0, 'count_fbs'), fbIds);
  a.count_crtcs = fillIds(a.crtc_id_ptr, userU32(a.count_crtcs ?? 0, 'count_crtcs'), [KMS_CRTC_ID]);
  a.count_connectors = fillIds(a.connector_id_ptr, userU32(a.count_connectors ?? 0, 'count_connectors'), [KMS_CONNECTOR_ID]);
  a.count_encoders = fillIds(a.encoder_id_ptr, userU32(a.count_encoders ?? 0, 'count_encoders'), [KMS_ENCODER_ID]);
  a.min_width = 1;
  a.max_width = KMS_MAX_WIDTH;
  a.min_height = 1;
  a.max_height = KMS_MAX_HEIGHT;
  return 0;
}

/**
 * DRM_IOCTL_MODE_PAGE_FLIP (drm_mode_page_flip_ioctl + the atomic
 * helpers): EINVAL for unknown flags, a non-zero reserved field, ASYNC or
 * TARGET flips (flips happen only at vsync) or a format change; ENOENT for
 * an unknown CRTC or framebuffer; ENOSPC when the framebuffer is smaller
 * than the mode; then the driver's check; EBUSY while a flip is pending.
 * The flip takes the framebuffer object's implicit write fences (the
 * plane's prepare_fb), waits for them off the caller's path, then takes
 * effect at the first vsync after; with DRM_MODE_PAGE_FLIP_EVENT a
 * FLIP_COMPLETE event carrying user_data is queued on the file then. The
 * CRTC is on from boot (there is no SETCRTC here), so the first flip also
 * binds the first framebuffer.
 */
function simplePageFlip(dev: DrmDevice, arg: unknown, file: DrmFile): number {
  const a = userArg<DrmModeCrtcPageFlip>(arg);
  const k = pipeOf(dev);
  const flags = userU32(a.flags, 'flags');
  if (flags & ~DRM_MODE_PAGE_FLIP_FLAGS || userU32(a.reserved ?? 0, 'reserved')) throw kerr('EINVAL', `page flip flags 0x${flags.toString(16)}`);
  if (flags & DRM_MODE_PAGE_FLIP_ASYNC) throw kerr('EINVAL', 'async page flips are not supported');
  if (flags & DRM_MODE_PAGE_FLIP_TARGET) throw kerr('EINVAL', 'page flip targets are not supported');
  if (userU32(a.crtc_id, 'crtc_id') !== KMS_CRTC_ID) throw kerr('ENOENT', `no CRTC ${a.crtc_id}`);
  const fb = k.fbs.get(userU32(a.fb_id, 'fb_id'));
  if (!fb) throw kerr('ENOENT', `no framebuffer ${a.fb_id}`);
  if (k.current && k.current.format !== fb.format) throw kerr('EINVAL', 'page flip may not change the framebuffer format');
  if (fb.width < k.width || fb.height < k.height) throw kerr('ENOSPC', `framebuffer ${fb.width}x${fb.height} smaller than the ${k.width}x${k.height} mode`);
  k.check(fb);
  if (k.pending) throw kerr('EBUSY', 'a page flip is already pending');
  const userData = typeof a.user_data === 'bigint' ? a.user_data : BigInt(userU32(a.user_data ?? 0, 'user_data'));
  let settle!: () => void;
  const done = wakeablePromise<void>((r) => (settle = r));
  let hwSettle!: () => void;
  const hwDone = wakeablePromise<void>((r) => (hwSettle = r));
  const flip: PendingFlip = { fb, file, event: (flags & DRM_MODE_PAGE_FLIP_EVENT) !== 0, userData, ready: false, hwDone, hwSettle, done, settle };
  const fences: DmaFence[] = fb.obj.resv.getFences(DmaResvUsage.WRITE);
  k.pending = flip;
  if (fb.refBuf) dmaBufTrackRef(fb.refBuf, 'kms-flip', flip, flipName, 'drm_mode_page_flip_ioctl', flipVia);
  k.lastActivity = dev.dbs.soc.clock.now;
  if (fences.length === 0) {
    k.flipReady(flip);
  } else {
    // the commit tail waits for the plane's fences, with no vblank reference held
    void dev.dbs.soc.cores.spawn(`kworker/${dev.driver.name}-commit`, async () => {
      await waitFences(fences);
      k.flipReady(flip);
    });
  }
  return 0;
}

/** The core's mode ioctls every simple-pipe driver lists in its coreIoctls: GETRESOURCES, ADDFB2, RMFB and PAGE_FLIP (master only). */
export const DRM_SIMPLE_KMS_IOCTLS: readonly DrmIoctlDesc[] = [
  { cmd: DRM_IOCTL_MODE_GETRESOURCES, flags: 0, func: simpleGetResources, name: 'DRM_IOCTL_MODE_GETRESOURCES' },
  { cmd: DRM_IOCTL_MODE_ADDFB2, flags: 0, func: simpleAddFb2, name: 'DRM_IOCTL_MODE_ADDFB2' },
  { cmd: DRM_IOCTL_MODE_RMFB, flags: 0, func: simpleRmFb, name: 'DRM_IOCTL_MODE_RMFB' },
  { cmd: DRM_IOCTL_MODE_PAGE_FLIP, flags: DRM_MASTER, func: simplePageFlip, name: 'DRM_IOCTL_MODE_PAGE_FLIP' },
];

/** Removes a closing file's framebuffers, off the CRTC first, and cancels its pending flip (drm_fb_release); a simple-pipe driver's postclose. */
export function drmSimpleKmsPostclose(dev: DrmDevice, file: DrmFile): void {
  const k = pipeOf(dev);
  for (const fb of [...k.fbs.values()]) if (fb.owner === file) k.removeFb(fb);
  if (k.pending?.file === file) k.cancelPending();
}
