import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The guides stay true: each ```sh block of a guide is run (every line a
 * command, `npx unimem` as the repository's bin/unimem.mjs) and the ```text
 * block right after it is checked against what it printed, stdout and
 * stderr together: every line shown must be printed, in that order, whole
 * (`...` marks lines left out); a last line `[exit N]` is the last
 * command's exit code. The convention is written in docs/guides/README.md.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GUIDES = join(ROOT, 'docs/guides');

interface Step {
  commands: string[];
  shown: string[];
  exit: number | null;
  line: number;
}

/** The guide's sh blocks, each with the text block that follows it (a sh block with none is run and must exit 0). */
export function guideSteps(markdown: string): Step[] {
  const lines = markdown.split('\n');
  const blocks: { lang: string; body: string[]; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, body, line: start + 1 });
  }
  const steps: Step[] = [];
  blocks.forEach((b, k) => {
    if (b.lang !== 'sh') return;
    const next = blocks[k + 1];
    const shown = next?.lang === 'text' ? [...next.body] : [];
    const m = /^\[exit (\d+)\]$/.exec(shown[shown.length - 1] ?? '');
    if (m) shown.pop();
    steps.push({ commands: b.body.filter((l) => l.trim() !== '' && !l.trim().startsWith('#')), shown, exit: m ? Number(m[1]) : next?.lang === 'text' ? null : 0, line: b.line });
  });
  return steps;
}

/** Runs one shown command in a shell; asynchronous, so that the test worker keeps answering vitest while it runs. */
function runCommand(cmd: string): Promise<{ code: number; output: string }> {
  const local = cmd.replaceAll('npx unimem', `node ${join(ROOT, 'bin/unimem.mjs')}`).replaceAll('npx tsx', `node --import tsx`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${local} 2>&1`], { cwd: ROOT, timeout: 120_000 });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** The shown lines that are not printed in order, or [] when all are. */
function missingLines(shown: string[], output: string): string[] {
  const printed = output.split('\n').map((l) => l.trimEnd());
  let at = 0;
  for (const [i, want] of shown.entries()) {
    if (want === '...') continue;
    const found = printed.indexOf(want.trimEnd(), at);
    if (found < 0) return shown.slice(i);
    at = found + 1;
  }
  return [];
}

describe('the guide convention', () => {
  it('pairs each sh block with the text block after it, and reads an [exit N] line', () => {
    const md = 'a\n```sh\nnpx unimem x\n# note\n```\nb\n```text\none\n...\ntwo\n[exit 1]\n```\n```sh\ntrue\n```\n';
    expect(guideSteps(md)).toEqual([
      { commands: ['npx unimem x'], shown: ['one', '...', 'two'], exit: 1, line: 2 },
      { commands: ['true'], shown: [], exit: 0, line: 13 },
    ]);
  });

  it('finds shown lines only whole and in order', () => {
    expect(missingLines(['a', '...', 'c'], 'a\nb\nc\n')).toEqual([]);
    expect(missingLines(['c', 'a'], 'a\nb\nc\n')).toEqual(['a']);
    expect(missingLines(['b'], 'ab\n')).toEqual(['b']);
  });
});

const guides = readdirSync(GUIDES).filter((f) => f.endsWith('.md') && f !== 'README.md');

describe('every guide', () => {
  it('there is a guide for each question of the issue', () => {
    expect(guides.sort()).toEqual(['adding-a-device.md', 'cma-size.md', 'display-iommu.md', 'io-coherent.md', 'usb-bounce.md', 'userspace-program.md', 'zero-copy.md']);
  });

  for (const g of guides) {
    it(`${g}: its commands print what it shows`, async () => {
      const steps = guideSteps(readFileSync(join(GUIDES, g), 'utf8'));
      expect(steps.length).toBeGreaterThan(0);
      for (const s of steps) {
        let last = { code: 0, output: '' };
        for (const c of s.commands) last = await runCommand(c);
        const where = `${g}:${s.line}: ${s.commands.join('; ')}\n--- printed:\n${last.output}`;
        expect(missingLines(s.shown, last.output), where).toEqual([]);
        if (s.exit !== null) expect(last.code, where).toBe(s.exit);
      }
    });
  }
});
