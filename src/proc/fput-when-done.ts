import type { File } from '../fs/index.ts';

/**
 * Drops the reference a call took on its file (fdput at the end of the
 * system call) once `r`, the call's answer, is ready: at once for a
 * value, when the promise settles for a call that sleeps. A call that
 * cannot sleep thus returns its value with no turn of its own, as one
 * that awaited would take.
 */
export function fputWhenDone<T>(f: File, r: T | Promise<T>): T | Promise<T> {
  if (r instanceof Promise) return fputAfter(f, r);
  f.put();
  return r;
}

/** The reference dropped once `r` settles, passing its value or error on: one promise job, as an async function's await and return take. */
function fputAfter<T>(f: File, r: Promise<T>): Promise<T> {
  return r.then(
    (v) => {
      f.put();
      return v;
    },
    (e: unknown) => {
      f.put();
      throw e;
    },
  );
}
