import { z } from 'zod';
import { PLATFORM_DRIVERS, type PlatformDriver } from '../drivers/index.ts';
import { bandwidth, size } from './units-schema.ts';

// Spelled out rather than /i so that the JSON Schema pattern, which has no flags, accepts the same names.
const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must be a name of letters, digits, - and _');
// a platform's own name may carry a version number (linux-6.1-reference)
const platformName = z.string().regex(/^[A-Za-z][A-Za-z0-9._-]*$/, 'must be a name of letters, digits, ., - and _');

// A cost or latency of more than a second is a typo: bounding it keeps simulated time finite.
const MAX_NS = 1e9;

// Each field's .describe() text is its one-line meaning in docs/platform.md and in editors (scripts/reference.ts).

const bank = z
  .strictObject({
    name: name.describe('Name of the bank, for the address map and error messages.'),
    base: size.describe('Physical address where the bank starts; 4 KiB aligned, banks must not overlap, below 8 TiB; all banks together at most 64 GiB.'),
    size: size.describe('Bytes in the bank; a positive multiple of 4 KiB.'),
    kind: z.enum(['dram', 'sram']).default('dram').describe('dram holds the kernel, page allocator and CMA (at least one bank); sram is on-chip memory outside them.'),
  })
  .describe('One bank of physical memory.');

const cache = z
  .strictObject({
    size: size.default(512 * 1024).describe('Capacity of the CPU data cache; a multiple of lineSize x ways, at most 64 MiB.'),
    ways: z.number().int().min(1).max(64).default(8).describe('Associativity: lines per set.'),
    lineSize: size.default(64).describe('Bytes per cache line; a power of two of at least 16.'),
    lineOpNs: z.number().positive().max(MAX_NS).default(4).describe('Cost of cleaning or invalidating one line by address (DMA sync of a range).'),
    setWayOpNs: z.number().positive().max(MAX_NS).default(1).describe('Cost per line of flushing the whole cache by set/way.'),
    writebackNs: z.number().nonnegative().max(MAX_NS).default(12).describe('Cost of writing one dirty line back to memory.'),
    hitNs: z.number().nonnegative().max(MAX_NS).default(1).describe('Cost of a CPU access that hits the cache.'),
    missNs: z.number().nonnegative().max(MAX_NS).default(40).describe('Cost of a CPU access that misses and fills a line.'),
  })
  .describe('The CPU data cache, not coherent with device DMA unless a device or the interconnect says so.');

// Defaults of the CPU cost table. Each says where its figure comes from; the
// calibration test (test/sim/cost-calibration.test.ts) reproduces the cited
// ones from the model.
const cpuCosts = z
  .strictObject({
    // An estimate, not a measurement: a system call's entry and exit on an
    // ARMv7 core of ~1 GHz, the order lmbench's lat_syscall null reports there.
    syscallNs: z.number().nonnegative().max(MAX_NS).default(400).describe('CPU time of entering and leaving the kernel for one system call.'),
    // iommu_map_sg / iommu_unmap on a Qualcomm SM8150 SMMU, from the figures posted with
    // "iommu/io-pgtable: Optimize partial walk flush for large scatter-gather list"
    // (linux-arm-msm, 2021): 4 KiB 2.07 / 1.85 us, 1 MiB 149 / 131 us, 32 MiB 4747 / 1033 us.
    iommuMapCallNs: z.number().nonnegative().max(MAX_NS).default(1494).describe('CPU time of one iommu_map / iommu_map_sg call besides its entries.'),
    iommuMapPteNs: z.number().nonnegative().max(MAX_NS).default(576).describe('CPU time of writing one IOMMU page-table entry.'),
    iommuUnmapCallNs: z.number().nonnegative().max(MAX_NS).default(1140).describe('CPU time of one iommu_unmap call besides its entries and TLB invalidations.'),
    iommuUnmapPteNs: z.number().nonnegative().max(MAX_NS).default(384).describe('CPU time of clearing one IOMMU page-table entry.'),
    // An estimate: a page migration is a 4 KiB copy (through the cache model) plus
    // isolating, unmapping and remapping the page, a few microseconds on such cores.
    migratePageNs: z.number().nonnegative().max(MAX_NS).default(1500).describe('CPU time of migrating one page out of a CMA area, besides the copy.'),
    // An estimate: dma_fence_signal takes a spinlock and runs the callbacks.
    fenceSignalNs: z.number().nonnegative().max(MAX_NS).default(200).describe('CPU time of signalling one dma_fence.'),
  })
  .describe('The CPU time of kernel work that is not memory traffic (which the cache model costs).');

const cpu = z
  .strictObject({
    cores: z.number().int().min(1).max(64).default(2).describe('Number of CPU cores that threads run on.'),
    clockMHz: z.number().positive().max(10000).default(1000).describe('Core clock, for reading costs in cycles.'),
    costs: cpuCosts.prefault({}),
    cache: cache.prefault({}),
    prefetchProbability: z.number().min(0).max(1).default(0.05).describe('Probability per CPU access of a speculative prefetch (next line, or through a cacheable alias).'),
    bandwidth: bandwidth.default(4e9).describe('Rate of the CPU\'s port on the interconnect: its copies, fills and writebacks.'),
    flushThreshold: z
      .union([z.literal('auto'), size])
      .default('auto')
      .describe('Cache maintenance above this size flushes the whole cache instead of walking lines; "auto" calibrates at boot.'),
  })
  .describe('The CPU: its cores, the cost of its kernel work, its data cache and its memory bandwidth.');

const cmaArea = z
  .strictObject({
    name: name.describe('Name of the area; also the name of its dma-heap under /dev/dma_heap.'),
    size: size.describe('Bytes reserved for the area; a positive multiple of 4 MiB (a pageblock).'),
    base: size.optional().describe('Physical address to reserve it at (default: wherever the reservation fits).'),
    alignment: size.optional().describe('Alignment of the area\'s base address; a power of two, at least a pageblock (4 MiB).'),
    devices: z.array(name).default([]).describe('Devices whose contiguous allocations come from this area instead of the default one.'),
  })
  .describe('A per-device CMA area (a reserved-memory node with its own heap).');

const iommu = z
  .strictObject({
    name: name.describe('Name of the SMMU; devices name it in `iommu:`.'),
    tlbEntries: z.number().int().min(1).max(65536).default(128).describe('Entries of the TLB its contexts share.'),
    walkNs: z.number().nonnegative().max(MAX_NS).default(150).describe('Cost of a page-table walk on a TLB miss.'),
    contexts: z.number().int().min(1).max(128).default(8).describe('Contexts this SMMU has; each device behind it takes one.'),
  })
  .describe('An SMMU (IOMMU): translates the DMA of the devices that name it.');

/** The fields every platform device has: its name and its DMA constraints (struct device's dma_parms and masks). */
const deviceBase = {
  name: name.describe('Name of the device; scenarios and other fields refer to it by this name.'),
  dmaMaskBits: z.number().int().min(24).max(64).default(32).describe('Address bits its DMA can drive (dma_mask); memory above is reached only by bouncing or through an IOMMU.'),
  coherentMaskBits: z.number().int().min(24).max(64).optional().describe('Address bits for coherent allocations (coherent_dma_mask; default: dmaMaskBits).'),
  coherent: z.boolean().default(false).describe('Its DMA snoops the CPU caches, so it needs no cache maintenance.'),
  maxSegmentSize: size.default(64 * 1024).describe('Largest scatter-gather segment it takes (dma_parms.max_segment_size); positive.'),
  segmentBoundary: size.default(0xffffffff).describe('A segment may not cross a multiple of this + 1 (dma_parms.segment_boundary_mask).'),
  needsContiguous: z.boolean().default(false).describe('Without an IOMMU it needs physically contiguous buffers (CMA).'),
  alignment: size.default(4096).describe('Alignment its buffers need; a power of two.'),
  bandwidth: bandwidth.default(1e9).describe('Rate of its DMA.'),
  latencyNs: z.number().nonnegative().max(MAX_NS).default(100).describe('Time added to each of its DMA transfers, before the data moves at `bandwidth`.'),
  iommu: name.optional().describe('The SMMU whose context translates its DMA (default: none, physical addresses).'),
  bounce: z.boolean().default(false).describe('Use dmabounce: bounce buffers it cannot reach through memory it can.'),
};

/**
 * A platform device: the common fields plus those of its kind, one
 * variant per driver table row, told apart by `kind`.
 */
function deviceSchema(drivers: readonly PlatformDriver[]) {
  const [first, ...rest] = drivers.map((d) =>
    z.strictObject({ ...deviceBase, kind: z.literal(d.kind).describe(`The device's kind: ${d.description}.`), ...d.schema }).describe(d.description),
  );
  if (!first) throw new Error('a platform needs at least one driver table row');
  return z.discriminatedUnion('kind', [first, ...rest]);
}

/**
 * The schema of a platform file whose devices are the kinds of `drivers`
 * (the built-in driver table unless a test or tool adds rows).
 */
export function platformSchemaFor(drivers: readonly PlatformDriver[]) {
  return z
    .strictObject({
      name: platformName.describe('Name of the platform, as `--platform` and a scenario\'s `platform:` give it.'),
      description: z.string().default('').describe('One line for `unimem platforms`: what the SoC is.'),
      memory: z.array(bank).min(1).describe('Banks of physical memory; at least one dram bank.'),
      kernel: z
        .strictObject({
          lowmem: size.optional().describe('Bytes of the first DRAM bank the kernel maps linearly (lowmem); the rest is highmem (default: the bank, at most 760 MiB).'),
          vmalloc: size.default(240 * 1024 * 1024).describe('Size of the kernel\'s vmalloc area (vmap of buffers, kernel mappings of DMA memory).'),
        })
        .prefault({})
        .describe('The kernel\'s address space.'),
      cpu: cpu.prefault({}),
      interconnect: z
        .strictObject({ ioCoherent: z.boolean().default(false).describe('The interconnect snoops the CPU caches for every DMA master: no cache maintenance for DMA.') })
        .prefault({})
        .describe('The bus between the masters and memory.'),
      cma: z
        .strictObject({
          default: size.optional().describe('Size of the default CMA area (the "reserved" heap); a multiple of 4 MiB (default: none).'),
          areas: z.array(cmaArea).default([]).describe('Per-device CMA areas; with the default area at most half of DRAM. Not named reserved or system (the default and system heaps); a device in at most one area, which must lie below its DMA masks unless it has an IOMMU.'),
        })
        .prefault({})
        .describe('The Contiguous Memory Allocator\'s areas.'),
      iommus: z.array(iommu).default([]).describe('The SMMUs (IOMMUs).'),
      devices: z.array(deviceSchema(drivers)).default([]).describe('The DMA masters; each names its `kind`, the driver table row that binds it.'),
    })
    .describe('A platform file: the simulated SoC.');
}

/** The schema of a platform file on the built-in driver table. */
export const platformSchema = platformSchemaFor(PLATFORM_DRIVERS);

/** A validated platform file; a device's kind-specific fields are read through its driver. */
export type PlatformSpec = Omit<z.output<typeof platformSchema>, 'devices'> & { devices: DeviceSpec[] };

/** One platform device: the common fields, and whatever fields its kind's driver adds. */
export type DeviceSpec = z.output<z.ZodObject<typeof deviceBase>> & { kind: string; [field: string]: unknown };
