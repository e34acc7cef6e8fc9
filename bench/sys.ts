import { spawnProcess, type Sys } from '../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../src/sim/index.ts';
import { O_RDWR, VIDIOC_QUERYCAP } from '../src/uapi/index.ts';
import type { BenchResult } from './harness.ts';
import { heapBytesPer } from './heap-bytes.ts';

/**
 * How long each measurement runs: at least `minMs` of wall time, in
 * batches of `batch` round trips; then `heapTrips` more round trips with
 * V8's heap sampled (not timed), for the bytes each allocates.
 */
export interface SysBenchOptions {
  minMs?: number;
  batch?: number;
  heapTrips?: number;
}

/** What one measured loop did: round trips, the wall, CPU and simulated time they took. */
interface Loop {
  trips: number;
  wallMs: number;
  /** This Node process's user and system CPU time: on a shared machine, a rate per CPU second moves less than one per wall second. */
  cpuMs: number;
  simNs: number;
  /** V8 heap allocated per round trip, garbage included (heapBytesPer). */
  heapBytes: number;
}

/**
 * Runs `body` (one round trip) in batches inside a process until `minMs` of
 * wall time has passed, after `setup` (not timed). Wall time is read
 * between batches only, so the clock read costs nothing per trip.
 */
async function measure<S>(setup: (sys: Sys) => Promise<S>, body: (sys: Sys, s: S) => Promise<void>, opts: Required<SysBenchOptions>): Promise<Loop> {
  const system = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
  const clock = system.soc.clock;
  const loop: Loop = { trips: 0, wallMs: 0, cpuMs: 0, simNs: 0, heapBytes: 0 };
  const child = spawnProcess(system.proc, async (sys: Sys) => {
    const s = await setup(sys);
    // one batch untimed, so that the timed ones measure compiled code, not the JIT's warm-up
    for (let i = 0; i < opts.batch; i++) await body(sys, s);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sim0 = clock.now;
    do {
      for (let i = 0; i < opts.batch; i++) await body(sys, s);
      loop.trips += opts.batch;
      loop.wallMs = performance.now() - t0;
    } while (loop.wallMs < opts.minMs);
    const cpu = process.cpuUsage(cpu0);
    loop.cpuMs = (cpu.user + cpu.system) / 1000;
    loop.simNs = clock.now - sim0;
    if (opts.heapTrips > 0) loop.heapBytes = await heapBytesPer(opts.heapTrips, () => body(sys, s));
    return 0;
  });
  const code = await clock.runUntilSettled(child.exitCode);
  if (code !== 0) throw new Error(`bench sys: the measuring process exited with ${code}`);
  return loop;
}

/**
 * A getpid row with its floor, `floor` (the same shape of awaits with no
 * kernel work), as a rate per wall second and the round trips' speed as a
 * fraction of it, and the heap each allocates per round trip: the
 * difference is what the simulation's own code allocates beyond the
 * promises of the awaits themselves.
 */
function withFloor(r: BenchResult, floor: Loop): BenchResult {
  const floorPerWallSecond = (floor.trips * 1000) / floor.wallMs;
  return {
    ...r,
    metrics: { ...r.metrics, awaitFloorPerWallSecond: floorPerWallSecond, awaitFloorHeapBytesPerRoundTrip: floor.heapBytes, heapBytesOverAwaitFloor: r.metrics.heapBytesPerRoundTrip! - floor.heapBytes },
    ratios: { ...r.ratios, fractionOfAwaitFloor: r.ratios.syscallsPerWallSecond! / floorPerWallSecond },
  };
}

/** One record: round trips per wall second and simulated nanoseconds per round trip. */
function row(bench: string, l: Loop, perTrip: { name: string; n: number }): BenchResult {
  const perWallSecond = (l.trips * 1000) / l.wallMs;
  return {
    bench,
    metrics: {
      roundTrips: l.trips,
      wallSeconds: l.wallMs / 1000,
      wallNsPerRoundTrip: (l.wallMs * 1e6) / l.trips,
      cpuNsPerRoundTrip: (l.cpuMs * 1e6) / l.trips,
      simNsPerRoundTrip: l.simNs / l.trips,
      heapBytesPerRoundTrip: l.heapBytes,
    },
    ratios: { [perTrip.name]: perWallSecond * perTrip.n, [`${perTrip.name.replace('PerWallSecond', '')}PerCpuSecond`]: ((l.trips * 1000) / l.cpuMs) * perTrip.n },
  };
}

const settled = Promise.resolve();

/** A scheduling point with nobody else to run: a microtask, then a tick (how the clock ends a quiet sleep, hw/quiet-probe.ts). */
function quietPoint(): Promise<void> {
  return new Promise((resolve) => void settled.then(() => process.nextTick(resolve)));
}

/** The kernel side of a call: one scheduling point, then the answer. */
async function kernelSide(): Promise<number> {
  await quietPoint();
  return 1;
}

/** The program side of a call: it awaits the kernel's. */
async function programSide(): Promise<number> {
  return await kernelSide();
}

/**
 * The simulation loop's own cost, per call: syscall round trips through
 * `sys` (getpid: entry, the scheduling point, exit and nothing else), with
 * the floor of the awaits they are made of (withFloor),
 * ioctl round trips (VIDIOC_QUERYCAP on vivid: the ioctl table, the
 * struct copied in and out), and context switches between two processes
 * over a Unix socket (a one-byte ping-pong: each round trip is two
 * switches, each a sendmsg that wakes the peer from its recvmsg). Each
 * row also gives the V8 heap a round trip allocates, garbage included.
 */
export async function benchSys(options: SysBenchOptions = {}): Promise<BenchResult[]> {
  const opts = { minMs: options.minMs ?? 300, batch: options.batch ?? 1024, heapTrips: options.heapTrips ?? 20_000 };
  const getpid = await measure(
    async () => undefined,
    async (sys) => {
      await sys.getpid();
    },
    opts,
  );
  // The promises a getpid round trip is made of and nothing else, run in a simulated process with the
  // same promise hooks on (the threads' task locals and the quiet probe's count, lib/task-locals.ts): its floor on Node 20.
  const floor = await measure(
    async () => undefined,
    async () => {
      await programSide();
    },
    opts,
  );
  const ioctl = await measure(
    async (sys) => ({ fd: await sys.open('/dev/video0', O_RDWR), cap: { driver: '', card: '', bus_info: '', version: 0, capabilities: 0, device_caps: 0 } }),
    async (sys, s) => {
      await sys.ioctl(s.fd, VIDIOC_QUERYCAP, s.cap);
    },
    opts,
  );
  const ping = new Uint8Array([1]);
  const pingPong = await measure(
    async (sys) => {
      const [a, b] = await sys.socketpair();
      await sys.fork(async (child: Sys) => {
        await child.close(a);
        // echoes until the parent closes its end (a zero-length read)
        for (;;) {
          const m = await child.recvmsg(b);
          if (m.data.length === 0) return 0;
          await child.sendmsg(b, { data: m.data });
        }
      });
      await sys.close(b);
      return a;
    },
    async (sys, a) => {
      await sys.sendmsg(a, { data: ping });
      await sys.recvmsg(a);
    },
    opts,
  );
  return [
    withFloor(row('sys.getpid', getpid, { name: 'syscallsPerWallSecond', n: 1 }), floor),
    row('sys.ioctl-querycap', ioctl, { name: 'ioctlsPerWallSecond', n: 1 }),
    row('sys.socket-ping-pong', pingPong, { name: 'contextSwitchesPerWallSecond', n: 2 }),
  ];
}

export default function benchSysDefault(): Promise<BenchResult[]> {
  return benchSys();
}
