import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cToolchainProblem } from '../../src/sim/index.ts';
import { unimem } from './run-cli.ts';

// Needs Debian's clang, lld, wasi-libc, and libclang-rt-dev-wasm32 (.ci/run installs them).
const problem = cToolchainProblem();
if (problem) console.warn(`unimem cc tests skipped: ${problem}`);
const cIt = (name: string, fn: () => void) => (problem ? it.skip : it)(name, fn, 180_000);

describe('unimem cc and exec of C programs', () => {
  cIt('builds a module that exec runs, with its arguments, output and exit code; an unsupported call is ENOSYS, as Linux gives for a call it lacks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-cc-'));
    const src = join(dir, 'prog.c');
    writeFileSync(src, '#include <stdio.h>\n#include <unistd.h>\nint main(int argc, char **argv) {\n  if (execv("/bin/true", argv) < 0) perror("execv");\n  printf("%s %s\\n", argv[0], argv[1]);\n  return 5;\n}\n');
    const out = join(dir, 'prog.wasm');
    const b = await unimem(['cc', src, '-O1', '-o', out]);
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const r = await unimem(['exec', out, '--', 'hello']);
    expect(r.stdout).toBe('prog hello\n');
    expect(r.stderr).toBe('execv: Function not implemented\n');
    expect(r.code).toBe(5);
  });

  cIt('a program that uses what C programs cannot yet do fails to build with a message saying so (exit 2, no stack trace)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-cc-'));
    const src = join(dir, 'jump.c');
    writeFileSync(src, '#include <setjmp.h>\nint main(void) { return 0; }\n');
    const r = await unimem(['exec', src]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/jump\.c: clang failed:[\s\S]*cannot use setjmp\/longjmp yet/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  cIt('a compile error names the file and line, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-cc-'));
    const src = join(dir, 'bad.c');
    writeFileSync(src, 'int main(void) {\n  return nope;\n}\n');
    const r = await unimem(['cc', src, '-o', join(dir, 'bad.wasm')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.c:2:10: error: use of undeclared identifier 'nope'/);
  });
});
