/**
 * The long run of the syscall fuzzer (test/fuzz/fuzz.ts): seed after seed
 * of random call sequences across processes, each checked by the kernel's
 * leak counts and the allocators' invariant walks once every process has
 * exited. Prints each seed, the calls run and every failure with its
 * minimal call list; exits 1 when any seed failed.
 *
 *   npm run fuzz -- --seeds 1..500 --time 10m
 */
import { formatPlan, fuzzSeeds } from '../test/fuzz/fuzz.ts';

function usage(why: string): never {
  process.stderr.write(`fuzz: ${why}\nusage: npm run fuzz -- [--seeds A..B] [--time 10m|90s|500ms]\n`);
  process.exit(2);
}

function parseTime(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) usage(`bad --time ${v}`);
  return Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

let first = 1;
let last = 500;
let budgetMs = 10 * 60e3;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const v = argv[i + 1];
  if (a === '--seeds' && v) {
    const m = /^(\d+)(?:\.\.(\d+))?$/.exec(v);
    if (!m) usage(`bad --seeds ${v}`);
    first = Number(m[1]);
    last = m[2] === undefined ? first : Number(m[2]);
    if (last < first) usage(`empty seed range ${v}`);
    i++;
  } else if (a === '--time' && v) {
    budgetMs = parseTime(v);
    i++;
  } else usage(`unknown argument ${a}`);
}

const t0 = performance.now();
const r = await fuzzSeeds(
  first,
  last,
  budgetMs,
  (seed, res) => process.stdout.write(`seed ${seed}: ${res.calls} calls, ${res.failures.length === 0 ? 'ok' : `${res.failures.length} failures`}\n`),
  (seed, failure, minimal) => process.stdout.write(`FAIL seed ${seed}: ${failure}\nminimal ${formatPlan(minimal)}\n`),
);
const secs = ((performance.now() - t0) / 1000).toFixed(1);
process.stdout.write(`\n${r.seeds} seeds (${first}..${first + r.seeds - 1}), ${r.calls} calls, ${r.failed.length} failed${r.failed.length ? `: ${r.failed.join(' ')}` : ''}, ${secs} s\n`);
process.exit(r.failed.length ? 1 : 0);
