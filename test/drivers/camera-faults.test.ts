import { describe, expect, it } from 'vitest';
import { CameraDevice } from '../../src/drivers/index.ts';
import { frameFormat } from '../../src/formats/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import { dequeueBuffer, dmaBufSync, exportBuffer, primeFdToHandle, queueBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from '../../src/sim/stages/uapi-calls.ts';
import {
  DMA_BUF_SYNC_READ,
  MAP_SHARED,
  O_RDWR,
  O_WRONLY,
  PROT_READ,
  V4L2_BUF_FLAG_ERROR,
  V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP,
  V4L2_MEMORY_MMAP,
  VIDIOC_STREAMOFF,
} from '../../src/uapi/index.ts';
import { boundNode } from '../../src/drivers/index.ts';

/** Boots armv7-mobile and runs `main` as a process; returns its exit code and the camera driver. */
async function run(main: (sys: Sys) => Promise<number>) {
  const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
  const cam = sys.bound.find((b) => b.data instanceof CameraDevice)!.data as CameraDevice;
  const child = spawnProcess(sys.proc, main, [], undefined, { comm: 'test' });
  const code = await sys.soc.clock.runUntilSettled(child.exitCode);
  return { code, cam, sys };
}

async function echo(sys: Sys, path: string, v: number): Promise<void> {
  const fd = await sys.open(path, O_WRONLY);
  await sys.write(fd, new TextEncoder().encode(`${v}\n`));
  await sys.close(fd);
}

/** Opens the camera, gives it two MMAP buffers of `fmt`, both queued, and starts streaming; returns the video fd. */
async function streamTwoBuffers(sys: Sys, fmt = frameFormat(320, 240, 'XR24')): Promise<number> {
  const v = await sys.open('/dev/video8', O_RDWR);
  await setFormat(sys, v, CAP, fmt);
  await requestBuffers(sys, v, CAP, V4L2_MEMORY_MMAP, 2);
  for (let i = 0; i < 2; i++) await queueBuffer(sys, v, v4l2Buffer(CAP, V4L2_MEMORY_MMAP, i));
  await streamOn(sys, v, CAP);
  return v;
}

/** Captures `n` frames into two MMAP buffers; returns each DQBUF's flags. */
async function capture(sys: Sys, n: number): Promise<number[]> {
  const v = await streamTwoBuffers(sys);
  const flags: number[] = [];
  for (let k = 0; k < n; k++) {
    const b = await dequeueBuffer(sys, v, CAP, V4L2_MEMORY_MMAP);
    flags.push(b.flags);
    await queueBuffer(sys, v, v4l2Buffer(CAP, V4L2_MEMORY_MMAP, b.index));
  }
  await sys.ioctl(v, VIDIOC_STREAMOFF, CAP);
  await sys.close(v);
  return flags;
}

describe("camera driver's debugfs fault hooks and IOMMU fault handler", () => {
  it('dma_overrun makes the DMA run past each buffer: the SMMU fault reaches the driver, and DQBUF returns the buffer with V4L2_BUF_FLAG_ERROR', async () => {
    let flags: number[] = [];
    const { code, cam, sys } = await run(async (s) => {
      await echo(s, '/sys/kernel/debug/camera/dma_overrun', 4096);
      flags = await capture(s, 4);
      return 0;
    });
    expect(code).toBe(0);
    expect(flags.map((f) => (f & V4L2_BUF_FLAG_ERROR) !== 0)).toEqual([true, true, true, true]);
    expect(cam.debug.stats.faults).toBeGreaterThanOrEqual(4);
    expect(cam.debug.stats.terminated).toBe(cam.debug.stats.faults);
    expect(cam.framesFailed).toBeGreaterThanOrEqual(4);
    expect(sys.soc.findings.ofKind('iommu-fault').length).toBe(cam.debug.stats.faults);
  });

  it('with fault_scratch the handler retries over a scratch page: no buffer fails, only the faults are counted', async () => {
    let flags: number[] = [];
    const { cam, sys } = await run(async (s) => {
      await echo(s, '/sys/kernel/debug/camera/fault_scratch', 1);
      await echo(s, '/sys/kernel/debug/camera/dma_overrun', 4096);
      flags = await capture(s, 4);
      return 0;
    });
    expect(flags.every((f) => (f & V4L2_BUF_FLAG_ERROR) === 0)).toBe(true);
    expect(cam.debug.stats.retried).toBeGreaterThan(0);
    expect(cam.debug.stats.terminated).toBe(0);
    expect(sys.soc.findings.ofKind('iommu-fault')).toEqual([]);
  });

  it('refuses values it does not take with EINVAL', async () => {
    const { code } = await run(async (s) => {
      const fd = await s.open('/sys/kernel/debug/camera/movable_buffers', O_WRONLY);
      try {
        await s.write(fd, new TextEncoder().encode('3\n'));
        return 1;
      } catch (e) {
        return (e as { code?: string }).code === 'EINVAL' ? 0 : 2;
      }
    });
    expect(code).toBe(0);
  });
});

describe("camera's movable MMAP buffers (debugfs movable_buffers)", () => {
  it('a display importing a dequeued buffer moves it into its CMA area: the frame in it and the next one captured into the new pages are byte-exact, and nothing leaks', async () => {
    const fmt = frameFormat(320, 240, 'XR24');
    const seen: { seq: number; bytes: Uint8Array }[] = [];
    let moved: { migrations: number; source: string } | null = null;
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    const cam = sys.bound.find((b) => b.data instanceof CameraDevice)!.data as CameraDevice;
    const card = boundNode(sys.bound.find((b) => b.kind === 'display')!, 'card')!;
    // Page tables the SMMU driver grows stay allocated after the unmaps, as io-pgtable keeps them: not a leak.
    const tables = () => [...sys.domains.values()].reduce((n, d) => n + d.pgtable.tableBytes / 4096, 0);
    const free0 = sys.mm.pages.freeCount() + tables();
    const child = spawnProcess(
      sys.proc,
      async (s: Sys) => {
        await echo(s, '/sys/kernel/debug/camera/movable_buffers', 1);
        const v = await streamTwoBuffers(s, fmt);
        const c = await s.open(card, O_RDWR);
        const read = async (fd: number) => {
          const addr = await s.mmap(0, fmt.size, PROT_READ, MAP_SHARED, fd, 0);
          await dmaBufSync(s, fd, DMA_BUF_SYNC_READ, true);
          const bytes = await s.load(addr, fmt.size);
          await dmaBufSync(s, fd, DMA_BUF_SYNC_READ, false);
          await s.munmap(addr, fmt.size);
          return bytes;
        };
        let b = await dequeueBuffer(s, v, CAP, V4L2_MEMORY_MMAP);
        const fd = await exportBuffer(s, v, CAP, b.index);
        // The display's import: the camera returned its mapping at DQBUF, so the exporter moves the bytes now.
        await primeFdToHandle(s, c, fd);
        const m = cam.debug.movable[b.index]!;
        moved = { migrations: m.migrations, source: m.pfns ? m.describe().source : '' };
        seen.push({ seq: b.sequence, bytes: await read(fd) });
        // Back to the camera: its next mapping is of the new pages.
        const index = b.index;
        await queueBuffer(s, v, v4l2Buffer(CAP, V4L2_MEMORY_MMAP, index));
        do b = await dequeueBuffer(s, v, CAP, V4L2_MEMORY_MMAP);
        while (b.index !== index);
        seen.push({ seq: b.sequence, bytes: await read(fd) });
        await s.ioctl(v, VIDIOC_STREAMOFF, CAP);
        await s.close(fd);
        await s.close(c);
        await s.close(v);
        return 0;
      },
      [],
      undefined,
      { comm: 'test' },
    );
    expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
    expect(moved).toEqual({ migrations: 1, source: expect.stringMatching(/^cma:display pfn /) });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.seq).toBeGreaterThan(seen[0]!.seq);
    for (const f of seen) expect(Buffer.from(f.bytes).equals(Buffer.from(cam.expectedFrame(f.seq)))).toBe(true);
    expect(sys.dmabuf.buffers).toHaveLength(0);
    expect(sys.dma.debug.liveMappings()).toBe(0);
    expect(sys.mm.pages.freeCount() + tables()).toBe(free0);
  });

  it("a display importing a buffer still queued at the camera: the move waits for the camera's fence, so the frame being written arrives whole in the new pages", async () => {
    const fmt = frameFormat(320, 240, 'XR24');
    const sys = bootSystem(loadPlatform('armv7-mobile'), { seed: 1 });
    const cam = sys.bound.find((b) => b.data instanceof CameraDevice)!.data as CameraDevice;
    const card = boundNode(sys.bound.find((b) => b.kind === 'display')!, 'card')!;
    let got: { seq: number; bytes: Uint8Array } | null = null;
    const child = spawnProcess(
      sys.proc,
      async (s: Sys) => {
        await echo(s, '/sys/kernel/debug/camera/movable_buffers', 1);
        const v = await streamTwoBuffers(s, fmt);
        const c = await s.open(card, O_RDWR);
        const fd = await exportBuffer(s, v, CAP, 0);
        // Buffer 0 is with the driver, the sensor's first frame on its way into it.
        await primeFdToHandle(s, c, fd);
        const b = await dequeueBuffer(s, v, CAP, V4L2_MEMORY_MMAP);
        const addr = await s.mmap(0, fmt.size, PROT_READ, MAP_SHARED, fd, 0);
        await dmaBufSync(s, fd, DMA_BUF_SYNC_READ, true);
        got = { seq: b.sequence, bytes: await s.load(addr, fmt.size) };
        await dmaBufSync(s, fd, DMA_BUF_SYNC_READ, false);
        await s.munmap(addr, fmt.size);
        await s.ioctl(v, VIDIOC_STREAMOFF, CAP);
        await s.close(fd);
        await s.close(c);
        await s.close(v);
        return b.index === 0 ? 0 : 3;
      },
      [],
      undefined,
      { comm: 'test' },
    );
    expect(await sys.soc.clock.runUntilSettled(child.exitCode)).toBe(0);
    expect(cam.debug.movable[0]!.migrations).toBe(1);
    expect(cam.debug.movable[0]!.history.join('\n')).toMatch(/moved for display's pin: system pages .* -> cma:display/);
    expect(Buffer.from(got!.bytes).equals(Buffer.from(cam.expectedFrame(got!.seq)))).toBe(true);
    expect(sys.dmabuf.buffers).toHaveLength(0);
  });
});
