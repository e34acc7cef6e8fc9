import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../sim/index.ts';

/**
 * Refuses an output file that cannot be written before the run, not after
 * it: a path that is a directory, a folder that does not exist, or no
 * permission to write.
 */
export function checkOutputPath(flag: string, path: string | undefined): void {
  if (path === undefined) return;
  const fail = (why: string) => new InputError(path, 0, 0, flag, why);
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
