import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { flattenMetrics, InputError, loadPoint, loadSweepFile, parseSetArg, planPoints, runPoint, shardFile, shardOf, inShard } from '../../src/sim/index.ts';

const texts = (args: string) => parseSetArg(args).values.map((v) => v.text);

describe('--set values', () => {
  it('takes lists, byte-size ranges and decimal ranges, inclusive of both ends', () => {
    expect(texts('format=1280x720,1920x1080,3840x2160')).toEqual(['1280x720', '1920x1080', '3840x2160']);
    expect(texts('cma.areas.display.size=32MiB..160MiB:32MiB')).toEqual(['32MiB', '64MiB', '96MiB', '128MiB', '160MiB']);
    expect(parseSetArg('cma.default=4MiB..8MiB:4MiB').values.map((v) => v.sortKey)).toEqual([4 << 20, 8 << 20]);
    // the step's decimals, not floating-point dust
    expect(texts('memoryPressure=0.5..0.95:0.15')).toEqual(['0.5', '0.65', '0.8', '0.95']);
    expect(parseSetArg('memoryPressure=0.5,0.9').values.map((v) => v.value)).toEqual([0.5, 0.9]);
    expect(texts('buffers=2..4,8')).toEqual(['2', '3', '4', '8']);
  });

  it('refuses what is not a value list, naming the flag and the path', () => {
    expect(() => parseSetArg('cma.default')).toThrow(/--set: 'cma.default' is not path=value/);
    expect(() => parseSetArg('cma.default=')).toThrow(/cma.default: no value/);
    expect(() => parseSetArg('cma.default=8MiB..4MiB:4MiB')).toThrow(/the end is below the start/);
    expect(() => parseSetArg('cma.default=4MiB..8MiB:0')).toThrow(/step must be positive/);
    expect(() => parseSetArg('frames=1..1000000:1')).toThrow(/at most/);
  });
});

describe('planning a sweep', () => {
  it('edits the platform in place by path, naming list entries by their name, so every other line stays where it was', () => {
    const points = planPoints({ scenario: 'camera-preview', axes: [parseSetArg('cma.areas.display.size=32MiB,96MiB')] }, 'test');
    expect(points).toHaveLength(2);
    const [a, b] = points.map((p) => loadPoint(p).platform);
    expect(a!.cma.areas.find((x) => x.name === 'display')!.size).toBe(32 << 20);
    expect(b!.cma.areas.find((x) => x.name === 'display')!.size).toBe(96 << 20);
    const lines = (t: string) => t.split('\n');
    const base = lines(points[0]!.platformText);
    expect(lines(points[1]!.platformText).length).toBe(base.length);
    expect(base.filter((l, i) => l !== lines(points[1]!.platformText)[i])).toHaveLength(1);
    expect(points[0]!.key).not.toBe(points[1]!.key);
  });

  it('sets a frame format from WxH, and takes the cartesian product of several parameters, the first slowest', () => {
    const points = planPoints({ scenario: 'camera-preview', axes: [parseSetArg('format=640x480,1920x1080'), parseSetArg('memoryPressure=0,0.5')] }, 'test');
    expect(points.map((p) => p.params.map(([, v]) => v.text).join(' '))).toEqual(['640x480 0', '640x480 0.5', '1920x1080 0', '1920x1080 0.5']);
    const s = loadPoint(points[3]!).scenario.spec;
    expect(s.format).toMatchObject({ width: 1920, height: 1080, fourcc: 'XR24' });
    expect(s.memoryPressure).toBe(0.5);
  });

  it('keys a point by what the run reads: the same inputs give the same key, another version another', () => {
    const spec = { scenario: 'camera-preview', frames: 2, axes: [parseSetArg('buffers=3,4')] };
    const [a, b] = [planPoints(spec, '1.0.0'), planPoints(spec, '1.0.0')];
    expect(a.map((p) => p.key)).toEqual(b.map((p) => p.key));
    expect(planPoints(spec, '1.0.1')[0]!.key).not.toBe(a[0]!.key);
    expect(planPoints({ ...spec, frames: 3 }, '1.0.0')[0]!.key).not.toBe(a[0]!.key);
  });

  it('names the path and the keys around it when a path names nothing', () => {
    const plan = (path: string) => () => planPoints({ scenario: 'camera-preview', axes: [parseSetArg(`${path}=1`)] }, 'test');
    expect(plan('cma.areas.dispaly.size')).toThrow("--set: cma.areas.dispaly.size: platform cma.areas has no entry named 'dispaly' (its entries: display)");
    expect(plan('cma.defualt')).toThrow("platform cma has no field 'defualt' (its fields: default, areas)");
    expect(plan('formt')).toThrow(/no field 'formt' in the scenario or the platform \(scenario fields: name, .*format.*; platform fields: .*cma/);
    expect(plan('memoryPressure.x')).toThrow(/scenario memoryPressure is a single value; it has no field 'x'/);
    expect(plan('devices.camera.dmaMaskBitz')).toThrow(/platform devices\[0\] has no field 'dmaMaskBitz' \(its fields: name, dmaMaskBits/);
    expect(plan('processes[7].heap')).toThrow(/scenario processes has no entry \[7\]/);
    expect(plan('formt')).toThrow(InputError);
  });

  it('turns a platform the scenario cannot boot on, or one that does not exist, into an invalid point, not an error', async () => {
    const points = planPoints({ scenario: 'camera-preview', frames: 1, axes: [parseSetArg('platform=no-such-soc')] }, 'test');
    expect(points[0]!.invalid).toMatch(/no-such-soc/);
    const row = await runPoint(points[0]!);
    expect(row).toMatchObject({ status: 'invalid', scenario: expect.stringContaining('camera-preview') });
    const [bad] = planPoints({ scenario: 'camera-preview', frames: 1, axes: [parseSetArg('cma.default=6MiB')] }, 'test');
    expect(await runPoint(bad!)).toMatchObject({ status: 'invalid', scenario: 'camera-preview', reason: 'platform cma.default: must be a multiple of 4 MiB (a pageblock)' });
  });

  it('reads a sweep file, errors pointing at its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sweep-file-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'scenario: camera-preview\nframes: 2\nset:\n  cma.areas.display.size: 8MiB..16MiB:8MiB\n  format: [640x480, 1280x720]\n');
    const spec = loadSweepFile(good);
    expect(spec).toMatchObject({ scenario: 'camera-preview', frames: 2 });
    expect(spec.axes.map((a) => [a.path, a.values.map((v) => v.text)])).toEqual([
      ['cma.areas.display.size', ['8MiB', '16MiB']],
      ['format', ['640x480', '1280x720']],
    ]);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'scenario: camera-preview\nset:\n  cma.default: 8MiB..4MiB:4MiB\n');
    expect(() => loadSweepFile(bad)).toThrow(`${bad}:3:16: set.cma.default: range 8MiB..4MiB:4MiB: the end is below the start`);
  });
});

describe('shards', () => {
  it('takes --shard, else a Kubernetes Indexed Job, else a Slurm array', () => {
    expect(shardOf('1/3', {})).toMatchObject({ index: 1, count: 3 });
    expect(shardOf(undefined, {})).toBeNull();
    expect(shardOf(undefined, { JOB_COMPLETION_INDEX: '2', UNIMEM_SHARD_COUNT: '4' })).toMatchObject({ index: 2, count: 4 });
    expect(shardOf(undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' })).toMatchObject({ index: 2, count: 3 });
    expect(shardOf('0/2', { JOB_COMPLETION_INDEX: '1', UNIMEM_SHARD_COUNT: '2' })).toMatchObject({ index: 0, count: 2 });
    expect(() => shardOf(undefined, { JOB_COMPLETION_INDEX: '0' })).toThrow(/UNIMEM_SHARD_COUNT is not/);
    expect(() => shardOf('3/3', {})).toThrow(/numbered 0..2/);
    expect(() => shardOf('a/b', {})).toThrow(/not i\/N/);
  });

  it('splits points round robin, every point in exactly one shard, each shard to its own file', () => {
    const shards = [0, 1, 2].map((index) => ({ index, count: 3, from: 'test' }));
    for (let i = 0; i < 10; i++) expect(shards.filter((s) => inShard(i, s))).toHaveLength(1);
    expect(shardFile('out/r.db', shards[1]!)).toBe('out/r.shard-1-of-3.db');
    expect(shardFile('out/r.db', null)).toBe('out/r.db');
  });
});

describe('metrics of a result', () => {
  it('are every numeric leaf by path, list entries by name or kind, whatever fields the result grows', () => {
    const m = flattenMetrics({
      scenario: 's',
      seed: 1,
      wallMs: 12.5,
      cma: { peakBytes: 10, migrations: 2 },
      zeroCopy: true,
      processes: [{ name: 'camera', pid: 2, status: 0 }],
      costs: { steady: [{ kind: 'cache-clean', ns: 5, byDevice: { camera: 5 }, perFrame: { meanNs: 1 } }] },
      cpu: { timeline: { series: [{ name: 'camera', busyNs: [1, 2, 3] }] } },
      aNewField: { count: 7 },
      placement: ['x'],
      findings: [{ kind: 'k', message: 'm' }],
    });
    expect(m).toEqual({
      'cma.peakBytes': 10,
      'cma.migrations': 2,
      zeroCopy: 1,
      'processes.camera.pid': 2,
      'processes.camera.status': 0,
      'costs.steady.cache-clean.ns': 5,
      'costs.steady.cache-clean.byDevice.camera': 5,
      'costs.steady.cache-clean.perFrame.meanNs': 1,
      'aNewField.count': 7,
    });
  });
});

describe('edited text', () => {
  it('adds a field that the file leaves to its default', () => {
    const [p] = planPoints({ scenario: 'camera-preview', axes: [parseSetArg('seed=9')] }, 'test');
    expect((parseDocument(p!.scenarioText).toJS() as { seed: number }).seed).toBe(9);
  });
});
