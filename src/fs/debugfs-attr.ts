import { FAULT_ATTR_KNOBS, getFaultKnob, kerr, setFaultKnob, type FaultAttr } from '../lib/index.ts';
import type { File, FileOperations, FilePos } from './file.ts';
import { genericFileLlseek } from './llseek.ts';
import { debugfsCreateFile, type SeqFileNode } from './seq-file.ts';
import type { Vfs } from './vfs.ts';

/** How a number file reads and writes its value (the get/set pair of DEFINE_DEBUGFS_ATTRIBUTE). */
export interface DebugfsAttr {
  get(): number;
  set(value: number): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** simple_attr's buffer: a write longer than this is cut, as its 24-byte get_buf is. */
const ATTR_BUF = 24;

/**
 * File operations of a debugfs number file (simple_attr_read /
 * simple_attr_write): a read at offset 0 formats the value once and serves
 * that text; a write parses the whole buffer as one integer (decimal, 0x
 * hex or 0 octal, as kstrtoll base 0) whatever the offset, EINVAL for
 * anything else, and the attribute's own EINVAL for a value it refuses.
 */
export const debugfsAttrOps: FileOperations = {
  name: 'simple_attr',
  read(file: File, len: number, ppos: FilePos): Uint8Array {
    if (ppos.pos === 0 || !(file.privateData instanceof Uint8Array)) {
      file.privateData = encoder.encode(`${(file.inode.privateData as DebugfsAttr).get()}\n`);
    }
    const text = file.privateData as Uint8Array;
    const start = Math.min(ppos.pos, text.length);
    const end = Math.min(text.length, start + len);
    ppos.pos = end;
    return text.slice(start, end);
  },
  write(file: File, data: Uint8Array): number {
    const text = decoder.decode(data.subarray(0, ATTR_BUF - 1)).trim();
    const m = /^(-?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(text);
    if (!m) throw kerr('EINVAL', `${file.pathName()}: ${JSON.stringify(text)} is not a number`);
    const digits = m[2]!;
    const abs = /^0x/i.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits.startsWith('0') ? parseInt(digits, 8) : Number(digits);
    (file.inode.privateData as DebugfsAttr).set(m[1] ? -abs : abs);
    return data.length;
  },
  llseek(file: File, offset: number, whence: number): number {
    const size = file.privateData instanceof Uint8Array ? file.privateData.length : 0;
    return genericFileLlseek(file, offset, whence, size);
  },
};

/**
 * Creates a readable and writable number file at `path`
 * (debugfs_create_ulong / debugfs_create_atomic_t); mode 0600 as the
 * fault-injection files have. EEXIST when the path exists.
 */
export function debugfsCreateAttr(vfs: Vfs, path: string, attr: DebugfsAttr, mode = 0o600): SeqFileNode {
  return debugfsCreateFile(vfs, path, debugfsAttrOps, attr, { mode });
}

/**
 * Creates a fault point's debugfs directory, /sys/kernel/debug/<name>/,
 * with probability, interval, times, space, verbose and the point's own
 * knobs (fault_create_debugfs_attr), each readable and writable by root.
 */
export function faultCreateDebugfsAttr(vfs: Vfs, attr: FaultAttr): SeqFileNode[] {
  return [...FAULT_ATTR_KNOBS, ...attr.extra.keys()].map((knob) =>
    debugfsCreateAttr(vfs, `/sys/kernel/debug/${attr.name}/${knob}`, {
      get: () => getFaultKnob(attr, knob),
      set: (v) => setFaultKnob(attr, knob, v),
    }),
  );
}
