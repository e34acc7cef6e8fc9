import { describe, expect, it } from 'vitest';
import { DMA_TO_DEVICE, dmaMapPage } from '../../src/dma/index.ts';
import { KernelError, SyscallError } from '../../src/lib/index.ts';
import { GenPool } from '../../src/mm/index.ts';
import { spawnProcess, type Process, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform, type System } from '../../src/sim/index.ts';
import { DMA_HEAP_IOCTL_ALLOC, MAP_ANONYMOUS, MAP_PRIVATE, O_RDONLY, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE } from '../../src/uapi/index.ts';
import { checkInvariants } from './fault-invariants.ts';

function boot(): System {
  return bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
}

/** Runs `main` as a process; returns its exit code and the process. */
async function run(sys: System, main: (s: Sys, p: () => Process) => Promise<number>): Promise<number> {
  let proc: Process | null = null;
  const child = spawnProcess(sys.proc, (s) => main(s, () => proc!), []);
  proc = child.process;
  const code = await sys.soc.clock.runUntilSettled(child.exitCode);
  expect(child.process.group.uncaughtError).toBeUndefined();
  return code;
}

async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SyscallError) return e.code;
    throw e;
  }
}

describe('fault points at the allocation sites', () => {
  it('fail_page_alloc fails alloc_pages with ENOMEM from min-order up, and counts it', () => {
    const sys = boot();
    const pages = sys.mm.pages;
    const a = sys.soc.faults.attr('fail_page_alloc');
    a.probability = 100;
    a.times = -1;
    const pfn = pages.allocPages(0);
    pages.freePages(pfn, 0);
    const failures = pages.counters.allocFailures;
    expect(() => pages.allocPages(1)).toThrow(/ENOMEM: alloc_pages: order-1 allocation failed by fail_page_alloc/);
    expect(pages.counters.allocFailures).toBe(failures + 1);
    a.extra.set('min-order', 0);
    expect(() => pages.allocPages(0)).toThrow(KernelError);
    expect(sys.soc.findings.ofKind('fault-injection').map((f) => f.call)).toEqual(['alloc_pages', 'alloc_pages']);
    pages.verify();
  });

  it('fail_cma_alloc, fail_iova_alloc and fail_gen_pool_alloc make their allocators return nothing, unchanged', async () => {
    const sys = boot();
    for (const n of ['fail_cma_alloc', 'fail_iova_alloc', 'fail_gen_pool_alloc'] as const) Object.assign(sys.soc.faults.attr(n), { probability: 100, times: 1 });
    const area = [...sys.mm.cma.values()][0]!;
    expect(await area.tryAlloc(1)).toBe(null);
    await expect(area.alloc(1)).resolves.toBeGreaterThan(0);
    const iovad = [...sys.domains.values()][0]!.iovad;
    expect(iovad.tryAllocIova(4, 0xfffff)).toBe(null);
    expect(() => iovad.allocRange(4096, 0xffffffff)).not.toThrow();
    const pool = new GenPool(12, 'test');
    pool.addChunk(0x1000_0000, 0x10_000);
    pool.failAlloc = sys.soc.faults.attr('fail_gen_pool_alloc');
    expect(pool.tryAlloc(4096)).toBe(null);
    expect(pool.avail()).toBe(0x10_000);
    expect(pool.alloc(4096)).toBe(0x1000_0000);
    area.verify();
    iovad.verify();
  });

  it('fail_dma_map makes dma_map_page fail with ENOMEM (DMA_MAPPING_ERROR), nothing mapped', () => {
    const sys = boot();
    Object.assign(sys.soc.faults.attr('fail_dma_map'), { probability: 100, times: 1 });
    const dev = [...sys.devices.values()][0]!;
    const pfn = sys.mm.pages.allocPages(0);
    expect(() => dmaMapPage(dev, pfn * 4096, 4096, DMA_TO_DEVICE)).toThrow(/ENOMEM.*fail_dma_map/);
    expect(sys.dma.debug.liveMappings()).toBe(0);
    expect(sys.dma.stats.mappingErrors).toBe(1);
  });

  it('failslab fails a heap allocation with ENOMEM, the heap keeping none of its pages', async () => {
    const sys = boot();
    const free0 = sys.mm.pages.freeCount();
    Object.assign(sys.soc.faults.attr('failslab'), { probability: 100, times: 2 });
    const codes: string[] = [];
    for (const heap of ['system', 'reserved']) {
      await run(sys, async (s) => {
        const h = await s.open(`/dev/dma_heap/${heap}`, O_RDWR);
        codes.push(await errno(s.ioctl(h, DMA_HEAP_IOCTL_ALLOC, { len: 16 * 4096, fd: 0, fd_flags: O_RDWR, heap_flags: 0 })));
        return 0;
      });
    }
    expect(codes).toEqual(['ENOMEM', 'ENOMEM']);
    expect(sys.mm.pages.freeCount()).toBe(free0);
    expect(sys.dmabuf.buffers).toHaveLength(0);
    checkInvariants(sys);
  });
});

describe('/sys/kernel/debug/<fault point>/', () => {
  it('has the knobs, readable and writable by a program; a bad value is EINVAL', async () => {
    const sys = boot();
    const out: string[] = [];
    await run(sys, async (s) => {
      const read = async (path: string) => String(await s.readFile(path));
      out.push(await read('/sys/kernel/debug/fail_page_alloc/probability'), await read('/sys/kernel/debug/fail_page_alloc/min-order'), await read('/sys/kernel/debug/failslab/times'));
      const set = async (path: string, v: string) => {
        const fd = await s.open(path, O_WRONLY);
        try {
          await s.write(fd, new TextEncoder().encode(v));
        } finally {
          await s.close(fd);
        }
      };
      await set('/sys/kernel/debug/fail_page_alloc/probability', '10\n');
      await set('/sys/kernel/debug/fail_page_alloc/times', '-1');
      await set('/sys/kernel/debug/fail_dma_map/interval', '0x10');
      out.push(await read('/sys/kernel/debug/fail_page_alloc/times'));
      out.push(await errno(set('/sys/kernel/debug/fail_page_alloc/probability', '101')));
      out.push(await errno(set('/sys/kernel/debug/fail_page_alloc/probability', 'ten')));
      out.push(await errno(s.open('/sys/kernel/debug/fail_page_alloc/space', O_RDONLY).then((fd) => s.write(fd, new Uint8Array([0x31])))));
      return 0;
    });
    expect(out).toEqual(['0\n', '1\n', '1\n', '-1\n', 'EINVAL', 'EINVAL', 'EBADF']);
    expect(sys.soc.faults.attr('fail_page_alloc').probability).toBe(10);
    expect(sys.soc.faults.attr('fail_dma_map').interval).toBe(16);
  });
});

describe('an allocation failing under a page fault or pin_user_pages', () => {
  it('a user page fault with no memory is the OOM killer: SIGKILL and an oom finding, not SIGBUS', async () => {
    const sys = boot();
    const code = await run(sys, async (s) => {
      const a = await s.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      Object.assign(sys.soc.faults.attr('fail_page_alloc'), { probability: 100, times: 1 });
      sys.soc.faults.attr('fail_page_alloc').extra.set('min-order', 0);
      await s.store(a, Uint8Array.of(1));
      return 0;
    });
    expect(code).toBe(128 + 9);
    const [oom] = sys.soc.findings.ofKind('oom');
    expect(oom?.message).toMatch(/^Out of memory: Killed process \d+ .*fail_page_alloc/);
    expect(oom?.call).toBe('store');
    expect(sys.soc.findings.ofKind('bus-error')).toEqual([]);
  });

  it('pin_user_pages gives ENOMEM where faulting a page in finds no memory, EFAULT for a hole', async () => {
    const sys = boot();
    const got: string[] = [];
    await run(sys, async (s, p) => {
      const a = await s.mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      Object.assign(sys.soc.faults.attr('fail_page_alloc'), { probability: 100, times: 1 });
      sys.soc.faults.attr('fail_page_alloc').extra.set('min-order', 0);
      for (const addr of [a, 0x1000]) {
        try {
          p().pinUserPages(addr, 2 * 4096, true);
          got.push('ok');
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
          got.push(e.code);
        }
      }
      return 0;
    });
    expect(got).toEqual(['ENOMEM', 'EFAULT']);
  });
});
