import { describe, expect, it } from 'vitest';
import { partOfSource, WALL_PARTS, wallShares, withWallProfile } from '../../bench/wall-profile.ts';
import { loadPlatform, loadScenario, runScenario } from '../../src/sim/index.ts';

const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url, lineNumber: 0, columnNumber: 0 } });

describe('splitting a run’s wall time into parts of the simulation', () => {
  it('puts each source file in its part', () => {
    expect(partOfSource('hw/memory.ts')).toBe('memoryCopies');
    expect(partOfSource('hw/cache.ts')).toBe('cpuCache');
    expect(partOfSource('hw/smmu-walk.ts')).toBe('smmu');
    expect(partOfSource('iommu/io-pgtable-arm-v7s.ts')).toBe('smmu');
    expect(partOfSource('formats/yuv.ts')).toBe('engineKernels');
    expect(partOfSource('formats/frame-bytes.ts')).toBe('checker');
    expect(partOfSource('sim/reference/yuv.ts')).toBe('checker');
    expect(partOfSource('sim/stages/compose.ts')).toBe('programs');
    expect(partOfSource('hw/clock.ts')).toBe('scheduling');
    expect(partOfSource('lib/cost-ledger.ts')).toBe('accounting');
    expect(partOfSource('proc/kernel.ts')).toBe('kernel');
    expect(partOfSource('hw/engines/blend.ts')).toBe('kernel');
    expect(partOfSource('sim/boot.ts')).toBe('other');
  });

  it('adds each sample’s time to the part of the function it caught', () => {
    const profile = {
      nodes: [
        frame(1, '(root)', ''),
        frame(2, '(garbage collector)', ''),
        frame(3, 'wasm-function[4]', 'wasm://wasm/555ff7b6'),
        frame(4, 'copyBytes', 'file:///x/src/hw/memory.ts'),
        frame(5, 'compareOffset', 'node:buffer'),
        frame(6, 'dispatch', ''),
        frame(7, 'helper', 'file:///x/test/helper.ts'),
      ],
      samples: [2, 3, 4, 4, 5, 6, 7, 1],
      timeDeltas: [1000, 2000, 3000, 500, 250, 4000, 125, 75],
    };
    const s = wallShares(profile);
    expect(s.gc).toBe(1);
    expect(s.engineKernels).toBe(2);
    expect(s.memoryCopies).toBe(3.5);
    expect(s.checker).toBe(0.25);
    expect(s.profiler).toBe(4);
    expect(s.other).toBe(0.2);
    expect(s.total).toBeCloseTo(10.95, 9);
  });

  it('profiles a real run: its copies, its pixels and its kernel each take time, and the parts add up to the whole', async () => {
    const s = loadScenario('camera-preview');
    s.spec.format = { width: 320, height: 240, fourcc: 'XR24' };
    const { result, shares } = await withWallProfile(() => runScenario(s, loadPlatform('armv7-mobile'), { frames: 20 }), 100);
    expect(result.integrity.ok).toBe(true);
    expect(shares.kernel).toBeGreaterThan(0);
    expect(shares.engineKernels + shares.memoryCopies).toBeGreaterThan(0);
    const sum = WALL_PARTS.reduce((n, p) => n + shares[p], 0);
    expect(sum).toBeCloseTo(shares.total, 6);
    expect(shares.total).toBeGreaterThan(0);
  });
});
