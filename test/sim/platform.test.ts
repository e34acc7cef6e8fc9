import { describe, expect, it } from 'vitest';
import { builtinPlatforms, describePlatform, InputError, loadPlatform, parsePlatform } from '../../src/sim/index.ts';

const GOOD = `name: tiny
memory:
  - { name: dram0, base: 0x80000000, size: 64MiB }
iommus:
  - { name: smmu0, contexts: 2 }
devices:
  - { name: cam, kind: camera, iommu: smmu0 }
  - { name: disp, kind: display, needsContiguous: true }
cma:
  default: 16MiB
`;

function errorOf(text: string): InputError {
  try {
    parsePlatform('p.yaml', text);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

describe('platform files', () => {
  it('ships armv7-mobile and coherent-soc, both valid', () => {
    expect(builtinPlatforms()).toEqual(expect.arrayContaining(['armv7-mobile', 'coherent-soc']));
    const a = loadPlatform('armv7-mobile');
    expect(a.interconnect.ioCoherent).toBe(false);
    expect(a.memory.filter((b) => b.kind === 'dram').reduce((s, b) => s + b.size, 0)).toBe(2 * 1024 ** 3);
    const byName = new Map(a.devices.map((d) => [d.name, d]));
    for (const d of ['camera', 'isp', 'video', 'jpeg', 'gpu']) expect(byName.get(d)?.iommu).toBe('smmu0');
    expect(byName.get('display')?.iommu).toBeUndefined();
    expect(byName.get('display')?.needsContiguous).toBe(true);
    expect(byName.get('usb')?.dmaMaskBits).toBe(30);
    expect(byName.has('audio') && byName.has('dma0')).toBe(true);
    const c = loadPlatform('coherent-soc');
    expect(c.interconnect.ioCoherent).toBe(true);
    expect(c.devices.every((d) => d.iommu !== undefined)).toBe(true);
  });

  it('parses units and fills defaults', () => {
    const p = parsePlatform('p.yaml', GOOD);
    expect(p.memory[0]).toEqual({ name: 'dram0', base: 0x8000_0000, size: 64 * 1024 * 1024, kind: 'dram' });
    expect(p.devices[0]).toMatchObject({ dmaMaskBits: 32, coherent: false, alignment: 4096 });
    expect(p.cpu.cache.lineSize).toBe(64);
  });

  it('describes the address map, cache, devices and IOMMU contexts', () => {
    const text = describePlatform(loadPlatform('armv7-mobile'));
    expect(text).toMatch(/0x030000000-0x06fffffff\s+dram\s+dram0\s+1 GiB/);
    expect(text).toContain('NOT coherent with DMA');
    expect(text).toMatch(/smmu0: 8 contexts.*contexts: camera, isp, video, jpeg, gpu/);
    expect(text).toMatch(/usb\s+usb\s+30b/);
  });

  it('names file, line, column and field for a wrong type', () => {
    const e = errorOf(GOOD.replace('kind: camera, iommu', 'kind: camera, dmaMaskBits: "wide", iommu'));
    expect(e.file).toBe('p.yaml');
    expect(e.line).toBe(7);
    expect(e.field).toBe('devices[0].dmaMaskBits');
    expect(e.col).toBeGreaterThan(30);
    expect(e.message).toMatch(/^p\.yaml:7:\d+: devices\[0\]\.dmaMaskBits: /);
  });

  it('names an unknown field', () => {
    const e = errorOf(GOOD.replace('needsContiguous: true', 'needsContigous: true'));
    expect(e.line).toBe(8);
    expect(e.field).toBe('devices[1].needsContigous');
    expect(e.detail).toMatch(/unknown field/);
  });

  it('names a missing required field', () => {
    const e = errorOf(GOOD.replace('{ name: cam, kind: camera, iommu: smmu0 }', '{ name: cam, iommu: smmu0 }'));
    expect(e.line).toBe(7);
    expect(e.field).toBe('devices[0].kind');
  });

  it('rejects a bad size with its text', () => {
    const e = errorOf(GOOD.replace('size: 64MiB', 'size: 64 furlongs'));
    expect(e.line).toBe(3);
    expect(e.field).toBe('memory[0].size');
    expect(e.detail).toMatch(/'64 furlongs' is not a size/);
  });

  it('rejects references to unknown IOMMUs and devices', () => {
    expect(errorOf(GOOD.replace('iommu: smmu0 }', 'iommu: smmu9 }')).message).toMatch(/p\.yaml:7:\d+: devices\[0\]\.iommu: no iommu named 'smmu9'/);
    const e = errorOf(GOOD + `  areas:\n    - { name: disp, size: 8MiB, devices: [nosuch] }\n`);
    expect(e.field).toBe('cma.areas[0].devices[0]');
    expect(e.line).toBe(12);
  });

  it('rejects overlapping banks and too many IOMMU contexts', () => {
    const e = errorOf(GOOD.replace('size: 64MiB }', 'size: 64MiB }\n  - { name: dram1, base: 0x82000000, size: 64MiB }'));
    expect(e.field).toBe('memory[1].base');
    expect(e.detail).toMatch(/overlaps bank 'dram0'/);
    const f = errorOf(GOOD.replace('contexts: 2', 'contexts: 1').replace("kind: display,", 'kind: display, iommu: smmu0,'));
    expect(f.field).toBe('devices[1].iommu');
  });

  it('reports YAML syntax errors with their position', () => {
    const e = errorOf('name: x\nmemory: [ {name: a\n');
    expect(e.file).toBe('p.yaml');
    expect(e.line).toBeGreaterThanOrEqual(2);
  });

  it('rejects duplicate keys', () => {
    const e = errorOf('name: x\nname: y\nmemory: []\n');
    expect(e.line).toBe(2);
  });
});
