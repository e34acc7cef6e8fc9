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

/**
 * Runs scenario `name` under injection and checks what a run must keep:
 * the allocators consistent, a finding per injected failure when verbose,
 * every failure shown, no leak; returns how many failures were injected.
 */
async function injectedRun(name: string, seed: number, frames: number, faults: FaultSetting[], verbose: number): Promise<number> {
  const s = loadScenario(name);
  const keep = keepSystem();
  let r: Awaited<ReturnType<typeof runScenario>>;
  try {
    r = await runScenario(s, loadPlatform(s.spec.platform), { seed, frames, faults, observer: keep.observer });
  } catch (e) {
    // a kernel-level pipeline drives the kernel itself: its allocation failing ends the run with that errno
    if (!isKernelError(e, 'ENOMEM', 'EIO', 'EBUSY')) throw e;
    expect(s.spec.pipeline, `${name}: ${(e as Error).message}`).toBeDefined();
    checkInvariants(keep.sys());
    return keep.sys().soc.faults.injected;
  }
  const sys = keep.sys();
  checkInvariants(sys);
  const injected = sys.soc.faults.injected;
  // verbose: one finding per injected failure; silent: none, the failure shows as an errno, a kill or a finding of its own
  expect(r.findings.filter((f) => f.kind === 'fault-injection')).toHaveLength(verbose ? injected : 0);
  if (injected > 0 && !r.integrity.ok) expect(r.findings.filter((f) => f.kind !== 'fault-injection').length, `${name}: a failed run says why`).toBeGreaterThan(0);
  const text = JSON.stringify(r.findings);
  expect(text).not.toMatch(/KernelBug|TypeError|RangeError|ReferenceError|is not a function|undefined/);
  const pr = r as ProcessRunResult;
  if (pr.processes) {
    for (const p of pr.processes) if (p.error !== undefined) expect(p.error, `${name}: ${p.name}`).toMatch(ERRNO_TEXT);
    expect(pr.leaks, `${name} seed ${seed} ${JSON.stringify(faults.map((f) => f.name))}`).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
  }
  return injected;
}

describe('fault injection over the built-in scenarios', () => {
  // still-capture's 12 MP frames under memory pressure take seconds a run: it gets its own, shorter property below
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
          injected += await injectedRun(name, seed, 2, allPoints(probability, points, times, interval, verbose), verbose);
        },
      ),
      { numRuns: 30 },
    );
    expect(injected).toBeGreaterThan(0);
  });

  it('still-capture (12 MP from a CMA heap under memory pressure, migration, JPEG) keeps the same promises under injection', { timeout: 120_000 }, async () => {
    let injected = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(10, 40), async (seed, probability) => {
        injected += await injectedRun('still-capture', seed, 1, allPoints(probability), 1);
      }),
      { numRuns: 2 },
    );
    expect(injected).toBeGreaterThan(0);
  });
});
