import type { RunResult } from '../sim/index.ts';

/**
 * Counters sampled every `intervalNs` of simulated time during a run: one
 * entry per sample in every array, all values cumulative since boot (the
 * report turns them into rates per interval).
 */
export interface RunSamples {
  intervalNs: number;
  /** Simulated time of each sample, ns. */
  t: number[];
  /** Interconnect ports (bus masters, the CPU included) in order. */
  masters: string[];
  /**
   * Bytes each master moved (read + written) by each sample: [master][sample],
   * each transfer spread over the time it took (filled in when the run
   * finishes, from the BusRecorder).
   */
  masterBytes: number[][];
  cacheCleanBytes: number[];
  cacheInvalidateBytes: number[];
  /** Whole-cache clean/invalidate operations (they move no counted bytes, so they are counted apart). */
  cacheFullFlushes: number[];
  cmaAreas: string[];
  /** Bytes handed out as CMA buffers at each sample: [area][sample]. */
  cmaUsedBytes: number[][];
  /** The platform's SMMUs in order (none when no device sits behind one). */
  smmus: string[];
  /** IOTLB misses (each a page-table walk) of each SMMU by each sample: [smmu][sample]. */
  smmuTlbMisses: number[][];
}

/** One displayed frame: when the sensor started it and when the display showed it (simulated ns). */
export interface FrameSample {
  frame: number;
  capturedAtNs: number;
  shownAtNs: number;
}

/** A run of physical pages with one owner. */
export interface MemRegion {
  base: number;
  size: number;
  /** Who holds the pages: `dma-buf 3 (frame buffer 0)`, `page-cache`, `kernel`, `reserved`, ... */
  owner: string;
}

/** The physical memory map at the snapshot, while the frame buffers are live. */
export interface MemoryMap {
  banks: { name: string; base: number; size: number; kind: string }[];
  cma: { name: string; base: number; size: number; usedBytes: number; borrowedBytes: number; devices: string[] }[];
  /** Allocated runs in address order; free pages are the gaps. */
  regions: MemRegion[];
}

/** A device's I/O virtual address space: its DMA domain's allocated IOVA ranges. */
export interface IovaSpace {
  device: string;
  domain: string;
  apertureStart: number;
  apertureEnd: number;
  /** Allocated ranges in address order, labelled with the buffer mapped there when known. */
  ranges: { start: number; size: number; owner: string }[];
}

/** One dma-buf with who exports it, who imports it and which processes hold it. */
export interface BufferNode {
  ino: number;
  name: string;
  size: number;
  exporter: string;
  creator: string;
  /** The exporter's account of the storage (contiguous or scattered, where). */
  storage: string;
  attachments: { device: string; mapped: string[] }[];
  holders: { pid: number; comm: string; fd: number }[];
  /** CPU mappings of the buffer (mmap of its fd) in each process's address space. */
  mappings: { pid: number; comm: string; start: number; length: number }[];
  /** The kernel's own references on the buffer (a queue slot, a GEM import, a framebuffer, a job...), each with the call that took it. */
  kernelRefs?: { kind: string; holder: string; site: string; timeNs: number }[];
}

/** A process alive (or a zombie) at the snapshot, whether or not it holds a buffer. */
export interface ProcessNode {
  pid: number;
  comm: string;
}

/** Everything a report shows besides the RunResult. */
export interface ReportCapture {
  samples: RunSamples;
  frames: FrameSample[];
  memory: MemoryMap;
  iova: IovaSpace[];
  buffers: BufferNode[];
  /** Every process at the snapshot, by pid. */
  processes: ProcessNode[];
}

/** The input of the HTML report: what the run measured and what was captured during it. */
export interface ReportInput {
  result: RunResult;
  capture: ReportCapture;
}
