import { z } from 'zod';
import { PLATFORM_DRIVERS, type PlatformDriver } from '../drivers/index.ts';
import { bandwidth, size } from './units-schema.ts';

const name = z.string().regex(/^[a-z][a-z0-9_-]*$/i, 'must be a name of letters, digits, - and _');

const bank = z.strictObject({
  name,
  base: size,
  size,
  kind: z.enum(['dram', 'sram']).default('dram'),
});

const cache = z.strictObject({
  size: size.default(512 * 1024),
  ways: z.number().int().min(1).max(64).default(8),
  lineSize: size.default(64),
  lineOpNs: z.number().positive().default(4),
  setWayOpNs: z.number().positive().default(1),
  writebackNs: z.number().nonnegative().default(12),
  hitNs: z.number().nonnegative().default(1),
  missNs: z.number().nonnegative().default(40),
});

const cpu = z.strictObject({
  cache: cache.prefault({}),
  /** Probability per CPU access of a speculative prefetch (next line, or through a cacheable alias). */
  prefetchProbability: z.number().min(0).max(1).default(0.05),
  bandwidth: bandwidth.default(4e9),
  /** Cache maintenance above this size flushes the whole cache; "auto" calibrates at boot. */
  flushThreshold: z.union([z.literal('auto'), size]).default('auto'),
});

const cmaArea = z.strictObject({
  name,
  size,
  base: size.optional(),
  alignment: size.optional(),
  /** Devices whose contiguous allocations come from this area instead of the default one. */
  devices: z.array(name).default([]),
});

const iommu = z.strictObject({
  name,
  tlbEntries: z.number().int().min(1).max(65536).default(128),
  walkNs: z.number().nonnegative().default(150),
  /** Contexts this SMMU has; devices pick theirs with `iommu:`. */
  contexts: z.number().int().min(1).max(128).default(8),
});

/** The fields every platform device has: its name and its DMA constraints (struct device's dma_parms and masks). */
const deviceBase = {
  name,
  dmaMaskBits: z.number().int().min(24).max(64).default(32),
  coherentMaskBits: z.number().int().min(24).max(64).optional(),
  coherent: z.boolean().default(false),
  maxSegmentSize: size.default(64 * 1024),
  segmentBoundary: size.default(0xffffffff),
  needsContiguous: z.boolean().default(false),
  alignment: size.default(4096),
  bandwidth: bandwidth.default(1e9),
  latencyNs: z.number().nonnegative().default(100),
  /** The SMMU whose context translates this device's DMA; none means physical addresses. */
  iommu: name.optional(),
  /** Use dmabounce for buffers the device cannot reach. */
  bounce: z.boolean().default(false),
};

/**
 * A platform device: the common fields plus those of its kind, one
 * variant per driver table row, told apart by `kind`.
 */
function deviceSchema(drivers: readonly PlatformDriver[]) {
  const [first, ...rest] = drivers.map((d) => z.strictObject({ ...deviceBase, kind: z.literal(d.kind), ...d.schema }));
  if (!first) throw new Error('a platform needs at least one driver table row');
  return z.discriminatedUnion('kind', [first, ...rest]);
}

/**
 * The schema of a platform file whose devices are the kinds of `drivers`
 * (the built-in driver table unless a test or tool adds rows).
 */
export function platformSchemaFor(drivers: readonly PlatformDriver[]) {
  return z.strictObject({
    name,
    description: z.string().default(''),
    memory: z.array(bank).min(1),
    kernel: z
      .strictObject({
        /** Bytes of the first DRAM bank that the kernel maps linearly (lowmem); the rest is highmem. */
        lowmem: size.optional(),
        vmalloc: size.default(240 * 1024 * 1024),
      })
      .prefault({}),
    cpu: cpu.prefault({}),
    interconnect: z.strictObject({ ioCoherent: z.boolean().default(false) }).prefault({}),
    cma: z
      .strictObject({
        default: size.optional(),
        areas: z.array(cmaArea).default([]),
      })
      .prefault({}),
    iommus: z.array(iommu).default([]),
    devices: z.array(deviceSchema(drivers)).default([]),
  });
}

/** The schema of a platform file on the built-in driver table. */
export const platformSchema = platformSchemaFor(PLATFORM_DRIVERS);

/** A validated platform file; a device's kind-specific fields are read through its driver. */
export type PlatformSpec = Omit<z.output<typeof platformSchema>, 'devices'> & { devices: DeviceSpec[] };

/** One platform device: the common fields, and whatever fields its kind's driver adds. */
export type DeviceSpec = z.output<z.ZodObject<typeof deviceBase>> & { kind: string; [field: string]: unknown };
