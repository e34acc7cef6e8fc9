import { KernelBug, PAGE_SIZE, kerr } from '../../../../lib/index.ts';

/**
 * First page of the fake mmap offsets GEM objects get: 4 GiB on a 64-bit
 * kernel, so no offset a driver hands out can be mistaken for a real file
 * offset (DRM_FILE_PAGE_OFFSET_START).
 */
export const DRM_FILE_PAGE_OFFSET_START = 0x100000;
/** Number of pages of fake offsets a device has (DRM_FILE_PAGE_OFFSET_SIZE). */
export const DRM_FILE_PAGE_OFFSET_SIZE = 0xffff * 256;

/**
 * One object's range of fake offsets and the files allowed to map it
 * (struct drm_vma_offset_node): a file gets access with its handle to the
 * object and loses it when the handle goes.
 */
export class DrmVmaOffsetNode {
  /** The object the range maps (the container of the kernel's embedded node). */
  readonly owner: unknown;
  /** First page of the range; 0 while the node is not in a manager. */
  start = 0;
  /** Length in pages; 0 while not in a manager. */
  pages = 0;
  /** Files allowed to map, with how many times each was allowed. */
  private readonly allowed = new Map<object, number>();

  /** Creates a node without a range for `owner` (drm_vma_node_reset). */
  constructor(owner: unknown) {
    this.owner = owner;
  }

  /** True while the node has a range (drm_mm_node_allocated). */
  get allocated(): boolean {
    return this.pages > 0;
  }

  /** The byte offset userspace passes to mmap (drm_vma_node_offset_addr); 0 without a range. */
  get offsetAddr(): number {
    return this.start * PAGE_SIZE;
  }

  /** Lets `file` map the node, counting repeats (drm_vma_node_allow). */
  allow(file: object): void {
    this.allowed.set(file, (this.allowed.get(file) ?? 0) + 1);
  }

  /** Undoes one allow for `file` (drm_vma_node_revoke); revoking what was never allowed does nothing. */
  revoke(file: object): void {
    const n = this.allowed.get(file);
    if (n === undefined) return;
    if (n <= 1) this.allowed.delete(file);
    else this.allowed.set(file, n - 1);
  }

  /** True when `file` may map the node (drm_vma_node_is_allowed). */
  isAllowed(file: object): boolean {
    return this.allowed.has(file);
  }
}

/**
 * The fake-offset space of one DRM device (struct drm_vma_offset_manager
 * over a drm_mm range allocator). Ranges are placed best fit, as drm_mm's
 * DRM_MM_INSERT_BEST does: the smallest hole that holds the request, the
 * lowest such hole on ties. Nodes are kept sorted by start.
 */
export class DrmVmaOffsetManager {
  readonly pageOffset: number;
  readonly size: number;
  private readonly nodes: DrmVmaOffsetNode[] = [];

  /** Creates a manager of `size` pages from page `pageOffset` (drm_vma_offset_manager_init). */
  constructor(pageOffset = DRM_FILE_PAGE_OFFSET_START, size = DRM_FILE_PAGE_OFFSET_SIZE) {
    this.pageOffset = pageOffset;
    this.size = size;
  }

  /** Number of nodes with a range. */
  get count(): number {
    return this.nodes.length;
  }

  /**
   * Gives `node` a range of `pages` pages (drm_vma_offset_add); a node that
   * already has one keeps it. ENOSPC when no hole is large enough.
   */
  add(node: DrmVmaOffsetNode, pages: number): void {
    if (!Number.isSafeInteger(pages) || pages <= 0) throw new KernelBug(`drm_vma_offset_add of ${pages} pages`);
    if (node.allocated) return;
    let bestStart = -1;
    let bestSize = Infinity;
    let bestIdx = 0;
    let cursor = this.pageOffset;
    const end = this.pageOffset + this.size;
    for (let i = 0; i <= this.nodes.length; i++) {
      const holeEnd = i < this.nodes.length ? this.nodes[i]!.start : end;
      const hole = holeEnd - cursor;
      if (hole >= pages && hole < bestSize) {
        bestSize = hole;
        bestStart = cursor;
        bestIdx = i;
      }
      if (i < this.nodes.length) cursor = this.nodes[i]!.start + this.nodes[i]!.pages;
    }
    if (bestStart < 0) throw kerr('ENOSPC', `no room for ${pages} pages of fake offsets`);
    node.start = bestStart;
    node.pages = pages;
    this.nodes.splice(bestIdx, 0, node);
  }

  /** Takes the node's range back (drm_vma_offset_remove); a node without one is left alone. */
  remove(node: DrmVmaOffsetNode): void {
    if (!node.allocated) return;
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new KernelBug('drm_vma_offset_remove of a node from another manager');
    this.nodes.splice(i, 1);
    node.start = 0;
    node.pages = 0;
  }

  /**
   * The node whose range starts exactly at page `start` and holds `pages`
   * pages (drm_vma_offset_exact_lookup_locked), or null: a mapping must
   * begin at an object's first page.
   */
  exactLookup(start: number, pages: number): DrmVmaOffsetNode | null {
    let lo = 0;
    let hi = this.nodes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = this.nodes[mid]!;
      if (start < n.start) hi = mid - 1;
      else if (start >= n.start + n.pages) lo = mid + 1;
      else return n.start === start && start + pages <= n.start + n.pages ? n : null;
    }
    return null;
  }
}
