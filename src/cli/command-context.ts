import type { SetArg } from '../sim/index.ts';

/**
 * What main.ts lends the commands defined in files of their own: the exit
 * code to set, the checks of flags it shares with `run`, and the version
 * rows are keyed by. Those files import the simulator only when their
 * command runs (main.ts loads it once a subcommand is chosen), so that
 * `--help` and `--version` stay quick.
 */
export interface CommandContext {
  out: { code: number };
  /** The version a sweep's rows are keyed by (resultVersion). */
  version: () => string;
  /** A flag that overrides a scenario field (`--seed`, `--frames`), checked against that field's limits. */
  scenarioArg: (field: 'frames' | 'seed', flag: string) => (v: string) => number;
  /** Refuses an output file that cannot be written, before the run. */
  checkOutputPath: (flag: string, path: string | undefined) => void;
}

/** Collects a repeatable flag's values as they are given; they are parsed once the simulator is loaded. */
export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Parses `--set path=values` flags; one path set twice is bad input (give every value in one --set). */
export function parseSets(sim: typeof import('../sim/index.ts'), raw: readonly string[]): SetArg[] {
  const out: SetArg[] = [];
  for (const v of raw) {
    const a = sim.parseSetArg(v);
    if (out.some((p) => p.path === a.path)) throw new sim.InputError('--set', 0, 0, a.path, 'set twice; give every value in one --set (a,b,c or from..to:step)');
    out.push(a);
  }
  return out;
}
