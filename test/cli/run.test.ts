import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem run / check', () => {
  it('prints the JSON contract of DESIGN.md', async () => {
    const r = await unimem(['run', 'camera-preview', '--frames', '10', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      scenario: 'camera-preview',
      platform: 'armv7-mobile',
      seed: 1,
      frames: 10,
      integrity: { ok: true, mismatches: 0 },
      copies: { cpuBytes: 0, bounceBytes: 0 },
      findings: [],
    });
    for (const k of ['cleanBytes', 'invalidateBytes', 'fullFlushes']) expect(typeof j.cache[k]).toBe('number');
    for (const k of ['tlbMisses', 'faults']) expect(typeof j.iommu[k]).toBe('number');
    for (const k of ['peakBytes', 'migrations']) expect(typeof j.cma[k]).toBe('number');
    expect(j.simTimeNs).toBeGreaterThan(0);
    expect(typeof j.wallMs).toBe('number');
  });

  it('gives the same result for the same seed, byte for byte except wall time', async () => {
    const a = JSON.parse((await unimem(['run', 'camera-preview', '--frames', '5', '--json', '--seed', '7'])).stdout);
    const b = JSON.parse((await unimem(['run', 'camera-preview', '--frames', '5', '--json', '--seed', '7'])).stdout);
    delete a.wallMs;
    delete b.wallMs;
    expect(a).toEqual(b);
  });

  it('runs on another platform when asked', async () => {
    const j = JSON.parse((await unimem(['run', 'camera-preview', '--platform', 'coherent-soc', '--frames', '5', '--json'])).stdout);
    expect(j.platform).toBe('coherent-soc');
    expect(j.integrity.ok).toBe(true);
  });

  it('check exits 0 on a clean run', async () => {
    const r = await unimem(['check', 'camera-preview', '--frames', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('camera-preview: clean');
  });

  it('exits 2 naming file, line, column and field for a bad scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 's.yaml');
    writeFileSync(f, 'name: s\npipeline:\n  - { role: capture, device: camera }\n  - { role: scanout, device: printer }\n');
    const r = await unimem(['run', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/s\.yaml:4:\d+: pipeline\[1\]\.device: platform 'armv7-mobile' has no device named 'printer'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const g = join(dir, 'g.yaml');
    writeFileSync(g, 'name: g\nframes: many\npipeline: []\n');
    const r2 = await unimem(['check', g]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/g\.yaml:2:\d+: frames: /);
  });

  it('rejects a bad --seed with exit 2', async () => {
    const r = await unimem(['run', 'camera-preview', '--seed', 'x']);
    expect(r.code).toBe(2);
  });

  it('lists the built-in scenarios, each with the description its file gives, descriptions in one column', async () => {
    const r = await unimem(['scenarios']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toContain('camera-preview      camera -> display, zero copy, one process each');
    expect(lines).toContain('missing-sync        a CPU writer forgets DMA_BUF_IOCTL_SYNC');
    for (const line of lines) expect(line).toMatch(/^[a-z0-9-]+ +\S/);
    expect(new Set(lines.map((l) => /^[a-z0-9-]+ +/.exec(l)![0].length)).size).toBe(1);
  });
});

describe('finding sites in run', () => {
  it('--json keeps each finding\'s site, the scenario line of the stage that caused it; the summary lists them by site', async () => {
    const j = JSON.parse((await unimem(['run', 'iommu-fault', '--frames', '2', '--json'])).stdout) as { findings: { kind: string; site: string }[] };
    // Blamed on the camera process's line; the sensor's third frame, captured before the camera process stopped streaming, faulted too.
    expect(j.findings).toEqual(Array(3).fill(expect.objectContaining({ kind: 'iommu-fault', site: 'examples/scenarios/iommu-fault.yaml:20:3' })));
    const text = (await unimem(['run', 'iommu-fault', '--frames', '2'])).stdout;
    expect(text).toContain('\n  findings (each in full: unimem check):\n    3 iommu-fault at examples/scenarios/iommu-fault.yaml:20:3\n');
  });
});

describe('buffers in run --json', () => {
  it('process-crash --json lists every reference on every buffer at the snapshot, each with its call site', async () => {
    const r = await unimem(['run', 'process-crash', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      simTimeNs: number;
      buffers: { atNs: number; buffers: { ino: number; heap: string | null; fileRefs: number; refs: { kind: string; holder: string; site: string; timeNs: number; via?: string }[] }[]; processes: { comm: string; pssBytes: number }[] };
    };
    expect(j.buffers.atNs).toBeGreaterThan(0);
    expect(j.buffers.atNs).toBeLessThan(j.simTimeNs);
    expect(j.buffers.buffers.length).toBeGreaterThan(0);
    for (const b of j.buffers.buffers) {
      for (const ref of b.refs) expect(ref.site, `${ref.kind} ${ref.holder}`).toMatch(/ › \w+ @ examples\/scenarios\/process-crash\.yaml:\d+:\d+$/);
      expect(b.fileRefs).toBe(b.refs.filter((ref) => ref.kind !== 'attachment' && ref.via === undefined).length);
    }
    // the compositor, alive at the snapshot (just before it is killed), holds its display-heap buffers by fd
    expect(j.buffers.processes.map((p) => p.comm)).toContain('composer');
  });
});
