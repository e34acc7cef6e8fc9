import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

const ARMV7 = readFileSync(new URL('../../examples/platforms/armv7-mobile.yaml', import.meta.url), 'utf8');

/** The 1-based line of `text` that holds `s`. */
function lineOf(text: string, s: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(s));
  if (i < 0) throw new Error(`no line with ${s}`);
  return i + 1;
}

// `unimem check` on a platform that cannot carry the scenario: exit 1, and a capacity finding at the line to change.
describe('unimem check: capacity findings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unimem-capacity-'));
  const file = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const platform = (name: string, find: string, replace: string) => {
    const text = ARMV7.replace(find, replace);
    if (text === ARMV7) throw new Error(`armv7-mobile has no ${find}`);
    return { path: file(name, text), text };
  };
  const pipeline = (name: string, head: string, stages: string) => file(name, `name: ${name.replace('.yaml', '')}\n${head}processes:\n${stages}`);

  it('each limit exits 1 with a finding at the platform line that sets it; the pipeline within its limits exits 0', async () => {
    const preview = pipeline('preview.yaml', 'frames: 8\nfps: 60\nformat: { width: 320, height: 240, fourcc: XR24 }\n', '  - { name: cam, stage: capture }\n  - { name: disp, stage: display }\n');
    const cases = [
      { p: platform('slow-camera.yaml', 'bandwidth: 1.6GB/s', 'bandwidth: 12MB/s'), s: preview, line: 'name: camera', msg: /capacity in camera DMA \(.*:(\d+):\d+\): camera cannot keep up: .* needs 18\.4 MB\/s .* over its bandwidth of 12\.0 MB\/s/ },
      {
        p: platform('small-cma.yaml', 'default: 256MiB', 'default: 4MiB'),
        s: pipeline('stills.yaml', 'frames: 3\nformat: { width: 1280, height: 720, fourcc: YUYV }\nbuffers: 3\n', '  - { name: camera, stage: capture, heap: reserved }\n  - { name: saver, stage: encode }\n'),
        line: 'default: 4MiB',
        msg: /capacity in cma_alloc \(.*:(\d+):\d+\): cma area 'reserved' \(4\.0 MiB, 1024 pages\) could not give buffer 3 of the 3 .* 3 such buffers need at least 1474 pages/,
      },
      {
        p: platform('no-bounce.yaml', 'bounce: true', 'bounce: false'),
        s: pipeline('usb.yaml', 'frames: 2\nfps: 15\nformat: { width: 64, height: 48, fourcc: XR24 }\n', '  - { name: game, stage: render }\n  - { name: compositor, stage: usb-display }\n'),
        line: 'name: usb',
        msg: /capacity in dma_direct_map_page \(.*:(\d+):\d+\): usb cannot reach the buffer at 0x[0-9a-f]+ .* 30-bit DMA mask 0x3fffffff/,
      },
      {
        p: platform('unused-cma.yaml', 'devices: [display] }', 'devices: [display] }\n    - { name: camcma, size: 8MiB, devices: [camera] }'),
        s: preview,
        line: 'name: camcma',
        msg: /capacity in cma_declare_contiguous \(.*:(\d+):\d+\): cma area 'camcma' \(8\.0 MiB\) is reserved for camera, but camera took no buffer from it/,
      },
    ];
    for (const c of cases) {
      const r = await unimem(['check', c.s, '--platform', c.p.path]);
      const m = c.msg.exec(r.stdout);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      expect(Number(m![1])).toBe(lineOf(c.p.text, c.line));
      expect(r.code).toBe(1);
    }
    expect((await unimem(['check', preview])).code).toBe(0);
  });
});
