import { describe, expect, it } from 'vitest';
import { CameraDevice } from '../../src/drivers/index.ts';
import { frameFormat } from '../../src/formats/index.ts';
import { spawnProcess, type Sys } from '../../src/proc/index.ts';
import { bootSystem, loadPlatform } from '../../src/sim/index.ts';
import { dequeueBuffer, queueBuffer, requestBuffers, setFormat, streamOn, v4l2Buffer } from '../../src/sim/stages/uapi-calls.ts';
import { O_RDWR, O_WRONLY, V4L2_BUF_FLAG_ERROR, V4L2_BUF_TYPE_VIDEO_CAPTURE as CAP, V4L2_MEMORY_MMAP, VIDIOC_STREAMOFF } from '../../src/uapi/index.ts';

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

/** Captures `n` frames into two MMAP buffers; returns each DQBUF's flags. */
async function capture(sys: Sys, n: number): Promise<number[]> {
  const v = await sys.open('/dev/video8', O_RDWR);
  await setFormat(sys, v, CAP, frameFormat(320, 240, 'XR24'));
  await requestBuffers(sys, v, CAP, V4L2_MEMORY_MMAP, 2);
  for (let i = 0; i < 2; i++) await queueBuffer(sys, v, v4l2Buffer(CAP, V4L2_MEMORY_MMAP, i));
  await streamOn(sys, v, CAP);
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
