import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadPlatform, parseScenario, runScenario, type LoadedScenario } from '../../src/sim/index.ts';
import type { ProcessRunResult } from '../../src/sim/run-processes.ts';

/** A random but valid process pipeline, as YAML (so it goes through the same validation as a user's file). */
const pipelineArb = fc.record({
  source: fc.constantFrom('camera', 'decoder', 'gpu'),
  convert: fc.boolean(),
  compose: fc.boolean(),
  cpu: fc.constantFrom('none', 'read', 'draw'),
  buffers: fc.integer({ min: 2, max: 5 }),
  frames: fc.integer({ min: 1, max: 5 }),
  gop: fc.integer({ min: 1, max: 4 }),
  kill: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  sink: fc.constantFrom('display', 'usb-display', 'encode'),
  driverBuffers: fc.boolean(),
});

type PipelineShape = typeof pipelineArb extends fc.Arbitrary<infer T> ? T : never;

function scenarioText(p: PipelineShape): { text: string; killed: string | null } {
  const stages: string[] = [];
  // The decoder's reference frames must not be drawn on; the camera has none. Nor may the CPU write into a
  // capture buffer videobuf2 exported (EXPBUF): its begin/end_cpu_access sync only the camera's own mapping,
  // as Linux's vb2-dma-sg does, so other importers are left unsynced -- a real hazard the checker reports.
  const draw = p.cpu === 'draw' && p.source !== 'decoder' && !p.driverBuffers;
  // The source's own MMAP buffers (EXPBUF) are scattered: fine for devices behind the IOMMU, not for the display.
  const directToDisplay = !p.convert && p.source === 'camera' && !p.compose && p.sink === 'display';
  // (the GPU renderer has no buffers of its own to export: it always allocates from a heap)
  const heap = p.driverBuffers && !directToDisplay ? ', heap: driver' : '';
  if (p.source === 'camera') stages.push(`  - { name: cam, stage: capture, fourcc: ${p.convert ? 'YUYV' : 'XR24'}${heap} }`);
  else if (p.source === 'decoder') stages.push(`  - { name: dec, stage: decode, gop: ${p.gop}${heap} }`);
  else stages.push('  - { name: game, stage: render }');
  // The ISP takes YUV: the GPU's XRGB output never goes through it.
  if ((p.convert && p.source === 'camera') || p.source === 'decoder') stages.push('  - { name: isp, stage: convert, fourcc: XR24 }');
  if (p.compose) stages.push('  - { name: gpu, stage: compose }');
  if (p.cpu !== 'none') stages.push(`  - { name: cpu, stage: cpu, rows: ${draw ? 8 : 0} }`);
  stages.push(p.sink === 'encode' ? '  - { name: jpeg, stage: encode }' : `  - { name: disp, stage: ${p.sink} }`);
  const names = stages.map((s) => /name: (\w+)/.exec(s)![1]!);
  const killed = p.kill !== undefined && names.length > 2 ? names[1]! : null;
  const fourcc = p.source === 'decoder' ? 'NV12' : 'XR24';
  const text = [
    'name: random',
    `frames: ${p.frames}`,
    'fps: 30',
    `format: { width: 64, height: 48, fourcc: ${fourcc} }`,
    `buffers: ${p.buffers}`,
    'processes:',
    ...stages,
    ...(killed ? [`kill: { process: ${killed}, afterFrames: ${Math.min(p.kill!, p.frames)} }`] : []),
    '',
  ].join('\n');
  return { text, killed };
}

describe('process pipelines, any shape', () => {
  it('every frame a display shows is the right one, every process ends as it should, and nothing leaks -- crash or not', async () => {
    await fc.assert(
      fc.asyncProperty(pipelineArb, async (p) => {
        const { text, killed } = scenarioText(p);
        const s: LoadedScenario = { spec: parseScenario('random.yaml', text), file: 'random.yaml', text };
        const r = (await runScenario(s, loadPlatform('armv7-mobile'))) as ProcessRunResult;
        expect(r.integrity.mismatches).toBe(0);
        expect(r.findings).toEqual([]);
        expect(r.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
        for (const proc of r.processes) {
          expect(proc.error).toBeUndefined();
          // A victim that had already finished its stream when the kill came exits normally.
          if (proc.name === killed) expect([0, 128 + 9]).toContain(proc.status);
          else expect(proc.status).toBe(0);
        }
        // The frame count adds up; without a kill none is lost (a camera short of buffers drops some at the sensor, and says so).
        expect(r.integrity.framesChecked + r.droppedFrames + r.lostFrames).toBe(p.frames);
        if (!killed) expect(r.lostFrames).toBe(0);
        if (!killed && p.source !== 'camera') expect(r.integrity.framesChecked).toBe(p.frames);
      }),
      { numRuns: 60 },
    );
  });
});
