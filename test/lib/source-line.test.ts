import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { userFrame } from '../../src/lib/index.ts';

// A stage program as the build compiles it: its type-only lines vanish, so
// the compiled line of `explode()` is not its TypeScript line (6).
const SOURCE = ['interface Frame {', '  width: number;', '}', 'type Id = number;', 'export function stage(f: Frame, id: Id): void {', '  explode(f, id);', '}', ''].join('\n');

/**
 * Compiles SOURCE as the file `source` (relative to a package root) into
 * <root>/dist/<name>.js with its map beside it, as a bundled chunk of
 * `npm run build` is laid out; where explode() landed.
 */
function compiled(source = 'src/sim/stages/x.ts', name = 'chunk-X', dir = mkdtempSync(join(tmpdir(), 'unimem-srcmap-'))): { dir: string; js: string; line: number; col: number } {
  const out = ts.transpileModule(SOURCE, { fileName: 'x.ts', compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true } });
  const map = JSON.parse(out.sourceMapText!) as { sources: string[] };
  map.sources = [`../${source}`];
  mkdirSync(join(dir, 'dist'), { recursive: true });
  const js = join(dir, 'dist', `${name}.js`);
  writeFileSync(js, out.outputText);
  writeFileSync(`${js}.map`, JSON.stringify(map));
  const lines = out.outputText.split('\n');
  const line = lines.findIndex((l) => l.includes('explode(')) + 1;
  return { dir, js, line, col: lines[line - 1]!.indexOf('explode') + 1 };
}

describe('userFrame on compiled code', () => {
  it('names the TypeScript line a compiled stage line came from, by the source map beside it', () => {
    const c = compiled();
    expect(c.line).toBe(2);
    const stack = `Error\n    at stage (file://${c.js}:${c.line}:${c.col})\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)`;
    expect(userFrame(stack)).toBe(`${join(c.dir, 'src/sim/stages/x.ts')}:6:3`);
  });

  it("skips a compiled frame whose source is the kernel's, and names the stage frame under it", () => {
    const kernel = compiled('src/proc/kernel.ts', 'chunk-K');
    const stage = compiled('src/sim/stages/x.ts', 'chunk-S', kernel.dir);
    const stack = `Error\n    at runCall (file://${kernel.js}:${kernel.line}:${kernel.col})\n    at stage (file://${stage.js}:${stage.line}:${stage.col})`;
    expect(userFrame(stack)).toBe(`${join(kernel.dir, 'src/sim/stages/x.ts')}:6:3`);
  });

  it('leaves a line with no source map beside it as it is', () => {
    const c = compiled();
    const bare = join(c.dir, 'plain.js');
    writeFileSync(bare, 'export {};\n');
    expect(userFrame(`Error\n    at f (${bare}:1:1)`)).toBe(`${bare}:1:1`);
  });
});
