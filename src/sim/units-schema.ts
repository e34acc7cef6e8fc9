import { z } from 'zod';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses "64MiB", "4K", "0x1000" or a plain number into bytes; undefined when it is not a size. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) {
    const n = parseInt(s, 16);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s);
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const n = parseFloat(m[1]!) * unit;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A byte size field: a number or a string with a binary unit (KiB, MiB, GiB). */
export const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.issues.push({ code: 'custom', message: `'${v}' is not a size (use bytes up to 2^53 or a unit: 4KiB, 64MiB, 2GiB)`, input: v });
    return z.NEVER;
  }
  return n;
});

/** Parses "2GB/s", "800MB/s", "1GiB/s" or bytes per second into bytes per second. */
export function parseBandwidth(v: unknown): number | undefined {
  if (typeof v === 'number') return v > 0 && v <= MAX_BANDWIDTH ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b\/s$/i.exec(v.trim());
  if (!m) return undefined;
  const pow = ' kmgt'.indexOf(m[2]!.toLowerCase() || ' ');
  const base = m[3] ? 1024 : 1000;
  const n = parseFloat(m[1]!) * base ** pow;
  return n > 0 && n <= MAX_BANDWIDTH ? n : undefined;
}

/** No bus moves more than 10 TB/s; a larger rate is a typo and would make every transfer take no time. */
export const MAX_BANDWIDTH = 1e13;

/** A bandwidth field: bytes per second, or a string such as "2GB/s". */
export const bandwidth = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseBandwidth(v);
  if (n === undefined) {
    ctx.issues.push({ code: 'custom', message: `'${v}' is not a bandwidth (use bytes/s up to 10TB/s or a unit: 800MB/s, 2GB/s)`, input: v });
    return z.NEVER;
  }
  return n;
});
