import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

/** One broken input: the command to give it to and the file's text. */
export interface BrokenCase {
  name: string;
  command: 'platform' | 'check';
  text: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

const platformText = readFileSync(new URL('../../examples/platforms/armv7-mobile.yaml', import.meta.url), 'utf8');
const scenarioText = readFileSync(new URL('../../examples/scenarios/video-playback.yaml', import.meta.url), 'utf8');

/** The cases the issue lists, by hand: each once threw at boot, hung, or was accepted though boot cannot use it. */
function handWritten(): BrokenCase[] {
  const p = (name: string, from: string | RegExp, to: string): BrokenCase => {
    const text = platformText.replace(from, to);
    if (text === platformText) throw new Error(`case ${name}: '${String(from)}' is not in the platform`);
    return { name, command: 'platform', text };
  };
  const area = '    - { name: display, size: 64MiB, devices: [display] }';
  const cases = [
    p('lowmem-0', 'lowmem: 760MiB', 'lowmem: 0'),
    p('lowmem-unaligned', 'lowmem: 760MiB', 'lowmem: 4097'),
    p('lowmem-too-big-for-split', 'lowmem: 760MiB', 'lowmem: 900MiB'),
    p('vmalloc-0', 'vmalloc: 240MiB', 'vmalloc: 0'),
    p('vmalloc-4g', 'vmalloc: 240MiB', 'vmalloc: 4GiB'),
    p('vmalloc-1g', 'vmalloc: 240MiB', 'vmalloc: 1GiB'),
    p('cma-default-0', 'default: 256MiB', 'default: 0'),
    p('cma-default-900m', 'default: 256MiB', 'default: 900MiB'),
    p('cma-base-outside-dram', area, '    - { name: display, size: 64MiB, base: 0x10000000, devices: [display] }'),
    p('cma-base-unaligned', area, '    - { name: display, size: 64MiB, base: 0x30100000, devices: [display] }'),
    p('cma-areas-overlap', area, `    - { name: display, size: 64MiB, base: 0x34000000, devices: [display] }\n    - { name: other, size: 8MiB, base: 0x36000000 }`),
    p('cma-named-reserved', area, '    - { name: reserved, size: 64MiB, devices: [display] }'),
    p('cma-named-system', area, '    - { name: system, size: 64MiB, devices: [display] }'),
    p('cma-area-no-room', area, '    - { name: display, size: 900MiB, devices: [display] }'),
    p('cma-alignment-3', area, '    - { name: display, size: 64MiB, alignment: 3, devices: [display] }'),
    p('cma-above-display-mask', area, '    - { name: display, size: 64MiB, base: 0x80000000, devices: [display] }'),
    p('cma-device-in-two-areas', area, `${area}\n    - { name: display2, size: 8MiB, devices: [display] }`),
    p('display-mask-24', 'dmaMaskBits: 31 ', 'dmaMaskBits: 24 '),
    p('display-coherent-mask-24', 'dmaMaskBits: 31 ', 'coherentMaskBits: 24\n    dmaMaskBits: 31 '),
    p('bank-at-2-48', 'base: 0x80000000, size: 1GiB', 'base: 0x1000000000000, size: 1GiB'),
    p('bank-1-tib', 'base: 0x80000000, size: 1GiB', 'base: 0x80000000, size: 1TiB'),
    p('bank-above-2-53', 'base: 0x80000000, size: 1GiB', 'base: 0x20000000000001, size: 1GiB'),
    p('cache-64g', 'cache: { size: 1MiB', 'cache: { size: 64GiB'),
    p('segment-boundary-0', 'maxSegmentSize: 16MiB', 'maxSegmentSize: 16MiB, segmentBoundary: 0'),
    p('segment-boundary-not-mask', 'maxSegmentSize: 16MiB', 'maxSegmentSize: 16MiB, segmentBoundary: 0x12345'),
    p('device-named-vgem', '{ name: dma0,', '{ name: vgem,'),
    p('latency-1e300', 'latencyNs: 1000', 'latencyNs: 1e300'),
    p('bandwidth-1e300', 'bandwidth: 60MB/s', 'bandwidth: 1e300'),
    p('undefined-alias', 'bandwidth: 60MB/s', 'bandwidth: *fast'),
    p('dram-only-sram', 'size: 1GiB,   kind: dram }\n  - { name: dram1', 'size: 1GiB,   kind: sram }\n  - { name: dram1'),
  ];
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (const c of 'bcdefgh') laughs.push(`${c}: &${c} [${Array(9).fill(`*${String.fromCharCode(c.charCodeAt(0) - 1)}`).join(', ')}]`);
  const s = (name: string, text: string): BrokenCase => ({ name, command: 'check', text });
  const scen = (name: string, from: string | RegExp, to: string): BrokenCase => {
    const text = scenarioText.replace(from, to);
    if (text === scenarioText) throw new Error(`case ${name}: '${String(from)}' is not in the scenario`);
    return s(name, text);
  };
  return [
    ...cases,
    { name: 'alias-bomb', command: 'platform', text: `${laughs.join('\n')}\n${platformText}` },
    s('scenario-alias-bomb', `${laughs.join('\n')}\n${scenarioText}`),
    s('scenario-undefined-alias', scenarioText.replace(/^name: .*$/m, 'name: *nope')),
    s('scenario-format-8192', `name: big\nframes: 2\nformat: { width: 8192, height: 8192 }\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n`),
    s('scenario-missing-platform', `name: lost\nplatform: no-such-platform\nframes: 2\nprocesses:\n  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n`),
    scen('scenario-frames-0', /^frames: .*$/m, 'frames: 0'),
    scen('scenario-frames-1e9', /^frames: .*$/m, 'frames: 1000000000'),
    s('empty-file', ''),
    s('a-list', '- 1\n- 2\n'),
    s('a-scalar', 'hello\n'),
    s('two-documents', `${scenarioText}\n---\nname: second\n`),
    s('tab-indent', 'name: x\nformat:\n\twidth: 5\n'),
    s('binary-junk', '\u0000\u0001\u0002\u00ff{[:'),
    s('unclosed-flow', 'name: x\nprocesses: [ { name: a\n'),
    { name: 'platform-empty', command: 'platform', text: '' },
    { name: 'platform-duplicate-key', command: 'platform', text: platformText.replace('name: armv7-mobile', 'name: armv7-mobile\nname: again') },
  ];
}

/** Every leaf of a parsed file, with its path. */
function leaves(v: Json, path: Path = []): { path: Path; value: Json }[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [{ path, value: v }];
}

function setIn(root: Json, path: Path, value: Json | undefined): Json {
  const copy = structuredClone(root);
  let o = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

function getIn(root: Json, path: Path): Json {
  let o = root;
  for (const k of path) o = (o as Record<string | number, Json> | undefined)?.[k] ?? null;
  return o;
}

const SIZE_KEYS = new Set(['base', 'size', 'lowmem', 'vmalloc', 'lineSize', 'maxSegmentSize', 'segmentBoundary', 'alignment', 'default']);
const REQUIRED = (path: Path): boolean => {
  const key = path[path.length - 1];
  const parent = path[0];
  if (key === 'name') return path.length === 1 || parent !== 'cpu';
  if (parent === 'memory') return key === 'base' || key === 'size';
  if (parent === 'cma') return path[1] === 'areas' && key === 'size';
  if (parent === 'devices') return key === 'kind';
  if (parent === 'processes') return key === 'stage';
  return false;
};

/**
 * Mutations of a valid file that make it invalid, each by construction:
 * a required field deleted, a list entry duplicated (two of one name), a
 * key written twice, every leaf retyped (to a mapping, to a list), every
 * number made huge or negative, every size given a bandwidth's unit and
 * every bandwidth a size's.
 */
function mutations(command: BrokenCase['command'], prefix: string, text: string): BrokenCase[] {
  const root = parse(text) as Json;
  const out: BrokenCase[] = [];
  const add = (name: string, v: Json) => out.push({ name: `${prefix}-${name}`, command, text: stringify(v) });
  const id = (p: Path) => p.join('.');
  for (const { path, value } of leaves(root)) {
    const key = String(path[path.length - 1]);
    add(`${id(path)}-as-mapping`, setIn(root, path, { x: 1 }));
    add(`${id(path)}-as-list`, setIn(root, path, [1, 2]));
    if (REQUIRED(path)) add(`${id(path)}-deleted`, setIn(root, path, undefined));
    const numeric = typeof value === 'number' || (typeof value === 'string' && /^(0x)?[0-9.]+\s*[A-Za-z/]*$/.test(value));
    if (numeric) add(`${id(path)}-huge`, setIn(root, path, 1e300));
    if (numeric) add(`${id(path)}-negative`, setIn(root, path, -1));
    if (SIZE_KEYS.has(key) && numeric) add(`${id(path)}-bandwidth-unit`, setIn(root, path, '64MB/s'));
    if (key === 'bandwidth') add(`${id(path)}-size-unit`, setIn(root, path, '64MiB'));
  }
  for (const list of ['memory', 'iommus', 'devices', 'processes']) {
    const items = (root as Record<string, Json>)[list];
    if (!Array.isArray(items) || items.length === 0) continue;
    add(`${list}-duplicated`, setIn(root, [list], [...items, items[items.length - 1]!]));
  }
  if (getIn(root, ['cma', 'areas'])) add('cma-areas-duplicated', setIn(root, ['cma', 'areas'], [...(getIn(root, ['cma', 'areas']) as Json[]), ...(getIn(root, ['cma', 'areas']) as Json[])]));
  out.push({ name: `${prefix}-key-twice`, command, text: text.replace(/^name: (.*)$/m, 'name: $1\nname: $1') });
  return out;
}

/**
 * The corpus: the hand-written cases and the generated mutations of a
 * built-in platform and a built-in scenario.
 */
export function brokenCorpus(): BrokenCase[] {
  return [...handWritten(), ...mutations('platform', 'platform', platformText), ...mutations('check', 'scenario', scenarioText)];
}
