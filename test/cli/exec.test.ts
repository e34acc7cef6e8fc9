import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem exec', () => {
  it('runs a program as a process and passes its output and exit code through', async () => {
    const r = await unimem(['exec', 'examples/programs/pass-fd.ts']);
    expect(r.stdout).toBe('parent read: written by the child\n');
    expect(r.code).toBe(0);
  });

  it('gives the program its arguments and returns its exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 'args.mjs');
    writeFileSync(f, `export default async function main(sys, args) {\n  await sys.write(1, new TextEncoder().encode(args.join(',') + '\\n'));\n  return Number(args[0]);\n}\n`);
    const r = await unimem(['exec', f, '--', '7', 'x']);
    expect(r.stdout).toBe('7,x\n');
    expect(r.code).toBe(7);
  });

  it('reports a syscall error the program does not catch, with Linux errno names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 'enoent.mjs');
    writeFileSync(f, `export default async function main(sys) {\n  try { await sys.open('/dev/nonexistent', 0); } catch (e) { await sys.write(1, new TextEncoder().encode(e.code + ' ' + e.errno + ' ' + e.syscall + '\\n')); return 3; }\n  return 0;\n}\n`);
    const r = await unimem(['exec', f]);
    expect(r.stdout).toBe('ENOENT 2 open\n');
    expect(r.code).toBe(3);
  });

  it('exits 2 for a program that cannot be loaded', async () => {
    const r = await unimem(['exec', '/nonexistent/prog.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot load the program/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('unimem exec runs a program in any folder', () => {
  it("resolves 'unimem' and 'unimem/uapi' for a TypeScript program outside the checkout, with no package.json or node_modules of its own", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-anywhere-'));
    writeFileSync(join(dir, 'helper.ts'), 'export const base: number = 40;\n');
    const f = join(dir, 'prog.ts');
    writeFileSync(
      f,
      [
        "import { O_RDWR } from 'unimem/uapi';",
        "import { SyscallError, type Sys } from 'unimem';",
        "import { base } from './helper.ts';",
        'export default async function main(sys: Sys, args: string[]): Promise<number> {',
        "  const fd = await sys.open('/dev/dma_heap/system', O_RDWR);",
        '  await sys.close(fd);',
        "  try { await sys.open('/dev/nonexistent', O_RDWR); } catch (e) { if (!(e instanceof SyscallError)) throw e; return base + Number(args[0]); }",
        '  return 0;',
        '}',
        '',
      ].join('\n'),
    );
    const r = await unimem(['exec', f, '--', '2'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(42);
    expect(readdirSync(dir).sort()).toEqual(['helper.ts', 'prog.ts']);
  });

  it('runs a JavaScript program there too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-anywhere-'));
    const f = join(dir, 'prog.js');
    writeFileSync(f, "import { O_RDWR } from 'unimem/uapi';\nexport default async function main() {\n  return 10 + O_RDWR;\n}\n");
    expect((await unimem(['exec', f], { cwd: dir })).code).toBe(12);
  });
});

describe('unimem exec with dma-buf heaps', () => {
  it('shares a system-heap buffer between two processes and both see the same bytes', async () => {
    const r = await unimem(['exec', 'examples/programs/heap-share.ts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('same bytes on both sides of 65536 shared bytes');
    expect(r.stdout).toContain('exp_name:\tsystem');
  });
});

describe('unimem exec with the test drivers', () => {
  it('boots vgem and vivid at the reference machine\'s paths, then the platform\'s display, GPU, USB display, camera, ISP, JPEG, video decoder and audio PCM', async () => {
    const r = await unimem(['exec', 'examples/programs/find-devices.ts']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      '/dev/dri/card0: vgem 1.0.0 (Virtual GEM provider)',
      '/dev/dri/card1: unimem-display 1.0.0 (unimem display controller)',
      '/dev/dri/card2: gpu 1.0.0 (unimem 2D compositor GPU)',
      '/dev/dri/card3: unimem-usb-display 1.0.0 (USB display (DisplayLink-style))',
      '/dev/video0: vivid (vivid) on platform:vivid-000',
      '/dev/video4: vivid (vivid) on platform:vivid-001',
      '/dev/video8: unimem-camera (camera camera) on platform:camera',
      '/dev/video9: unimem-isp (isp scaler) on platform:isp',
      '/dev/video10: unimem-jpeg (jpeg jpeg encoder) on platform:jpeg',
      '/dev/video11: unimem-jpeg (jpeg jpeg decoder) on platform:jpeg',
      '/dev/video12: unimem-vdec (video decoder) on platform:video',
      '/dev/snd/pcmC0D0p: audio (audio PCM 0:0), card 0 device 0, playback',
      '',
    ]);
  });
});

describe('gallery-jpeg (use case 4)', () => {
  it('a JFIF file from the hardware encoder, decoded by the hardware into memory the program allocated itself, through the IOMMU, within 40 dB', async () => {
    const r = await unimem(['exec', 'examples/programs/gallery-jpeg.ts']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^encoded 614400 bytes into a \d+-byte JFIF file; decoded into the program's own memory at \d+\.\d dB PSNR: ok\n$/);
  });
});

describe('unimem exec points at the program\'s own lines', () => {
  it('a finding names the program line that caused it; --check makes it exit 1', async () => {
    const r = await unimem(['exec', 'docs/guides/files/cpu-write-no-sync.ts']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^unimem: \[0\.040 ms\] missing-sync in cpu access \(docs\/guides\/files\/cpu-write-no-sync\.ts:20:3\): CPU writes 0x[0-9a-f]+ \(\+64\) of a buffer mapped for camera \(DMA_FROM_DEVICE/);
    expect((await unimem(['exec', '--check', 'docs/guides/files/cpu-write-no-sync.ts'])).code).toBe(1);
    expect((await unimem(['exec', '--check', 'examples/programs/pass-fd.ts'])).code).toBe(0);
  });

  it('an error the program does not catch is printed with the line it was thrown from, and the exit code is 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-'));
    const f = join(dir, 'uncaught.mjs');
    writeFileSync(f, `export default async function main(sys) {\n  await sys.open('/dev/nonexistent', 0);\n  return 0;\n}\n`);
    const r = await unimem(['exec', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`unimem: ${f}:2:3: uncaught SyscallError: open: ENOENT (ENOENT: /dev/nonexistent)\n`);
  });
});

describe('unimem exec reports how a program ended', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unimem-end-'));
  const prog = (name: string, body: string) => {
    const f = join(dir, name);
    writeFileSync(f, `export default async function main(sys) {\n${body}\n  return 0;\n}\n`);
    return f;
  };

  it('a store to an unmapped address: SIGSEGV at the program line, exit 139', async () => {
    const f = prog('segv.mjs', "  await sys.write(1, new TextEncoder().encode('before\\n'));\n  await sys.store(0x1000, new Uint8Array([1]));");
    const r = await unimem(['exec', f]);
    expect(r.stdout).toBe('before\n');
    expect(r.stderr).toBe(`unimem: ${f}:3:3: killed by SIGSEGV (store at 0x1000: no mapping)\n`);
    expect(r.code).toBe(128 + 11);
  });

  it('SIGKILL: named, exit 137', async () => {
    const f = prog('kill.mjs', '  await sys.kill(await sys.getpid(), 9);');
    const r = await unimem(['exec', f]);
    expect(r.stderr).toBe(`unimem: ${f}: killed by SIGKILL\n`);
    expect(r.code).toBe(128 + 9);
  });

  it('a global deadlock: each blocked process and the call and file it sleeps on, one line each, no stack trace, exit 1', async () => {
    const f = prog(
      'deadlock.mjs',
      [
        '  const [r, w] = await sys.pipe();',
        '  const [a, b] = await sys.socketpair();',
        '  await sys.fork(async (child) => { await child.recvmsg(b); return 0; });',
        '  await sys.read(r, 10);',
      ].join('\n'),
    );
    const r = await unimem(['exec', f]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe('unimem: deadlock: every thread sleeps and nothing is scheduled');
    expect(lines[1]).toMatch(/^unimem: {3}pid 1 \(main\) blocked in read\(3\) on pipe:\[\d+\]$/);
    expect(lines[2]).toMatch(/^unimem: {3}pid 2 \(main\) blocked in recvmsg\(6\) on socket:\[\d+\]$/);
    expect(lines.slice(3)).toEqual(['']);
  });
});
