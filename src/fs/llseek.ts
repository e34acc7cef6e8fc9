import { kerr } from '../lib/index.ts';
import { SEEK_CUR, SEEK_END, SEEK_SET } from '../uapi/index.ts';
import type { File } from './file.ts';

/**
 * Moves the position of a file whose size is `size` (generic_file_llseek_size
 * / fixed_size_llseek): SEEK_SET, SEEK_CUR, SEEK_END; a negative result or
 * an unknown whence is EINVAL. Returns the new position.
 */
export function genericFileLlseek(file: File, offset: number, whence: number, size: number): number {
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = file.pos + offset;
  else if (whence === SEEK_END) pos = size + offset;
  else throw kerr('EINVAL', `bad whence ${whence}`);
  if (!Number.isSafeInteger(pos) || pos < 0) throw kerr('EINVAL', `position ${pos}`);
  file.pos = pos;
  return pos;
}

/** Refuses to seek (no_llseek): ESPIPE. */
export function noLlseek(_file: File, _offset: number, _whence: number): number {
  throw kerr('ESPIPE', 'file is not seekable');
}
