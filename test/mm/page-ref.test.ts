import { describe, it, expect } from 'vitest';
import { KernelBug } from '../../src/lib/index.ts';
import { getPage, pageCount, pinCount, pinPages, unpinPages } from '../../src/mm/page-ref.ts';
import { pageOwner, pagePrivate, setPageOwner } from '../../src/mm/page-owner.ts';
import { buddyState, smallAllocator } from './helpers.ts';

describe('page references and owners (page_ref, page->mapping)', () => {
  it('records owner, private word and refcount; put_page frees on the last reference', () => {
    const p = smallAllocator();
    const f = p.frames;
    const id = p.registerOwner({ name: 'test' });
    const a = p.allocPages(2, { owner: id, priv: 77 });
    expect(pageOwner(f, a)).toBe(id);
    expect(pagePrivate(f, a)).toBe(77);
    expect(pageCount(f, a)).toBe(1);
    getPage(f, a);
    expect(pageCount(f, a)).toBe(2);
    p.putPage(a);
    expect(p.isAllocated(a)).toBe(true);
    p.putPage(a);
    expect(p.isAllocated(a)).toBe(false);
    expect(pageCount(f, a)).toBe(0);
    expect(p.freeCount()).toBe(4096);
  });

  it('owner and refcount live in the head frame: a tail page is a KernelBug that changes nothing', () => {
    const p = smallAllocator();
    const f = p.frames;
    const a = p.allocPages(1);
    setPageOwner(f, a, 3, 9);
    const state = buddyState(p);
    expect(() => getPage(f, a + 1)).toThrow(KernelBug);
    expect(() => setPageOwner(f, a + 1, 4)).toThrow(/not the head/);
    expect(() => pageOwner(f, a + 2)).toThrow(KernelBug);
    expect(pageCount(f, a + 1)).toBe(0);
    expect([pageOwner(f, a), pagePrivate(f, a), pageCount(f, a)]).toEqual([3, 9, 1]);
    expect(buddyState(p)).toBe(state);
  });
});

describe('pins (pin_user_pages)', () => {
  it('pinned pages cannot be freed; unpin below zero is a bug', () => {
    const p = smallAllocator();
    const f = p.frames;
    const a = p.allocPages(1);
    pinPages(f, a + 1, 1);
    expect(pinCount(f, a + 1)).toBe(1);
    expect(pinCount(f, a)).toBe(0);
    expect(() => p.freePages(a, 1)).toThrow(/pinned/);
    expect(p.isAllocated(a)).toBe(true);
    unpinPages(f, a + 1, 1);
    expect(() => unpinPages(f, a + 1, 1)).toThrow(KernelBug);
    p.freePages(a, 1);
    expect(() => pinPages(f, a, 1)).toThrow(/not allocated/);
    expect(p.freeCount()).toBe(4096);
  });

  it('a pin of a range that runs into free pages pins nothing', () => {
    const p = smallAllocator();
    const f = p.frames;
    const a = p.allocPages(0);
    expect(() => pinPages(f, a, 2)).toThrow(/not allocated/);
    expect(pinCount(f, a)).toBe(0);
    expect(() => pinPages(f, 0x10, 1)).toThrow(/not RAM/);
  });
});
