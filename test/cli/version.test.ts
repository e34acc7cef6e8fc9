import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('unimem --version', () => {
  it.each(['--version', '-V'])('%s prints the package version and exits 0', async (flag) => {
    const r = await unimem([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe('');
  });

  it('is named in the help', async () => {
    expect((await unimem(['--help'])).stdout).toMatch(/-V, --version +print unimem's version/);
  });
});
