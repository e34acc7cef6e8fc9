import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem --fail', () => {
  it('injects failures into a run: the process that met one fails with ENOMEM and check names the injection', async () => {
    const r = await unimem(['check', 'camera-preview', '--frames', '2', '--json', '--fail', 'slab:probability=100,times=1', '--fail', 'page_alloc:probability=0']);
    const out = JSON.parse(r.stdout) as { findings: { kind: string; message: string }[]; leaks: Record<string, number> };
    expect(out.findings.map((f) => f.kind)).toContain('fault-injection');
    expect(out.findings.find((f) => f.kind === 'process-failed')?.message).toMatch(/ENOMEM/);
    expect(out.leaks).toEqual({ dmabufs: 0, openFiles: 0, dmaMappings: 0, cmaPages: 0, pages: 0 });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
  });

  it('sets the knobs a program then reads from debugfs, under exec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 'knobs.mjs');
    writeFileSync(f, `export default async function main(sys) {\n  for (const k of ['probability', 'interval', 'times', 'space', 'verbose', 'min-order']) await sys.write(1, new TextEncoder().encode(k + '=' + (await sys.readFile('/sys/kernel/debug/fail_page_alloc/' + k)).trim() + '\\n'));\n  return 0;\n}\n`);
    const r = await unimem(['exec', f, '--fail', 'page_alloc:probability=10,interval=2,times=100,space=4096,verbose=0,min-order=0']);
    expect(r.stdout).toBe('probability=10\ninterval=2\ntimes=100\nspace=4096\nverbose=0\nmin-order=0\n');
    expect(r.code).toBe(0);
  });

  it('is bad input (exit 2, one line) for an unknown point, knob or value', async () => {
    for (const v of ['swap:probability=1', 'page_alloc:probability=101', 'slab:min-order=1', 'page_alloc:times']) {
      const r = await unimem(['run', 'camera-preview', '--fail', v]);
      expect(r.code, v).toBe(2);
      expect(r.stderr, v).toMatch(/^unimem: --fail: .+\n$/);
    }
  });

  it('a kernel-level scenario whose kernel call fails under injection ends as a failed run (exit 1) with the call and errno, no stack trace', async () => {
    const f = join(mkdtempSync(join(tmpdir(), 'unimem-')), 'late-attach.yaml');
    writeFileSync(f, 'name: late-attach\nframes: 6\nfps: 30\nformat: { width: 320, height: 240, fourcc: XR24 }\nscanoutAttachAfter: 2\npipeline:\n  - { role: capture, device: camera }\n  - { role: scanout, device: display }\n');
    const r = await unimem(['run', f, '--fail', 'slab:probability=100,times=-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^unimem: the run stopped: a kernel call failed with ENOMEM: dma_buf_export: .*failslab\n$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
