import { accessSync, constants, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { BENCHES } from '../../bench/index.ts';
import type { RunResult } from '../sim/index.ts';
import { FaultInjection, KernelError, isKernelError, packageRoot, parseFaultSetting, setFaultKnob, type FaultSetting } from '../lib/index.ts';
import { addCompareCommand } from './compare.ts';
import { progressBar } from './progress.ts';
import { addSweepCommands } from './sweep.ts';

/**
 * The `unimem` command. Returns the process exit code (the README's table):
 * 2 is bad input for every command (one line naming file, line, column and
 * field; never a stack trace). `run` exits 1 only when the run itself failed
 * -- a shown frame differs from its source, none was shown, or a process
 * failed -- and 0 otherwise, findings or not; `check` exits 1 on any
 * finding as well. `exec` gives the program's own exit code (1 when it
 * threw); with `--check`, 1 when it exited 0 but something was found.
 */
export async function main(argv: string[]): Promise<number> {
  const out = { code: 0 };
  const program = new Command('unimem')
    .description('The Linux unified device-memory stack on a byte-accurate simulated SoC')
    .version(packageVersion(), '-V, --version', "print unimem's version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError()
    // Loading the simulator is most of a short command's wall time: --version
    // and --help never need it, so it is loaded once a subcommand is chosen,
    // before that subcommand parses its options (their checks use it).
    .hook('preSubcommand', async () => {
      [sim, report] = await Promise.all([import('../sim/index.ts'), import('../report/index.ts')]);
    });

  program
    .command('platform')
    .description('validate a platform file and print the SoC it describes')
    .argument('<file|name>', 'a platform file, or the name of a built-in platform')
    .option('--json', 'print the validated platform as JSON')
    .action((what: string, opts: { json?: boolean }) => {
      const p = sim.loadPlatform(what);
      if (opts.json) {
        process.stdout.write(JSON.stringify(p, null, 2) + '\n');
        return;
      }
      // Boot it to show the nodes its drivers make, numbered as Linux numbers them.
      const nodes = new Map(sim.bootSystem(p, { seed: 1 }).bound.map((b) => [b.name, b.nodes.map((n) => n.path)]));
      process.stdout.write(sim.describePlatform(p, undefined, nodes) + '\n');
    });

  const runOptions = (cmd: Command) =>
    cmd
      .argument('<scenario>', 'a scenario file, or the name of a built-in scenario')
      .option('--platform <file|name>', "the platform to run on (default: the scenario's own)")
      .option('--seed <n>', 'seed of every random choice (default: the scenario\'s own)', scenarioArg('seed', '--seed'))
      .option('--frames <n>', 'number of frames (default: the scenario\'s own)', scenarioArg('frames', '--frames'))
      .option('--json', 'print one JSON object instead of the summary')
      .option('--trace <file>', 'write a Chrome trace-event JSON file (opens in Perfetto)')
      .option('--report <file>', 'write a self-contained HTML report (memory map, IOVA spaces, buffer graph, plots over time)')
      .option('--fail <point:knob=value,...>', FAIL_HELP, failArg, []);

  const execute = async (what: string, opts: RunOpts): Promise<RunResult> => {
    checkOutputPath('--trace', opts.trace);
    checkOutputPath('--report', opts.report);
    const s = sim.loadScenario(what);
    const p = opts.platform !== undefined ? sim.loadPlatform(opts.platform) : sim.loadScenarioPlatform(s);
    let bar = opts.json ? null : progressBar(process.stderr);
    try {
      const collector = opts.report !== undefined ? new report.ReportCollector() : undefined;
      const r = await sim.runScenario(s, p, { seed: opts.seed, frames: opts.frames, onFrame: bar?.update, trace: opts.trace !== undefined, observer: collector, faults: opts.fail });
      if (opts.trace !== undefined && r.trace) writeFileSync(opts.trace, JSON.stringify(r.trace.toJSON()));
      delete r.trace;
      if (collector && opts.report !== undefined) writeFileSync(opts.report, report.renderReportHtml({ result: r, capture: collector.capture() }));
      bar?.done();
      bar = null;
      // On stderr, as the progress bar is: stdout stays the summary or the one JSON object.
      if (opts.trace !== undefined) process.stderr.write(`unimem: trace written to ${opts.trace}\n`);
      if (opts.report !== undefined) process.stderr.write(`unimem: report written to ${opts.report}\n`);
      return r;
    } finally {
      bar?.done();
    }
  };

  runOptions(program.command('run').description('run a scenario and print what it cost')).action(async (what: string, opts: RunOpts) => {
    const r = await execute(what, opts);
    process.stdout.write((opts.json ? JSON.stringify(r) : report.formatSummary(r)) + '\n');
    if (runFailed(r)) out.code = 1;
  });

  runOptions(program.command('check').description('run a scenario with every checker on; exit 1 when there are findings')).action(async (what: string, opts: RunOpts) => {
    const r = await execute(what, opts);
    if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
    else {
      if (r.findings.length > 0) process.stdout.write(report.formatFindings(r) + '\n');
      if (!r.integrity.ok) process.stdout.write(`integrity: ${report.integrityText(r)}\n`);
      process.stdout.write(r.findings.length === 0 && r.integrity.ok ? `${r.scenario}: clean\n` : `${r.scenario}: ${r.findings.length} finding(s)\n`);
    }
    out.code = r.findings.length > 0 || runFailed(r) ? 1 : 0;
  });

  program
    .command('cc')
    .description("build C sources into a WebAssembly module that `unimem exec` runs as a process (clang for wasm32-wasi with unimem's Linux headers and shim, then binaryen)")
    .argument('<sources...>', 'C source files')
    .requiredOption('-o <file>', 'the module to write (prog.wasm)')
    .allowUnknownOption()
    .action((sources: string[], opts: { o: string }) => {
      // options clang takes (-I, -D, -O, -W...) pass through; the rest are sources
      checkOutputPath('-o', opts.o);
      sim.compileC(
        sources.filter((a) => !a.startsWith('-')),
        opts.o,
        sources.filter((a) => a.startsWith('-')),
      );
    });

  program
    .command('exec')
    .description('boot a platform and run a userspace program as a process; its exit code is the command\'s')
    .argument('<program>', 'a .ts or .js module whose default export is async function main(sys, args), a C source (.c, built once per content), a folder whose .c files make one C program (as a selftest Makefile links them) or a module `unimem cc` built (.wasm)')
    .argument('[args...]', 'arguments for the program (after --)')
    .option('--platform <file|name>', 'the platform to boot', 'armv7-mobile')
    .option('--seed <n>', 'seed of every random choice', intArg('--seed'), 1)
    .option('--trace <file>', 'write a Chrome trace-event JSON file (syscalls per process, DMA, cache, IOMMU, fences)')
    .option('--check', 'exit 1 when the program exits 0 but a checker found something')
    .option('--fail <point:knob=value,...>', FAIL_HELP, failArg, [])
    .action(async (prog: string, args: string[], opts: { platform: string; seed: number; trace?: string; check?: boolean; fail: FaultSetting[] }) => {
      checkOutputPath('--trace', opts.trace);
      const p = sim.loadPlatform(opts.platform);
      const r = await sim.execProgram(prog, p, args, {
        seed: opts.seed,
        trace: opts.trace !== undefined,
        faults: opts.fail,
        onWrite: (fd, bytes) => (fd === 1 ? process.stdout : process.stderr).write(bytes),
      });
      if (opts.trace !== undefined && r.trace) {
        writeFileSync(opts.trace, JSON.stringify(r.trace.toJSON()));
        process.stderr.write(`unimem: trace written to ${opts.trace}\n`);
      }
      // What the kernel would log (dmesg), after the program's own output: each at the program's line.
      for (const f of r.findings) process.stderr.write(`unimem: ${report.formatFinding(f)}\n`);
      if (r.uncaught) process.stderr.write(`unimem: ${r.uncaught.site}: uncaught ${r.uncaught.name}: ${r.uncaught.message}\n`);
      if (r.signal) process.stderr.write(`unimem: ${r.signal.site}: killed by ${r.signal.name}${r.signal.detail ? ` (${r.signal.detail})` : ''}\n`);
      if (r.deadlock) process.stderr.write(`unimem: deadlock: every thread sleeps and nothing is scheduled\n${r.deadlock.map((l) => `unimem:   ${l}\n`).join('')}`);
      out.code = opts.check && r.exitCode === 0 && r.findings.length > 0 ? 1 : r.exitCode;
    });

  const ctx = { out, version: () => sim.resultVersion(packageVersion()), scenarioArg, checkOutputPath };
  addCompareCommand(program, ctx);
  addSweepCommands(program, ctx);

  program
    .command('platforms')
    .description('list the built-in platforms, each with its description')
    .action(() => {
      process.stdout.write(listing(sim.builtinPlatforms().map((n) => [n, sim.loadPlatform(n).description])));
    });

  program
    .command('scenarios')
    .description('list the built-in scenarios, each with its description')
    .action(() => {
      process.stdout.write(listing(sim.builtinScenarios().map((n) => [n, sim.loadScenario(n).spec.description])));
    });

  program
    .command('bench')
    .description(`run benchmarks: ${Object.keys(BENCHES).join(', ')} or all`)
    .argument('<name>', 'a benchmark name, or all')
    .option('--json', 'one JSON object per line (the default output is also one line per record)')
    .option('--profile', "profile the runs: pipeline rows add their wall time per frame by part of the simulation (wallMsPerFrame.*), the profiler's cost included in their speed")
    .action(async (name: string, opts: { json?: boolean; profile?: boolean }) => {
      const names = name === 'all' ? Object.keys(BENCHES) : [name];
      for (const n of names) {
        const load = BENCHES[n];
        if (!load) throw new sim.InputError(n, 0, 0, 'bench', `no benchmark named '${n}' (have: ${Object.keys(BENCHES).join(', ')}, all)`);
        let results;
        try {
          results = await (await load()).default({ profile: opts.profile ?? false });
        } catch (e) {
          // `all` goes on past a benchmark this machine cannot run (bench c without the C toolchain), saying so
          if (name !== 'all' || !(e instanceof sim.InputError)) throw e;
          process.stderr.write(`unimem: bench ${n} skipped: ${e.message}\n`);
          continue;
        }
        for (const r of results) process.stdout.write((opts.json ? JSON.stringify(r) : formatBench(r)) + '\n');
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (sim && e instanceof sim.InputError) {
      process.stderr.write(`unimem: ${e.message}\n`);
      return 2;
    }
    // a kernel-level scenario calls the kernel itself: a call that fails there (an injected ENOMEM) ends the run, as a failed run
    if (e instanceof KernelError) {
      process.stderr.write(`unimem: the run stopped: a kernel call failed with ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  return out.code;
}

// The simulator and the report writers, loaded by main's preSubcommand hook.
let sim: typeof import('../sim/index.ts');
let report: typeof import('../report/index.ts');

interface RunOpts {
  trace?: string;
  report?: string;
  platform?: string;
  seed?: number;
  frames?: number;
  json?: boolean;
  fail: FaultSetting[];
}

/** The run itself failed: a shown frame differs from its source, no frame was shown, or a process failed. */
function runFailed(r: RunResult): boolean {
  return !r.integrity.ok || r.findings.some((f) => f.kind === 'process-failed');
}

/** Names and their descriptions, one per line, the descriptions in one column. */
function listing(rows: [name: string, description: string][]): string {
  const width = Math.max(...rows.map(([n]) => n.length));
  return rows.map(([n, d]) => `${n.padEnd(width)}  ${d}`.trimEnd() + '\n').join('');
}

/** The version in the package's package.json, for `--version`. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function intArg(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new sim.InputError(flag, 0, 0, '', `'${v}' is not a non-negative integer`);
    return n;
  };
}

/** A flag that overrides a scenario field: an integer within that field's limits in the scenario schema. */
function scenarioArg(field: 'frames' | 'seed', flag: string) {
  const int = intArg(flag);
  return (v: string): number => sim.checkScenarioFlag(field, flag, int(v));
}

/**
 * Refuses an output file that cannot be written before the run, not after
 * it: a path that is a directory, a folder that does not exist, or no
 * permission to write.
 */
function checkOutputPath(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  const fail = (why: string) => new sim.InputError(path, 0, 0, flag, why);
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw fail('is a directory (EISDIR), not a file');
  const dir = dirname(path);
  const parent = statSync(dir, { throwIfNoEntry: false });
  if (!st && !parent) throw fail(`no such directory: ${dir} (ENOENT)`);
  if (!st && !parent!.isDirectory()) throw fail(`${dir} is not a directory (ENOTDIR)`);
  try {
    accessSync(st ? path : dir, constants.W_OK);
  } catch (e) {
    if (!(e instanceof Error && 'code' in e)) throw e;
    throw fail(`cannot be written: permission denied (${String(e.code)})`);
  }
}

const FAIL_HELP =
  'inject failures at a fault point, as its /sys/kernel/debug/<point>/ files would (repeatable): ' +
  'page_alloc, cma_alloc, iova_alloc, gen_pool_alloc, dma_map or slab, with probability (percent), interval, times (-1: no limit), space, verbose (0: no finding) and, for page_alloc, min-order';

/** Parses one `--fail` value and checks every knob against a scratch fault point; bad input (exit 2) otherwise. */
function failArg(v: string, prev: FaultSetting[]): FaultSetting[] {
  try {
    const setting = parseFaultSetting(v);
    const scratch = new FaultInjection(() => 0).attr(setting.name);
    for (const [k, n] of Object.entries(setting.knobs)) setFaultKnob(scratch, k, n);
    return [...prev, setting];
  } catch (e) {
    if (!isKernelError(e, 'EINVAL')) throw e;
    throw new sim.InputError('--fail', 0, 0, '', e.message.replace(/^EINVAL: /, ''));
  }
}

function formatBench(r: { bench: string; metrics: Record<string, number>; ratios: Record<string, number> }): string {
  const f = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
      .join(' ');
  return `${r.bench}: ${f(r.metrics)} | ${f(r.ratios)}`;
}
