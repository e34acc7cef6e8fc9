import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem platform', () => {
  it('prints the SoC a built-in platform describes', async () => {
    const r = await unimem(['platform', 'armv7-mobile']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('physical address map:');
    expect(r.stdout).toMatch(/display\s+display\s+31b/);
    // Each device's driver and the nodes it made; a DMA engine no driver binds.
    expect(r.stdout).toMatch(/camera\s+unimem-camera: .* -> \/dev\/video8\n/);
    expect(r.stdout).toMatch(/jpeg\s+unimem-jpeg: .* -> \/dev\/video10, \/dev\/video11\n/);
    expect(r.stdout).toMatch(/dma0\s+\(none\): /);
  });

  it('exits 2 with file, line, column and field, and no stack trace, on a bad file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'name: bad\nmemory:\n  - { name: d, base: 0x80000000, size: 1GiB }\ndevices:\n  - { name: x, kind: toaster }\n');
    const r = await unimem(['platform', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: devices\\[0\\]\\.kind: `));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for a name that is neither a file nor built in', async () => {
    const r = await unimem(['platform', 'no-such-soc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('armv7-mobile');
  });

  it('lists the built-in platforms, each with the description its file gives', async () => {
    const r = await unimem(['platforms']);
    expect(r.code).toBe(0);
    // names padded to the longest (linux-6.1-reference) plus two spaces
    expect(r.stdout).toMatch(/^armv7-mobile {9}ARMv7 phone SoC, non-coherent caches, 2 GiB, SMMU for the media masters$/m);
    expect(r.stdout).toMatch(/^coherent-soc {9}IO-coherent SoC, 3 GiB, every master behind an SMMU$/m);
    expect(r.stdout).toMatch(/^linux-6\.1-reference {2}the Linux 6\.1 reference machine, only vgem and vivid \(no platform devices\), IO-coherent, 1 GiB$/m);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(3);
  });

  it('prints help for every command', async () => {
    for (const cmd of ['platform', 'platforms', 'scenarios', 'bench']) {
      const r = await unimem([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: unimem/);
    }
  });
});
