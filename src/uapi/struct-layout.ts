/**
 * C struct layouts of the uapi, and the codec between a struct's bytes and
 * the object an ioctl handler takes. Layouts are LP64 as x86_64 and arm64
 * lay them out: little-endian, every field at its natural alignment, the
 * struct's size rounded up to its largest alignment (trailing padding),
 * unless the header declares the struct packed.
 */

/** A C integer type: u8..u64 and s8..s64 as the headers' __u8..__s64. */
export type CInt = 'u8' | 'u16' | 'u32' | 'u64' | 's8' | 's16' | 's32' | 's64';

/** A fixed char array (char name[len]): a NUL-terminated string. */
export interface CharArray {
  readonly kind: 'char';
  readonly len: number;
}

/** A fixed array of `len` elements. */
export interface FixedArray {
  readonly kind: 'array';
  readonly of: CType;
  readonly len: number;
}

/**
 * A union: the member `select` names from the enclosing struct's decoded
 * fields (as the kernel reads the one a `type` or `memory` field says) is
 * decoded; encoding writes the members the object holds. `size` and
 * `align` cover members the object never carries (raw_data, pointers).
 */
export interface Union {
  readonly kind: 'union';
  readonly members: Readonly<Record<string, CType>>;
  readonly select: (parent: Record<string, unknown>) => string | null;
  readonly size: number;
  readonly align: number;
}

/** A C type a field may have; a user pointer is a 'u64' (LP64). */
export type CType = CInt | CharArray | FixedArray | StructLayout | Union;

/** One field of a struct, at its offset. */
export interface FieldLayout {
  readonly name: string;
  readonly type: CType;
  readonly offset: number;
}

/** A struct with its fields' offsets, size and alignment. */
export interface StructLayout {
  readonly kind: 'struct';
  readonly name: string;
  readonly fields: readonly FieldLayout[];
  readonly size: number;
  readonly align: number;
}

const INT_SIZE: Record<CInt, number> = { u8: 1, s8: 1, u16: 2, s16: 2, u32: 4, s32: 4, u64: 8, s64: 8 };

/** The size of a C type in bytes (sizeof). */
export function sizeOf(t: CType): number {
  if (typeof t === 'string') return INT_SIZE[t];
  switch (t.kind) {
    case 'char':
      return t.len;
    case 'array':
      return sizeOf(t.of) * t.len;
    case 'struct':
    case 'union':
      return t.size;
  }
}

/** The alignment of a C type in bytes (_Alignof). */
export function alignOf(t: CType): number {
  if (typeof t === 'string') return INT_SIZE[t];
  switch (t.kind) {
    case 'char':
      return 1;
    case 'array':
      return alignOf(t.of);
    case 'struct':
    case 'union':
      return t.align;
  }
}

/** A char array type (char[len]). */
export function char(len: number): CharArray {
  return { kind: 'char', len };
}

/** An array type (T[len]). */
export function array(of: CType, len: number): FixedArray {
  return { kind: 'array', of, len };
}

/** A union type; its size and alignment are its largest member's unless given larger. */
export function union(
  members: Record<string, CType>,
  select: (parent: Record<string, unknown>) => string | null,
  opts: { size?: number; align?: number } = {},
): Union {
  let size = opts.size ?? 0;
  let align = opts.align ?? 1;
  for (const m of Object.values(members)) {
    size = Math.max(size, sizeOf(m));
    align = Math.max(align, alignOf(m));
  }
  return { kind: 'union', members, select, size: Math.ceil(size / align) * align, align };
}

/**
 * Lays a struct out as the C compiler does: each field at the next offset
 * aligned to its type, the size padded to the largest alignment; with
 * `packed` (__attribute__((packed))) no padding at all.
 */
export function struct(name: string, fields: readonly (readonly [string, CType])[], opts: { packed?: boolean } = {}): StructLayout {
  let off = 0;
  let align = 1;
  const out: FieldLayout[] = [];
  for (const [fname, type] of fields) {
    const a = opts.packed ? 1 : alignOf(type);
    off = Math.ceil(off / a) * a;
    out.push({ name: fname, type, offset: off });
    off += sizeOf(type);
    align = Math.max(align, a);
  }
  return { kind: 'struct', name, fields: out, size: Math.ceil(off / align) * align, align };
}

/** The field `name` of a layout, nested names joined by dots ("fmt.pix.width"); undefined when absent. */
export function fieldAt(layout: StructLayout, path: string): FieldLayout | undefined {
  let base = 0;
  let t: CType = layout;
  let found: FieldLayout | undefined;
  for (const part of path.split('.')) {
    if (typeof t === 'string') return undefined;
    if (t.kind === 'struct') {
      const f: FieldLayout | undefined = t.fields.find((x) => x.name === part);
      if (!f) return undefined;
      found = { name: path, type: f.type, offset: base + f.offset };
      base += f.offset;
      t = f.type;
    } else if (t.kind === 'union') {
      const m: CType | undefined = t.members[part];
      if (!m) return undefined;
      found = { name: path, type: m, offset: base };
      t = m;
    } else return undefined;
  }
  return found;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A 64-bit field as handlers take it: a number when it is a safe integer, a bigint beyond. */
function u64Value(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readInt(dv: DataView, off: number, t: CInt): number | bigint {
  switch (t) {
    case 'u8':
      return dv.getUint8(off);
    case 's8':
      return dv.getInt8(off);
    case 'u16':
      return dv.getUint16(off, true);
    case 's16':
      return dv.getInt16(off, true);
    case 'u32':
      return dv.getUint32(off, true);
    case 's32':
      return dv.getInt32(off, true);
    case 'u64':
      return u64Value(dv.getBigUint64(off, true));
    case 's64':
      return u64Value(dv.getBigInt64(off, true));
  }
}

/** An integer value as the C assignment would store it (truncated to the type's width); non-integers store 0. */
function intBits(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

function writeInt(dv: DataView, off: number, t: CInt, v: unknown): void {
  const b = intBits(v);
  switch (t) {
    case 'u8':
    case 's8':
      dv.setUint8(off, Number(BigInt.asUintN(8, b)));
      return;
    case 'u16':
    case 's16':
      dv.setUint16(off, Number(BigInt.asUintN(16, b)), true);
      return;
    case 'u32':
    case 's32':
      dv.setUint32(off, Number(BigInt.asUintN(32, b)), true);
      return;
    case 'u64':
    case 's64':
      dv.setBigUint64(off, BigInt.asUintN(64, b), true);
      return;
  }
}

/** The string in a char array: its bytes up to the first NUL, as UTF-8. */
export function decodeCString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return textDecoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

function decodeType(t: CType, bytes: Uint8Array, dv: DataView, off: number, parent: Record<string, unknown>): unknown {
  if (typeof t === 'string') return readInt(dv, off, t);
  switch (t.kind) {
    case 'char':
      return decodeCString(bytes.subarray(off, off + t.len));
    case 'array': {
      const n = sizeOf(t.of);
      const out: unknown[] = [];
      for (let i = 0; i < t.len; i++) out.push(decodeType(t.of, bytes, dv, off + i * n, parent));
      return out;
    }
    case 'struct':
      return decodeFields(t, bytes, dv, off);
    case 'union': {
      const m = t.select(parent);
      const member = m === null ? undefined : t.members[m];
      return member === undefined ? {} : { [m!]: decodeType(member, bytes, dv, off, parent) };
    }
  }
}

function decodeFields(layout: StructLayout, bytes: Uint8Array, dv: DataView, base: number): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const f of layout.fields) obj[f.name] = decodeType(f.type, bytes, dv, base + f.offset, obj);
  return obj;
}

/**
 * Decodes a struct from its bytes into the object a handler takes: integers
 * as numbers (64-bit ones as bigints past 2^53), char arrays as strings,
 * arrays as arrays, the union member the struct's own fields select.
 */
export function decodeStruct(layout: StructLayout, bytes: Uint8Array, off = 0): Record<string, unknown> {
  if (bytes.length < off + layout.size) throw new RangeError(`${layout.name}: ${bytes.length - off} bytes, needs ${layout.size}`);
  return decodeFields(layout, bytes, view(bytes), off);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) return intBits(a) === intBits(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function encodeType(t: CType, v: unknown, prev: unknown, bytes: Uint8Array, dv: DataView, off: number): void {
  if (v === undefined || sameValue(v, prev)) return;
  if (typeof t === 'string') {
    writeInt(dv, off, t, v);
    return;
  }
  switch (t.kind) {
    case 'char': {
      // the kernel fills char arrays into a zeroed struct (strscpy): the rest stays NUL
      const s = textEncoder.encode(typeof v === 'string' ? v : String(v));
      bytes.fill(0, off, off + t.len);
      bytes.set(s.subarray(0, t.len - 1), off);
      return;
    }
    case 'array': {
      if (!Array.isArray(v)) return;
      const n = sizeOf(t.of);
      const p = Array.isArray(prev) ? prev : [];
      for (let i = 0; i < Math.min(t.len, v.length); i++) encodeType(t.of, v[i], p[i], bytes, dv, off + i * n);
      return;
    }
    case 'struct':
      if (v && typeof v === 'object') encodeFields(t, v as Record<string, unknown>, (prev ?? {}) as Record<string, unknown>, bytes, dv, off);
      return;
    case 'union': {
      if (!v || typeof v !== 'object') return;
      const p = (prev ?? {}) as Record<string, unknown>;
      for (const [m, mv] of Object.entries(v as Record<string, unknown>)) {
        const member = t.members[m];
        if (member !== undefined) encodeType(member, mv, p[m], bytes, dv, off);
      }
      return;
    }
  }
}

function encodeFields(layout: StructLayout, obj: Record<string, unknown>, prev: Record<string, unknown>, bytes: Uint8Array, dv: DataView, base: number): void {
  for (const f of layout.fields) encodeType(f.type, obj[f.name], prev[f.name], bytes, dv, base + f.offset);
}

/**
 * Encodes an object into a struct's bytes, in place: every field the object
 * holds is written, except those equal to `prev` (the object as decoded),
 * so bytes the kernel did not change stay as they were copied in. Fields
 * the object lacks are left alone.
 */
export function encodeStruct(layout: StructLayout, obj: Record<string, unknown>, bytes: Uint8Array, prev: Record<string, unknown> = {}, off = 0): void {
  if (bytes.length < off + layout.size) throw new RangeError(`${layout.name}: ${bytes.length - off} bytes, needs ${layout.size}`);
  encodeFields(layout, obj, prev, bytes, view(bytes), off);
}
