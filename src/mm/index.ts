/**
 * DOC: mm — physical memory management
 *
 * GenPool hands out ranges of any address space (IOVA, VCM regions, SRAM,
 * per-device pools); its owner adds chunks and frees what it allocated, with
 * the size it asked for. Nothing in GenPool sleeps. A free of a range that is
 * not allocated is a KernelBug thrown before any state changes.
 */
export * from './genalloc.ts';
