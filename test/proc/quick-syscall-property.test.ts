import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Soc } from '../../src/hw/index.ts';
import { createProcSystem, spawnProcess, type Sys } from '../../src/proc/index.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, POLLIN, PROT_READ, PROT_WRITE, SIGUSR1 } from '../../src/uapi/index.ts';
import { WaitQueueHead, waitEvent } from '../../src/fs/index.ts';
import { DRAM_BASE, testMm } from './helpers.ts';

// A system call that wakes nobody returns at once, and a sleeper alone is
// woken without a turn of the event loop; neither may change what the
// processes see. Three processes on two cores make random calls that
// wake each other (messages over sockets, signals), sleep, poll with
// timeouts, post and take tokens through calls whose bodies wake a
// sleeper synchronously, and do CPU work; the record of every call (who, when in
// simulated time, what it returned) and each core's busy time must be
// the same with the clock's quiet sleeps on and off (off, every call takes
// the full path, turn for turn what it was before the quick path).

type Op = { k: 'post' } | { k: 'take'; ns: number } | { k: 'getpid' } | { k: 'send'; to: number } | { k: 'recv'; from: number; ms: number } | { k: 'sleep'; ns: number } | { k: 'kill'; to: number } | { k: 'work'; bytes: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('post' as const) }),
  fc.record({ k: fc.constant('take' as const), ns: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ k: fc.constant('getpid' as const) }),
  fc.record({ k: fc.constant('send' as const), to: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('recv' as const), from: fc.integer({ min: 0, max: 2 }), ms: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ k: fc.constant('sleep' as const), ns: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ k: fc.constant('kill' as const), to: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('work' as const), bytes: fc.integer({ min: 1, max: 4096 }) }),
);

async function play(programs: Op[][], quietSleeps: boolean): Promise<{ log: string[]; end: number; cpu: string[] }> {
  const soc = new Soc({ seed: 7, banks: [{ name: 'dram', base: DRAM_BASE, size: 64 * 1024 * 1024, kind: 'dram' }], masters: [], cores: { count: 1, clockHz: 1e9 }, quietSleeps });
  const k = createProcSystem({ soc, mm: testMm(soc), syscallNs: 250 });
  const log: string[] = [];
  const pids: number[] = [];
  // a call whose body wakes a sleeper synchronously (as a sync body may), and one that sleeps on that queue with a timeout
  const wq = new WaitQueueHead();
  let tokens = 0;
  // socks[i][j]: process i's end of the socket it shares with process j
  const socks: number[][] = [[], [], []];
  const body = async (sys: Sys, me: number): Promise<number> => {
    await sys.sigaction(SIGUSR1, { handler: async (_sig: number, _info: unknown, s: Sys) => void log.push(`p${me} handler @${soc.clock.now} pid ${await s.getpid()}`) });
    const mem = await sys.mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    const ops = programs[me]!;
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      const at = `p${me}.${i} ${o.k}`;
      let r: unknown = '';
      try {
        switch (o.k) {
          case 'getpid':
            r = await sys.getpid();
            break;
          case 'post': {
            const p = k.processes.get(await sys.gettid())!;
            r = await k.syscall(p, p.group.generation, 'test_post', () => {
              tokens++;
              wq.wakeUp();
              return tokens;
            });
            break;
          }
          case 'take': {
            const p = k.processes.get(await sys.gettid())!;
            r = await k.syscall(p, p.group.generation, 'test_take', async () => {
              const got = await waitEvent(wq, () => tokens > 0, { clock: soc.clock, timeoutNs: o.ns });
              if (got) tokens--;
              return got;
            });
            break;
          }
          case 'send':
            if (o.to !== me) await sys.sendmsg(socks[me]![o.to]!, { data: new Uint8Array([me, i]) });
            break;
          case 'recv':
            if (o.from !== me) {
              const fd = socks[me]![o.from]!;
              r = await sys.poll([{ fd, events: POLLIN }], o.ms);
              if (r === 1) r = Array.from((await sys.recvmsg(fd)).data).join(',');
            }
            break;
          case 'sleep':
            await sys.nanosleep({ tv_sec: 0, tv_nsec: o.ns });
            break;
          case 'kill':
            if (pids[o.to] !== undefined) await sys.kill(pids[o.to]!, SIGUSR1);
            break;
          case 'work':
            await sys.store(mem, new Uint8Array(o.bytes).fill(i));
            break;
        }
      } catch (e) {
        r = `error ${(e as Error).message}`;
      }
      log.push(`${at} @${soc.clock.now} -> ${String(r)}`);
    }
    return 0;
  };
  const parent = spawnProcess(
    k,
    async (sys: Sys) => {
      const [a01, b01] = await sys.socketpair();
      const [a02, b02] = await sys.socketpair();
      const [a12, b12] = await sys.socketpair();
      socks[0] = [-1, a01, a02];
      socks[1] = [b01, -1, a12];
      socks[2] = [b02, b12, -1];
      pids[0] = await sys.getpid();
      for (const me of [1, 2]) pids[me] = await sys.fork((child: Sys) => body(child, me));
      await body(sys, 0);
      for (let c = 0; c < 2; c++) log.push(`reaped ${JSON.stringify(await sys.wait())} @${soc.clock.now}`);
      return 0;
    },
    [],
    undefined,
    { stdio: false },
  );
  await soc.clock.runUntilSettled(parent.exitCode);
  return { log, end: soc.clock.now, cpu: Array.from(soc.cores.busyNs, (ns, core) => `core ${core}: ${ns} ns`) };
}

describe('quick system calls', () => {
  it('leave every process the same calls at the same times with the same results as the full path', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { maxLength: 10 }), { minLength: 3, maxLength: 3 }), async (programs) => {
        const quick = await play(programs, true);
        const full = await play(programs, false);
        expect(quick.log).toEqual(full.log);
        expect(quick.end).toBe(full.end);
        expect(quick.cpu).toEqual(full.cpu);
      }),
      { numRuns: 60 },
    );
  });
});
