/**
 * DOC: dmabuf — buffer sharing, fences and reservation objects
 *
 * Fences: signalling, adding callbacks and is_signaled never sleep; waits
 * and reservation locks are async and wait in simulated time. A fence's
 * callbacks run exactly once, in the order added, when it signals; its
 * release runs once, on the last put. Containers (fence arrays) are never
 * added to a reservation object; getFences/getSingleton return references
 * the caller must put. Adding a fence to a DmaResv needs its lock held and a
 * slot reserved. Waits can be made interruptible by passing the caller's
 * task. Each system owns one FenceContextAllocator and one
 * WwClass('reservation_ww_class').
 *
 * Buffers: a DmaBuf lives as long as its file. exportDmaBuf gives the
 * exporter the one reference; every fd (dmaBufFd), mapping, message in
 * flight and kernel user (dmaBufGet/getDmaBuf, dropped with dmaBufPut)
 * holds another, and the exporter's release runs exactly once, on the last.
 * A kernel user that keeps a reference beyond the call that took it (a
 * queue slot, a GEM import, a framebuffer, a job) records it with
 * dmaBufTrackRef and forgets it with dmaBufUntrackRef, so every reference
 * can be named with the call site that took it, and a leak with its cause.
 * Call order for importers: dmaBufAttach -> dmaBufMapAttachment -> (DMA)
 * -> dmaBufUnmapAttachment -> dmaBufDetach -> dmaBufPut. Attach, detach,
 * map, unmap, pin, begin/end CPU access and vmap may sleep (late
 * allocation, migration, fence waits); poll, llseek and fdinfo never do. Dynamic importers (importerOps
 * with moveNotify) map, unmap, pin and unpin with the buffer's reservation
 * lock held and must drop their mappings when told the storage moves; a
 * dynamic exporter (one with pin/unpin) is called with that lock held.
 * Static importers of dynamic exporters, and every importer of exporters
 * that cache (cacheSgtMapping), keep their mapping until detach. The CPU
 * brackets its access with dmaBufBeginCpuAccess/dmaBufEndCpuAccess
 * (DMA_BUF_IOCTL_SYNC from userspace), which is where non-coherent devices
 * get their cache maintenance. A sync_file owns one fence reference. Heaps (/dev/dma_heap/*)
 * and /dev/udmabuf are exporters registered on a DmaBufSystem, one per
 * simulated kernel, which also owns the dma-buf filesystem and debugfs's
 * bufinfo.
 *
 * Fence waits form a wait-for graph (fence-wait-graph.ts): whoever creates
 * a fence records its signaller (setFenceSignaller: the thread whose
 * progress signals it); every wait is an edge from the waiting thread to
 * the fence. A wait that closes a cycle, a wait on a fence whose
 * signaller exited, and a fence left unsignalled at its timeline's
 * teardown are findings; the waits still block as on Linux.
 */
export { addCmaHeap } from './cma-heap.ts';
export { dmaBufAttach, dmaBufDetach, dmaBufMapAttachment, dmaBufPin, dmaBufUnmapAttachment, dmaBufUnpin, type AttachOptions } from './dma-buf-attach.ts';
export { dmaBufBeginCpuAccess, dmaBufEndCpuAccess, dmaBufVmap, dmaBufVunmap } from './dma-buf-cpu.ts';
export {
  DmaBuf,
  DmaBufAttachment,
  DmaBufSystem,
  createDmaBufSystem,
  dmaBufFd,
  dmaBufGet,
  dmaBufOfFile,
  dmaBufPut,
  exportDmaBuf,
  getDmaBuf,
  isDmaBufFile,
  type DmaBufAttachConstraints,
  type DmaBufExportInfo,
  type DmaBufImporterOps,
  type DmaBufMapping,
  type DmaBufOps,
  type DmaBufStorageInfo,
  type DmaBufSystemOptions,
} from './dma-buf.ts';
export {
  DmaBufRefTracker,
  dmaBufKernelRefs,
  dmaBufTrackRef,
  dmaBufUntrackRef,
  type DmaBufKernelRef,
  type DmaBufRefKind,
  type DmaBufRefNamer,
} from './dma-buf-refs.ts';
export { FenceContextAllocator } from './dma-fence-context.ts';
export { DmaFence, liveFenceCount, traceFences, type DmaFenceOps } from './dma-fence.ts';
export { DmaHeap, dmaHeaps } from './dma-heap.ts';
export {
  fenceWaitSnapshot,
  reportFenceTimeout,
  reportHungFenceWaits,
  setFenceSignaller,
  setFileHolders,
  trackFenceWaits,
  type FenceSignaller,
} from './fence-wait-graph.ts';
export { DmaResv, DmaResvUsage, dmaResvUsageRw } from './dma-resv.ts';
export { NegotiatedBacking, type NegotiatedBufferOptions } from './negotiated-backing.ts';
export { exportNegotiatedBuffer } from './negotiated-ops.ts';
export { SyncFile, syncFileCreate, type SyncFileEnv } from './sync-file.ts';
export { addSystemHeap } from './system-heap.ts';
export { UdmabufDevice, registerUdmabuf, type UdmabufOptions } from './udmabuf.ts';
