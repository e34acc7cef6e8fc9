import { describe, it, expect } from 'vitest';
import { KernelBug } from '../../src/lib/index.ts';
import { getPage, pageCount, pinCount, pinPages, putPage, unpinPages } from '../../src/mm/page-ref.ts';
import { pageOwner, pagePrivate, registerPageOwner, setPageOwner } from '../../src/mm/page-owner.ts';
import { buddyState, smallAllocator } from './helpers.ts';

describe('page references and owners (page_ref, page->mapping)', () => {
  it('records owner, private word and refcount; put_page frees on the last reference', () => {
    const p = smallAllocator();
    const id = registerPageOwner(p, { name: 'test' });
    const a = p.allocPages(2, { owner: id, priv: 77 });
    expect(pageOwner(p, a)).toBe(id);
    expect(pagePrivate(p, a)).toBe(77);
    expect(pageCount(p, a)).toBe(1);
    getPage(p, a);
    expect(pageCount(p, a)).toBe(2);
    putPage(p, a);
    expect(p.isAllocated(a)).toBe(true);
    putPage(p, a);
    expect(p.isAllocated(a)).toBe(false);
    expect(pageCount(p, a)).toBe(0);
    expect(p.freeCount()).toBe(4096);
  });

  it('owner and refcount live in the head frame: a tail page is a KernelBug that changes nothing', () => {
    const p = smallAllocator();
    const a = p.allocPages(1);
    setPageOwner(p, a, 3, 9);
    const state = buddyState(p);
    expect(() => getPage(p, a + 1)).toThrow(KernelBug);
    expect(() => setPageOwner(p, a + 1, 4)).toThrow(/not the head/);
    expect(() => pageOwner(p, a + 2)).toThrow(KernelBug);
    expect(pageCount(p, a + 1)).toBe(0);
    expect([pageOwner(p, a), pagePrivate(p, a), pageCount(p, a)]).toEqual([3, 9, 1]);
    expect(buddyState(p)).toBe(state);
  });
});

describe('pins (pin_user_pages)', () => {
  it('pinned pages cannot be freed; unpin below zero is a bug', () => {
    const p = smallAllocator();
    const a = p.allocPages(1);
    pinPages(p, a + 1, 1);
    expect(pinCount(p, a + 1)).toBe(1);
    expect(pinCount(p, a)).toBe(0);
    expect(() => p.freePages(a, 1)).toThrow(/pinned/);
    expect(p.isAllocated(a)).toBe(true);
    unpinPages(p, a + 1, 1);
    expect(() => unpinPages(p, a + 1, 1)).toThrow(KernelBug);
    p.freePages(a, 1);
    expect(() => pinPages(p, a, 1)).toThrow(/not allocated/);
    expect(p.freeCount()).toBe(4096);
  });

  it('a pin of a range that runs into free pages pins nothing', () => {
    const p = smallAllocator();
    const a = p.allocPages(0);
    expect(() => pinPages(p, a, 2)).toThrow(/not allocated/);
    expect(pinCount(p, a)).toBe(0);
    expect(() => pinPages(p, 0x10, 1)).toThrow(/not RAM/);
  });
});
