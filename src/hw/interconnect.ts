/** A bus master's port onto the interconnect. */
export interface MasterPortConfig {
  name: string;
  /** Sustained bandwidth in bytes per second. */
  bandwidth: number;
  /** Fixed cost of one transaction in nanoseconds. */
  latencyNs: number;
}

export interface MasterPort extends MasterPortConfig {
  bytesRead: number;
  bytesWritten: number;
  transfers: number;
  busyNs: number;
}

/**
 * The SoC interconnect: each master has its own bandwidth and latency; a
 * transfer of `n` bytes takes latency + n / bandwidth, and every byte is
 * counted per master so a run can show who used the bus.
 */
export class Interconnect {
  readonly ports = new Map<string, MasterPort>();

  /** Adds a master's port. */
  addMaster(cfg: MasterPortConfig): MasterPort {
    if (this.ports.has(cfg.name)) throw new Error(`bus master ${cfg.name} already exists`);
    if (!(cfg.bandwidth > 0)) throw new Error(`bus master ${cfg.name}: bandwidth must be positive`);
    const p: MasterPort = { ...cfg, bytesRead: 0, bytesWritten: 0, transfers: 0, busyNs: 0 };
    this.ports.set(cfg.name, p);
    return p;
  }

  /** Returns a master's port or throws. */
  port(name: string): MasterPort {
    const p = this.ports.get(name);
    if (!p) throw new Error(`no bus master named ${name}`);
    return p;
  }

  /** Accounts one transfer and returns how long it takes in simulated ns. */
  transfer(port: MasterPort, readBytes: number, writeBytes: number): number {
    port.bytesRead += readBytes;
    port.bytesWritten += writeBytes;
    port.transfers++;
    const ns = port.latencyNs + ((readBytes + writeBytes) / port.bandwidth) * 1e9;
    port.busyNs += ns;
    return ns;
  }
}
