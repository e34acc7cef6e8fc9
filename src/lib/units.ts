/** Sizes and helpers shared by every layer. */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Rounds `x` up to a multiple of the power of two `a` (ALIGN). */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Rounds `x` down to a multiple of the power of two `a` (ALIGN_DOWN). */
export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

/** True when `x` is a power of two (is_power_of_2). */
export function isPowerOfTwo(x: number): boolean {
  return x > 0 && Number.isInteger(x) && Number.isInteger(Math.log2(x));
}

/** Formats a byte count as the kernel's human-readable sizes do. */
export function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

/** Formats a physical or bus address as 0x-prefixed hex. */
export function hex(n: number, width = 8): string {
  return '0x' + n.toString(16).padStart(width, '0');
}
