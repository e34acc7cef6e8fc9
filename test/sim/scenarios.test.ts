import { describe, expect, it } from 'vitest';
import { builtinScenarios, loadPlatform, loadScenario, runScenario } from '../../src/sim/index.ts';

async function run(name: string, frames = 4) {
  const s = loadScenario(name);
  return runScenario(s, loadPlatform(s.spec.platform), { frames });
}

describe('built-in scenarios', () => {
  it('every built-in scenario is valid and runs on its platform', async () => {
    for (const name of builtinScenarios()) {
      const r = await run(name, 2);
      expect(r.frames).toBe(2);
      expect(r.integrity.framesChecked).toBeGreaterThan(0);
    }
  });

  it('camera-preview is zero copy, clean, and places buffers in the display CMA area', async () => {
    const r = await run('camera-preview');
    expect(r.integrity).toMatchObject({ ok: true, mismatches: 0 });
    expect(r.copies).toEqual({ cpuBytes: 0, bounceBytes: 0 });
    expect(r.findings).toEqual([]);
    expect(r.iommu.tlbMisses).toBeGreaterThan(0);
    expect(r.placement.join('\n')).toMatch(/placed in cma:display/);
  });

  it('overlay: a CPU writer that syncs shows every frame intact', async () => {
    const r = await run('overlay');
    expect(r.integrity.ok).toBe(true);
    expect(r.findings).toEqual([]);
  });

  it('missing-sync: the display shows corrupted frames and the finding names the missing call', async () => {
    const r = await run('missing-sync');
    expect(r.integrity.ok).toBe(false);
    expect(r.integrity.mismatches).toBeGreaterThan(0);
    const f = r.findings.filter((x) => x.kind === 'missing-sync');
    expect(f.length).toBeGreaterThan(0);
    expect(f.some((x) => /display \(DMA_TO_DEVICE/.test(x.message) && /DMA_BUF_IOCTL_SYNC/.test(x.message))).toBe(true);
    expect(f[0]!.site).toMatch(/run\.ts:\d+:\d+/);
  });

  it('the same seed gives the same result', async () => {
    const a = await run('missing-sync', 6);
    const b = await run('missing-sync', 6);
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
  });
});
