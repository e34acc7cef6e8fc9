import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A package laid out as unimem's, with the real bin/ and node_modules but a
 * main in src/ and one in dist/ that each say which they are; `built` is
 * the build's time, `edited` the sources'.
 */
function fakePackage(opts: { built: number | null; edited: number; bundle?: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimem-bin-'));
  mkdirSync(join(dir, 'bin'));
  for (const f of ['unimem.mjs', 'program-hooks.mjs', 'compiled.mjs', 'sweep-worker.mjs', 'cli-bundle.mjs']) copyFileSync(join(ROOT, 'bin', f), join(dir, 'bin', f));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'unimem', type: 'module', exports: { '.': './src/index.ts' } }));
  mkdirSync(join(dir, 'src/cli'), { recursive: true });
  mkdirSync(join(dir, 'bench'));
  // `exec <program>` imports the program, as the real command does
  const said = (what: string) =>
    `export async function main(argv) { if (argv[0] === 'exec') { await import(argv[1]); return 0; } process.stdout.write('${what} ' + argv.join(' ') + '\\n'); return 3; }\n`;
  writeFileSync(join(dir, 'src/cli/main.ts'), said('source'));
  writeFileSync(join(dir, 'src/index.ts'), "export const copy = 'source';\n");
  // a sweep worker says which copy it is to the thread that started it
  const worker = (what: string) => `import { parentPort } from 'node:worker_threads';\nparentPort.postMessage('${what}');\n`;
  mkdirSync(join(dir, 'src/sim/sweep'), { recursive: true });
  writeFileSync(join(dir, 'src/sim/sweep/worker.ts'), worker('source'));
  utimesSync(join(dir, 'src/sim/sweep/worker.ts'), opts.edited, opts.edited);
  utimesSync(join(dir, 'src/index.ts'), opts.edited, opts.edited);
  writeFileSync(join(dir, 'bench/index.ts'), 'export {};\n');
  for (const f of ['src/cli/main.ts', 'bench/index.ts']) utimesSync(join(dir, f), opts.edited, opts.edited);
  if (opts.built !== null) {
    mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
    writeFileSync(join(dir, 'dist/src/cli/main.js'), said('compiled'));
    writeFileSync(join(dir, 'dist/src/index.js'), "export const copy = 'compiled';\n");
    utimesSync(join(dir, 'dist/src/cli/main.js'), opts.built, opts.built);
    mkdirSync(join(dir, 'dist/src/sim/sweep'), { recursive: true });
    writeFileSync(join(dir, 'dist/src/sim/sweep/worker.js'), worker('compiled'));
    utimesSync(join(dir, 'dist/src/sim/sweep/worker.js'), opts.built, opts.built);
    // the command as one script, as the real build makes it beside the modules
    if (opts.bundle) writeFileSync(join(dir, 'dist/cli.cjs'), `exports.main = async (argv) => { process.stdout.write('bundle ' + argv.join(' ') + '\\n'); return 4; };\n`);
  }
  return dir;
}

function run(dir: string, env: Record<string, string> = {}, args = ['run', 'x']): { code: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join(dir, 'bin/unimem.mjs'), ...args], { encoding: 'utf8', env: { ...process.env, UNIMEM_FROM_SOURCE: '', ...env } });
  rmSync(dir, { recursive: true, force: true });
  return { code: r.status, stdout: r.stdout };
}

describe('bin/unimem.mjs runs the build or the sources', () => {
  it('runs dist/ when it is at least as new as every source file, with the arguments and exit code passed through', () => {
    expect(run(fakePackage({ built: 2000, edited: 1000 }))).toEqual({ code: 3, stdout: 'compiled run x\n' });
  });

  it('runs the TypeScript sources when a source file is newer than the build', () => {
    expect(run(fakePackage({ built: 1000, edited: 2000 })).stdout).toBe('source run x\n');
  });

  it('runs the sources when there is no build', () => {
    expect(run(fakePackage({ built: null, edited: 1000 })).stdout).toBe('source run x\n');
  });

  it('runs the sources when UNIMEM_FROM_SOURCE is set, fresh build or not', () => {
    expect(run(fakePackage({ built: 2000, edited: 1000 }), { UNIMEM_FROM_SOURCE: '1' }).stdout).toBe('source run x\n');
  });

  it('runs the command from its one-script build when dist/ has one, and exec from the modules', () => {
    expect(run(fakePackage({ built: 2000, edited: 1000, bundle: true }))).toEqual({ code: 4, stdout: 'bundle run x\n' });
    const program = join(mkdtempSync(join(tmpdir(), 'unimem-prog-')), 'p.mjs');
    writeFileSync(program, "import { copy } from 'unimem';\nprocess.stdout.write(`${copy}\\n`);\n");
    expect(run(fakePackage({ built: 2000, edited: 1000, bundle: true }), {}, ['exec', program]).stdout).toBe('compiled\n');
    // a stale build is not run, bundle or not
    expect(run(fakePackage({ built: 1000, edited: 2000, bundle: true })).stdout).toBe('source run x\n');
  });

  it('runs the script when its code cache is not one V8 takes, or is older than the script', () => {
    for (const age of [3000, 1000]) {
      const dir = fakePackage({ built: 2000, edited: 1000, bundle: true });
      writeFileSync(join(dir, 'dist/cli.cjs.cache'), Buffer.from('not a code cache'));
      utimesSync(join(dir, 'dist/cli.cjs.cache'), age, age);
      expect(run(dir)).toEqual({ code: 4, stdout: 'bundle run x\n' });
    }
  });

  it("gives a program under exec the package's copy that runs it: 'unimem' resolves into dist/ when the command runs from there", () => {
    const program = join(mkdtempSync(join(tmpdir(), 'unimem-prog-')), 'p.ts');
    writeFileSync(program, "import { copy } from 'unimem';\nconst n: number = 1;\nprocess.stdout.write(`${copy} ${n}\\n`);\n");
    expect(run(fakePackage({ built: 2000, edited: 1000 }), {}, ['exec', program]).stdout).toBe('compiled 1\n');
    expect(run(fakePackage({ built: 1000, edited: 2000 }), {}, ['exec', program]).stdout).toBe('source 1\n');
  });
});

/** Starts the package's sweep worker as the sweep pool does and returns what it says it is. */
async function sweepWorkerCopy(dir: string, env: Record<string, string> = {}): Promise<string> {
  const saved = process.env.UNIMEM_FROM_SOURCE;
  process.env.UNIMEM_FROM_SOURCE = env.UNIMEM_FROM_SOURCE ?? '';
  try {
    const w = new Worker(join(dir, 'bin/sweep-worker.mjs'));
    const said = await new Promise<string>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    return said;
  } finally {
    process.env.UNIMEM_FROM_SOURCE = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('bin/sweep-worker.mjs runs the same copy as the command', () => {
  it('the compiled worker when dist/ is current: no TypeScript compile in each worker', async () => {
    expect(await sweepWorkerCopy(fakePackage({ built: 2000, edited: 1000 }))).toBe('compiled');
  });
  it('the sources when one is newer than the build, or UNIMEM_FROM_SOURCE is set', async () => {
    expect(await sweepWorkerCopy(fakePackage({ built: 1000, edited: 2000 }))).toBe('source');
    expect(await sweepWorkerCopy(fakePackage({ built: 2000, edited: 1000 }), { UNIMEM_FROM_SOURCE: '1' })).toBe('source');
  });
});

describe('the real build', () => {
  it('runs a sweep whose points go to worker threads, which find their script from dist/ as from src/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-dist-'));
    try {
      mkdirSync(join(dir, 'bin'));
      for (const f of ['unimem.mjs', 'program-hooks.mjs', 'compiled.mjs', 'sweep-worker.mjs', 'cli-bundle.mjs']) copyFileSync(join(ROOT, 'bin', f), join(dir, 'bin', f));
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      for (const d of ['src', 'bench', 'examples', 'node_modules']) symlinkSync(join(ROOT, d), join(dir, d));
      const { buildDist } = await import('../../scripts/build-options.mjs');
      await buildDist(ROOT, join(dir, 'dist'), { sourcemap: false });
      const r = spawnSync(process.execPath, [join(dir, 'bin/unimem.mjs'), 'sweep', 'camera-preview', '--set', 'seed=1,2', '--set', 'frames=2', '--jobs', '2', '--db', join(dir, 'out.db')], {
        encoding: 'utf8',
        env: { ...process.env, UNIMEM_FROM_SOURCE: '' },
      });
      expect(r.stderr).toMatch(/2 points: 2 ok, 0 failed, 0 invalid, 0 error/);
      expect(r.status).toBe(0);
      // the build's code cache is one this Node takes for the script, and the command runs from it
      const probe = `import('${join(dir, 'bin/cli-bundle.mjs')}').then((m) => { const b = m.loadCliBundle('${join(dir, 'dist/cli.cjs')}'); process.stdout.write(String(b.cacheRejected) + ' ' + typeof b.exports.main); })`;
      expect(spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' }).stdout).toBe('false function');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
