// Every row of the behaviour recorded on a real Linux 6.1 machine
// (linux-6.1-oracle.md, a copy of the project's reference file) against the
// same call sequence run as a process under
// `unimem exec --check --platform linux-6.1-reference`.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { unimem } from '../cli/run-cli.ts';

interface Row {
  name: string;
  result: string;
  detail: string;
}

const HERE = new URL('.', import.meta.url);

/** The table's rows: `| case | result | detail |`. */
function oracleRows(): Row[] {
  return readFileSync(new URL('linux-6.1-oracle.md', HERE), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| case |'))
    .map((l) => {
      const [name, result, detail] = l.split('|').slice(1, -1).map((c) => c.trim());
      return { name: name!, result: result!, detail: detail! };
    });
}

/**
 * `waited_ms` is the real kernel's wall time, kept for the ordering it
 * proves: the call blocked until something else happened. The simulated
 * wait must be at least what it waited for (the child's 200 ms sleep before
 * it signals; a frame for a capture), so the value itself is not compared.
 */
const MIN_WAIT_MS: Record<string, number> = { dmabuf_poll_out_wakes_on_signal: 200 };

function splitWait(detail: string): { rest: string; waited: number | undefined } {
  const m = /(^|,)waited_ms=(\d+)/.exec(detail);
  return { rest: detail.replace(/(^|,)waited_ms=\d+/, '$1waited_ms=*'), waited: m ? Number(m[2]) : undefined };
}

const rows = oracleRows();
let got: Map<string, Row>;
let run: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  run = await unimem(['exec', '--check', 'test/oracle/linux-6.1-oracle-program.ts', '--platform', 'linux-6.1-reference']);
  got = new Map(
    run.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [name, result, ...detail] = l.split('|');
        return [name!, { name: name!, result: result!, detail: detail.join('|') }];
      }),
  );
}, 120_000);

describe('Linux 6.1 reference rows under unimem exec --platform linux-6.1-reference', () => {
  it('runs the whole sequence in the table order and exits 0 with no finding but the one an exporter without begin_cpu_access gives', () => {
    expect([...got.keys()]).toEqual(rows.map((r) => r.name));
    // The vb2 dma-contig exporter's begin_cpu_access does not sync other devices' mappings, so a CPU write
    // through the V4L2 mapping of a buffer vgem has mapped is reported however the program brackets it.
    const findings = run.stderr.split('\n').filter((l) => /^unimem: \[/.test(l));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatch(/missing-sync in cpu access .* buffer mapped for vgem/);
    expect(run.stderr).not.toMatch(/leak/);
    expect(run.code).toBe(1);
  });

  it.each(rows)('$name: $result $detail', (want) => {
    const have = got.get(want.name);
    expect(have, `no line for ${want.name}`).toBeDefined();
    const w = splitWait(want.detail);
    const h = splitWait(have!.detail);
    expect(`${have!.result} ${h.rest}`).toBe(`${want.result} ${w.rest}`);
    if (w.waited !== undefined) expect(h.waited).toBeGreaterThanOrEqual(MIN_WAIT_MS[want.name] ?? 1);
  });
});
