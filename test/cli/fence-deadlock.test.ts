import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { O_RDWR, POLLIN, SW_SYNC_IOC_CREATE_FENCE } from '../../src/uapi/index.ts';
import { unimem } from './run-cli.ts';

describe('unimem check fence-deadlock', () => {
  it('prints the cycle -- both processes, where each waits, each fence with where it was made and who signals it -- and exits 1; the run ends', async () => {
    const r = await unimem(['check', 'fence-deadlock']);
    expect(r.code).toBe(1);
    const cycle = r.stdout.split('\n').find((l) => l.includes('fence-deadlock in sync_file_poll'));
    expect(cycle).toBeDefined();
    expect(cycle).toMatch(/\(src\/sim\/stages\/fence-peer\.ts:\d+:\d+\): 2 threads wait for each other's fences in a cycle: /);
    expect(cycle).toMatch(
      /peer-[ab] \(pid \d\) in poll › sync_file_poll @ examples\/scenarios\/fence-deadlock\.yaml:1[67]:5 \(src\/sim\/stages\/fence-peer\.ts:\d+:\d+\) waits for fence \d+:1 \(sw_sync timeline peer-[ab], created by peer-[ab] \(pid \d\) in ioctl SW_SYNC_IOC_CREATE_FENCE @ examples\/scenarios\/fence-deadlock\.yaml:1[67]:5 \(src\/sim\/stages\/fence-peer\.ts:\d+:\d+\)\) signalled by peer-[ab] \(pid \d\), which in poll/,
    );
    // the harness ends the hang: both killed, each named with the fence it waited for and who would have signalled it
    expect(
      r.stdout.match(/the run hung \(pid \d \(peer-[ab]\) blocked in poll; peer-[ab] \(pid \d\) in poll › sync_file_poll .* waits for fence \d+:1 .* signalled by peer-[ab] \(pid \d\)\); killed when nothing could happen any more/g),
    ).toHaveLength(2);
    expect(r.stdout).toMatch(/fence-deadlock: \d+ finding\(s\)\n$/);
  });

  it('the same peers with one signalling first: clean, every frame handed over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-fence-'));
    const f = join(dir, 'fence-handshake.yaml');
    const yaml = readFileSync('examples/scenarios/fence-deadlock.yaml', 'utf8').replace('{ name: peer-b, stage: fence-peer, order: wait-first }', '{ name: peer-b, stage: fence-peer, order: signal-first }');
    writeFileSync(f, yaml);
    const r = await unimem(['check', f]);
    expect(r.stdout).toBe('fence-deadlock: clean\n');
    expect(r.code).toBe(0);
  });

  it('exec: a program waiting for a fence only it would signal gets the finding, and the hang lists the fence it waits for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-fence-'));
    const f = join(dir, 'self-wait.mjs');
    writeFileSync(
      f,
      [
        'export default async function main(sys) {',
        `  const tl = await sys.open('/sys/kernel/debug/sync/sw_sync', ${O_RDWR});`,
        "  const a = { value: 1, name: 'pt', fence: -1 };",
        `  await sys.ioctl(tl, ${SW_SYNC_IOC_CREATE_FENCE}, a);`,
        `  await sys.poll([{ fd: a.fence, events: ${POLLIN} }], -1);`,
        '  return 0;',
        '}',
      ].join('\n'),
    );
    const r = await unimem(['exec', '--check', f]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/fence-deadlock in sync_file_poll \(.*self-wait\.mjs:5:3\): a thread waits for a fence only it would signal: main \(pid 1\) in poll/));
    const hang = lines.indexOf('unimem: deadlock: every thread sleeps and nothing is scheduled');
    expect(lines[hang + 1]).toBe('unimem:   pid 1 (main) blocked in poll');
    expect(lines[hang + 2]).toMatch(/^unimem: {3}main \(pid 1\) in poll › sync_file_poll .* waits for fence \d+:1 \(sw_sync timeline main, created by main \(pid 1\) in ioctl SW_SYNC_IOC_CREATE_FENCE .*\) signalled by main \(pid 1\)$/);
  });
});
