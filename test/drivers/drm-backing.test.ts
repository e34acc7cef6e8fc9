import { describe, expect, it } from 'vitest';
import { DmaGemObject, registerKmsDisplay } from '../../src/drivers/gpu/drm/kms-display/display-kms.ts';
import { registerGpu } from '../../src/drivers/gpu/drm/gpu/gpu.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import { O_RDWR } from '../../src/uapi/index.ts';
import { run, testSystem } from '../dmabuf/helpers.ts';
import { dumb, mapDumb, toFd, toHandle } from './vgem-helpers.ts';

const W = 64;
const H = 32;
const SIZE = W * H * 4;

/** The debug view's block for the buffer of inode `ino` (/sys/kernel/debug/dma_buf/metadata). */
function block(metadata: string, ino: number): string {
  const b = metadata.split('\n\n').find((x) => x.includes(`dma-buf ino ${ino} `));
  if (!b) throw new Error(`no dma-buf ino ${ino} in the debug view`);
  return b;
}

describe('what backs a GEM object, as the debug view and PRIME describe it', () => {
  it('a display dumb buffer is DMA-contiguous memory, a gpu dumb buffer shmem pages, an import the buffer it came from', async () => {
    const s = testSystem();
    const disp = registerKmsDisplay({ dbs: s.dbs, mm: s.mm, device: s.disp, index: 0, width: W, height: H }).dev;
    const gpu = registerGpu({ dbs: s.dbs, mm: s.mm, device: s.gpu, index: 1 });
    await run(s, async (sys) => {
      const card = await sys.open('/dev/dri/card0', O_RDWR);
      const g = await sys.open('/dev/dri/card1', O_RDWR);
      const scan = await dumb(sys, card, W, H);
      const bo = await dumb(sys, g, W, H);
      // shmem pages come on first use: a CPU write allocates them
      const m = await sys.mmap(0, bo.size, 3, 1, g, await mapDumb(sys, g, bo.handle));
      await sys.store(m, new Uint8Array(bo.size).fill(7));
      await sys.munmap(m, bo.size);
      const scanFd = await toFd(sys, card, scan.handle);
      const boFd = await toFd(sys, g, bo.handle);
      const scanIno = (await sys.fstat(scanFd)).st_ino;
      const boIno = (await sys.fstat(boFd)).st_ino;
      const scanObj = [...disp.files][0]!.objects.get(scan.handle)!;
      expect(scanObj).toBeInstanceOf(DmaGemObject);
      const dmaAddr = (scanObj as DmaGemObject).dmaAddr;

      const md = await sys.readFile('/sys/kernel/debug/dma_buf/metadata');
      const sb = block(md, scanIno);
      expect(sb).toContain(`creator unimem-display`);
      expect(sb).toContain(`storage: unimem-display DMA-contiguous memory (${SIZE / PAGE_SIZE} pages at dma 0x${dmaAddr.toString(16)}, `);
      expect(sb).toContain('attributes: sharable, contiguous, system memory');
      expect(sb).not.toContain('shmem');
      const gb = block(md, boIno);
      expect(gb).toContain(`storage: gpu shmem pages (${SIZE / PAGE_SIZE})`);
      expect(gb).not.toContain('DMA-contiguous');

      // the gpu imports the display's buffer: its object has no pages of its own
      const imported = await toHandle(sys, g, scanFd);
      const imp = [...gpu.files][0]!.objects.get(imported)!;
      expect(imp.backing()).toMatch(new RegExp(`^imported dma-buf \\(exp_name drm, ino ${scanIno}, \\d+ segment\\(s\\)\\)$`));
      expect(imp.backing()).not.toContain('shmem');
      // the display object's own description is unchanged by the import
      expect(scanObj.backing()).toMatch(/^DMA-contiguous memory \(/);
    });
    await disp.settle();
    await gpu.settle();
    expect(disp.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(gpu.stats).toEqual({ objects: 0, bytes: 0, pagesAllocated: 0 });
    expect(s.dbs.buffers).toHaveLength(0);
  });
});
