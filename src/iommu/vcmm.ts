import type { Cpu } from '../hw/index.ts';
import { kerr } from '../lib/index.ts';
import type { SmmuDriver } from './smmu-driver.ts';
import { MemoryTarget, type MemoryTargetConfig } from './vcm-phys.ts';
import type { VmmSpace } from './vmm-space.ts';

/** What the VCM manager works with. */
export interface VcmmConfig {
  /** The SMMU driver IOMMU VCMs get their domains from. */
  driver: SmmuDriver;
  /** The CPU, asked about cacheable aliases by the aliasing rule. */
  cpu: Cpu;
  /** The kernel's address space, for the VMM VCM; without it vcm_create_from_prebuilt fails. */
  vmm?: VmmSpace | null;
  /** The platform's memory targets. */
  targets?: MemoryTargetConfig[];
}

/**
 * The Virtual Contiguous Memory Manager of one system: the memory targets,
 * the SMMU driver, the CPU and the kernel address space every VCM call
 * works against (the VCMM's global state, kept per simulated system).
 */
export class Vcmm {
  readonly driver: SmmuDriver;
  readonly cpu: Cpu;
  readonly vmm: VmmSpace | null;
  readonly targets = new Map<string, MemoryTarget>();
  private seq = 0;

  constructor(cfg: VcmmConfig) {
    this.driver = cfg.driver;
    this.cpu = cfg.cpu;
    this.vmm = cfg.vmm ?? null;
    for (const t of cfg.targets ?? []) this.addMemoryTarget(t);
  }

  /** Registers a memory target; EEXIST when the name is taken, EINVAL when it overlaps another. */
  addMemoryTarget(cfg: MemoryTargetConfig): MemoryTarget {
    if (this.targets.has(cfg.name)) throw kerr('EEXIST', `memory target ${cfg.name} exists`);
    const t = new MemoryTarget(cfg);
    for (const o of this.targets.values()) {
      for (const r of t.ranges) {
        if (o.ranges.some((q) => r.base < q.base + q.size && q.base < r.base + r.size)) {
          throw kerr('EINVAL', `memory target ${cfg.name} overlaps ${o.name}`);
        }
      }
    }
    this.targets.set(cfg.name, t);
    return t;
  }

  /** The memory target whose physical ranges contain [pa, pa+len), or null. */
  targetContaining(pa: number, len: number): MemoryTarget | null {
    for (const t of this.targets.values()) if (t.contains(pa, len)) return t;
    return null;
  }

  /** Returns a fresh object id for names. */
  nextId(): number {
    return this.seq++;
  }
}
