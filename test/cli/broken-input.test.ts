import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { brokenCorpus } from './broken-input-corpus.ts';
import { unimem } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimem-broken-'));

/** Runs the command in this process, as bin/unimem.mjs does, and returns its exit code and what it wrote. */
async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

// The README: bad input exits 2 with one line naming the file, line, column and field, never a stack trace.
describe('broken input files (issue 20: no bad input ends in a stack trace or a hang)', () => {
  const corpus = brokenCorpus();

  it('the corpus holds the hand-written cases and the generated mutations', () => {
    expect(corpus.length).toBeGreaterThan(200);
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
  });

  it('every file exits 2 with file:line:column and no stack trace', { timeout: 120_000 }, async () => {
    const bad: string[] = [];
    let located = 0;
    for (const c of corpus) {
      const file = join(dir, `${c.name}.yaml`);
      writeFileSync(file, c.text);
      const r = await runMain([c.command, file]);
      const line = new RegExp(`^unimem: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .+\\n$`);
      if (r.code !== 2 || !line.test(r.stderr) || /^\s+at /m.test(r.stderr)) bad.push(`${c.name}: exit ${r.code}: ${r.stderr.slice(0, 300)}${r.stdout.slice(0, 100)}`);
      else located++;
    }
    expect(bad).toEqual([]);
    expect(located).toBe(corpus.length);
  });

  it('names the field and the limit for the cases the issue lists', async () => {
    const at = async (name: string) => {
      const c = corpus.find((x) => x.name === name)!;
      const file = join(dir, `${c.name}.yaml`);
      writeFileSync(file, c.text);
      return (await runMain([c.command, file])).stderr.slice(`unimem: ${file}:`.length);
    };
    expect(await at('lowmem-0')).toBe('16:11: kernel.lowmem: must be a positive multiple of 4 KiB\n');
    expect(await at('vmalloc-4g')).toMatch(/^17:12: kernel\.vmalloc: 4 GiB leaves no room for lowmem .* \(at most 992 MiB\)\n$/);
    expect(await at('cma-default-900m')).toMatch(/^41:12: cma\.default: no room for 900 MiB in lowmem/);
    expect(await at('cma-base-outside-dram')).toMatch(/^43:43: cma\.areas\[0\]\.base: 0x10000000-0x13ffffff is not inside one zone of DRAM/);
    expect(await at('cma-named-reserved')).toMatch(/^43:15: cma\.areas\[0\]\.name: 'reserved' is the default CMA area's heap/);
    expect(await at('cma-above-display-mask')).toMatch(/^43:65: cma\.areas\[0\]\.devices\[0\]: device 'display' has no IOMMU and a 31-bit DMA mask/);
    expect(await at('cma-device-in-two-areas')).toMatch(/cma\.areas\[1\]\.devices\[0\]: device 'display' is already in CMA area 'display'/);
    expect(await at('cma-alignment-3')).toMatch(/cma\.areas\[0\]\.alignment: must be a power of two/);
    expect(await at('display-mask-24')).toMatch(/devices\[5\]\.dmaMaskBits: a 24-bit mask reaches up to 0x00ffffff, below all DRAM/);
    expect(await at('bank-at-2-48')).toMatch(/memory\[2\]\.base: 0x1000000000000 is above the 8 TiB/);
    expect(await at('cache-64g')).toMatch(/cpu\.cache\.size: 64 GiB is more than the 64 MiB/);
    expect(await at('alias-bomb')).toMatch(/^\d+:\d+: aliases expand to too many nodes/);
    expect(await at('undefined-alias')).toMatch(/alias \*fast has no anchor &fast before it/);
    expect(await at('scenario-format-8192')).toMatch(/processes\[1\]\.stage: a display shows at most 4096x4096 .* its frames are 8192x8192/);
    expect(await at('scenario-missing-platform')).toMatch(/^2:11: platform: 'no-such-platform': no such file/);
  });

  it('refuses a file over 1 MiB, a directory and a device before reading them', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `name: big\ndescription: ${'x'.repeat(2 * 1024 * 1024)}\n`);
    expect(await runMain(['platform', big])).toMatchObject({ code: 2, stderr: `unimem: ${big}: is ${2 * 1024 * 1024 + 24} bytes; an input file may have at most 1048576 (1 MiB)\n` });
    const sub = join(dir, 'a-dir');
    mkdirSync(sub);
    for (const cmd of ['platform', 'check']) expect(await runMain([cmd, sub])).toMatchObject({ code: 2, stderr: `unimem: ${sub}: is a directory (EISDIR), not a file\n` });
    expect(await runMain(['platform', '/dev/zero'])).toMatchObject({ code: 2, stderr: 'unimem: /dev/zero: is not a regular file (a device, FIFO or socket)\n' });
  });

  it('bounds --frames by the scenario schema and checks output paths before the run', async () => {
    expect(await runMain(['run', 'camera-preview', '--frames', '1000000000'])).toMatchObject({ code: 2, stderr: 'unimem: --frames: 1000000000: Too big: expected number to be <=100000\n' });
    expect(await runMain(['run', 'camera-preview', '--frames', '0'])).toMatchObject({ code: 2, stderr: 'unimem: --frames: 0: Too small: expected number to be >=1\n' });
    expect(await runMain(['run', 'camera-preview', '--seed', '1e30'])).toMatchObject({ code: 2 });
    const nodir = join(dir, 'no-such-dir', 't.json');
    expect(await runMain(['run', 'camera-preview', '--trace', nodir])).toMatchObject({ code: 2, stderr: `unimem: ${nodir}: --trace: no such directory: ${join(dir, 'no-such-dir')} (ENOENT)\n` });
    expect(await runMain(['check', 'camera-preview', '--report', dir])).toMatchObject({ code: 2, stderr: `unimem: ${dir}: --report: is a directory (EISDIR), not a file\n` });
    expect(await runMain(['exec', 'examples/programs/heap-share.ts', '--trace', nodir])).toMatchObject({ code: 2 });
  });

  it('the real command: a device, a directory, a bomb and a huge --frames end at once with exit 2 and no trace', async () => {
    const bomb = join(dir, 'alias-bomb.yaml');
    writeFileSync(bomb, corpus.find((c) => c.name === 'alias-bomb')!.text);
    for (const args of [['platform', '/dev/zero'], ['check', dir], ['platform', bomb], ['run', 'camera-preview', '--frames', '1000000000']]) {
      const r = await unimem(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^unimem: .+\n$/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});
