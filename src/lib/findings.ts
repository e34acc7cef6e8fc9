/**
 * Misuse that real hardware would not stop (a missing cache sync, a
 * conflicting cacheable alias, a use after unmap, a leak) is recorded as a
 * Finding, and the run goes on. Each finding carries the simulated time and
 * the call site that caused it, so the bug shows up every time with its cause.
 */
export type FindingKind =
  | 'missing-sync'
  | 'stale-read'
  | 'cache-alias'
  | 'dma-debug'
  | 'use-after-unmap'
  | 'stale-tlb'
  | 'iommu-fault'
  | 'leak'
  | 'process-failed'
  | 'bus-error'
  | 'integrity';

export interface Finding {
  kind: FindingKind;
  message: string;
  /** Simulated time in nanoseconds when it was found. */
  timeNs: number;
  /** The API call that caused it, e.g. `dma_unmap_page`. */
  call: string;
  /** The caller's source location, when known. */
  site?: string;
}

/** Collects findings for one simulated system. */
export class FindingLog {
  readonly findings: Finding[] = [];
  private readonly now: () => number;
  constructor(now: () => number) {
    this.now = now;
  }

  /** Records a finding (WARN_ON-style: report and continue). */
  report(kind: FindingKind, call: string, message: string): Finding {
    const f: Finding = { kind, message, timeNs: this.now(), call, site: callerSite() };
    this.findings.push(f);
    return f;
  }

  /** Returns the findings of one kind. */
  ofKind(kind: FindingKind): Finding[] {
    return this.findings.filter((f) => f.kind === kind);
  }
}

/** The first stack frame outside unimem's kernel and hardware layers. */
function callerSite(): string | undefined {
  // the caller can sit deep below a fault (an engine's DMA through an SMMU walk): V8's default 10 frames may not reach it
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const stack = new Error().stack?.split('\n').slice(2) ?? [];
  Error.stackTraceLimit = limit;
  for (const line of stack) {
    if (/\/src\/(lib|hw|mm|iommu|dma|fs|dmabuf|drivers|proc)\//.test(line)) continue;
    if (line.includes('node:internal') || line.includes('node_modules')) continue;
    const m = /\(?([^\s()]+:\d+:\d+)\)?$/.exec(line.trim());
    if (m) return m[1];
  }
  return undefined;
}
