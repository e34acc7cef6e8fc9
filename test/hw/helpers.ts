import { Soc, type SocHwConfig } from '../../src/hw/index.ts';
import { MiB } from '../../src/lib/index.ts';

/** A small non-coherent SoC: 16 MiB of DRAM at 0x80000000, 64 KiB SRAM, one DMA master. */
export function smallSoc(over: Partial<SocHwConfig> = {}): Soc {
  return new Soc({
    seed: 1,
    banks: [
      { name: 'dram0', base: 0x8000_0000, size: 16 * MiB, kind: 'dram' },
      { name: 'sram', base: 0x0010_0000, size: 64 * 1024, kind: 'sram' },
    ],
    cache: { size: 32 * 1024, ways: 4, lineSize: 64 },
    masters: [{ name: 'dev', coherent: false, bandwidth: 1e9, latencyNs: 100 }],
    ...over,
  });
}

export function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}
