import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

// One test per row of the README's exit-code table.
describe('exit codes (README: Exit codes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unimem-exit-'));
  const file = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const badScenario = file('bad.yaml', 'name: bad\nframes: -1\n');
  // The display cannot reach the camera's own scattered highmem buffers: its process fails, no frame is shown.
  const failingProcess = file('scattered.yaml', 'name: scattered\nframes: 2\nformat: { width: 64, height: 48, fourcc: XR24 }\nprocesses:\n  - { name: cam, stage: capture, heap: driver }\n  - { name: disp, stage: display }\n');

  it('run: 0 when the run completed, findings or not', async () => {
    const r = await unimem(['run', 'missing-sync', '--frames', '3', '--json']);
    const o = JSON.parse(r.stdout) as { integrity: { ok: boolean }; findings: unknown[] };
    expect(o.integrity.ok).toBe(true);
    expect(o.findings.length).toBeGreaterThan(0);
    expect(r.code).toBe(0);
  });

  it('run: 1 when no frame reached the end of the pipeline, a shown frame differs, or a process failed', async () => {
    expect((await unimem(['run', 'iommu-fault', '--frames', '2', '--json'])).code).toBe(1);
    const r = await unimem(['run', failingProcess, '--json']);
    expect((JSON.parse(r.stdout) as { findings: { kind: string }[] }).findings.map((f) => f.kind)).toContain('process-failed');
    expect(r.code).toBe(1);
  });

  it('run and check: 2 on bad input, one line naming the file, line, column and field', async () => {
    for (const cmd of ['run', 'check']) {
      const r = await unimem([cmd, badScenario]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^unimem: ${badScenario}:2:9: frames: `));
    }
    expect((await unimem(['run', 'camera-preview', '--frames', 'x'])).code).toBe(2);
  });

  it('check: 0 when the run completed and nothing was found, 1 on any finding', async () => {
    expect((await unimem(['check', 'camera-preview', '--frames', '2'])).code).toBe(0);
    const r = await unimem(['check', 'missing-sync', '--frames', '3']);
    expect(r.stdout).toMatch(/missing-sync: 2 finding\(s\)\n$/);
    expect(r.code).toBe(1);
  });

  it("exec: the program's own exit code; 1 when it threw; --check: 1 when it returned 0 with findings; 2 when it cannot be loaded", async () => {
    expect((await unimem(['exec', file('five.mjs', 'export default async function main() {\n  return 5;\n}\n')])).code).toBe(5);
    expect((await unimem(['exec', file('throws.mjs', "export default async function main() {\n  throw new Error('no');\n}\n")])).code).toBe(1);
    expect((await unimem(['exec', 'docs/guides/files/cpu-write-no-sync.ts'])).code).toBe(0);
    expect((await unimem(['exec', '--check', 'docs/guides/files/cpu-write-no-sync.ts'])).code).toBe(1);
    expect((await unimem(['exec', file('nomain.mjs', 'export const x = 1;\n')])).code).toBe(2);
  });

  it('platform: 0 for a valid file, 2 for a bad one', async () => {
    expect((await unimem(['platform', 'coherent-soc'])).code).toBe(0);
    expect((await unimem(['platform', file('bad-platform.yaml', 'name: x\n')])).code).toBe(2);
  });

  it('platforms and scenarios: 0; every command: 2 on an unknown command or option', async () => {
    expect((await unimem(['platforms'])).code).toBe(0);
    expect((await unimem(['scenarios'])).code).toBe(0);
    expect((await unimem(['scenarios', '--bogus'])).code).toBe(2);
    expect((await unimem(['frobnicate'])).code).toBe(2);
  });

  it('bench: 2 for an unknown benchmark', async () => {
    expect((await unimem(['bench', 'nope'])).code).toBe(2);
  });
});
