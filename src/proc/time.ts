import { kerr } from '../lib/index.ts';
import { WaitQueueHead, waitEvent } from '../fs/index.ts';
import {
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE,
  CLOCK_TAI,
  NSEC_PER_SEC,
  TIMER_ABSTIME,
  type Timespec,
} from '../uapi/index.ts';
import type { ProcKernel } from './kernel.ts';
import type { Process } from './process.ts';

/**
 * CLOCK_REALTIME when the simulated machine boots (2023-01-01T00:00:00Z):
 * fixed, so a run's wall-clock readings are the same on every replay.
 */
export const REALTIME_AT_BOOT_SEC = 1_672_531_200;
/** The scheduler tick (CONFIG_HZ=100, ARM's default): what the coarse clocks advance by. */
export const TICK_NS = 10_000_000;

/** Clocks clock_nanosleep sleeps on; the others it knows have no nsleep (EOPNOTSUPP). */
const NSLEEP_CLOCKS = new Set([CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_TAI]);
const READ_ONLY_CLOCKS = new Set([CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE]);

/** True for the clocks that count from the epoch rather than from boot. */
function isWallClock(id: number): boolean {
  return id === CLOCK_REALTIME || id === CLOCK_REALTIME_COARSE || id === CLOCK_TAI;
}

/**
 * clock_gettime(2) on the simulated clock: MONOTONIC, MONOTONIC_RAW and
 * BOOTTIME count from boot (no suspend, no NTP slewing, so they agree);
 * REALTIME and TAI (offset 0 until NTP sets one) from the epoch, boot
 * being REALTIME_AT_BOOT_SEC; the COARSE clocks stop at the last tick.
 * EINVAL for other ids: the CPU-time clocks, which are not modelled, the
 * alarm clocks, which need an RTC the SoC lacks, and unknown ones.
 */
export function sysClockGettime(k: ProcKernel, clockid: number): Timespec {
  let ns = k.clock.now;
  switch (clockid) {
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      ns -= ns % TICK_NS;
      break;
    case CLOCK_REALTIME:
    case CLOCK_TAI:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
      break;
    default:
      throw kerr('EINVAL', `clock ${clockid}`);
  }
  const sec = Math.floor(ns / NSEC_PER_SEC);
  return { tv_sec: sec + (isWallClock(clockid) ? REALTIME_AT_BOOT_SEC : 0), tv_nsec: ns - sec * NSEC_PER_SEC };
}

/** Reads a struct timespec argument (get_timespec64): EFAULT when it is not one, EINVAL when out of range (timespec64_valid). */
function timespecArg(req: unknown): Timespec {
  if (!req || typeof req !== 'object') throw kerr('EFAULT', 'bad timespec pointer');
  const { tv_sec, tv_nsec } = req as Partial<Timespec>;
  if (typeof tv_sec !== 'number' || typeof tv_nsec !== 'number') throw kerr('EFAULT', 'bad timespec');
  if (!Number.isInteger(tv_sec) || !Number.isInteger(tv_nsec) || tv_sec < 0 || tv_nsec < 0 || tv_nsec >= NSEC_PER_SEC) {
    throw kerr('EINVAL', `timespec {${tv_sec}, ${tv_nsec}}`);
  }
  return { tv_sec, tv_nsec };
}

/** Sleeps `ns` of simulated time, interruptibly: a signal ends it with EINTR (and, all signals being fatal here, the process). */
async function sleepInterruptible(k: ProcKernel, p: Process, ns: number): Promise<void> {
  if (ns <= 0) return;
  await waitEvent(new WaitQueueHead(), () => false, { task: p, clock: k.clock, timeoutNs: ns, onSignal: 'eintr' });
}

/**
 * clock_nanosleep(2): sleeps in simulated time for `req`, or with
 * TIMER_ABSTIME until the clock reads `req` (at once when it already
 * has); other flag bits are ignored, as Linux ignores them. EINVAL for
 * an unknown clock or a timespec out of range, EOPNOTSUPP for a clock
 * that cannot sleep (MONOTONIC_RAW, the COARSE clocks). A signal
 * interrupts the sleep; here every signal is fatal, so the process ends.
 */
export async function sysClockNanosleep(k: ProcKernel, p: Process, clockid: number, flags: number, req: unknown): Promise<void> {
  if (!NSLEEP_CLOCKS.has(clockid)) throw kerr(READ_ONLY_CLOCKS.has(clockid) ? 'EOPNOTSUPP' : 'EINVAL', `clock ${clockid}`);
  const t = timespecArg(req);
  const abs = (flags & TIMER_ABSTIME) !== 0;
  // seconds first: the epoch in nanoseconds is past what a double holds exactly
  const sec = abs && isWallClock(clockid) ? t.tv_sec - REALTIME_AT_BOOT_SEC : t.tv_sec;
  const ns = sec * NSEC_PER_SEC + t.tv_nsec - (abs ? k.clock.now : 0);
  await sleepInterruptible(k, p, ns);
}

/** nanosleep(2): clock_nanosleep on CLOCK_MONOTONIC, relative. */
export async function sysNanosleep(k: ProcKernel, p: Process, req: unknown): Promise<void> {
  await sysClockNanosleep(k, p, CLOCK_MONOTONIC, 0, req);
}
