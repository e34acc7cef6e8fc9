import { describe, expect, it } from 'vitest';
import { PLATFORM_DRIVERS } from '../../src/drivers/index.ts';
import { STAGES } from '../../src/sim/pipeline/stage-table.ts';
import { bootSystem, InputError, parsePlatform, parseScenario, type LoadedScenario, type System } from '../../src/sim/index.ts';
import { runProcessScenario, type ProcessRunResult } from '../../src/sim/run-processes.ts';
import { invertPlatformDriver, type InvertDevice } from './fixtures/invert-device.ts';
import { invertDescriptor } from './fixtures/invert-stage.ts';

// The README's "Adding a device": a driver table row and a stage table row, each from one file, and nothing else edited.
const drivers = [...PLATFORM_DRIVERS, invertPlatformDriver];
const stages = [...STAGES, invertDescriptor];

const PLATFORM = `
name: with-inverter
memory:
  - { name: dram0, base: 0x40000000, size: 512MiB }
cma:
  areas:
    - { name: display, size: 32MiB, devices: [display] }
iommus:
  - { name: smmu0, contexts: 4 }
devices:
  - { name: camera, kind: camera, iommu: smmu0 }
  - { name: inv, kind: inverter, iommu: smmu0, lanes: 4 }
  - { name: display, kind: display, needsContiguous: true, maxSegmentSize: 4GiB }
`;

const SCENARIO = `
name: inverted-preview
frames: 8
format: { width: 320, height: 240, fourcc: XR24 }
processes:
  - { name: camera, stage: capture }
  - { name: inverter, stage: invert }
  - { name: display, stage: display }
`;

function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('no error');
}

async function run(s: LoadedScenario): Promise<ProcessRunResult & { sys: System }> {
  let sys: System | null = null;
  const r = await runProcessScenario(s, parsePlatform('p.yaml', PLATFORM, drivers), {}, (p, seed) => {
    sys = bootSystem(p, { seed, drivers, kmsMode: { width: 320, height: 240 } });
    return sys;
  });
  return { ...r, sys: sys! };
}

describe('a device and a stage added from outside the tree', () => {
  it('the platform file takes the new kind and its own field; boot probes it and it gets its node', () => {
    const p = parsePlatform('p.yaml', PLATFORM, drivers);
    expect(p.devices[1]).toMatchObject({ name: 'inv', kind: 'inverter', lanes: 4 });
    const sys = bootSystem(p, { seed: 1, drivers });
    expect(sys.bound.find((b) => b.name === 'inv')?.nodes).toEqual([{ path: '/dev/invert0', role: 'invert' }]);
  });

  it('runs camera -> inverter -> display as processes: every frame arrives inverted, the engine ran once a frame, nothing leaks', async () => {
    const r = await run({ spec: parseScenario('s.yaml', SCENARIO, stages), file: 's.yaml', text: SCENARIO, stages });
    expect(r.integrity).toEqual({ ok: true, mismatches: 0, framesChecked: 8 });
    expect(r.processes.map((x) => [x.name, x.status])).toEqual([
      ['camera', 0],
      ['inverter', 0],
      ['display', 0],
    ]);
    expect((r.sys.bound.find((b) => b.name === 'inv')!.data as InvertDevice).jobs).toBeGreaterThanOrEqual(8);
    expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
    // The inverter feeds the display, which has no IOMMU: its output buffers come from the display's CMA heap.
    expect(r.placement[1]).toContain('inverter: invert buffers from /dev/dma_heap/display, placed in cma:display');
  });

  it('the checker is the stage descriptor: a descriptor that expects the frame unchanged sees every frame wrong', async () => {
    const wrong = stages.map((d) => (d === invertDescriptor ? { ...d, expect: undefined } : d));
    const r = await run({ spec: parseScenario('s.yaml', SCENARIO, wrong), file: 's.yaml', text: SCENARIO, stages: wrong });
    expect(r.integrity.ok).toBe(false);
    expect(r.integrity.mismatches).toBe(r.integrity.framesChecked);
  });

  it('without the rows, or with a bad value of the new field, the files are bad input naming the field', () => {
    expect(inputError(() => parsePlatform('p.yaml', PLATFORM)).field).toBe('devices[1].kind');
    expect(inputError(() => parsePlatform('p.yaml', PLATFORM.replace('lanes: 4', 'lanes: 0'), drivers)).field).toBe('devices[1].lanes');
    const e = inputError(() => parseScenario('s.yaml', SCENARIO));
    expect(e.field).toBe('processes[1].stage');
    expect(e.line).toBe(7);
  });
});
