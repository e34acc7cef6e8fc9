/*
 * The cost ledger's records, column by column in typed arrays of a fixed
 * number of records each. A run keeps hundreds of thousands of records and
 * a syscall loop one per call: in JavaScript arrays each record cost 72
 * bytes kept plus about three times that in copies as the arrays grew, and
 * the collector scanned them all at every full collection. Here a record
 * is 52 bytes, a block is allocated once per 4,096 records and never
 * copied, and the collector has nothing inside to scan.
 */

const BLOCK_SHIFT = 12;
const BLOCK = 1 << BLOCK_SHIFT;
const MASK = BLOCK - 1;

/** One block: the numbers that can grow past 2^31 (times, sums, counts) as doubles, the ids as 32-bit integers. */
interface Block {
  time: Float64Array;
  ns: Float64Array;
  bytes: Float64Array;
  count: Float64Array;
  /** kind, context slot, device, buffer and site ids, five per record. */
  ids: Int32Array;
}

function newBlock(): Block {
  return { time: new Float64Array(BLOCK), ns: new Float64Array(BLOCK), bytes: new Float64Array(BLOCK), count: new Float64Array(BLOCK), ids: new Int32Array(BLOCK * 5) };
}

/**
 * The records themselves: appended, summed into, read back by index. No
 * kernel counterpart: it is the storage of the accounting perf's ring
 * buffer would hold.
 */
export class CostRecords {
  private readonly blocks: Block[] = [];
  private n = 0;

  /** Number of records. */
  get length(): number {
    return this.n;
  }

  /** Appends a record of one charge; returns its index. */
  push(timeNs: number, kind: number, ns: number, bytes: number, slot: number, device: number, buffer: number, site: number): number {
    const i = this.n;
    const o = i & MASK;
    if (o === 0) this.blocks.push(newBlock());
    const b = this.blocks[i >>> BLOCK_SHIFT]!;
    b.time[o] = timeNs;
    b.ns[o] = ns;
    b.bytes[o] = bytes;
    b.count[o] = 1;
    const q = o * 5;
    b.ids[q] = kind;
    b.ids[q + 1] = slot;
    b.ids[q + 2] = device;
    b.ids[q + 3] = buffer;
    b.ids[q + 4] = site;
    this.n = i + 1;
    return i;
  }

  /** Adds one more charge to record `i`. */
  add(i: number, ns: number, bytes: number): void {
    const b = this.blocks[i >>> BLOCK_SHIFT]!;
    const o = i & MASK;
    b.ns[o]! += ns;
    b.bytes[o]! += bytes;
    b.count[o]!++;
  }

  timeNs(i: number): number {
    return this.blocks[i >>> BLOCK_SHIFT]!.time[i & MASK]!;
  }

  ns(i: number): number {
    return this.blocks[i >>> BLOCK_SHIFT]!.ns[i & MASK]!;
  }

  bytes(i: number): number {
    return this.blocks[i >>> BLOCK_SHIFT]!.bytes[i & MASK]!;
  }

  count(i: number): number {
    return this.blocks[i >>> BLOCK_SHIFT]!.count[i & MASK]!;
  }

  kind(i: number): number {
    return this.id(i, 0);
  }

  slot(i: number): number {
    return this.id(i, 1);
  }

  device(i: number): number {
    return this.id(i, 2);
  }

  buffer(i: number): number {
    return this.id(i, 3);
  }

  site(i: number): number {
    return this.id(i, 4);
  }

  private id(i: number, field: number): number {
    return this.blocks[i >>> BLOCK_SHIFT]!.ids[(i & MASK) * 5 + field]!;
  }
}
