import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SYS = new URL('../../src/proc/sys.ts', import.meta.url);
const DOC = new URL('../../docs/sys.md', import.meta.url);

/** Each public method of class Sys as its docs/sys.md heading spells it: "name(a, b?) → Result". */
function sysSignatures(): string[] {
  const src = ts.createSourceFile('sys.ts', readFileSync(SYS, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  for (const n of src.statements) {
    if (!ts.isClassDeclaration(n) || n.name?.text !== 'Sys') continue;
    for (const m of n.members) {
      if (!ts.isMethodDeclaration(m)) continue;
      if (m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
      const params = m.parameters.map((p) => p.name.getText(src) + (p.questionToken || p.initializer ? '?' : '')).join(', ');
      const ret = m.type && ts.isTypeReferenceNode(m.type) && m.type.typeName.getText(src) === 'Promise' ? m.type.typeArguments![0]!.getText(src) : (m.type?.getText(src) ?? '?');
      out.push(`${m.name.getText(src)}(${params}) → ${ret}`);
    }
  }
  return out;
}

/** The call headings of docs/sys.md: "### `name(a, b?)` → `Result`". */
function documented(): string[] {
  return [...readFileSync(DOC, 'utf8').matchAll(/^### `([^`]+)` → `([^`]+)`$/gm)].map((m) => `${m[1]} → ${m[2]}`);
}

describe('docs/sys.md', () => {
  it('finds the Sys class and its calls', () => {
    const sigs = sysSignatures();
    expect(sigs).toContain('read(fd, len) → Uint8Array');
    expect(sigs).toContain('ioctl(fd, request, arg?) → number');
    expect(sigs.length).toBeGreaterThan(40);
  });

  it('documents every call of Sys with its parameters and result, and no call Sys lacks', () => {
    const code = sysSignatures().sort();
    const doc = documented().sort();
    expect(doc.filter((d) => !code.includes(d)), 'documented but not in src/proc/sys.ts (or with other parameters)').toEqual([]);
    expect(code.filter((c) => !doc.includes(c)), 'in src/proc/sys.ts but not documented in docs/sys.md').toEqual([]);
    expect(new Set(doc).size).toBe(doc.length);
  });

  it('is linked from the README\'s "Userspace programs" section', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Userspace programs'));
    expect(section.slice(0, section.indexOf('\n## ') >>> 0)).toContain('](docs/sys.md)');
  });
});
