import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAULT_POINTS, isKernelError, type FaultPointName, type FaultSetting } from '../../src/lib/index.ts';
import { builtinScenarios, loadPlatform, loadScenario, runScenario, type RunObserver, type System } from '../../src/sim/index.ts';
import type { ProcessRunResult } from '../../src/sim/run-processes.ts';
import { checkInvariants } from './fault-invariants.ts';

/** The fault points on at `probability` percent, each failing at most `times` times (-1: no limit), reported as findings when verbose. */
export function allPoints(probability: number, points: readonly FaultPointName[] = FAULT_POINTS, times = -1, interval = 1, verbose = 1): FaultSetting[] {
  return points.map((name) => ({ name, knobs: { probability, times, interval, verbose, ...(name === 'fail_page_alloc' ? { 'min-order': 0 } : {}) } }));
}

/** Keeps the system a run booted, to walk its allocators once the run is over. */
function keepSystem(): { observer: RunObserver; sys: () => System } {
  let kept: System | null = null;
  return {
    observer: { booted: (s) => void (kept = s), frameShown: () => {}, finished: (s) => void (kept = s) },
    sys: () => kept!,
  };
}

/** Where an injected failure may surface in a run: the errno a process died of, or the run's own KernelError. */
const ERRNO_TEXT = /\bE[A-Z]{2,}\b|killed by SIG|signal \d+|status 137/;

describe('fault injection over the built-in scenarios', () => {
  // still-capture's 12 MP frames under memory pressure take seconds a run: too slow to repeat here
  const scenarios = builtinScenarios().filter((n) => n !== 'still-capture');

  it('keeps every allocator consistent, leaks nothing and shows every failure, at any seed and probability', { timeout: 60_000 }, async () => {
    let injected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...scenarios),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom(2, 10, 40, 100),
        fc.subarray([...FAULT_POINTS], { minLength: 1 }),
        fc.constantFrom(1, 2, 5),
        fc.constantFrom(1, 3, 20),
        fc.constantFrom(0, 1),
        async (name, seed, probability, points, times, interval, verbose) => {
          const s = loadScenario(name);
          const keep = keepSystem();
          let r: Awaited<ReturnType<typeof runScenario>>;
          try {
            r = await runScenario(s, loadPlatform(s.spec.platform), { seed, frames: 2, faults: allPoints(probability, points, times, interval, verbose), observer: keep.observer });
          } catch (e) {
            // a kernel-level pipeline drives the kernel itself: its allocation failing ends the run with that errno
            if (!isKernelError(e, 'ENOMEM', 'EIO', 'EBUSY')) throw e;
            expect(s.spec.pipeline, `${name}: ${(e as Error).message}`).toBeDefined();
            checkInvariants(keep.sys());
            injected += keep.sys().soc.faults.injected;
            return;
          }
          const sys = keep.sys();
          checkInvariants(sys);
          const faults = sys.soc.faults;
          injected += faults.injected;
          // verbose: one finding per injected failure; silent: none, the failure shows as an errno, a kill or a finding of its own
          expect(r.findings.filter((f) => f.kind === 'fault-injection')).toHaveLength(verbose ? faults.injected : 0);
          if (faults.injected > 0 && !r.integrity.ok) expect(r.findings.filter((f) => f.kind !== 'fault-injection').length, `${name}: a failed run says why`).toBeGreaterThan(0);
          const text = JSON.stringify(r.findings);
          expect(text).not.toMatch(/KernelBug|TypeError|RangeError|ReferenceError|is not a function|undefined/);
          const pr = r as ProcessRunResult;
          if (pr.processes) {
            for (const p of pr.processes) if (p.error !== undefined) expect(p.error, `${name}: ${p.name}`).toMatch(ERRNO_TEXT);
            expect(pr.leaks, `${name} seed ${seed} p=${probability} ${points.join(',')}`).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
          }
        },
      ),
      { numRuns: 30 },
    );
    expect(injected).toBeGreaterThan(0);
  });
});
