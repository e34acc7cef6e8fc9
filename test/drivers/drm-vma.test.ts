import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DRM_FILE_PAGE_OFFSET_START, DrmVmaOffsetManager, DrmVmaOffsetNode } from '../../src/drivers/gpu/drm/core/drm-vma-manager.ts';

describe('DRM fake-offset manager', () => {
  it('ranges never overlap, each is found only from its first page, and every page is handed out again after removal', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 64 }), fc.nat()), { maxLength: 80 }), (ops) => {
        const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, 1024);
        const live: DrmVmaOffsetNode[] = [];
        for (const [add, pages, pick] of ops) {
          if (add || live.length === 0) {
            const n = new DrmVmaOffsetNode(null);
            try {
              mgr.add(n, pages);
            } catch (e) {
              expect((e as { code?: string }).code).toBe('ENOSPC');
              continue;
            }
            live.push(n);
          } else {
            const [n] = live.splice(pick % live.length, 1);
            mgr.remove(n!);
            expect(n!.allocated).toBe(false);
          }
          const sorted = [...live].sort((a, b) => a.start - b.start);
          for (let i = 0; i < sorted.length; i++) {
            const n = sorted[i]!;
            expect(n.start).toBeGreaterThanOrEqual(DRM_FILE_PAGE_OFFSET_START);
            expect(n.start + n.pages).toBeLessThanOrEqual(DRM_FILE_PAGE_OFFSET_START + 1024);
            if (i > 0) expect(n.start).toBeGreaterThanOrEqual(sorted[i - 1]!.start + sorted[i - 1]!.pages);
            expect(mgr.exactLookup(n.start, n.pages)).toBe(n);
            expect(mgr.exactLookup(n.start, n.pages + 1)).toBeNull();
            if (n.pages > 1) expect(mgr.exactLookup(n.start + 1, 1)).toBeNull();
          }
          expect(mgr.count).toBe(live.length);
        }
        for (const n of live) mgr.remove(n);
        const all = new DrmVmaOffsetNode(null);
        mgr.add(all, 1024);
        expect(all.start).toBe(DRM_FILE_PAGE_OFFSET_START);
      }),
    );
  });

  it('allow and revoke count per file; a node with no range has offset 0', () => {
    const n = new DrmVmaOffsetNode(null);
    const f = {};
    expect(n.offsetAddr).toBe(0);
    n.allow(f);
    n.allow(f);
    n.revoke(f);
    expect(n.isAllowed(f)).toBe(true);
    n.revoke(f);
    expect(n.isAllowed(f)).toBe(false);
    n.revoke(f);
    expect(n.isAllowed({})).toBe(false);
  });
});
