import { CostLedger, FaultInjection, FindingLog, Tracer } from '../lib/index.ts';
import { CpuCache, type CacheConfig } from './cache.ts';
import { Clock } from './clock.ts';
import { CpuCores, type CpuCoresConfig } from './cpu-cores.ts';
import { Cpu } from './cpu.ts';
import { DmaMaster } from './dma-master.ts';
import { Interconnect } from './interconnect.ts';
import { PhysicalMemory, type MemoryBankConfig } from './memory.ts';
import { Prng } from './prng.ts';

/** Everything needed to build the hardware of one SoC. */
export interface SocHwConfig {
  seed: number;
  banks: MemoryBankConfig[];
  cache?: Partial<CacheConfig>;
  /** Probability per CPU access of a speculative prefetch. */
  prefetchProbability?: number;
  /** Whether the interconnect makes DMA coherent with the CPU cache. */
  ioCoherent?: boolean;
  /** CPU's own port (for accounting its memory traffic). */
  cpuBandwidth?: number;
  masters: { name: string; coherent: boolean; bandwidth: number; latencyNs: number }[];
  /** The CPU cores threads run on (default: one at 1 GHz). */
  cores?: CpuCoresConfig;
  /** Whether the clock wakes a lone sleeper without a turn of the event loop (default true; off only for tests that compare). */
  quietSleeps?: boolean;
}

/**
 * One simulated SoC: the clock, the PRNG, physical memory, the interconnect,
 * the CPU with its cache, and the DMA masters. SMMUs are added by the
 * platform builder and installed as masters' translators.
 */
export class Soc {
  readonly clock: Clock;
  readonly prng: Prng;
  readonly mem: PhysicalMemory;
  readonly bus: Interconnect;
  readonly cache: CpuCache;
  readonly cpu: Cpu;
  /** Every cost paid, and the thread that paid it. */
  readonly costs: CostLedger;
  /** The cores that threads run their CPU work on. */
  readonly cores: CpuCores;
  readonly masters = new Map<string, DmaMaster>();
  readonly findings: FindingLog;
  /**
   * The fault-injection points (fail_page_alloc, failslab, ...), all off
   * until configured. They draw from their own PRNG, seeded from the run's
   * seed, so turning injection on changes no other random choice.
   */
  readonly faults: FaultInjection;
  readonly seed: number;
  /** Records a Chrome trace of the run when installed (startTrace); null costs nothing. */
  tracer: Tracer | null = null;

  constructor(cfg: SocHwConfig) {
    this.seed = cfg.seed;
    this.clock = new Clock({ quietSleeps: cfg.quietSleeps });
    this.prng = new Prng(cfg.seed);
    this.mem = new PhysicalMemory(cfg.banks);
    this.bus = new Interconnect();
    this.cache = new CpuCache(this.mem, this.prng, cfg.cache);
    this.cache.now = () => this.clock.now;
    this.cpu = new Cpu(this.mem, this.cache, this.prng, {
      prefetchProbability: cfg.prefetchProbability ?? 0,
      ioCoherent: cfg.ioCoherent ?? false,
    });
    this.findings = new FindingLog(() => this.clock.now);
    this.costs = new CostLedger(() => this.clock.now);
    this.cache.ledger = this.costs;
    this.cores = new CpuCores(cfg.cores ?? { count: 1, clockHz: 1e9 }, this.clock, this.costs);
    const faultPrng = new Prng((cfg.seed ^ 0x6661696c) >>> 0);
    this.faults = new FaultInjection(() => faultPrng.next());
    this.faults.report = (_attr, call, message) => void this.findings.report('fault-injection', call, message);
    this.bus.addMaster({ name: 'cpu', bandwidth: cfg.cpuBandwidth ?? 4e9, latencyNs: 0 });
    for (const m of cfg.masters) this.addMaster(m);
  }

  /** Adds a DMA master with its own interconnect port. */
  addMaster(m: { name: string; coherent: boolean; bandwidth: number; latencyNs: number }): DmaMaster {
    if (this.masters.has(m.name)) throw new Error(`DMA master ${m.name} already exists`);
    const port = this.bus.addMaster({ name: m.name, bandwidth: m.bandwidth, latencyNs: m.latencyNs });
    const dm = new DmaMaster({ name: m.name, coherent: m.coherent }, port, this.mem, this.cache, this.clock, this.bus);
    dm.tracer = this.tracer;
    this.masters.set(m.name, dm);
    return dm;
  }

  /** Starts recording a trace of everything the hardware does from now on. */
  startTrace(limit?: number): Tracer {
    this.tracer = new Tracer(() => this.clock.now, limit);
    for (const m of this.masters.values()) m.tracer = this.tracer;
    this.cache.tracer = this.tracer;
    return this.tracer;
  }

  /** Returns a DMA master by name or throws. */
  master(name: string): DmaMaster {
    const m = this.masters.get(name);
    if (!m) throw new Error(`no DMA master named ${name}`);
    return m;
  }
}
