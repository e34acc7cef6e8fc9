/** futex operations (include/uapi/linux/futex.h). */
export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;
export const FUTEX_WAIT_BITSET = 9;
export const FUTEX_WAKE_BITSET = 10;
/** The futex is private to one mm: keyed by its address alone. */
export const FUTEX_PRIVATE_FLAG = 128;
/** FUTEX_WAIT_BITSET's absolute timeout is on CLOCK_REALTIME instead of CLOCK_MONOTONIC. */
export const FUTEX_CLOCK_REALTIME = 256;
export const FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
export const FUTEX_WAIT_PRIVATE = FUTEX_WAIT | FUTEX_PRIVATE_FLAG;
export const FUTEX_WAKE_PRIVATE = FUTEX_WAKE | FUTEX_PRIVATE_FLAG;
/** The bitset that matches every waiter. */
export const FUTEX_BITSET_MATCH_ANY = 0xffffffff;
