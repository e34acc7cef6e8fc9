import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { formatBytes, hex, packageRoot } from '../lib/index.ts';
import { InputError } from './input-error.ts';
import { PLATFORM_DRIVERS, type PlatformDriver } from '../drivers/index.ts';
import { platformSchema, platformSchemaFor, type PlatformSpec } from './platform-schema.ts';
import { checkBootable } from './platform-boot-check.ts';
import { errorAt, formatPath, parseYaml, readInputFile, siteAt, validate, type YamlInput } from './yaml-input.ts';

export type { PlatformSpec, DeviceSpec } from './platform-schema.ts';

const EXAMPLES = join(packageRoot(), 'examples');

/** Names of the built-in platforms (examples/platforms/*.yaml). */
export function builtinPlatforms(): string[] {
  return listYaml(join(EXAMPLES, 'platforms'));
}

/** Names of the built-in scenarios (examples/scenarios/*.yaml). */
export function builtinScenarios(): string[] {
  return listYaml(join(EXAMPLES, 'scenarios'));
}

/** Resolves a built-in name or a path to a file path; InputError when neither exists. */
export function resolveInputFile(kind: 'platforms' | 'scenarios', nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const builtin = join(EXAMPLES, kind, `${nameOrPath}.yaml`);
  if (existsSync(builtin)) return builtin;
  const names = listYaml(join(EXAMPLES, kind)).join(', ');
  throw new InputError(nameOrPath, 0, 0, '', `no such file, and no built-in ${kind.slice(0, -1)} of that name (built in: ${names})`);
}

/**
 * Loads and validates a platform by built-in name or path. `drivers` is
 * the driver table whose kinds its devices may name (the built-in one
 * unless a tool adds rows).
 */
export function loadPlatform(nameOrPath: string, drivers: readonly PlatformDriver[] = PLATFORM_DRIVERS): PlatformSpec {
  const file = resolveInputFile('platforms', nameOrPath);
  return parsePlatform(file, readInputFile(file), drivers);
}

/** Parses and validates platform YAML text; every error names file, line, column and field. */
export function parsePlatform(file: string, text: string, drivers: readonly PlatformDriver[] = PLATFORM_DRIVERS): PlatformSpec {
  const input = parseYaml(file, text);
  const spec: PlatformSpec = validate(input, drivers === PLATFORM_DRIVERS ? platformSchema : platformSchemaFor(drivers));
  checkConsistency(input, spec);
  checkBootable(input, spec);
  sources.set(spec, input);
  return spec;
}

/** The parsed file of each platform parsePlatform returned, so a finding can name the line that set a limit. */
const sources = new WeakMap<PlatformSpec, YamlInput>();

/**
 * Where a field of a platform is written (`file:line:col`, as a finding's
 * site names it), e.g. ['devices', 6, 'dmaMaskBits']: the field, else its
 * nearest written parent (a default the file leaves out is blamed on the
 * entry that left it out). A platform built in code, not parsed from a
 * file, has no lines: its name and the field path stand in.
 */
export function platformSite(p: PlatformSpec, path: readonly (string | number)[]): string {
  const input = sources.get(p);
  if (input) return siteAt(input, path);
  return `platform ${p.name}: ${formatPath(path)}`;
}

/** Cross-field rules a schema cannot express: references, overlaps, geometry. */
function checkConsistency(input: YamlInput, p: PlatformSpec): void {
  const unique = (list: { name: string }[], field: string[]) => {
    const seen = new Set<string>();
    list.forEach((x, i) => {
      if (seen.has(x.name)) throw errorAt(input, [...field, i, 'name'], `duplicate name '${x.name}'`);
      seen.add(x.name);
    });
  };
  unique(p.memory, ['memory']);
  unique(p.devices, ['devices']);
  unique(p.iommus, ['iommus']);
  unique(p.cma.areas, ['cma', 'areas']);
  const banks = p.memory.map((b, i) => ({ ...b, i })).sort((a, b) => a.base - b.base);
  for (let k = 1; k < banks.length; k++) {
    const a = banks[k - 1]!;
    const b = banks[k]!;
    if (a.base + a.size > b.base) throw errorAt(input, ['memory', b.i, 'base'], `bank '${b.name}' overlaps bank '${a.name}' (${hex(a.base)}..${hex(a.base + a.size - 1)})`);
  }
  p.memory.forEach((b, i) => {
    if (b.size === 0) throw errorAt(input, ['memory', i, 'size'], 'a bank cannot be empty');
    if (b.base % 4096 !== 0) throw errorAt(input, ['memory', i, 'base'], 'must be 4 KiB aligned');
    if (b.size % 4096 !== 0) throw errorAt(input, ['memory', i, 'size'], 'must be a multiple of 4 KiB');
  });
  const dram = p.memory.filter((b) => b.kind === 'dram');
  if (dram.length === 0) throw errorAt(input, ['memory'], 'needs at least one dram bank');
  if (p.kernel.lowmem !== undefined && p.kernel.lowmem > dram[0]!.size)
    throw errorAt(input, ['kernel', 'lowmem'], `exceeds the first DRAM bank '${dram[0]!.name}' (${dram[0]!.size} bytes)`);
  const c = p.cpu.cache;
  if (!isPow2(c.lineSize) || c.lineSize < 16) throw errorAt(input, ['cpu', 'cache', 'lineSize'], 'must be a power of two of at least 16');
  if (c.size % (c.lineSize * c.ways) !== 0) throw errorAt(input, ['cpu', 'cache', 'size'], `must be a multiple of lineSize x ways (${c.lineSize * c.ways})`);
  const iommus = new Map(p.iommus.map((m) => [m.name, m]));
  const perIommu = new Map<string, number>();
  p.devices.forEach((d, i) => {
    if (d.iommu !== undefined) {
      const m = iommus.get(d.iommu);
      if (!m) throw errorAt(input, ['devices', i, 'iommu'], `no iommu named '${d.iommu}' (have: ${[...iommus.keys()].join(', ') || 'none'})`);
      const used = (perIommu.get(d.iommu) ?? 0) + 1;
      if (used > m.contexts) throw errorAt(input, ['devices', i, 'iommu'], `iommu '${d.iommu}' has only ${m.contexts} contexts`);
      perIommu.set(d.iommu, used);
    }
    if (!isPow2(d.alignment)) throw errorAt(input, ['devices', i, 'alignment'], 'must be a power of two');
    if (d.maxSegmentSize === 0) throw errorAt(input, ['devices', i, 'maxSegmentSize'], 'must be positive');
  });
  const devices = new Set(p.devices.map((d) => d.name));
  const totalDram = dram.reduce((s, b) => s + b.size, 0);
  let cmaTotal = p.cma.default ?? 0;
  p.cma.areas.forEach((a, i) => {
    a.devices.forEach((d, j) => {
      if (!devices.has(d)) throw errorAt(input, ['cma', 'areas', i, 'devices', j], `no device named '${d}'`);
    });
    if (a.size === 0 || a.size % (4 * 1024 * 1024) !== 0) throw errorAt(input, ['cma', 'areas', i, 'size'], 'must be a positive multiple of 4 MiB (a pageblock)');
    cmaTotal += a.size;
  });
  if (p.cma.default !== undefined && p.cma.default % (4 * 1024 * 1024) !== 0) throw errorAt(input, ['cma', 'default'], 'must be a multiple of 4 MiB (a pageblock)');
  if (cmaTotal > totalDram / 2) throw errorAt(input, ['cma'], `CMA areas (${cmaTotal} bytes) exceed half of DRAM (${totalDram} bytes)`);
}

/**
 * Prints what a platform describes: address map, caches, devices and their
 * DMA constraints, IOMMU contexts, the drivers that bind them and, given a
 * booted system's `nodes` (device name to node paths), the nodes they made.
 */
export function describePlatform(p: PlatformSpec, drivers: readonly PlatformDriver[] = PLATFORM_DRIVERS, nodes?: ReadonlyMap<string, readonly string[]>): string {
  const out: string[] = [];
  out.push(`platform ${p.name}${p.description ? ` — ${p.description}` : ''}`);
  out.push('', 'physical address map:');
  for (const b of [...p.memory].sort((a, b) => a.base - b.base))
    out.push(`  ${hex(b.base, 9)}-${hex(b.base + b.size - 1, 9)}  ${b.kind.padEnd(4)}  ${b.name.padEnd(10)} ${formatBytes(b.size)}`);
  const dram0 = p.memory.filter((b) => b.kind === 'dram')[0]!;
  const lowmem = p.kernel.lowmem ?? Math.min(dram0.size, 760 * 1024 * 1024);
  out.push('', 'kernel:', `  lowmem ${formatBytes(lowmem)} linear-mapped from ${hex(dram0.base)}, vmalloc area ${formatBytes(p.kernel.vmalloc)}`);
  const c = p.cpu.cache;
  out.push(
    '',
    'cpu cache:',
    `  ${formatBytes(c.size)}, ${c.ways}-way, ${c.lineSize} B lines, write-back write-allocate, ${p.interconnect.ioCoherent ? 'IO-coherent' : 'NOT coherent with DMA'}`,
    `  costs: ${c.lineOpNs} ns/line by address, ${c.setWayOpNs} ns/line set-way, ${c.writebackNs} ns/writeback; prefetch probability ${p.cpu.prefetchProbability}`,
    `  whole-cache flush threshold: ${p.cpu.flushThreshold === 'auto' ? 'calibrated at boot' : formatBytes(p.cpu.flushThreshold)}`,
  );
  out.push('', 'cma:');
  if (p.cma.default !== undefined) out.push(`  default  ${formatBytes(p.cma.default)}`);
  for (const a of p.cma.areas) out.push(`  ${a.name.padEnd(8)} ${formatBytes(a.size)}  for ${a.devices.join(', ') || '-'}`);
  if (p.cma.default === undefined && p.cma.areas.length === 0) out.push('  none');
  out.push('', 'iommus:');
  for (const m of p.iommus) {
    const ctx = p.devices.filter((d) => d.iommu === m.name).map((d) => d.name);
    out.push(`  ${m.name}: ${m.contexts} contexts, shared TLB of ${m.tlbEntries} entries, walk ${m.walkNs} ns; contexts: ${ctx.join(', ') || 'none'}`);
  }
  if (p.iommus.length === 0) out.push('  none');
  out.push('', 'devices:');
  out.push(`  ${'name'.padEnd(10)} ${'kind'.padEnd(10)} mask  coherent  maxseg    boundary    contig  align   bandwidth   via`);
  for (const d of p.devices)
    out.push(
      `  ${d.name.padEnd(10)} ${d.kind.padEnd(10)} ${String(d.dmaMaskBits).padStart(2)}b   ${(d.coherent || p.interconnect.ioCoherent ? 'yes' : 'no').padEnd(8)}  ${formatBytes(d.maxSegmentSize).padEnd(8)}  ${hex(d.segmentBoundary).padEnd(10)}  ${(d.needsContiguous ? 'yes' : 'no').padEnd(6)}  ${formatBytes(d.alignment).padEnd(5)}  ${rate(d.bandwidth).padStart(9)}   ${d.iommu ?? (d.bounce ? 'direct+bounce' : 'direct')}`,
    );
  out.push('', 'drivers:');
  for (const d of p.devices) {
    const drv = drivers.find((r) => r.kind === d.kind);
    const made = nodes?.get(d.name);
    out.push(`  ${d.name.padEnd(10)} ${drv?.probe ? drv.name : '(none)'}: ${drv?.description ?? ''}${made?.length ? ` -> ${made.join(', ')}` : ''}`);
  }
  return out.join('\n');
}

function rate(bps: number): string {
  return bps >= 1e9 ? `${(bps / 1e9).toFixed(1)} GB/s` : `${(bps / 1e6).toFixed(0)} MB/s`;
}

function isPow2(x: number): boolean {
  return x > 0 && Number.isInteger(Math.log2(x));
}

function listYaml(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}
