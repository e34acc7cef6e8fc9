import { Command, CommanderError } from 'commander';
import { BENCHES } from '../../bench/index.ts';
import { builtinPlatforms, builtinScenarios, describePlatform, InputError, loadPlatform } from '../sim/index.ts';

/**
 * The `unimem` command. Returns the process exit code: 0 success, 1 findings
 * or failed checks, 2 bad input (one line naming file, line, column and
 * field; never a stack trace).
 */
export async function main(argv: string[]): Promise<number> {
  const out = { code: 0 };
  const program = new Command('unimem')
    .description('The Linux unified device-memory stack on a byte-accurate simulated SoC')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError();

  program
    .command('platform')
    .description('validate a platform file and print the SoC it describes')
    .argument('<file|name>', 'a platform file, or the name of a built-in platform')
    .option('--json', 'print the validated platform as JSON')
    .action((what: string, opts: { json?: boolean }) => {
      const p = loadPlatform(what);
      process.stdout.write((opts.json ? JSON.stringify(p, null, 2) : describePlatform(p)) + '\n');
    });

  program
    .command('platforms')
    .description('list the built-in platforms')
    .action(() => {
      process.stdout.write(builtinPlatforms().join('\n') + '\n');
    });

  program
    .command('scenarios')
    .description('list the built-in scenarios')
    .action(() => {
      process.stdout.write(builtinScenarios().join('\n') + '\n');
    });

  program
    .command('bench')
    .description(`run benchmarks: ${Object.keys(BENCHES).join(', ')} or all`)
    .argument('<name>', 'a benchmark name, or all')
    .option('--json', 'one JSON object per line (the default output is also one line per record)')
    .action(async (name: string, opts: { json?: boolean }) => {
      const names = name === 'all' ? Object.keys(BENCHES) : [name];
      for (const n of names) {
        const load = BENCHES[n];
        if (!load) throw new InputError(n, 0, 0, 'bench', `no benchmark named '${n}' (have: ${Object.keys(BENCHES).join(', ')}, all)`);
        const results = await (await load()).default();
        for (const r of results) process.stdout.write((opts.json ? JSON.stringify(r) : formatBench(r)) + '\n');
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError) {
      process.stderr.write(`unimem: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return out.code;
}

function formatBench(r: { bench: string; metrics: Record<string, number>; ratios: Record<string, number> }): string {
  const f = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
      .join(' ');
  return `${r.bench}: ${f(r.metrics)} | ${f(r.ratios)}`;
}
