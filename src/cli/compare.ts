import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { RunResult, SetArg, SweepSpec } from '../sim/index.ts';
import { collect, parseSets, type CommandContext } from './command-context.ts';

type Sim = typeof import('../sim/index.ts');

interface CompareOpts {
  scenario?: string;
  platform?: string;
  seed?: number;
  frames?: number;
  set?: string[];
  changed?: boolean;
  json?: boolean;
  report?: string;
}

/** One side of a comparison as the user named it: a scenario, a platform, or overrides (`seed=2`, `cma.default=64MiB`). */
type Side = { kind: 'scenario'; what: string } | { kind: 'platform'; what: string } | { kind: 'set'; axes: SetArg[] };

/** Tells what a side names: `path=value` overrides, else a scenario or a platform (a file by its fields, or a built-in name). */
function sideOf(sim: Sim, arg: string): Side {
  if (arg.includes('=')) {
    const axes = arg.split(/,(?=[A-Za-z0-9_.[\]-]+=)/).map((a) => sim.parseSetArg(a, 'compare'));
    for (const a of axes) if (a.values.length !== 1) throw new sim.InputError('compare', 0, 0, a.path, `one side takes one value per path, not ${a.values.length} (a sweep takes lists)`);
    return { kind: 'set', axes };
  }
  if (existsSync(arg)) {
    const data = sim.yamlFileFields(arg);
    if ('processes' in data || 'pipeline' in data) return { kind: 'scenario', what: arg };
    if ('memory' in data || 'devices' in data) return { kind: 'platform', what: arg };
    throw new sim.InputError(arg, 0, 0, '', 'is neither a scenario (it has no pipeline or processes) nor a platform (no memory or devices)');
  }
  if (sim.builtinScenarios().includes(arg)) return { kind: 'scenario', what: arg };
  if (sim.builtinPlatforms().includes(arg)) return { kind: 'platform', what: arg };
  throw new sim.InputError(arg, 0, 0, '', `no such file, built-in scenario or platform, and not path=value (scenarios: ${sim.builtinScenarios().join(', ')}; platforms: ${sim.builtinPlatforms().join(', ')})`);
}

/** The work one side runs: the shared scenario and flags, with the side's own scenario, platform or overrides. */
function specOf(side: Side, opts: CompareOpts, sets: SetArg[]): SweepSpec {
  const base = { scenario: opts.scenario ?? '', platform: opts.platform, seed: opts.seed, frames: opts.frames, axes: sets };
  if (side.kind === 'scenario') return { ...base, scenario: side.what };
  if (side.kind === 'platform') return { ...base, platform: side.what };
  const paths = new Set(side.axes.map((a) => a.path));
  return { ...base, axes: [...sets.filter((a) => !paths.has(a.path)), ...side.axes] };
}

/**
 * Adds `unimem compare`: the same work on two designs (two platforms, two
 * scenarios, or two sets of overrides such as seeds), every metric side by
 * side with the difference, the findings only one side has and the
 * placement choices that changed.
 */
export function addCompareCommand(program: Command, ctx: CommandContext): void {
  const { scenarioArg, checkOutputPath } = ctx;
  program
    .command('compare')
    .description('run the same work on two designs and show every metric side by side with the difference')
    .argument('<left>', 'a platform, a scenario, or overrides path=value[,path=value] (seed=2, cma.default=64MiB)')
    .argument('<right>', 'the other side, of the same kind')
    .option('--scenario <file|name>', 'the scenario both sides run (needed when the sides are platforms or overrides)')
    .option('--platform <file|name>', "the platform both sides run on (default: each scenario's own)")
    .option('--seed <n>', 'seed of both runs', scenarioArg('seed', '--seed'))
    .option('--frames <n>', 'frames of both runs', scenarioArg('frames', '--frames'))
    .option('--set <path=value>', 'an override both sides take (repeatable)', collect)
    .option('--changed', 'show only the metrics that differ')
    .option('--json', 'print the comparison as one JSON object')
    .option('--report <file>', 'write both sides in one HTML file: the comparison and each run\'s report')
    .action(async (l: string, r: string, opts: CompareOpts) => {
      checkOutputPath('--report', opts.report);
      const [sim, report] = await Promise.all([import('../sim/index.ts'), import('../report/index.ts')]);
      const sets = parseSets(sim, opts.set ?? []);
      const sides = [sideOf(sim, l), sideOf(sim, r)];
      const kinds = new Set(sides.map((s) => s.kind));
      if (kinds.size > 1) throw new sim.InputError('compare', 0, 0, '', `'${l}' and '${r}' are not of one kind (${sides.map((s) => s.kind).join(' and ')}): compare two platforms, two scenarios, or two sets of path=value`);
      if (!kinds.has('scenario') && opts.scenario === undefined) throw new sim.InputError('compare', 0, 0, '', 'name the work both sides run: --scenario <file|name>');
      const results: RunResult[] = [];
      const reports: string[] = [];
      for (const side of sides) {
        const spec = specOf(side, opts, sets);
        for (const a of spec.axes) if (a.values.length !== 1) throw new sim.InputError('--set', 0, 0, a.path, 'compare takes one value per path');
        const point = sim.planPoints(spec, '')[0]!;
        const { scenario, platform } = sim.loadPoint(point);
        const collector = opts.report !== undefined ? new report.ReportCollector() : undefined;
        const res = await sim.runScenario(scenario, platform, { seed: opts.seed, frames: opts.frames, observer: collector });
        delete res.trace;
        results.push(res);
        if (collector) reports.push(report.renderReportHtml({ result: res, capture: collector.capture() }));
      }
      const c = report.compareResults(results[0]!, results[1]!, [l, r]);
      if (opts.json) process.stdout.write(JSON.stringify(c) + '\n');
      else process.stdout.write(report.formatComparison(c, { changedOnly: opts.changed }) + '\n');
      if (opts.report !== undefined) writeFileSync(opts.report, report.renderCompareHtml(c, reports[0]!, reports[1]!));
    });
}
