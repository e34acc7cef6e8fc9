import { isAbsolute, join } from 'node:path';

/*
 * The DWARF line table of a linked WebAssembly module (its .debug_line
 * custom section, as clang and wasm-ld write it), read so that the build
 * can turn it into the source map wasm-opt carries through its passes
 * (wasm-source-map.ts), and a finding can name the C line that caused it.
 * In a wasm module an address of the line table is the offset of an
 * instruction from the start of the code section's contents; the rows
 * given out are offsets in the whole module, as V8 and source maps count.
 *
 * The decoder reads DWARF versions 2 to 5 with 32-bit offsets (what
 * wasm32 clang writes); the compilation unit's folder
 * (DW_AT_comp_dir), which relative file names are under, comes from the
 * first entry of each unit in .debug_info.
 */

/** A source position: the file (absolute when the build named its folder), 1-based line and column (0: none). */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** A module's line table: sorted addresses and the row each starts. */
interface WasmLineTable {
  /** Module offset of the code section's contents (DWARF address 0). */
  codeStart: number;
  /** Row start addresses, ascending. */
  addr: Uint32Array;
  /** The position of each row, or null where a sequence ends (no line until the next). */
  rows: (SourcePosition | null)[];
}

/** A little-endian reader over a section. */
class Reader {
  pos: number;
  private readonly dv: DataView;
  constructor(
    readonly b: Uint8Array,
    pos = 0,
  ) {
    this.pos = pos;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  u8(): number {
    return this.b[this.pos++]!;
  }
  u16(): number {
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  uleb(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const x = this.u8();
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (!(x & 0x80)) return v;
    }
  }
  sleb(): number {
    let v = 0;
    let mul = 1;
    let x: number;
    do {
      x = this.u8();
      v += (x & 0x7f) * mul;
      mul *= 128;
    } while (x & 0x80);
    return x & 0x40 ? v - mul : v;
  }
  cstr(): string {
    const end = this.b.indexOf(0, this.pos);
    const s = new TextDecoder().decode(this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

/** A NUL-terminated string at `off` of a string section. */
function strAt(sec: Uint8Array | undefined, off: number): string | undefined {
  return sec ? new Reader(sec, off).cstr() : undefined;
}

/** The byte size of an attribute value of fixed size in form `form`, -1 for the variable ones. */
const FIXED_FORM_SIZE: Record<number, number> = {
  0x05: 2, 0x06: 4, 0x07: 8, 0x0b: 1, 0x0c: 1, 0x0e: 4, 0x10: 4, 0x11: 1, 0x12: 2, 0x13: 4, 0x14: 8, 0x17: 4,
  0x19: 0, 0x1c: 4, 0x1d: 4, 0x1e: 16, 0x1f: 4, 0x20: 8, 0x21: 0, 0x24: 8, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4,
  0x29: 1, 0x2a: 2, 0x2b: 3, 0x2c: 4,
};

/** Reads an attribute value of form `form`: a number for the sized and LEB forms, a string for DW_FORM_string; skips blocks. */
function readForm(r: Reader, form: number, addrSize: number): number | string | undefined {
  switch (form) {
    case 0x01: // addr
      r.pos += addrSize;
      return undefined;
    case 0x08: // string
      return r.cstr();
    case 0x0d: // sdata
      return r.sleb();
    case 0x0f: // udata
    case 0x15: // ref_udata
    case 0x1a: // strx
    case 0x1b: // addrx
    case 0x22: // loclistx
    case 0x23: // rnglistx
      return r.uleb();
    case 0x16: // indirect
      return readForm(r, r.uleb(), addrSize);
    case 0x03: // block2
      r.pos += r.u16();
      return undefined;
    case 0x04: // block4
      r.pos += r.u32();
      return undefined;
    case 0x09: // block
    case 0x18: // exprloc
      r.pos += r.uleb();
      return undefined;
    case 0x0a: // block1
      r.pos += r.u8();
      return undefined;
    case 0x0e: // strp, line_strp, sec_offset and the other 4-byte forms
    case 0x1f:
    case 0x17:
    case 0x06:
      return r.u32();
    default: {
      const n = FIXED_FORM_SIZE[form];
      if (n === undefined) throw new Error(`DWARF form 0x${form.toString(16)}`);
      let v = 0;
      for (let i = 0; i < n && i < 4; i++) v += r.b[r.pos + i]! * 2 ** (8 * i);
      r.pos += n;
      return v;
    }
  }
}

/** Each compilation unit's folder (DW_AT_comp_dir), by the offset of its line program (DW_AT_stmt_list). */
function compDirs(info: Uint8Array | undefined, abbrev: Uint8Array | undefined, str: Uint8Array | undefined, lineStr: Uint8Array | undefined): Map<number, string> {
  const dirs = new Map<number, string>();
  if (!info || !abbrev) return dirs;
  for (let at = 0; at + 11 <= info.length; ) {
    const r = new Reader(info, at);
    const len = r.u32();
    if (len >= 0xfffffff0) break;
    const next = at + 4 + len;
    const version = r.u16();
    let abbrevOff: number;
    let addrSize: number;
    if (version >= 5) {
      r.u8(); // unit type
      addrSize = r.u8();
      abbrevOff = r.u32();
    } else {
      abbrevOff = r.u32();
      addrSize = r.u8();
    }
    const code = r.uleb();
    const spec = abbrevSpec(abbrev, abbrevOff, code);
    let stmt: number | undefined;
    let dir: string | undefined;
    for (const [name, form] of spec) {
      const v = readForm(r, form, addrSize);
      if (name === 0x10 && typeof v === 'number') stmt = v;
      if (name === 0x1b) dir = typeof v === 'string' ? v : form === 0x0e && v !== undefined ? strAt(str, v) : form === 0x1f && v !== undefined ? strAt(lineStr, v) : undefined;
    }
    if (stmt !== undefined && dir !== undefined) dirs.set(stmt, dir);
    at = next;
  }
  return dirs;
}

/** The (attribute, form) pairs of abbreviation `code` of the table at `off`. */
function abbrevSpec(abbrev: Uint8Array, off: number, code: number): [number, number][] {
  const r = new Reader(abbrev, off);
  for (;;) {
    const c = r.uleb();
    if (c === 0) return [];
    r.uleb(); // tag
    r.u8(); // has children
    const spec: [number, number][] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      if (form === 0x21) r.sleb(); // implicit_const keeps its value here
      spec.push([name, form]);
    }
    if (c === code) return spec;
  }
}

/** The path of a file entry: under its directory, under the unit's folder when relative. */
function filePath(compDir: string | undefined, dir: string, name: string): string {
  if (isAbsolute(name)) return name;
  const d = isAbsolute(dir) || !compDir ? dir : join(compDir, dir);
  return join(d, name);
}

/** v5 directory and file entries: each entry's path (DW_LNCT_path) and directory index (DW_LNCT_directory_index). */
function v5Entries(r: Reader, str: Uint8Array | undefined, lineStr: Uint8Array | undefined): { path: string; dir: number }[] {
  const formats: [number, number][] = [];
  for (let n = r.u8(); n > 0; n--) formats.push([r.uleb(), r.uleb()]);
  const out: { path: string; dir: number }[] = [];
  for (let n = r.uleb(); n > 0; n--) {
    const e = { path: '', dir: 0 };
    for (const [type, form] of formats) {
      const v = readForm(r, form, 4);
      if (type === 1) e.path = typeof v === 'string' ? v : (form === 0x1f ? strAt(lineStr, v ?? 0) : strAt(str, v ?? 0)) ?? '';
      if (type === 2 && typeof v === 'number') e.dir = v;
    }
    out.push(e);
  }
  return out;
}

/** Decodes one line program at `at` into `seqs` (one array of [address, position] per sequence); returns the next program's offset. */
function decodeProgram(line: Uint8Array, at: number, compDir: string | undefined, str: Uint8Array | undefined, lineStr: Uint8Array | undefined, seqs: [number, SourcePosition | null][][]): number {
  const r = new Reader(line, at);
  const len = r.u32();
  if (len >= 0xfffffff0) return line.length;
  const end = at + 4 + len;
  const version = r.u16();
  if (version >= 5) r.pos += 2; // address and segment selector sizes
  const headerLen = r.u32();
  const progStart = r.pos + headerLen;
  const minInst = r.u8();
  if (version >= 4) r.u8(); // maximum operations per instruction: 1 outside VLIW
  r.u8(); // default is_stmt: every row is a place a line starts here
  const lineBase = (r.u8() << 24) >> 24;
  const lineRange = r.u8();
  const opcodeBase = r.u8();
  const argCounts = [0];
  for (let i = 1; i < opcodeBase; i++) argCounts.push(r.u8());
  let files: string[];
  if (version >= 5) {
    const dirs = v5Entries(r, str, lineStr).map((d, i) => (i === 0 ? d.path : filePath(compDir, compDir ?? '', d.path)));
    files = v5Entries(r, str, lineStr).map((f) => filePath(compDir, dirs[f.dir] ?? '', f.path));
  } else {
    const dirs = [compDir ?? ''];
    for (let d = r.cstr(); d !== ''; d = r.cstr()) dirs.push(d);
    // v2-4 number files from 1
    files = [''];
    for (let name = r.cstr(); name !== ''; name = r.cstr()) {
      const dir = r.uleb();
      r.uleb();
      r.uleb();
      files.push(filePath(compDir, dirs[dir] ?? '', name));
    }
  }
  r.pos = progStart;
  let addr = 0;
  let file = 1;
  let ln = 1;
  let col = 0;
  let seq: [number, SourcePosition | null][] = [];
  const row = () => seq.push([addr, { file: files[file] ?? '', line: ln, col }]);
  const reset = () => {
    addr = 0;
    file = 1;
    ln = 1;
    col = 0;
    seq = [];
  };
  while (r.pos < end) {
    const op = r.u8();
    if (op >= opcodeBase) {
      const adj = op - opcodeBase;
      addr += Math.floor(adj / lineRange) * minInst;
      ln += lineBase + (adj % lineRange);
      row();
    } else if (op === 0) {
      const n = r.uleb();
      const next = r.pos + n;
      const sub = r.u8();
      if (sub === 1) {
        seq.push([addr, null]);
        seqs.push(seq);
        reset();
      } else if (sub === 2) addr = r.u32();
      r.pos = next;
    } else if (op === 1) row();
    else if (op === 2) addr += r.uleb() * minInst;
    else if (op === 3) ln += r.sleb();
    else if (op === 4) file = r.uleb();
    else if (op === 5) col = r.uleb();
    else if (op === 8) addr += Math.floor((255 - opcodeBase) / lineRange) * minInst;
    else if (op === 9) addr += r.u16();
    else for (let i = argCounts[op] ?? 0; i > 0; i--) r.uleb();
  }
  return end;
}

/** The custom sections of a module's bytes, by name, and where its code section's contents start. */
function sections(bytes: Uint8Array): { custom: Map<string, Uint8Array>; codeStart: number } {
  const custom = new Map<string, Uint8Array>();
  let codeStart = -1;
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const id = r.u8();
    const size = r.uleb();
    const start = r.pos;
    if (id === 10) codeStart = start;
    if (id === 0) {
      const n = r.uleb();
      const name = new TextDecoder().decode(bytes.subarray(r.pos, r.pos + n));
      custom.set(name, bytes.subarray(r.pos + n, start + size));
    }
    r.pos = start + size;
  }
  return { custom, codeStart };
}

/**
 * The line table of a module's bytes (the DWARF debugger's line lookup,
 * llvm-symbolizer's for wasm), or undefined when the module carries no
 * .debug_line. Sequences of code the linker dropped (address 0, or
 * the tombstone near 2^32) are left out.
 */
function wasmLineTable(bytes: Uint8Array): WasmLineTable | undefined {
  const { custom, codeStart } = sections(bytes);
  const line = custom.get('.debug_line');
  if (!line || codeStart < 0) return undefined;
  const str = custom.get('.debug_str');
  const lineStr = custom.get('.debug_line_str');
  const dirs = compDirs(custom.get('.debug_info'), custom.get('.debug_abbrev'), str, lineStr);
  const seqs: [number, SourcePosition | null][][] = [];
  for (let at = 0; at < line.length; ) at = decodeProgram(line, at, dirs.get(at), str, lineStr, seqs);
  const kept = seqs.filter((s) => s.length > 1 && s[0]![0] > 0 && s[0]![0] < 0xfffffff0).sort((a, b) => a[0]![0] - b[0]![0]);
  const flat = kept.flat();
  return { codeStart, addr: Uint32Array.from(flat, (e) => e[0]), rows: flat.map((e) => e[1]) };
}

/** The rows of a module's line table that name a line, in module offsets, ascending; undefined without a table. */
export function lineRows(bytes: Uint8Array): { offset: number; pos: SourcePosition }[] | undefined {
  const t = wasmLineTable(bytes);
  if (!t) return undefined;
  const out: { offset: number; pos: SourcePosition }[] = [];
  t.rows.forEach((pos, i) => {
    if (pos && pos.line > 0 && (out.length === 0 || out[out.length - 1]!.offset !== t.addr[i]! + t.codeStart)) out.push({ offset: t.addr[i]! + t.codeStart, pos });
  });
  return out;
}
