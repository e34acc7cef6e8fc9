/** Clock ids of clock_gettime(2) and clock_nanosleep(2) (include/uapi/linux/time.h). */
export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;
export const CLOCK_REALTIME_ALARM = 8;
export const CLOCK_BOOTTIME_ALARM = 9;
export const CLOCK_TAI = 11;

/** clock_nanosleep(2): `req` is an absolute time on the clock. */
export const TIMER_ABSTIME = 0x01;

/** Nanoseconds in a second (NSEC_PER_SEC): tv_nsec must stay below it. */
export const NSEC_PER_SEC = 1_000_000_000;

/** struct timespec (struct __kernel_timespec). */
export interface Timespec {
  tv_sec: number;
  tv_nsec: number;
}
