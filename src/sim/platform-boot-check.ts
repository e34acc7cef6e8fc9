import { DEFAULT_CMA_NAME } from '../mm/index.ts';
import { GiB, MiB, alignDown, formatBytes, hex, isPowerOfTwo } from '../lib/index.ts';
import type { PlatformSpec } from './platform-schema.ts';
import { errorAt, type YamlInput } from './yaml-input.ts';

/** The page frames index pfns as 31-bit integers: physical memory ends at 8 TiB. */
export const MAX_PHYS_ADDR = 2 ** 43;
/** Memory the simulator holds per bank adds up (page metadata, sparse contents): a bound that keeps a run in one process's heap. */
export const MAX_MEMORY = 64 * GiB;
/** The CPU cache is modelled byte for byte; larger than any SoC's last-level cache. */
export const MAX_CACHE = 64 * MiB;
/** CMA areas are reserved, aligned and activated in whole pageblocks (pageblock_order 10). */
const PAGEBLOCK = 4 * MiB;
/** ARM's 3G/1G split: PAGE_OFFSET, the end of the vmalloc area and the guard gap below it. */
const PAGE_OFFSET_32 = 0xc000_0000;
const VMALLOC_END_32 = 0xff00_0000;
const VMALLOC_OFFSET = 8 * MiB;
/** Devices boot creates for the kernel's own drivers (misc udmabuf, vgem, vivid): a platform device cannot take their names. */
const VIRTUAL_DEVICES = ['udmabuf', 'vgem', 'vivid'];
/** Names under /dev/dma_heap that boot gives to heaps of its own. */
const RESERVED_HEAP_NAMES = new Map([
  [DEFAULT_CMA_NAME, "is the default CMA area's heap (set its size with cma.default)"],
  ['system', 'is the system heap (/dev/dma_heap/system)'],
]);

type Path = (string | number)[];
interface Range {
  start: number;
  end: number;
}

/**
 * Checks everything boot needs from a validated platform before anything is
 * built, so that boot (setup_arch, arm_memblock_init, cma_declare_contiguous,
 * the platform bus) cannot fail on the file: the physical address space, the
 * kernel's 32-bit split, where each CMA area lands, and whether each device's
 * DMA masks reach the memory it allocates from. Each failure is an InputError
 * at the field to change.
 */
export function checkBootable(input: YamlInput, p: PlatformSpec): void {
  checkBanks(input, p);
  if (p.cpu.cache.size > MAX_CACHE) throw errorAt(input, ['cpu', 'cache', 'size'], `${formatBytes(p.cpu.cache.size)} is more than the ${formatBytes(MAX_CACHE)} of cache the simulator models`);
  const dram = p.memory.filter((b) => b.kind === 'dram').sort((a, b) => a.base - b.base);
  const lowmemEnd = checkKernelLayout(input, p, dram);
  const areas = placeCmaAreas(input, p, dram, lowmemEnd);
  checkDevices(input, p, dram, areas);
}

function checkBanks(input: YamlInput, p: PlatformSpec): void {
  let total = 0;
  p.memory.forEach((b, i) => {
    if (b.base >= MAX_PHYS_ADDR) throw errorAt(input, ['memory', i, 'base'], `${hex(b.base)} is above the 8 TiB of physical address space the simulator has`);
    if (b.base + b.size > MAX_PHYS_ADDR) throw errorAt(input, ['memory', i, 'size'], `bank '${b.name}' ends at ${hex(b.base + b.size)}, above the 8 TiB of physical address space the simulator has`);
    total += b.size;
    if (total > MAX_MEMORY) throw errorAt(input, ['memory', i, 'size'], `the banks add up to ${formatBytes(total)}; the simulator holds at most ${formatBytes(MAX_MEMORY)}`);
  });
}

/**
 * The kernel's virtual layout as boot computes it (kernelLayout in mm):
 * with all DRAM below 4 GiB a 32-bit kernel whose lowmem and vmalloc area
 * share the gigabyte above PAGE_OFFSET. Returns where lowmem ends.
 */
function checkKernelLayout(input: YamlInput, p: PlatformSpec, dram: PlatformSpec['memory']): number {
  const vmalloc = p.kernel.vmalloc;
  if (vmalloc === 0 || vmalloc % 4096 !== 0) throw errorAt(input, ['kernel', 'vmalloc'], 'must be a positive multiple of 4 KiB');
  const physOffset = dram[0]!.base;
  const dramEnd = Math.max(...dram.map((b) => b.base + b.size));
  const span = dramEnd - physOffset;
  const given = p.kernel.lowmem;
  // boot's default: all of the first bank, at most 760 MiB
  const asked = given ?? Math.min(dram[0]!.size, 760 * MiB);
  if (given !== undefined && (given === 0 || given % 4096 !== 0)) throw errorAt(input, ['kernel', 'lowmem'], 'must be a positive multiple of 4 KiB');
  if (dramEnd > 2 ** 32) return physOffset + Math.min(asked, span);
  const room = alignDown(VMALLOC_END_32 - vmalloc - VMALLOC_OFFSET, VMALLOC_OFFSET) - PAGE_OFFSET_32;
  const maxVmalloc = VMALLOC_END_32 - PAGE_OFFSET_32 - 2 * VMALLOC_OFFSET;
  if (room <= 0) throw errorAt(input, ['kernel', 'vmalloc'], `${formatBytes(vmalloc)} leaves no room for lowmem in the 32-bit kernel's space above ${hex(PAGE_OFFSET_32)} (at most ${formatBytes(maxVmalloc)})`);
  const lowmem = Math.min(asked, span);
  if (lowmem > room) {
    if (given !== undefined) throw errorAt(input, ['kernel', 'lowmem'], `${formatBytes(lowmem)} + vmalloc ${formatBytes(vmalloc)} do not fit in the 32-bit kernel's space above ${hex(PAGE_OFFSET_32)}: at most ${formatBytes(room)} of lowmem with this vmalloc`);
    throw errorAt(input, ['kernel', 'vmalloc'], `${formatBytes(vmalloc)} leaves ${formatBytes(room)} for lowmem, less than the default ${formatBytes(lowmem)}: set kernel.lowmem or a smaller vmalloc`);
  }
  return physOffset + lowmem;
}

/** A CMA area as boot places it, and the field of the platform file it came from. */
interface PlacedArea extends Range {
  name: string;
  path: Path;
}

/**
 * Places the CMA areas as boot does (cma_declare_contiguous_nid): fixed
 * bases first, each inside one zone, then the others top-down in lowmem,
 * pageblock-aligned and clear of those already placed.
 */
function placeCmaAreas(input: YamlInput, p: PlatformSpec, dram: PlatformSpec['memory'], lowmemEnd: number): PlacedArea[] {
  const zones = zonesOf(dram, lowmemEnd);
  const wanted: { name: string; size: number; base?: number; alignment?: number; path: Path }[] = [];
  if (p.cma.default !== undefined) {
    if (p.cma.default === 0) throw errorAt(input, ['cma', 'default'], 'must be positive (leave it out for no default area)');
    wanted.push({ name: DEFAULT_CMA_NAME, size: p.cma.default, path: ['cma', 'default'] });
  }
  p.cma.areas.forEach((a, i) => {
    const clash = RESERVED_HEAP_NAMES.get(a.name);
    if (clash) throw errorAt(input, ['cma', 'areas', i, 'name'], `'${a.name}' ${clash}; give the area another name`);
    if (a.alignment !== undefined && !isPowerOfTwo(a.alignment)) throw errorAt(input, ['cma', 'areas', i, 'alignment'], 'must be a power of two');
    wanted.push({ name: a.name, size: a.size, base: a.base, alignment: a.alignment, path: ['cma', 'areas', i] });
  });
  const placed: PlacedArea[] = [];
  const overlap = (r: Range) => placed.find((x) => r.start < x.end && x.start < r.end);
  for (const w of wanted.filter((x) => x.base !== undefined)) {
    const align = Math.max(w.alignment ?? PAGEBLOCK, PAGEBLOCK);
    const base = w.base!;
    const r = { start: base, end: base + Math.ceil(w.size / PAGEBLOCK) * PAGEBLOCK };
    if (base % align !== 0) throw errorAt(input, [...w.path, 'base'], `${hex(base)} is not aligned to ${formatBytes(align)}`);
    if (!zones.some((z) => r.start >= z.start && r.end <= z.end))
      throw errorAt(input, [...w.path, 'base'], `${hex(r.start)}-${hex(r.end - 1)} is not inside one zone of DRAM (zones: ${zones.map(zoneText).join(', ')})`);
    const hit = overlap(r);
    if (hit) throw errorAt(input, [...w.path, 'base'], `${hex(r.start)}-${hex(r.end - 1)} overlaps CMA area '${hit.name}' (${hex(hit.start)}-${hex(hit.end - 1)})`);
    placed.push({ ...r, name: w.name, path: w.path });
  }
  for (const w of wanted.filter((x) => x.base === undefined)) {
    const align = Math.max(w.alignment ?? PAGEBLOCK, PAGEBLOCK);
    const size = Math.ceil(w.size / PAGEBLOCK) * PAGEBLOCK;
    const r = placeTopDown(zones, size, align, lowmemEnd, overlap);
    const field = w.path.length === 2 ? w.path : [...w.path, 'size'];
    if (!r) throw errorAt(input, field, `no room for ${formatBytes(size)} in lowmem (${hex(dram[0]!.base)}-${hex(lowmemEnd - 1)}) beside the other CMA areas`);
    placed.push({ ...r, name: w.name, path: w.path });
  }
  return placed;
}

function placeTopDown(zones: (Range & { highmem: boolean })[], size: number, align: number, limit: number, overlap: (r: Range) => Range | undefined): Range | null {
  for (const z of [...zones].reverse()) {
    if (z.highmem) continue;
    let b = alignDown(Math.min(z.end, limit) - size, align);
    while (b >= z.start) {
      const hit = overlap({ start: b, end: b + size });
      if (!hit) return { start: b, end: b + size };
      b = Math.floor((hit.start - size) / align) * align;
    }
  }
  return null;
}

/** The zones boot builds: each DRAM bank cut where lowmem ends and at 4 GiB. */
function zonesOf(dram: PlatformSpec['memory'], lowmemEnd: number): (Range & { highmem: boolean })[] {
  const cuts = [lowmemEnd, 2 ** 32].sort((a, b) => a - b);
  const zones: (Range & { highmem: boolean })[] = [];
  for (const b of dram) {
    let a = b.base;
    const end = b.base + b.size;
    while (a < end) {
      const c = cuts.find((x) => x > a && x < end) ?? end;
      zones.push({ start: a, end: c, highmem: a >= lowmemEnd });
      a = c;
    }
  }
  return zones;
}

function zoneText(z: Range & { highmem: boolean }): string {
  return `${hex(z.start)}-${hex(z.end - 1)}${z.highmem ? ' highmem' : ''}`;
}

/**
 * Devices against what boot creates and what they allocate from: names the
 * kernel's virtual devices take, one CMA area per device (dev->cma_area),
 * masks that reach DRAM, and a per-device area below the masks of a device
 * that has no IOMMU to remap it. segment_boundary_mask must be a mask.
 */
function checkDevices(input: YamlInput, p: PlatformSpec, dram: PlatformSpec['memory'], areas: PlacedArea[]): void {
  const areaOf = new Map<string, number>();
  p.cma.areas.forEach((a, i) =>
    a.devices.forEach((d, j) => {
      const before = areaOf.get(d);
      if (before !== undefined) throw errorAt(input, ['cma', 'areas', i, 'devices', j], `device '${d}' is already in CMA area '${p.cma.areas[before]!.name}'; a device has one CMA area`);
      areaOf.set(d, i);
    }),
  );
  const dramStart = dram[0]!.base;
  p.devices.forEach((d, i) => {
    if (VIRTUAL_DEVICES.includes(d.name)) throw errorAt(input, ['devices', i, 'name'], `'${d.name}' is the name of a device the kernel creates itself (${VIRTUAL_DEVICES.join(', ')})`);
    const b = d.segmentBoundary;
    if (b < 4095 || !isPowerOfTwo(b + 1)) throw errorAt(input, ['devices', i, 'segmentBoundary'], `${hex(b)} is not a mask of the form 2^n - 1 of at least 0xfff (a page)`);
    if (d.iommu !== undefined) return;
    const masks: [string, number][] = [['dmaMaskBits', d.dmaMaskBits]];
    if (d.coherentMaskBits !== undefined) masks.push(['coherentMaskBits', d.coherentMaskBits]);
    for (const [field, bits] of masks) {
      if (2 ** bits <= dramStart) throw errorAt(input, ['devices', i, field], `a ${bits}-bit mask reaches up to ${hex(2 ** bits - 1)}, below all DRAM (from ${hex(dramStart)}), and '${d.name}' has no IOMMU`);
    }
    const ai = areaOf.get(d.name);
    if (ai === undefined) return;
    const area = areas.find((a) => a.name === p.cma.areas[ai]!.name)!;
    const bits = Math.min(...masks.map(([, v]) => v));
    if (area.end - 1 > 2 ** bits - 1) {
      const j = p.cma.areas[ai]!.devices.indexOf(d.name);
      throw errorAt(input, ['cma', 'areas', ai, 'devices', j], `device '${d.name}' has no IOMMU and a ${bits}-bit DMA mask (up to ${hex(2 ** bits - 1)}), but CMA area '${area.name}' lies at ${hex(area.start)}-${hex(area.end - 1)}`);
    }
  });
}
