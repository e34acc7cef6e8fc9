import { createDevice, createDmaContext, iommuDmaMapper, type Device, type DmaContext } from '../dma/index.ts';
import { Smmu, Soc } from '../hw/index.ts';
import { iommuAttachDevice, iommuDevice, iommuDomainAlloc, SmmuDriver, type IommuDomain } from '../iommu/index.ts';
import { MiB, type CpuContext } from '../lib/index.ts';
import { bootMm, type BackgroundLoadOptions, type Mm } from '../mm/index.ts';
import { addCmaHeap, addSystemHeap, createDmaBufSystem, registerUdmabuf, setFileHolders, type DmaBufSystem } from '../dmabuf/index.ts';
import {
  gpuPlatformDriver,
  kmsDisplayPlatformDriver,
  pcmPlaybackPlatformDriver,
  PLATFORM_DRIVERS,
  registerVgem,
  registerVivid,
  usbDisplayPlatformDriver,
  type BoundDevice,
  type DrmDevice,
  type KmsDisplay,
  type PcmDevice,
  type PlatformDriver,
  type UsbDisplay,
} from '../drivers/index.ts';
import { faultCreateDebugfsAttr } from '../fs/index.ts';
import { createProcSystem, registerDmaBufRefsDebugfs, type ProcKernel } from '../proc/index.ts';
import type { PlatformSpec } from './platform.ts';

/** Options of one boot: the seed fixes every random choice of the run. */
export interface BootOptions {
  seed: number;
  /** dma-debug on (the default) or off. */
  dmaDebug?: boolean;
  /** Background memory load started at boot (memory pressure). */
  background?: BackgroundLoadOptions | false;
  /** Overrides the platform's speculative-prefetch probability. */
  prefetchProbability?: number;
  /** The display's KMS mode (default 1920x1080 at 60 Hz). */
  kmsMode?: { width: number; height: number };
  /** The platform camera's frame rate (default 30). */
  cameraFps?: number;
  /** The driver table to bind the platform's devices with (default: the built-in one). */
  drivers?: readonly PlatformDriver[];
}

/** A booted system: the SoC and the kernel layers on it. */
export interface System {
  platform: PlatformSpec;
  seed: number;
  soc: Soc;
  mm: Mm;
  dma: DmaContext;
  devices: Map<string, Device>;
  /** The process side: process table, VFS, sockets, /proc. */
  proc: ProcKernel;
  /** The dma-buf core with /dev/dma_heap/system, one CMA heap per area, and /dev/udmabuf. */
  dmabuf: DmaBufSystem;
  /** Every SMMU by name, and the driver that owns them. */
  smmus: Map<string, Smmu>;
  smmuDriver: SmmuDriver;
  /** The DMA domain of each device behind an IOMMU. */
  domains: Map<string, IommuDomain>;
  /** Every platform device a driver bound, in probe order, with the nodes it registered. */
  bound: BoundDevice[];
  /** The KMS driver of the platform's first display device, if it has one. */
  kms: { dev: DrmDevice; kms: KmsDisplay } | null;
  /** The DRM render driver of the platform's first GPU, if it has one. */
  gpu: DrmDevice | null;
  /** The USB display driver of the platform's first USB host, if it has one. */
  usbDisplay: { dev: DrmDevice; usb: UsbDisplay } | null;
  /** The ALSA playback PCM of the platform's first audio block, if it has one. */
  pcm: PcmDevice | null;
}

/** The driver data of the first device `driver` bound (the typed view of a driver table row). */
export function firstBound<T>(bound: readonly BoundDevice[], driver: PlatformDriver<T>): T | null {
  const b = bound.find((x) => x.driver === driver);
  return b ? (b.data as T) : null;
}

/** Bytes of lowmem when the platform does not say: all of the first bank, at most 760 MiB (ARM's default split). */
export function defaultLowmem(p: PlatformSpec): number {
  const dram0 = [...p.memory].filter((b) => b.kind === 'dram').sort((a, b) => a.base - b.base)[0]!;
  return p.kernel.lowmem ?? Math.min(dram0.size, 760 * MiB);
}

/**
 * Boots a platform (start_kernel for the simulated SoC): hardware from the
 * platform file, memory management with its CMA areas, the DMA layer with
 * its cache policy, and a struct device per platform device with the
 * dma_map_ops its IOMMU and bounce settings call for.
 */
export function bootSystem(p: PlatformSpec, opts: BootOptions): System {
  const io = p.interconnect.ioCoherent;
  const soc = new Soc({
    seed: opts.seed,
    banks: p.memory.map((b) => ({ name: b.name, base: b.base, size: b.size, kind: b.kind })),
    cache: p.cpu.cache,
    prefetchProbability: opts.prefetchProbability ?? p.cpu.prefetchProbability,
    ioCoherent: io,
    cpuBandwidth: p.cpu.bandwidth,
    masters: p.devices.map((d) => ({ name: d.name, coherent: d.coherent || io, bandwidth: d.bandwidth, latencyNs: d.latencyNs })),
    cores: { count: p.cpu.cores, clockHz: p.cpu.clockMHz * 1e6 },
  });
  const mm = bootMm(soc, {
    lowmem: defaultLowmem(p),
    vmalloc: p.kernel.vmalloc,
    cma: {
      default: p.cma.default,
      areas: p.cma.areas.map((a) => ({ name: a.name, size: a.size, base: a.base, alignment: a.alignment })),
    },
    background: opts.background ?? false,
    migration: { perPageNs: p.cpu.costs.migratePageNs },
  });
  const dma = createDmaContext(soc, mm, { flushThreshold: p.cpu.flushThreshold, debug: opts.dmaDebug ?? true });
  // Page-table walks snoop the CPU cache only on an IO-coherent interconnect.
  const c = p.cpu.costs;
  const smmuDriver = new SmmuDriver({
    mem: soc.mem,
    pages: mm.pages,
    cache: io ? null : soc.cache,
    clock: soc.clock,
    faults: soc.faults,
    costs: soc.costs,
    cpuCosts: { mapCallNs: c.iommuMapCallNs, mapPteNs: c.iommuMapPteNs, unmapCallNs: c.iommuUnmapCallNs, unmapPteNs: c.iommuUnmapPteNs },
  });
  const smmus = new Map<string, Smmu>();
  const nextContext = new Map<string, number>();
  for (const m of p.iommus) {
    const smmu = new Smmu(soc, { name: m.name, contexts: m.contexts, tlbEntries: m.tlbEntries, walkNs: m.walkNs });
    smmuDriver.addSmmu(smmu);
    smmus.set(m.name, smmu);
    nextContext.set(m.name, 0);
  }
  const domains = new Map<string, IommuDomain>();
  const iommuFor = (d: PlatformSpec['devices'][number]) => {
    if (d.iommu === undefined) return null;
    const smmu = smmus.get(d.iommu)!;
    const ctx = nextContext.get(d.iommu)!;
    nextContext.set(d.iommu, ctx + 1);
    const idev = iommuDevice(d.name, soc.master(d.name), smmu.context(ctx), 2 ** Math.min(d.dmaMaskBits, 32) - 1);
    const domain = iommuDomainAlloc(smmuDriver, { name: `${d.name}-dma`, flush: 'strict' });
    iommuAttachDevice(domain, idev);
    domains.set(d.name, domain);
    return iommuDmaMapper(domain);
  };
  const devices = new Map<string, Device>();
  for (const d of p.devices) {
    const area = p.cma.areas.find((a) => a.devices.includes(d.name));
    const dev = createDevice(dma, soc.master(d.name), {
      name: d.name,
      kind: d.kind,
      dmaMaskBits: d.dmaMaskBits,
      coherentMaskBits: d.coherentMaskBits,
      maxSegmentSize: d.maxSegmentSize,
      segmentBoundary: d.segmentBoundary,
      coherent: d.coherent || io,
      needsContiguous: d.needsContiguous,
      alignment: d.alignment,
      bounce: d.bounce,
      // dev->cma_area: only a per-device area; others use the default area (dma_contiguous_default_area).
      cma: area ? (mm.cma.get(area.name) ?? null) : null,
      iommu: iommuFor(d),
    });
    devices.set(d.name, dev);
  }
  const proc = createProcSystem({ soc, mm, syscallNs: c.syscallNs });
  proc.vfs.failslab = soc.faults.attr('failslab');
  for (const attr of soc.faults.attrs.values()) faultCreateDebugfsAttr(proc.vfs, attr);
  const dmabuf = createDmaBufSystem({ vfs: proc.vfs, soc, fenceSignalNs: c.fenceSignalNs });
  registerDmaBufRefsDebugfs(proc, dmabuf);
  // the fence wait-for graph asks who holds a timeline's fd: any of them may signal its fences
  setFileHolders(soc.clock, (file) => {
    const out: CpuContext[] = [];
    for (const p of proc.processes.values()) {
      if (p.group.state !== 'running') continue;
      const files = p.files;
      if (files.fds().some((fd) => files.peek(fd) === file)) for (const t of p.group.liveTasks()) out.push(t.cpu);
    }
    return out;
  });
  addSystemHeap(dmabuf, mm);
  for (const area of mm.cma.values()) addCmaHeap(dmabuf, mm, area);
  // Virtual devices the kernel's test drivers bring (misc device, vgem, vivid's platform device).
  const virtualDevice = (name: string, dmaMaskBits: number) =>
    createDevice(dma, soc.addMaster({ name, coherent: io, bandwidth: p.cpu.bandwidth, latencyNs: 0 }), {
      name,
      kind: 'generic',
      dmaMaskBits,
      maxSegmentSize: 2 ** 32,
      segmentBoundary: 2 ** 53 - 1,
      coherent: io,
      needsContiguous: false,
      alignment: 4096,
      bounce: false,
    });
  registerUdmabuf(dmabuf, { mm, device: virtualDevice('udmabuf', 64) });
  // vgem loads before the platform's DRM drivers: it is card0.
  registerVgem({ dbs: dmabuf, mm, device: virtualDevice('vgem', 64) });
  // The platform bus: each driver, in table order, binds every device of its kind (probe order gives node numbers).
  const bound: BoundDevice[] = [];
  const params = { kmsMode: opts.kmsMode ?? { width: 1920, height: 1080 }, cameraFps: opts.cameraFps };
  for (const driver of opts.drivers ?? PLATFORM_DRIVERS) {
    if (!driver.probe) continue;
    for (const spec of p.devices) {
      if (spec.kind !== driver.kind) continue;
      const { nodes, data } = driver.probe({ spec, device: devices.get(spec.name)!, vfs: proc.vfs, dbs: dmabuf, mm, clock: soc.clock, seed: opts.seed, params, iommuDomain: domains.get(spec.name) ?? null });
      bound.push({ name: spec.name, kind: spec.kind, driver, nodes, data });
    }
  }
  registerVivid({
    vfs: proc.vfs,
    dbs: dmabuf,
    mm,
    clock: soc.clock,
    seed: opts.seed,
    instances: [{ allocator: 'vmalloc' }, { allocator: 'dma-contig', device: virtualDevice('vivid', 32) }],
  });
  return {
    platform: p,
    seed: opts.seed,
    soc,
    mm,
    dma,
    devices,
    proc,
    dmabuf,
    smmus,
    smmuDriver,
    domains,
    bound,
    kms: firstBound(bound, kmsDisplayPlatformDriver),
    gpu: firstBound(bound, gpuPlatformDriver),
    usbDisplay: firstBound(bound, usbDisplayPlatformDriver),
    pcm: firstBound(bound, pcmPlaybackPlatformDriver),
  };
}
