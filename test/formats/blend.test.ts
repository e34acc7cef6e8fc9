import { describe, expect, it } from 'vitest';
import { averageBytes } from '../../src/formats/index.ts';
import { pattern } from '../dmabuf/helpers.ts';
import { average } from '../drivers/kms-helpers.ts';

describe('the blend unit\'s average', () => {
  it('averageBytes equals the per-byte floor average, odd lengths included', () => {
    const a = pattern(1027, 3);
    const b = pattern(1027, 4);
    const out = new Uint8Array(1027);
    averageBytes(a, b, out, 1027);
    expect(Buffer.compare(out, average(a, b))).toBe(0);
  });
});
