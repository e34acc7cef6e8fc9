import { expect } from 'vitest';

/** Number of positions where two byte arrays differ (plus the length difference). */
export function mismatches(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  let m = Math.abs(a.length - b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) m++;
  return m;
}

/**
 * Asserts two byte arrays are equal, fast for megabytes (vitest's deep
 * equality walks typed arrays element by element), and names the first
 * differing offset when they are not.
 */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  expect.fail(`bytes differ: first at offset ${i} (got ${actual[i]}, want ${expected[i]}), ${mismatches(actual, expected)} differing, lengths ${actual.length}/${expected.length}`);
}
