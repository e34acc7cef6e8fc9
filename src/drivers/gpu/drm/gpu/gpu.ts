import { kerr } from '../../../../lib/index.ts';
import { BlendEngine, BusError, DmaFault } from '../../../../hw/index.ts';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, sgDmaSegments, type DmaDirection, type SgTable } from '../../../../dma/index.ts';
import { DmaFence, DmaResvUsage, dmaBufTrackRef, dmaBufUntrackRef, dmaResvUsageRw, setFenceSignaller, syncFileCreate, type DmaBuf, type DmaFenceOps, type DmaResv } from '../../../../dmabuf/index.ts';
import { fput, userArg, type Task } from '../../../../fs/index.ts';
import { DRM_IOCTL_GPU_COMPOSE, GPU_COMPOSE_FENCE_OUT, GPU_COMPOSE_OP_AVERAGE, O_CLOEXEC, type DrmGpuCompose } from '../../../../uapi/index.ts';
import {
  DRIVER_GEM,
  DRIVER_RENDER,
  DRM_RENDER_ALLOW,
  gemObjectDmaBuf,
  gemObjectLookup,
  gemObjectName,
  registerDrmDevice,
  type DrmDevice,
  type DrmDeviceOptions,
  type DrmDriver,
  type DrmFile,
  type GemObject,
} from '../core/index.ts';
import { drmProbedNodes } from '../core/index.ts';
import { platformDriver } from '../../../base/platform-driver.ts';

/*
 * The compose job (DRM_IOCTL_GPU_COMPOSE, struct drm_gpu_compose in
 * src/uapi/gpu-drm.ts) blends the whole destination object (XRGB8888 or
 * any byte format: the average is taken byte by byte); each source must be
 * at least as large. It waits for the implicit fences (a writer waits for
 * every reader and writer of the destination, a reader for the writers of
 * the sources), runs on the GPU's DMA port for the time its bytes need, and
 * signals a fence that sits in the destination's reservation object as a
 * WRITE fence and in the sources' as READ fences.
 */

const gpuFenceOps: DmaFenceOps = {
  getDriverName: () => 'gpu',
  getTimelineName: () => 'compose',
};

/** What the gpu driver keeps per device: its fence timeline and job counts. */
export class GpuState {
  /** The fence context of the one ring (the scheduler entity's fence context). */
  readonly context: number;
  /** Last seqno handed out. */
  seqno = 0;
  /** Jobs submitted, completed, and bytes written by completed jobs. */
  readonly stats = { submitted: 0, completed: 0, bytesWritten: 0 };
  /** Jobs still running, so that teardown and tests can wait for them. */
  readonly running = new Set<Promise<void>>();
  /** The end of the ring: jobs run one at a time in submission order, as on one hardware queue. */
  tail: Promise<void> = Promise.resolve();
  /** The blend unit the ring feeds (one job at a time). */
  readonly blend: BlendEngine;

  /** Creates the state with a fence context of its own. */
  constructor(dev: DrmDevice) {
    this.context = dev.dbs.fctx.alloc(1);
    this.blend = new BlendEngine(dev.device.master, dev.dbs.soc.clock);
  }
}

const states = new WeakMap<DrmDevice, GpuState>();

/** The gpu driver's state of `dev` (dev->dev_private). */
export function gpuStateOf(dev: DrmDevice): GpuState {
  const s = states.get(dev);
  if (!s) throw kerr('ENODEV', `${dev.driver.name} is not a gpu device`);
  return s;
}

function u32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw kerr('EFAULT', `${what} is not an integer`);
  return v >>> 0;
}

/** One buffer a job uses: the object, its mapping for the GPU, and how the job uses it. */
interface JobBuffer {
  obj: GemObject;
  sgt: SgTable;
  dir: DmaDirection;
  /** The dma-buf behind the object, on which the job's reference is tracked while it is queued or running. */
  buf: DmaBuf | null;
  /** The job's fence seqno, for the reference views. */
  seqno: number;
}

/** Names a job's use of a buffer: `gpu compose job 12 (destination)`. */
const jobName = (b: JobBuffer) => `${b.obj.dev.driver.name} compose job ${b.seqno} (${b.dir === DMA_FROM_DEVICE ? 'destination' : b.dir === DMA_TO_DEVICE ? 'source' : 'source and destination'})`;

/** What a job holds its buffer through: the GEM object it looked up. */
const jobVia = (b: JobBuffer) => gemObjectName(b.obj);

/** Forgets the job's tracked references on its buffers. */
function jobUntrack(bufs: readonly JobBuffer[]): void {
  for (const b of bufs) if (b.buf) dmaBufUntrackRef(b.buf, 'device-job', b);
}

/**
 * An object's mapping for the GPU, for one job: an import's through its
 * attachment, an own object's made on its first job and kept until it is
 * freed (drm_gem_shmem_get_pages_sgt), as a GPU driver keeps its objects
 * in the GPU's address space. The job holds a reference on the object, so
 * the mapping outlives the job.
 */
function jobMap(obj: GemObject, dir: DmaDirection): JobBuffer {
  const sgt = obj.importSgt ?? obj.getPagesSgt();
  return { obj, sgt, dir, buf: gemObjectDmaBuf(obj), seqno: 0 };
}

/** The kernel thread that runs the device's jobs (the drm-sched thread of its ring). */
function schedThreadName(dev: DrmDevice): string {
  return `drm-sched/${dev.driver.name}`;
}

/** Adds `fence` to every distinct reservation object, READ usage for sources first, then WRITE for the destination. */
async function addJobFence(fence: DmaFence, reads: DmaResv[], write: DmaResv): Promise<void> {
  const seen = new Set<DmaResv>();
  const add = async (resv: DmaResv, usage: DmaResvUsage) => {
    await resv.lock();
    try {
      resv.reserveFences(1);
      resv.addFence(fence, usage);
    } finally {
      resv.unlock();
    }
  };
  for (const r of reads) {
    if (r === write || seen.has(r)) continue;
    seen.add(r);
    await add(r, DmaResvUsage.READ);
  }
  await add(write, DmaResvUsage.WRITE);
}

/**
 * Runs one compose job on the GPU (the scheduler's run_job and the
 * interrupt that completes it), after the jobs queued before it: waits for
 * its dependencies, reads both
 * sources through the GPU's mappings, blends, writes the destination, waits
 * the time the port needs for the three transfers, then signals the fence
 * and drops the job's pins and references.
 */
async function runCompose(dev: DrmDevice, st: GpuState, fence: DmaFence, deps: DmaFence[], bufs: JobBuffer[]): Promise<void> {
  const [dst, s0, s1] = bufs as [JobBuffer, JobBuffer, JobBuffer];
  try {
    for (const d of deps) await d.wait();
    const len = dst.obj.size;
    await st.blend.average(sgDmaSegments(dst.sgt), sgDmaSegments(s0.sgt), sgDmaSegments(s1.sgt), len);
    st.stats.completed++;
    st.stats.bytesWritten += len;
    fence.signal();
  } catch (e) {
    if (!fence.isSignaled()) {
      fence.setError('EIO');
      fence.signal();
    }
    // a fault on the port fails the job (its fence carries EIO) and the ring goes on, as after a GPU reset
    if (e instanceof DmaFault) dev.dbs.soc.findings.report('iommu-fault', 'gpu_compose', `gpu job ${fence.seqno}: ${e.message}`);
    else if (e instanceof BusError) dev.dbs.soc.findings.report('bus-error', 'gpu_compose', `gpu job ${fence.seqno}: ${e.message}`);
    else throw e;
  } finally {
    for (const d of deps) d.put();
    fence.put();
    jobUntrack(bufs);
    for (const bf of bufs) {
      const p = bf.obj.put();
      if (p) dev.track(p);
    }
  }
}

/**
 * DRM_IOCTL_GPU_COMPOSE: EINVAL for unknown flags or op, ENOENT for a
 * handle the file does not have, EINVAL when a source is smaller than the
 * destination. Queues the job on the ring (jobs run one at a time, in
 * submission order) and returns at once; with
 * GPU_COMPOSE_FENCE_OUT, out_fence is a sync_file fd (O_CLOEXEC) of the
 * job's fence.
 */
async function gpuCompose(dev: DrmDevice, arg: unknown, file: DrmFile, task: Task): Promise<number> {
  const a = userArg<DrmGpuCompose>(arg);
  const flags = u32(a.flags, 'flags');
  if (flags & ~GPU_COMPOSE_FENCE_OUT) throw kerr('EINVAL', `compose flags 0x${flags.toString(16)}`);
  if (u32(a.op, 'op') !== GPU_COMPOSE_OP_AVERAGE) throw kerr('EINVAL', `compose op ${a.op}`);
  if (!Array.isArray(a.src_handles) || a.src_handles.length !== 2) throw kerr('EFAULT', 'src_handles must hold two handles');
  const handles = [u32(a.dst_handle, 'dst_handle'), u32(a.src_handles[0], 'src_handles[0]'), u32(a.src_handles[1], 'src_handles[1]')];
  const st = gpuStateOf(dev);
  const objs: GemObject[] = [];
  const bufs: JobBuffer[] = [];
  const deps: DmaFence[] = [];
  let fence: DmaFence | null = null;
  let fd = -1;
  try {
    for (const h of handles) {
      const o = gemObjectLookup(file, h);
      if (!o) throw kerr('ENOENT', `no gem handle ${h}`);
      objs.push(o);
    }
    const [dst, s0, s1] = objs as [GemObject, GemObject, GemObject];
    if (s0.size < dst.size || s1.size < dst.size) throw kerr('EINVAL', `sources of ${s0.size} and ${s1.size} bytes for a ${dst.size}-byte destination`);
    bufs.push(jobMap(dst, DMA_FROM_DEVICE));
    bufs.push(jobMap(s0, s0 === dst ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE));
    bufs.push(jobMap(s1, s1 === dst ? DMA_BIDIRECTIONAL : DMA_TO_DEVICE));
    // implicit sync: collected before the job's own fence goes in
    deps.push(...dst.resv.getFences(dmaResvUsageRw(true)));
    for (const s of [s0, s1]) if (s.resv !== dst.resv) deps.push(...s.resv.getFences(dmaResvUsageRw(false)));
    fence = new DmaFence(dev.dbs.soc.clock, gpuFenceOps, st.context, ++st.seqno);
    for (const b of bufs) {
      b.seqno = fence.seqno;
      if (b.buf) dmaBufTrackRef(b.buf, 'device-job', b, jobName, 'drm_sched_job_init', jobVia);
    }
    // the ring's scheduler thread signals it, once the jobs before it and its dependencies are done
    setFenceSignaller(fence, { thread: dev.dbs.soc.costs.kthread(schedThreadName(dev)) });
    if (flags & GPU_COMPOSE_FENCE_OUT) {
      const sf = syncFileCreate(dev.dbs, fence);
      try {
        fd = task.installFd(sf.file, O_CLOEXEC);
      } catch (e) {
        fput(sf.file);
        throw e;
      }
    }
    await addJobFence(fence, [s0.resv, s1.resv], dst.resv);
  } catch (e) {
    for (const d of deps) d.put();
    jobUntrack(bufs);
    for (const o of objs) {
      const p = o.put();
      if (p) dev.track(p);
    }
    if (fence) {
      fence.setError('ECANCELED');
      fence.signal();
      fence.put();
    }
    throw e;
  }
  st.stats.submitted++;
  const prev = st.tail;
  const job = dev.dbs.soc.cores.spawn(schedThreadName(dev), async () => {
    await prev;
    await runCompose(dev, st, fence, deps, bufs);
  });
  const done = job.then(
    () => undefined,
    () => undefined,
  );
  st.tail = done;
  st.running.add(done);
  void done.then(() => st.running.delete(done));
  a.out_fence = flags & GPU_COMPOSE_FENCE_OUT ? fd : -1;
  return 0;
}

/**
 * The gpu driver: a render-capable GEM device with dumb buffers in
 * scattered shmem pages (the GPU reaches them through its SMMU), PRIME
 * import and export, and the compose job ioctl.
 */
export const gpuDriver: DrmDriver = {
  name: 'gpu',
  desc: 'unimem 2D compositor GPU',
  date: '20261124',
  major: 1,
  minor: 0,
  patchlevel: 0,
  features: DRIVER_GEM | DRIVER_RENDER,
  dumbCreate: true,
  mapWc: true,
  ioctls: [{ cmd: DRM_IOCTL_GPU_COMPOSE, flags: DRM_RENDER_ALLOW, func: gpuCompose, name: 'DRM_IOCTL_GPU_COMPOSE' }],
};

/** What registerGpu needs: the dma-buf core, the mm for shmem pages, the GPU's struct device (behind its SMMU), and optionally the card index. */
export type GpuOptions = Omit<DrmDeviceOptions, 'driver'>;

/** Creates the gpu device and its nodes /dev/dri/card<index> and /dev/dri/renderD<128+index> (the driver's probe). */
export function registerGpu(opts: GpuOptions): DrmDevice {
  const dev = registerDrmDevice({ ...opts, driver: gpuDriver });
  states.set(dev, new GpuState(dev));
  return dev;
}

/** Waits until every queued compose job of `dev` has finished. */
export async function gpuIdle(dev: DrmDevice): Promise<void> {
  const st = gpuStateOf(dev);
  while (st.running.size > 0) await Promise.all([...st.running]);
}

/** The driver table's row for GPUs: a DRM card and render node each. */
export const gpuPlatformDriver = platformDriver({
  kind: 'gpu',
  name: 'unimem-gpu',
  description: 'GPU: DRM GEM and PRIME, a compose job with fences',
  probe: (ctx) => {
    const dev = registerGpu({ dbs: ctx.dbs, mm: ctx.mm, device: ctx.device });
    return { nodes: drmProbedNodes(dev), data: dev };
  },
  settle: (dev) => dev.settle(),
});
