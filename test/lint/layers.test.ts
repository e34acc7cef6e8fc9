import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The project's own lint config, run on code written here as if it stood at a path in the tree.
const eslint = new ESLint({ cwd: fileURLToPath(new URL('../..', import.meta.url)) });

/** The rules that fire on `code` placed at `file` (a path in the repository). */
async function rulesAt(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: file });
  return r!.messages.map((m) => m.ruleId ?? m.message);
}

const NO_IMPORT = '@typescript-eslint/no-restricted-imports';

describe('lint keeps the layers', () => {
  it('refuses an upward import, and a reach past a layer\'s door; takes the door of a layer below', async () => {
    expect(await rulesAt('src/mm/probe.ts', "import { PLATFORM_DRIVERS } from '../drivers/index.ts';\nexport const n = PLATFORM_DRIVERS.length;\n")).toContain(NO_IMPORT);
    expect(await rulesAt('src/drivers/probe.ts', "import { CmaArea } from '../mm/cma.ts';\nexport type A = CmaArea;\n")).toContain(NO_IMPORT);
    expect(await rulesAt('src/drivers/probe.ts', "import type { CmaArea } from '../mm/index.ts';\nexport type A = CmaArea;\n")).toEqual([]);
  });

  it('lets a userspace stage program take only uapi, formats and types from proc', async () => {
    expect(await rulesAt('src/sim/stages/probe.ts', "import { dmaBufGet } from '../../dmabuf/index.ts';\nexport const f = dmaBufGet;\n")).toContain(NO_IMPORT);
    expect(await rulesAt('src/sim/stages/probe.ts', "import { spawnProcess } from '../../proc/index.ts';\nexport const f = spawnProcess;\n")).toContain(NO_IMPORT);
    expect(await rulesAt('src/sim/stages/probe.ts', "import type { Sys } from '../../proc/index.ts';\nimport { O_RDWR } from '../../uapi/index.ts';\nexport const f = (s: Sys) => s.open('/dev/null', O_RDWR);\n")).toEqual([]);
  });

  it('refuses a bare catch and one that never rethrows; takes a catch that tests its errno and rethrows the rest', async () => {
    const bare = 'export function f(g: () => void): void {\n  try {\n    g();\n  } catch {\n    // nothing\n  }\n}\n';
    const swallow = 'export function f(g: () => number): number {\n  try {\n    return g();\n  } catch (e) {\n    return e === null ? 1 : 0;\n  }\n}\n';
    const tested = "import { isKernelError } from '../lib/index.ts';\nexport function f(g: () => number): number {\n  try {\n    return g();\n  } catch (e) {\n    if (!isKernelError(e, 'ENOMEM')) throw e;\n    return 0;\n  }\n}\n";
    expect(await rulesAt('src/mm/probe.ts', bare)).toContain('no-restricted-syntax');
    expect(await rulesAt('src/mm/probe.ts', swallow)).toContain('no-restricted-syntax');
    expect(await rulesAt('src/mm/probe.ts', tested)).toEqual([]);
  });

  it('refuses export * in a door', async () => {
    expect(await rulesAt('src/mm/index.ts', "export * from './cma.ts';\n")).toContain('no-restricted-syntax');
  });
});
