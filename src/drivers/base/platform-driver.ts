import type { z } from 'zod';
import type { Clock } from '../../hw/index.ts';
import type { Device } from '../../dma/index.ts';
import type { DmaBufSystem } from '../../dmabuf/index.ts';
import type { IommuDomain } from '../../iommu/index.ts';
import type { Vfs } from '../../fs/index.ts';
import type { Mm } from '../../mm/index.ts';

/**
 * One device of the platform file as its driver sees it (struct
 * platform_device): its name, its kind, and the fields its kind's schema
 * adds, already validated.
 */
export interface PlatformDeviceSpec {
  name: string;
  kind: string;
  [field: string]: unknown;
}

/** What a driver's probe gets: the device, its struct device, and the kernel services it registers with. */
export interface ProbeContext {
  spec: PlatformDeviceSpec;
  /** The struct device: DMA mask, dma_map_ops, CMA area, IOMMU domain. */
  device: Device;
  vfs: Vfs;
  dbs: DmaBufSystem;
  mm: Mm;
  clock: Clock;
  /** The boot's seed, for hardware that makes data (a sensor's pattern). */
  seed: number;
  /** Boot-time settings a driver reads as module parameters would be. */
  params: BootParams;
  /** The IOMMU domain the device's DMA goes through, or null without an IOMMU (iommu_get_domain_for_dev). */
  iommuDomain?: IommuDomain | null;
}

/** Module parameters boot passes to every driver (each driver reads the ones it has). */
export interface BootParams {
  /** A display's KMS mode. */
  kmsMode: { width: number; height: number };
  /** A camera's frame rate at probe. */
  cameraFps?: number;
}

/** A device node a probe created, and what it is for. */
export interface ProbedNode {
  path: string;
  /** What the node does, as a stage asks for it: 'capture', 'm2m', 'encoder', 'decoder', 'kms', 'render', 'pcm-playback'. */
  role: string;
}

/** What a probe leaves: the nodes it registered and the driver's own state. */
export interface ProbeResult<T> {
  nodes: ProbedNode[];
  data: T;
}

/**
 * A row of the driver table (struct platform_driver with its
 * of_match_table): the platform-file kind it binds to, the extra fields
 * that kind takes in the platform file, and its probe. A kind with no
 * probe names a DMA master that no driver binds (a DMA engine used by
 * kernel-level pipelines): its struct device exists, nothing registers.
 */
export interface PlatformDriver<T = unknown> {
  /** The `kind:` of platform-file devices it binds (its compatible string). */
  kind: string;
  /** The driver's name (platform_driver.driver.name). */
  name: string;
  /** One line for `unimem platform`: what the device is. */
  description: string;
  /** Fields this kind adds to a platform-file device, beyond the DMA fields every device has. */
  schema?: z.ZodRawShape;
  /** Binds one device: registers its nodes (the driver's probe). */
  probe?: (ctx: ProbeContext) => ProbeResult<T>;
  /** Lets the device's deferred work finish (objects freed after their fences, a last scanout), before a leak check. */
  settle?(data: T): Promise<void>;
}

/** A device a driver bound at boot. */
export interface BoundDevice<T = unknown> {
  /** The platform device's name. */
  name: string;
  kind: string;
  driver: PlatformDriver<T>;
  nodes: ProbedNode[];
  data: T;
}

/** The path of a bound device's node with this role, if it has one. */
export function boundNode(dev: BoundDevice, role: string): string | undefined {
  return dev.nodes.find((n) => n.role === role)?.path;
}

/** Defines a driver table row with its data type (module_platform_driver). */
export function platformDriver<T>(row: PlatformDriver<T>): PlatformDriver<T> {
  return row;
}
