import type { Cpu, DmaMaster } from '../hw/index.ts';
import type { IommuDevice } from './iommu-device.ts';

/** A device without an IOMMU: its bus addresses are physical addresses (it takes one-to-one VCMs). */
export interface DirectDevice {
  readonly kind: 'direct';
  readonly name: string;
  readonly master: DmaMaster;
}

/** The CPU running Linux, whose address space is the VMM's (it takes the VMM VCM). */
export interface CpuDevice {
  readonly kind: 'cpu';
  readonly name: string;
  readonly cpu: Cpu;
}

/** Any device a VCM can be associated with: one behind an IOMMU, a direct one, or the CPU. */
export type VcmDevice = IommuDevice | DirectDevice | CpuDevice;

/** Describes a device that addresses memory physically; EINVAL-worthy if it sits behind a translator. */
export function directDevice(name: string, master: DmaMaster): DirectDevice {
  if (master.translator) throw new Error(`${name}: ${master.name} is behind a translator, not a direct device`);
  return { kind: 'direct', name, master };
}

/** Describes the CPU as a VCM device. */
export function cpuDevice(cpu: Cpu, name = 'cpu'): CpuDevice {
  return { kind: 'cpu', name, cpu };
}
