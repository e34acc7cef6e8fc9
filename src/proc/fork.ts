import { AddressSpace } from './address-space.ts';
import type { AnonObject } from './anon-memory.ts';
import { exitMmap } from './mmap.ts';
import { Vma } from './vma.ts';

/**
 * Copies the mappings for a child (dup_mmap): shared mappings share the
 * frames and the object of shared anonymous memory; private anonymous
 * memory and private copies are duplicated page by page into an object of
 * the child's (the eager form of copy-on-write), and the child faults them
 * in from it. Each copy references the file and tells the mapping's owner
 * through vmOps.open. ENOMEM when the copies cannot be had; the child then
 * holds nothing.
 */
export function dupMmap(mm: AddressSpace): AddressSpace {
  const child = new AddressSpace(mm.anonMem);
  child.mmapBase = mm.mmapBase;
  child.compat32 = mm.compat32;
  child.taskSize = mm.taskSize;
  for (const v of mm.areas) {
    const c = new Vma(v.start, v.end, v.flags, v.pgoff, v.file, Float64Array.from(v.pfns));
    c.memType = v.installedMemType;
    c.vmOps = v.vmOps;
    c.privateData = v.privateData;
    if (v.cow) c.cow = v.cow.slice();
    if (v.obj) {
      if (!v.file && v.shared) child.attachObj(c, v.obj.get(), v.objOff);
      else {
        let dup: AnonObject;
        try {
          dup = v.obj.duplicate();
        } catch (e) {
          exitMmap(child);
          throw e;
        }
        child.attachObj(c, dup, 0);
        // the child's private pages are its copies: they fault in from its own object
        for (let i = 0; i < c.pfns.length; i++) if (!c.file || c.cow?.[i]) c.pfns[i] = -1;
      }
    }
    c.file?.get();
    c.vmOps?.open?.(c);
    child.registerPages(c);
    child.insertSorted(c);
  }
  return child;
}
