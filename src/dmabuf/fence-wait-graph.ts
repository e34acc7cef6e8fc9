import type { File } from '../fs/index.ts';
import type { Clock } from '../hw/index.ts';
import { currentCpuContext, programSiteNow, userFrame, type CostLedger, type CpuContext, type FindingKind, type FindingLog } from '../lib/index.ts';
import { markFenceTrace, type DmaFence } from './dma-fence.ts';

/**
 * The wait-for graph of a system's fences (what lockdep does for locks,
 * here for fences): every wait is an edge from the waiting thread to the
 * fences it waits for, and every fence records, when it is created, who
 * will signal it -- a thread whose own waits are followed in turn (the
 * process that owns a sw_sync timeline, the scheduler thread of a device
 * ring) -- or, for a container, the fences it is made of. A wait that
 * closes a cycle, a wait on a fence whose signaller has exited, a fence
 * left unsignalled when its timeline is torn down and a kernel wait that
 * times out are findings that print the chain with the call site of each
 * wait and of each fence's creation. The graph only observes: the waits
 * block exactly as they would without it.
 */

/** Who will signal a fence, as recorded when it is created. */
export interface FenceSignaller {
  /**
   * The thread whose progress the signal needs: a process (a sw_sync
   * timeline's opener) or a kernel thread (a device ring's scheduler). Its
   * own waits are followed when looking for a cycle.
   */
  readonly thread: CpuContext;
  /**
   * The file through which the signal is given (a sw_sync timeline's fd):
   * then any process holding it may signal, and `thread` is only who
   * opened it. Followed when the system can tell who holds a file
   * (setFileHolders).
   */
  readonly file?: File;
}

/** Where a fence came from: its signaller (or the fences it is made of) and the site that created it. */
interface FenceOrigin {
  signaller: FenceSignaller | null;
  parts: readonly DmaFence[] | null;
  /** The thread that created it, and the cost-ledger site id of its creation. */
  creator: CpuContext;
  site: number;
  /** The creating process's stack, for its program's line (userStack). */
  stack: UserStack;
}

/** One thread's wait in progress on some fences. */
export interface FenceWait {
  readonly waiter: CpuContext;
  readonly fences: readonly DmaFence[];
  /** Cost-ledger site id of the wait. */
  readonly site: number;
  /** The waiting process's stack, for its program's line (userStack). */
  readonly stack: UserStack;
  readonly call: string;
  /** It ends when any one of its fences signals (dma_fence_wait_any_timeout), not all. */
  readonly any: boolean;
}

/** One step of a chain: a wait, the fence it waits for and who signals that fence. */
interface Step {
  wait: FenceWait;
  fence: DmaFence;
  signaller: CpuContext;
}

/** The graph of one simulated system. */
class FenceWaitGraph {
  readonly origins = new WeakMap<DmaFence, FenceOrigin>();
  /** The waits in progress of each thread. */
  readonly waits = new Map<CpuContext, Set<FenceWait>>();
  /** Chains already reported (by their text), so a cycle or an orphaned wait is one finding. */
  private readonly reported = new Set<string>();
  /** The threads of the live processes that hold a file in their fd tables, when the system can tell. */
  holders: ((file: File) => CpuContext[]) | null = null;

  constructor(
    readonly clock: Clock,
    readonly findings: FindingLog,
    readonly ledger: CostLedger,
  ) {}

  /** Records a finding, and marks it in the trace beside the waits. */
  report(kind: FindingKind, call: string, message: string, site?: string): void {
    this.findings.report(kind, call, message, site);
    markFenceTrace(this.clock, kind, { call, message });
  }

  /** The unsignalled fences a wait on `f` really waits for: a container's members, recursively. */
  leaves(f: DmaFence, out: DmaFence[]): DmaFence[] {
    if (f.signaledFlag) return out;
    const parts = this.origins.get(f)?.parts;
    if (parts) for (const p of parts) this.leaves(p, out);
    else out.push(f);
    return out;
  }

  /**
   * The threads that may still signal `f`: every holder of its signaller's
   * file, else its signaller thread unless that has exited. Null when the
   * fence's signaller is not known (it is never part of a finding); empty
   * when nobody can signal it any more.
   */
  candidates(f: DmaFence): CpuContext[] | null {
    const s = this.origins.get(f)?.signaller;
    if (!s) return null;
    if (s.file && this.holders) return this.holders(s.file);
    return s.thread.exitedNs === undefined ? [s.thread] : [];
  }

  /**
   * Adds `w`; then checks it, at once or -- `deferred`, for a poll, which
   * registers on every fd before it knows whether it will sleep -- once
   * the registering call has gone on, if the wait is still there (poll
   * takes its entries off again in the same step when it does not sleep).
   */
  begin(w: FenceWait, deferred: boolean): void {
    let set = this.waits.get(w.waiter);
    if (!set) this.waits.set(w.waiter, (set = new Set()));
    set.add(w);
    if (!deferred) this.check(w);
    else
      // a promise job, not queueMicrotask: it carries the waiter's task locals, and the quiet probe counts it
      void Promise.resolve().then(() => {
        if (this.waits.get(w.waiter)?.has(w)) this.check(w);
      });
  }

  /** Reports what a new wait `w` runs into: a fence nobody can signal, a cycle it closes. */
  private check(w: FenceWait): void {
    const leaves = this.leavesOf(w);
    const orphans = leaves.filter((f) => this.candidates(f)?.length === 0);
    // a wait for any one fence is hopeless only when every one is
    if (!w.any || orphans.length === leaves.length) for (const fence of orphans) this.reportOrphan(w, fence);
    const cycle = this.findCycle(w, leaves);
    if (!cycle) return;
    const who = cycle.length === 1 ? 'a thread waits for a fence only it would signal' : `${cycle.length} threads wait for each other's fences in a cycle`;
    this.reportChain('fence-deadlock', w, `${who}: ${this.chainText(cycle)}; none of these fences can signal while these waits last`);
  }

  end(w: FenceWait): void {
    const set = this.waits.get(w.waiter);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.waits.delete(w.waiter);
  }

  /**
   * The chain from `w` back to its own waiter, if the wait closes a
   * deadlock: each fence on it can be signalled only by threads that are
   * themselves stuck in fence waits leading back round (with several
   * possible signallers -- the holders of a timeline's fd -- every one of
   * them must be stuck). Only the wait that closes a cycle finds it, so
   * each cycle is found once, when it forms.
   */
  private findCycle(w: FenceWait, leaves: DmaFence[]): Step[] | null {
    const start = w.waiter;
    const onPath = new Set<CpuContext>([start]);
    const chain = this.stuckVia(w, leaves, onPath, 0);
    return chain && chain[chain.length - 1]!.signaller === start ? chain : null;
  }

  /** A chain showing that a wait on `leaves` can never end, or null. */
  private stuckVia(w: FenceWait, leaves: DmaFence[], onPath: Set<CpuContext>, depth: number): Step[] | null {
    if (depth > 64) return null;
    let first: Step[] | null = null;
    for (const fence of leaves) {
      const cands = this.candidates(fence);
      if (!cands || cands.length === 0) continue;
      let chain: Step[] | null = null;
      let stuck = true;
      for (const c of cands) {
        if (onPath.has(c)) {
          chain ??= [{ wait: w, fence, signaller: c }];
          continue;
        }
        onPath.add(c);
        const sub = this.stuckThread(c, onPath, depth + 1);
        onPath.delete(c);
        if (!sub) {
          stuck = false;
          break;
        }
        chain ??= [{ wait: w, fence, signaller: c }, ...sub];
      }
      if (stuck && chain) {
        // a wait for all its fences is stuck on one stuck fence; a wait for any only when every one is stuck
        if (!w.any) return chain;
        first ??= chain;
      } else if (w.any) return null;
    }
    return first;
  }

  /** A chain showing that thread `t` is stuck in one of its fence waits, or null. */
  private stuckThread(t: CpuContext, onPath: Set<CpuContext>, depth: number): Step[] | null {
    for (const next of this.waits.get(t) ?? []) {
      const chain = this.stuckVia(next, this.leavesOf(next), onPath, depth);
      if (chain) return chain;
    }
    return null;
  }

  private leavesOf(w: FenceWait): DmaFence[] {
    const out: DmaFence[] = [];
    for (const f of w.fences) this.leaves(f, out);
    return out;
  }

  /** Reports `w` waiting on `fence`, which nobody can signal any more. */
  reportOrphan(w: FenceWait, fence: DmaFence): void {
    const s = this.origins.get(fence)!.signaller!;
    const where = this.siteText(w.site, w.waiter, w.stack);
    const opener = this.threadName(s.thread);
    const gone = s.thread.exitedNs !== undefined ? `${opener} exited at ${(s.thread.exitedNs / 1e6).toFixed(3)} ms without signalling it` : `${opener} no longer can`;
    const why = s.file ? `no live process holds the fd of its timeline (its file lives on, e.g. in a message never received), and its opener ${gone}` : `its signaller ${gone}`;
    this.reportChain('fence-orphaned', w, `${this.threadName(w.waiter)} in ${where} waits for ${this.fenceText(fence)}: ${why}; the wait can never end`);
  }

  /** Reports a chain that starts at wait `w` once, blamed on the program line of that wait when it has one. */
  private reportChain(kind: FindingKind, w: FenceWait, message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.report(kind, w.call, message, programLine(w.stack));
  }

  /** `peer-a (pid 3)`, or a kernel thread's name. */
  threadName(ctx: CpuContext): string {
    return ctx.kind === 'process' ? `${ctx.name()} (pid ${ctx.pid})` : ctx.name();
  }

  /** A site without the thread name it starts with, when that is `who`. */
  private siteText(id: number, who: CpuContext, stack: UserStack): string {
    let s = this.ledger.siteText(id) || 'an unknown site';
    // `name: call › fn @ work`, or `name › fn` for a kernel thread outside any call
    for (const sep of [': ', ' › ']) if (s.startsWith(who.name() + sep)) s = s.slice(who.name().length + sep.length);
    const line = programLine(stack);
    return line ? `${s} (${line})` : s;
  }

  /** `fence 2:1 (sw_sync timeline peer-b, created by peer-b (pid 3) in ioctl SW_SYNC_IOC_CREATE_FENCE @ x.yaml:12:5)`. */
  fenceText(f: DmaFence): string {
    const o = this.origins.get(f);
    const created = o ? `, created by ${this.threadName(o.creator)} in ${this.siteText(o.site, o.creator, o.stack)}` : '';
    return `fence ${f.context}:${f.seqno} (${f.getDriverName()} timeline ${f.getTimelineName()}${created})`;
  }

  /** A chain as a sentence: who waits, where, for which fence, signalled by whom, and so on. */
  chainText(steps: readonly Step[]): string {
    return steps
      .map((s, i) => {
        const where = this.siteText(s.wait.site, s.wait.waiter, s.wait.stack);
        const head = i === 0 ? `${this.threadName(s.wait.waiter)} in ${where}` : `which in ${where}`;
        const by = (this.candidates(s.fence) ?? [s.signaller]).map((t) => this.threadName(t)).join(' or ');
        return `${head} waits for ${this.fenceText(s.fence)} signalled by ${by}`;
      })
      .join(', ');
  }

  /** Every wait in progress on an unsignalled fence, one line each: the graph at this moment. */
  snapshot(): string[] {
    const lines: string[] = [];
    for (const set of this.waits.values()) {
      for (const w of set) {
        for (const f of this.leavesOf(w)) {
          const where = this.siteText(w.site, w.waiter, w.stack);
          const c = this.candidates(f);
          const by = c === null ? '' : c.length === 0 ? ', which nobody can signal any more' : ` signalled by ${c.map((t) => this.threadName(t)).join(' or ')}`;
          lines.push(`${this.threadName(w.waiter)} in ${where} waits for ${this.fenceText(f)}${by}`);
        }
      }
    }
    return lines;
  }
}

const graphs = new WeakMap<Clock, FenceWaitGraph>();

/** What names a process's program line later: its stack, or a C program's own site (withProgramSite); null for a kernel thread. */
type UserStack = Error | (() => string | undefined) | null;

/** The program line a kept stack names, if any. */
function programLine(stack: UserStack): string | undefined {
  if (!stack) return undefined;
  return typeof stack === 'function' ? stack() : userFrame(stack.stack ?? '');
}

/**
 * The stack of a process's call, kept so that a finding can name the line
 * of its program (userFrame reads it only then); null for kernel threads,
 * whose sites the cost ledger names. Deep enough to reach the program
 * below the syscall layers, as FindingLog's own lookup is. A C program
 * names its line itself (withProgramSite), from the frames its system call
 * kept: no JavaScript stack of its own to take.
 */
function userStack(ctx: CpuContext): UserStack {
  if (ctx.kind !== 'process') return null;
  const program = programSiteNow();
  if (program) return program;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const e = new Error();
  Error.stackTraceLimit = limit;
  return e;
}

/**
 * Keeps the fence wait-for graph of the system on `clock`, reporting its
 * findings to `findings` and naming sites as `ledger` does (no kernel
 * counterpart: what lockdep's dependency tracking does for locks).
 */
export function trackFenceWaits(clock: Clock, findings: FindingLog, ledger: CostLedger): void {
  graphs.set(clock, new FenceWaitGraph(clock, findings, ledger));
}

/**
 * Records who will signal `fence` and where it is being created (no
 * kernel counterpart; the kernel knows it only implicitly, by which
 * driver's ops the fence has). Call it where the fence is created.
 */
export function setFenceSignaller(fence: DmaFence, signaller: FenceSignaller): void {
  const g = graphs.get(fence.clock);
  if (!g) return;
  const creator = currentCpuContext() ?? g.ledger.irq;
  g.origins.set(fence, { signaller, parts: null, creator, site: g.ledger.siteHere(), stack: userStack(creator) });
}

/**
 * Tells the graph of the system on `clock` who holds a file: the threads
 * of the live processes with it in their fd tables (no kernel
 * counterpart; what lsof finds). Without it a fence signalled through a
 * file is taken to be signalled by whoever opened the file.
 */
export function setFileHolders(clock: Clock, holders: (file: File) => CpuContext[]): void {
  const g = graphs.get(clock);
  if (g) g.holders = holders;
}

/** Records that `fence` signals when `parts` have (a fence array): a wait on it waits for them. */
export function setFenceParts(fence: DmaFence, parts: readonly DmaFence[]): void {
  const g = graphs.get(fence.clock);
  if (!g) return;
  const creator = currentCpuContext() ?? g.ledger.irq;
  g.origins.set(fence, { signaller: null, parts, creator, site: g.ledger.siteHere(), stack: userStack(creator) });
}

/**
 * Adds the current thread's wait on `fences` (none signalled) to the
 * graph, in kernel function `call` (`any`: the wait ends when any one
 * signals, not all), and reports a cycle it closes or a signaller that
 * has exited (`deferred`: only if the wait is still there once the
 * current call has gone on, for a poll that may not sleep). Returns the wait, to end with fenceWaitEnd;
 * null when the system keeps no graph or no thread is current (interrupt
 * context does not wait).
 */
export function fenceWaitBegin(fences: readonly DmaFence[], call: string, opts: { any?: boolean; deferred?: boolean } = {}): FenceWait | null {
  const g = fences.length > 0 ? graphs.get(fences[0]!.clock) : undefined;
  const waiter = currentCpuContext();
  if (!g || !waiter) return null;
  const w: FenceWait = { waiter, fences, site: g.ledger.siteHere(call), stack: userStack(waiter), call, any: opts.any === true };
  g.begin(w, opts.deferred === true);
  return w;
}

/** Ends a wait fenceWaitBegin added (the waiter woke: signalled, timed out or interrupted). */
export function fenceWaitEnd(clock: Clock, w: FenceWait | null): void {
  if (w) graphs.get(clock)?.end(w);
}

/** The wait-for graph of the system on `clock` now, one line per wait on an unsignalled fence. */
export function fenceWaitSnapshot(clock: Clock): string[] {
  return graphs.get(clock)?.snapshot() ?? [];
}

/**
 * Reports a kernel wait that gave up at its timeout (the drm_err of
 * "[CRTC:31:crtc-0] flip_done timed out", a dma_fence_wait_timeout that
 * returned 0 where the caller counts on the fence) as a finding that
 * carries the wait-for graph at this moment.
 */
export function reportFenceTimeout(clock: Clock, call: string, message: string): void {
  const g = graphs.get(clock);
  if (!g) return;
  const lines = g.snapshot();
  g.report('fence-timeout', call, `${message}; fence waits now: ${lines.length > 0 ? lines.join('; ') : 'none'}`);
}

/**
 * Reports what a hung run leaves in the graph: each wait on a fence whose
 * signaller has exited that was not reported yet (the signaller exited
 * after the wait began). Cycles were reported when they formed.
 */
export function reportHungFenceWaits(clock: Clock): void {
  const g = graphs.get(clock);
  if (!g) return;
  for (const set of g.waits.values())
    for (const wait of set)
      for (const f of wait.fences.flatMap((x) => g.leaves(x, []))) if (g.candidates(f)?.length === 0) g.reportOrphan(wait, f);
}

/**
 * Reports fences still unsignalled when their fence context is torn down
 * (a sw_sync timeline's release, a fence released with waiters queued):
 * what the teardown does with them (`fate`, e.g. "signalled with
 * ENOENT") and who was waiting for them.
 */
export function reportUnsignalledAtTeardown(clock: Clock, call: string, what: string, fences: readonly DmaFence[], fate: string): void {
  const g = graphs.get(clock);
  if (!g || fences.length === 0) return;
  const waiters: string[] = [];
  for (const set of g.waits.values())
    for (const w of set) if (w.fences.some((x) => g.leaves(x, []).some((f) => fences.includes(f)))) waiters.push(g.threadName(w.waiter));
  const list = fences.map((f) => g.fenceText(f)).join(', ');
  const who = waiters.length > 0 ? `; waiting for it: ${[...new Set(waiters)].join(', ')}` : '; nobody was waiting for it';
  g.report('fence-unsignalled', call, `${what} with ${fences.length} fence(s) still unsignalled: ${list}; ${fate}${who}`);
}
