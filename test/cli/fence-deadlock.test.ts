import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unimem } from './run-cli.ts';

describe('unimem check fence-deadlock', () => {
  it('prints the cycle -- both processes, where each waits, each fence with where it was made and who signals it -- and exits 1; the run ends', () => {
    const r = unimem(['check', 'fence-deadlock']);
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

  it('the same peers with one signalling first: clean, every frame handed over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimem-fence-'));
    const f = join(dir, 'fence-handshake.yaml');
    const yaml = readFileSync('examples/scenarios/fence-deadlock.yaml', 'utf8').replace('{ name: peer-b, stage: fence-peer, order: wait-first }', '{ name: peer-b, stage: fence-peer, order: signal-first }');
    writeFileSync(f, yaml);
    const r = unimem(['check', f]);
    expect(r.stdout).toBe('fence-deadlock: clean\n');
    expect(r.code).toBe(0);
  });
});
