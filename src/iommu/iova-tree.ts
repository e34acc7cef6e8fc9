import { KernelBug } from '../lib/index.ts';

const NIL = 0;

/**
 * The ordered set of allocated IOVA ranges of one domain (the rbtree of
 * struct iova_domain), as an AVL tree in typed arrays. Ranges are page-frame
 * intervals [lo, hi], never overlapping, ordered by lo. Each node also
 * carries, for its subtree, the lowest lo, the highest hi and the largest
 * free gap between two consecutive ranges inside it, so the highest gap
 * that fits a request below a limit is found in O(log n) rather than by
 * walking neighbours.
 *
 * Node 0 is the nil node. Nodes are recycled through a free list; the arrays
 * double when full. Nothing is allocated per operation otherwise.
 */
export class IovaTree {
  private lo: Float64Array;
  private hi: Float64Array;
  private minLo: Float64Array;
  private maxHi: Float64Array;
  private maxGap: Float64Array;
  private left: Int32Array;
  private right: Int32Array;
  private height: Int8Array;
  private freeList: Int32Array;
  private freeTop = 0;
  private next = 1;
  private root = NIL;
  private count = 0;
  // Search state (kept in fields so the recursive search allocates nothing).
  private sSize = 0;
  private sAlign = 1;
  private sLimit = 0;
  private sBudget = 0;
  private removedHi = -1;
  private found = -1;
  private fSize = 0;
  private wantHi = -1;

  constructor(capacity = 64) {
    const n = Math.max(2, capacity + 1);
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.minLo = new Float64Array(n);
    this.maxHi = new Float64Array(n);
    this.maxGap = new Float64Array(n);
    this.left = new Int32Array(n);
    this.right = new Int32Array(n);
    this.height = new Int8Array(n);
    this.freeList = new Int32Array(n);
  }

  /** Number of ranges held. */
  get size(): number {
    return this.count;
  }

  /** Inserts [lo, hi]; KernelBug (nothing changed) when it overlaps a range already held. */
  insert(lo: number, hi: number): void {
    if (!(hi >= lo)) throw new KernelBug(`iova tree: bad range [${lo}, ${hi}]`);
    const c = this.findOverlap(lo, hi);
    if (c !== NIL) throw new KernelBug(`iova tree: [${lo}, ${hi}] overlaps [${this.lo[c]}, ${this.hi[c]}]`);
    this.insertFree(lo, hi);
  }

  /** Inserts [lo, hi], which the caller knows to be free. */
  private insertFree(lo: number, hi: number): void {
    this.root = this.insertAt(this.root, this.newNode(lo, hi));
    this.count++;
  }

  /** Removes the range that starts at `lo` and returns its hi; -1 when no range starts there. */
  remove(lo: number): number {
    return this.removeExact(lo, -1);
  }

  /**
   * Removes the range starting at `lo` only if it ends at `hi` (any end when
   * hi is -1), in one descent. Returns the range's hi, or -1 when no range
   * starts there; when one does but ends elsewhere, returns its hi and
   * leaves the tree unchanged (check `hi` against the result).
   */
  removeExact(lo: number, hi: number): number {
    this.removedHi = -1;
    this.wantHi = hi;
    this.root = this.removeAt(this.root, lo);
    if (this.removedHi >= 0 && (hi < 0 || this.removedHi === hi)) this.count--;
    return this.removedHi;
  }

  /** Returns hi of the range starting exactly at `lo`, or -1. */
  endOf(lo: number): number {
    const n = this.findStart(lo);
    return n === NIL ? -1 : this.hi[n]!;
  }

  /** True when some range held overlaps [lo, hi]. */
  overlaps(lo: number, hi: number): boolean {
    return this.findOverlap(lo, hi) !== NIL;
  }

  /** Returns lo of the range containing pfn, or -1 (find_iova). */
  find(pfn: number): number {
    let n = this.root;
    while (n !== NIL) {
      if (pfn < this.lo[n]!) n = this.left[n]!;
      else if (pfn > this.hi[n]!) n = this.right[n]!;
      else return this.lo[n]!;
    }
    return -1;
  }

  /**
   * Finds the highest lo such that [lo, lo+size) is free, lo is a multiple of
   * `align` and lo+size-1 <= limit, looking only at gaps between held ranges
   * (the owner keeps sentinels at both ends), and inserts the range there in
   * the same descent. Returns lo, or -1 (nothing changed) when none fits.
   *
   * A gap of size+align-1 always fits; exact-size gaps may not once aligned,
   * so the exact search gets a bounded number of failed tries and the
   * pessimistic one (O(log n)) settles the rest.
   */
  allocFit(size: number, align: number, limit: number): number {
    this.sSize = size;
    this.sAlign = align;
    this.sLimit = limit;
    this.sBudget = 64;
    this.found = -1;
    this.fSize = size;
    let root = this.fitInsert(this.root);
    if (this.found < 0 && this.sBudget <= 0 && align !== 1) {
      this.sSize = size + align - 1;
      this.sBudget = Infinity;
      root = this.fitInsert(this.root);
    }
    if (this.found < 0) return -1;
    this.root = root;
    this.count++;
    return this.found;
  }

  /** Calls fn(lo, hi) for every range in address order. */
  forEach(fn: (lo: number, hi: number) => void): void {
    const walk = (n: number): void => {
      if (n === NIL) return;
      walk(this.left[n]!);
      fn(this.lo[n]!, this.hi[n]!);
      walk(this.right[n]!);
    };
    walk(this.root);
  }

  /** Checks every AVL and augmentation invariant; throws KernelBug naming the first one broken (for tests). */
  verify(): void {
    let prevHi = -Infinity;
    const check = (n: number): number => {
      if (n === NIL) return 0;
      const hl = check(this.left[n]!);
      if (this.lo[n]! <= prevHi) throw new KernelBug(`iova tree: node ${n} out of order`);
      prevHi = this.hi[n]!;
      const hr = check(this.right[n]!);
      if (Math.abs(hl - hr) > 1 || this.height[n] !== 1 + Math.max(hl, hr)) throw new KernelBug(`iova tree: node ${n} unbalanced`);
      const saved = [this.minLo[n], this.maxHi[n], this.maxGap[n]];
      this.update(n);
      if (saved[0] !== this.minLo[n] || saved[1] !== this.maxHi[n] || saved[2] !== this.maxGap[n]) {
        throw new KernelBug(`iova tree: node ${n} has stale augmentation`);
      }
      return this.height[n]!;
    };
    check(this.root);
  }

  /**
   * Searches right to left for the fit, pruning subtrees whose largest gap
   * is too small or which lie above the limit, and inserts it; returns the
   * subtree's new root.
   */
  private fitInsert(n: number): number {
    if (n === NIL || this.maxGap[n]! < this.sSize || this.minLo[n]! > this.sLimit || this.sBudget <= 0) return n;
    const r = this.right[n]!;
    const l = this.left[n]!;
    const nr = this.fitInsert(r);
    if (this.found >= 0) {
      this.right[n] = nr;
      return this.balance(n);
    }
    if (r !== NIL) {
      const y = this.tryGap(this.hi[n]! + 1, this.minLo[r]! - 1);
      if (y >= 0) {
        this.found = y;
        this.right[n] = this.insertAt(r, this.newNode(y, y + this.fSize - 1));
        return this.balance(n);
      }
    }
    if (l !== NIL) {
      const y = this.tryGap(this.maxHi[l]! + 1, this.lo[n]! - 1);
      if (y >= 0) {
        this.found = y;
        this.left[n] = this.insertAt(l, this.newNode(y, y + this.fSize - 1));
        return this.balance(n);
      }
    }
    const nl = this.fitInsert(l);
    if (this.found >= 0) {
      this.left[n] = nl;
      return this.balance(n);
    }
    return n;
  }

  private newNode(lo: number, hi: number): number {
    const n = this.alloc();
    this.lo[n] = lo;
    this.hi[n] = hi;
    this.left[n] = NIL;
    this.right[n] = NIL;
    this.height[n] = 1;
    this.minLo[n] = lo;
    this.maxHi[n] = hi;
    this.maxGap[n] = 0;
    return n;
  }

  /** Highest aligned start of a request in the free gap [a, b] clipped to the limit, or -1. */
  private tryGap(a: number, b: number): number {
    const top = Math.min(b, this.sLimit);
    const size = this.sSize;
    if (top - a + 1 < size) return -1;
    const align = this.sAlign;
    const start = Math.floor((top - size + 1) / align) * align;
    if (start >= a) return start;
    this.sBudget--;
    return -1;
  }

  private findStart(lo: number): number {
    let n = this.root;
    while (n !== NIL) {
      const k = this.lo[n]!;
      if (lo < k) n = this.left[n]!;
      else if (lo > k) n = this.right[n]!;
      else return n;
    }
    return NIL;
  }

  private findOverlap(lo: number, hi: number): number {
    let n = this.root;
    while (n !== NIL) {
      if (hi < this.lo[n]!) n = this.left[n]!;
      else if (lo > this.hi[n]!) n = this.right[n]!;
      else return n;
    }
    return NIL;
  }

  private alloc(): number {
    if (this.freeTop > 0) return this.freeList[--this.freeTop]!;
    if (this.next >= this.lo.length) this.grow();
    return this.next++;
  }

  private grow(): void {
    const n = this.lo.length * 2;
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.lo = f64(this.lo);
    this.hi = f64(this.hi);
    this.minLo = f64(this.minLo);
    this.maxHi = f64(this.maxHi);
    this.maxGap = f64(this.maxGap);
    this.left = i32(this.left);
    this.right = i32(this.right);
    this.freeList = i32(this.freeList);
    const h = new Int8Array(n);
    h.set(this.height);
    this.height = h;
  }

  private update(n: number): void {
    const l = this.left[n]!;
    const r = this.right[n]!;
    let g = 0;
    if (l !== NIL) {
      this.minLo[n] = this.minLo[l]!;
      g = Math.max(this.maxGap[l]!, this.lo[n]! - this.maxHi[l]! - 1);
    } else {
      this.minLo[n] = this.lo[n]!;
    }
    if (r !== NIL) {
      this.maxHi[n] = this.maxHi[r]!;
      g = Math.max(g, this.maxGap[r]!, this.minLo[r]! - this.hi[n]! - 1);
    } else {
      this.maxHi[n] = this.hi[n]!;
    }
    this.maxGap[n] = g;
    const hl = this.height[l]!;
    const hr = this.height[r]!;
    this.height[n] = (hl > hr ? hl : hr) + 1;
  }

  private rotateRight(n: number): number {
    const l = this.left[n]!;
    this.left[n] = this.right[l]!;
    this.right[l] = n;
    this.update(n);
    this.update(l);
    return l;
  }

  private rotateLeft(n: number): number {
    const r = this.right[n]!;
    this.right[n] = this.left[r]!;
    this.left[r] = n;
    this.update(n);
    this.update(r);
    return r;
  }

  private balance(n: number): number {
    this.update(n);
    const bf = this.height[this.left[n]!]! - this.height[this.right[n]!]!;
    if (bf > 1) {
      const l = this.left[n]!;
      if (this.height[this.left[l]!]! < this.height[this.right[l]!]!) this.left[n] = this.rotateLeft(l);
      return this.rotateRight(n);
    }
    if (bf < -1) {
      const r = this.right[n]!;
      if (this.height[this.right[r]!]! < this.height[this.left[r]!]!) this.right[n] = this.rotateRight(r);
      return this.rotateLeft(n);
    }
    return n;
  }

  private insertAt(t: number, n: number): number {
    if (t === NIL) return n;
    if (this.lo[n]! < this.lo[t]!) this.left[t] = this.insertAt(this.left[t]!, n);
    else this.right[t] = this.insertAt(this.right[t]!, n);
    return this.balance(t);
  }

  private removeAt(t: number, lo: number): number {
    if (t === NIL) return NIL;
    const k = this.lo[t]!;
    if (lo < k) {
      this.left[t] = this.removeAt(this.left[t]!, lo);
      return this.balance(t);
    }
    if (lo > k) {
      this.right[t] = this.removeAt(this.right[t]!, lo);
      return this.balance(t);
    }
    const l = this.left[t]!;
    const r = this.right[t]!;
    this.removedHi = this.hi[t]!;
    if (this.wantHi >= 0 && this.removedHi !== this.wantHi) return t;
    this.freeList[this.freeTop++] = t;
    if (l === NIL) return r;
    if (r === NIL) return l;
    // Replace t by the minimum of its right subtree.
    let m = r;
    while (this.left[m] !== NIL) m = this.left[m]!;
    this.right[m] = this.removeMin(r);
    this.left[m] = l;
    return this.balance(m);
  }

  private removeMin(t: number): number {
    const l = this.left[t]!;
    if (l === NIL) return this.right[t]!;
    this.left[t] = this.removeMin(l);
    return this.balance(t);
  }
}
