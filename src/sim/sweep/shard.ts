import { basename, dirname, extname, join } from 'node:path';
import { InputError } from '../input-error.ts';

/** One part of a sweep split across machines: points whose index mod `count` is `index` (0-based). */
export interface Shard {
  index: number;
  count: number;
  /** Where it came from, for messages: `--shard`, a Kubernetes Indexed Job or a Slurm array. */
  from: string;
}

/**
 * The environment variable that tells a Kubernetes Indexed Job's pods how
 * many completions there are: Kubernetes sets JOB_COMPLETION_INDEX but not
 * the count, so the Job's manifest sets this to its `completions`.
 */
export const SHARD_COUNT_ENV = 'UNIMEM_SHARD_COUNT';

/**
 * The shard this process runs: `--shard i/N` when given, else a Kubernetes
 * Indexed Job's JOB_COMPLETION_INDEX with UNIMEM_SHARD_COUNT, else a Slurm
 * array's SLURM_ARRAY_TASK_ID (less SLURM_ARRAY_TASK_MIN, so `--array=1-3`
 * works too) with SLURM_ARRAY_TASK_COUNT; null when none applies (the whole
 * sweep). An InputError naming the flag or variable when one is malformed.
 */
export function shardOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Shard | null {
  if (flag !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(flag.trim());
    if (!m) throw new InputError('--shard', 0, 0, '', `'${flag}' is not i/N (e.g. 0/3: the first of three shards, numbered from 0)`);
    return checked(Number(m[1]), Number(m[2]), '--shard');
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const count = env[SHARD_COUNT_ENV];
    if (count === undefined) throw new InputError('JOB_COMPLETION_INDEX', 0, 0, '', `is set (a Kubernetes Indexed Job) but ${SHARD_COUNT_ENV} is not: set it to the Job's completions, or pass --shard i/N`);
    return checked(int(env.JOB_COMPLETION_INDEX, 'JOB_COMPLETION_INDEX'), int(count, SHARD_COUNT_ENV), 'a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)');
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    if (env.SLURM_ARRAY_TASK_COUNT === undefined) throw new InputError('SLURM_ARRAY_TASK_ID', 0, 0, '', 'is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard i/N');
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? int(env.SLURM_ARRAY_TASK_MIN, 'SLURM_ARRAY_TASK_MIN') : 0;
    return checked(int(env.SLURM_ARRAY_TASK_ID, 'SLURM_ARRAY_TASK_ID') - min, int(env.SLURM_ARRAY_TASK_COUNT, 'SLURM_ARRAY_TASK_COUNT'), 'a Slurm job array (SLURM_ARRAY_TASK_ID)');
  }
  return null;
}

function int(v: string, name: string): number {
  if (!/^\d+$/.test(v.trim())) throw new InputError(name, 0, 0, '', `'${v}' is not a non-negative integer`);
  return Number(v);
}

function checked(index: number, count: number, from: string): Shard {
  if (count < 1) throw new InputError(from, 0, 0, '', 'a sweep splits into at least 1 shard');
  if (index >= count) throw new InputError(from, 0, 0, '', `shard ${index} of ${count}: shards are numbered 0..${count - 1}`);
  return { index, count, from };
}

/** Whether the point at `index` belongs to the shard: round robin, so that each shard gets points from across every axis. */
export function inShard(index: number, shard: Shard | null): boolean {
  return shard === null || index % shard.count === shard.index;
}

/** The result file a shard writes: `results.db` becomes `results.shard-1-of-3.db`, so shards on a shared volume never collide. */
export function shardFile(file: string, shard: Shard | null): string {
  if (shard === null) return file;
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.shard-${shard.index}-of-${shard.count}${ext}`);
}
