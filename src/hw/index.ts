/**
 * DOC: hw — the simulated SoC
 *
 * Knows nothing of Linux. Physical memory is byte-accurate and sparse; an
 * access no bank decodes is a BusError seen by the master that made it. The
 * CPU reaches memory through a write-back data cache that is NOT coherent
 * with DMA unless the platform says so: only explicit clean/invalidate calls
 * move data between the two views, and each costs simulated time. Devices
 * move bytes through DmaMaster ports, optionally behind an SMMU context.
 * All time is simulated ns on the Clock; all randomness comes from the one
 * Prng, so a seed fixes a run. Nothing here sleeps except the async
 * DmaMaster transfers, which wait on the Clock.
 *
 * engines/ is each device's hardware (capture, scanout, ISP, codecs,
 * blend, DAC, USB panel). Every engine moves bytes with the one
 * scatter-gather DMA of sg-dma.ts: a driver hands it bus segments
 * (address, length) made from its own mapping, never a Linux object.
 */
export { CpuCache, type CacheConfig } from './cache.ts';
export { Clock, Deadlock, type ClockOptions, type Timer } from './clock.ts';
export { continuationMark } from './quiet-probe.ts';
export { Cpu, isCacheable, type CpuConfig, type MemType } from './cpu.ts';
export { CpuCores, type CpuCoresConfig } from './cpu-cores.ts';
export { DmaFault, DmaMaster, type DmaMasterConfig, type Translator } from './dma-master.ts';
export { BlendEngine } from './engines/blend.ts';
export { CaptureEngine } from './engines/capture.ts';
export { Dac, PCM_HASH_INIT, pcmHash, type PcmPlayed } from './engines/dac.ts';
export { IspEngine } from './engines/isp.ts';
export { JpegEngine } from './engines/jpeg.ts';
export { ScanoutEngine } from './engines/scanout.ts';
export type { SgSegment } from './engines/sg-dma.ts';
export { USB_DAMAGE_HEADER, USB_DAMAGE_MAGIC, UsbPanel } from './engines/usb-panel.ts';
export { VdecEngine } from './engines/vdec.ts';
export { Interconnect, type MasterPort } from './interconnect.ts';
export { BusError, PhysicalMemory, reclaimMemory, recycleMemoryAfterRuns, type MemoryBankConfig } from './memory.ts';
export { PageCounters } from './page-counters.ts';
export { Prng } from './prng.ts';
export { SmmuContext, type SmmuFault, type SmmuFaultHandler, type SmmuFaultKind, type SmmuStats } from './smmu-context.ts';
export { SMMU_PGSIZE_BITMAP, SZ_16M, SZ_1M, SZ_4K, SZ_64K } from './smmu-walk.ts';
export { Smmu, type SmmuConfig } from './smmu.ts';
export { Soc, type SocHwConfig } from './soc.ts';
