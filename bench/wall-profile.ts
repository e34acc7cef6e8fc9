import { existsSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The parts of the simulation a run's wall time is split into, each a set
 * of source folders or files (the layers of DESIGN.md, with the hot
 * hardware models apart):
 *   engineKernels  the devices' per-pixel work: the WebAssembly kernels
 *                  (the checker's among them), src/formats, the codec's CRC-32
 *   checker        the checker's own TypeScript and its compares (src/sim/reference,
 *                  src/sim/pipeline: the expected frames; Buffer compares)
 *   memoryCopies   src/hw/memory.ts: every byte a device or the CPU model moves
 *   cpuCache       the CPU and its non-coherent cache model (src/hw/cpu*.ts, cache.ts)
 *   smmu           the SMMU model and the IOMMU API (src/hw/smmu-*, src/iommu)
 *   kernel         the rest of the simulated kernel and hardware (mm, dma, fs,
 *                  dmabuf, drivers, proc, the engines' DMA)
 *   programs       the simulated processes' own code (src/sim/stages)
 *   scheduling     the clock and the threads' turns: src/hw/clock.ts,
 *                  quiet-probe.ts, cpu-cores.ts, src/lib/task-locals.ts, V8's
 *                  microtask and tick loops
 *   accounting     the cost ledger (src/lib/cost-*.ts)
 *   gc             V8's garbage collector
 *   profiler       the inspector's own work (starting the profiler)
 *   other          everything else (the rest of src/sim: boot and setup; Node itself, idle)
 */
export const WALL_PARTS = ['engineKernels', 'checker', 'memoryCopies', 'cpuCache', 'smmu', 'kernel', 'programs', 'scheduling', 'accounting', 'gc', 'profiler', 'other'] as const;
export type WallPart = (typeof WALL_PARTS)[number];

/** Wall milliseconds per part (sampled), and the total sampled. */
export type WallShares = Record<WallPart, number> & { total: number };

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Runs `fn` under V8's sampling CPU profiler (one sample every `intervalUs`), and splits the wall time it took into WALL_PARTS. */
export async function withWallProfile<T>(fn: () => Promise<T>, intervalUs = 500): Promise<{ result: T; shares: WallShares }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    // a run that throws leaves the profiler to the session's end (below)
    const result = await fn();
    const { profile } = await session.post('Profiler.stop');
    return { result, shares: wallShares(profile as unknown as CpuProfile) };
  } finally {
    session.disconnect();
  }
}

/** Sampled wall time per part of `profile`, in ms. */
export function wallShares(profile: CpuProfile): WallShares {
  const sources = new SourceFiles();
  const partOf = new Map<number, WallPart>();
  for (const n of profile.nodes) partOf.set(n.id, partOfFrame(n.callFrame, sources));
  const shares = { total: 0 } as WallShares;
  for (const p of WALL_PARTS) shares[p] = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    shares[partOf.get(profile.samples[i]!) ?? 'other'] += ms;
    shares.total += ms;
  }
  return shares;
}

/** The part a sampled function belongs to, by its source file (through the build's source map when it runs compiled). */
function partOfFrame(f: CallFrame, sources: SourceFiles): WallPart {
  const name = f.functionName;
  if (name === '(garbage collector)') return 'gc';
  if (name.startsWith('wasm-function') || name.startsWith('js-to-wasm') || name === 'crc32') return 'engineKernels';
  if (name === 'runMicrotasks' || name === 'processTicksAndRejections') return 'scheduling';
  if (!f.url.startsWith('file:')) {
    if (name === 'compare' || name === 'compareOffset') return 'checker';
    return f.url === 'node:inspector' || (f.url === '' && name === 'dispatch') ? 'profiler' : 'other';
  }
  const src = sources.sourceOf(f);
  if (src === null) return 'other';
  return partOfSource(src);
}

/** The part a file under src/ belongs to (`hw/cache.ts`). */
export function partOfSource(src: string): WallPart {
  if (src.startsWith('sim/reference/') || src.startsWith('sim/pipeline/') || src === 'formats/frame-bytes.ts') return 'checker';
  if (src.startsWith('sim/stages/')) return 'programs';
  if (src.startsWith('formats/')) return 'engineKernels';
  if (src === 'hw/memory.ts') return 'memoryCopies';
  if (src === 'hw/cache.ts' || src.startsWith('hw/cpu.ts') || src === 'proc/cpu-access.ts') return 'cpuCache';
  if (src.startsWith('hw/smmu') || src.startsWith('iommu/')) return 'smmu';
  if (src === 'hw/clock.ts' || src === 'hw/quiet-probe.ts' || src === 'hw/cpu-cores.ts' || src === 'lib/task-locals.ts') return 'scheduling';
  if (src.startsWith('lib/cost-')) return 'accounting';
  if (/^(hw|mm|dma|fs|dmabuf|drivers|proc|uapi)\//.test(src)) return 'kernel';
  return 'other';
}

/** A script's source map, read once, for the compiled build (dist/): it names the src/ file of each function. */
class SourceFiles {
  private readonly maps = new Map<string, SourceMap | null>();

  /** The path under src/ of the function at `f`, or null outside the project's sources. */
  sourceOf(f: CallFrame): string | null {
    if (f.url.endsWith('.ts')) return underSrc(f.url);
    const map = this.mapOf(f.url);
    if (!map) return null;
    const e = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string };
    return e.originalSource ? underSrc(e.originalSource) : null;
  }

  private mapOf(url: string): SourceMap | null {
    let m = this.maps.get(url);
    if (m === undefined) {
      const file = fileURLToPath(url) + '.map';
      m = existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, 'utf8'))) : null;
      this.maps.set(url, m);
    }
    return m;
  }
}

function underSrc(path: string): string | null {
  const i = path.lastIndexOf('/src/');
  return i >= 0 ? path.slice(i + 5) : null;
}
