import { describe, it, expect } from 'vitest';
import * as viaPackage from 'unimem/uapi';
import * as direct from '../../src/uapi/index.ts';

describe('unimem/uapi', () => {
  it('is the uapi module programs import their constants from', () => {
    expect(viaPackage.DMA_HEAP_IOCTL_ALLOC).toBe(0xc0184800);
    expect(viaPackage.O_RDWR).toBe(direct.O_RDWR);
    expect(Object.keys(viaPackage).sort()).toEqual(Object.keys(direct).sort());
  });
});
