import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import type { PointRow, SweepSpec } from '../sim/index.ts';
import { collect, parseSets, type CommandContext } from './command-context.ts';
import { progressBar } from './progress.ts';

interface SweepOpts {
  set?: string[];
  platform?: string;
  seed?: number;
  frames?: number;
  jobs?: number;
  db: string;
  shard?: string;
  report?: string;
  json?: boolean;
  metrics?: string;
}

function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || n < 1) throw new InvalidArgumentError(`${flag}: '${v}' is not a positive integer`);
    return n;
  };
}

/**
 * Adds `unimem sweep` and `unimem sweep merge`. A sweep exits 0 when every
 * point ran (whatever the points' outcomes: they are the data), 1 when the
 * simulator failed on a point (an `error` row), 2 on bad input.
 */
export function addSweepCommands(program: Command, ctx: CommandContext): void {
  const { scenarioArg, checkOutputPath } = ctx;
  const sweep = program
    .command('sweep')
    .description('run a scenario over a grid of parameters on every core; results go to an SQLite file, one row per point')
    .argument('<scenario|sweep-file>', 'a scenario (file or built-in name), or a sweep file (YAML with scenario: and set:)')
    .option('--set <path=values>', 'a parameter and its values: a path in the scenario or platform file (cma.default, memoryPressure, cma.areas.display.size, format) = a list (a,b,c) or range (32MiB..160MiB:16MiB); repeat for a grid', collect)
    .option('--platform <file|name>', "the platform to run on (default: the scenario's own)")
    .option('--seed <n>', "seed of every point (default: the scenario's own)", scenarioArg('seed', '--seed'))
    .option('--frames <n>', "frames of every point (default: the scenario's own)", scenarioArg('frames', '--frames'))
    .option('--jobs <n>', 'worker threads (default: one per core)', positiveInt('--jobs'))
    .option('--db <file>', 'the result database (SQLite); points already in it are skipped', 'unimem-sweep.db')
    .option('--shard <i/N>', 'run only shard i of N (from 0); default: a Kubernetes Indexed Job\'s JOB_COMPLETION_INDEX with UNIMEM_SHARD_COUNT, or a Slurm array\'s SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT')
    .option('--report <file>', 'write an HTML report: boundaries, the table, and a plot of any metric against the parameters')
    .option('--metrics <names>', 'the metrics the table shows, comma-separated (default: those about the swept parameters that vary)')
    .option('--json', 'print one JSON object per point instead of the table')
    .action(async (what: string, opts: SweepOpts) => {
      const [sim, report] = await Promise.all([import('../sim/index.ts'), import('../report/index.ts')]);
      const sets = parseSets(sim, opts.set ?? []);
      let spec: SweepSpec;
      if (sim.isSweepFile(what)) {
        spec = sim.loadSweepFile(what);
        // flags on the command line win over the file
        for (const a of sets) spec.axes = [...spec.axes.filter((x) => x.path !== a.path), a];
        spec = { ...spec, platform: opts.platform ?? spec.platform, seed: opts.seed ?? spec.seed, frames: opts.frames ?? spec.frames };
      } else {
        if (sets.length === 0) throw new sim.InputError('--set', 0, 0, '', 'a sweep needs at least one --set path=values (or a sweep file)');
        spec = { scenario: what, platform: opts.platform, seed: opts.seed, frames: opts.frames, axes: sets };
      }
      const shard = sim.shardOf(opts.shard);
      checkOutputPath('--db', sim.shardFile(opts.db, shard));
      checkOutputPath('--report', opts.report);
      const bar = opts.json ? null : progressBar(process.stderr, 'points');
      let outcome;
      try {
        outcome = await sim.runSweep(spec, { version: ctx.version(), jobs: opts.jobs ?? sim.defaultJobs(), shard, db: opts.db, onProgress: (d, t) => bar?.update(d, t) });
      } finally {
        bar?.done();
      }
      const rows = outcome.rows;
      if (opts.json) for (const r of rows) process.stdout.write(JSON.stringify(rowJson(r)) + '\n');
      else if (rows.length > 0) {
        const metrics = opts.metrics?.split(',').map((m) => m.trim()).filter(Boolean);
        process.stdout.write(report.formatSweepTable(rows, metrics) + '\n\n' + report.sweepBoundaries(rows).join('\n') + '\n');
      }
      if (opts.report !== undefined) writeFileSync(opts.report, report.renderSweepHtml(rows));
      const count = (s: string) => rows.filter((r) => r.status === s).length;
      const shardText = shard ? ` (shard ${shard.index} of ${shard.count}, from ${shard.from})` : '';
      process.stderr.write(
        `unimem: ${outcome.total} points${shardText}: ${count('ok')} ok, ${count('failed')} failed, ${count('invalid')} invalid, ${count('error')} error; ran ${outcome.ran}, ${outcome.skipped} already in ${outcome.db}\n`,
      );
      if (count('error') > 0) ctx.out.code = 1;
    });

  sweep
    .command('merge')
    .description('join result files (the shards of a sweep) into one; a point in several is kept once')
    .argument('<out>', 'the merged database (created, or added to)')
    .argument('<inputs...>', 'the result files to join')
    .action(async (outFile: string, inputs: string[]) => {
      checkOutputPath('<out>', outFile);
      const sim = await import('../sim/index.ts');
      const r = await sim.mergeResults(outFile, inputs);
      process.stderr.write(`unimem: ${outFile}: ${r.rows} points (${r.added} added from ${inputs.length} file(s), ${r.had} already there)\n`);
    });
}

/** A row as `sweep --json` prints it: parameters as an object, then how it came out. */
function rowJson(r: PointRow) {
  return {
    index: r.index,
    key: r.key,
    params: Object.fromEntries(r.params.map(([p, t]) => [p, t])),
    scenario: r.scenario,
    platform: r.platform,
    seed: r.seed,
    frames: r.frames,
    status: r.status,
    reason: r.reason,
    metrics: r.metrics,
    findings: r.findings,
    placement: r.placement,
  };
}
