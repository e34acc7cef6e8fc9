import { describe, expect, it } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import { O_RDONLY } from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { pcmSystem } from './pcm-helpers.ts';
import { withVivid } from './v4l2-helpers.ts';
import { vgemSystem } from './vgem-helpers.ts';

/** The node's device number as its sysfs `dev` file prints it, from fstat of the node. */
async function devOf(sys: Sys, path: string): Promise<string> {
  const fd = await sys.open(path, O_RDONLY);
  try {
    const rdev = (await sys.fstat(fd)).st_rdev;
    // the kernel's new_encode_dev layout, as makedev builds it
    const major = ((rdev >>> 8) & 0xfff) | 0;
    const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    return `${major}:${minor}\n`;
  } finally {
    await sys.close(fd);
  }
}

describe('sysfs: every character device node has its device', () => {
  it('DRM nodes: /sys/dev/char/226:N, /sys/class/drm/<name> and the platform device path give dev and uevent as Linux prints them', async () => {
    const s = vgemSystem();
    await run(s, async (sys) => {
      expect(await sys.readFile('/sys/dev/char/226:0/dev')).toBe('226:0\n');
      expect(await sys.readFile('/sys/dev/char/226:0/uevent')).toBe('MAJOR=226\nMINOR=0\nDEVNAME=dri/card0\nDEVTYPE=drm_minor\n');
      expect(await sys.readFile('/sys/class/drm/card0/dev')).toBe('226:0\n');
      expect(await sys.readFile('/sys/class/drm/renderD128/uevent')).toBe('MAJOR=226\nMINOR=128\nDEVNAME=dri/renderD128\nDEVTYPE=drm_minor\n');
      expect(await sys.readFile('/sys/devices/platform/vgem/drm/card0/dev')).toBe('226:0\n');
      expect(await sys.readFile('/sys/dev/char/226:128/dev')).toBe(await devOf(sys, '/dev/dri/renderD128'));
      expect(await errno(sys.readFile('/sys/dev/char/226:1/dev'))).toBe('ENOENT');
    });
  });

  it('heaps, udmabuf and V4L2 nodes: class directories, DEVNAME below /dev, video4linux names', async () => {
    const s = withVivid(vgemSystem());
    await run(s, async (sys) => {
      expect(await sys.readFile('/sys/class/dma_heap/system/uevent')).toBe(`MAJOR=253\nMINOR=0\nDEVNAME=dma_heap/system\n`);
      expect(await sys.readFile('/sys/class/dma_heap/system/dev')).toBe(await devOf(sys, '/dev/dma_heap/system'));
      expect(await sys.readFile('/sys/class/misc/udmabuf/dev')).toBe('10:125\n');
      expect(await sys.readFile('/sys/dev/char/10:125/uevent')).toBe('MAJOR=10\nMINOR=125\nDEVNAME=udmabuf\n');
      expect(await sys.readFile('/sys/class/video4linux/video0/name')).toBe('vivid-000-vid-cap\n');
      expect(await sys.readFile('/sys/class/video4linux/video4/name')).toBe('vivid-001-vid-cap\n');
      expect(await sys.readFile('/sys/devices/platform/vivid.1/video4linux/video4/dev')).toBe('81:4\n');
      expect(await sys.readFile('/sys/dev/char/81:0/uevent')).toBe('MAJOR=81\nMINOR=0\nDEVNAME=video0\n');
      expect(await sys.readFile('/sys/class/video4linux/video0/dev_debug')).toBe('0\n');
      expect(await sys.readFile('/sys/class/video4linux/video4/dev')).toBe(await devOf(sys, '/dev/video4'));
    });
    // sysfs is world-readable: a user reads what root does, while the nodes stay closed to it
    await run(
      s,
      async (sys) => {
        expect(await sys.readFile('/sys/class/dma_heap/system/dev')).toBe('253:0\n');
        expect(await sys.readFile('/sys/dev/char/81:4/uevent')).toBe('MAJOR=81\nMINOR=4\nDEVNAME=video4\n');
        expect(await errno(sys.open('/dev/dma_heap/system', O_RDONLY))).toBe('EACCES');
      },
      makeCred(1000, 1000),
    );
  });

  it('unregistering a node removes its sysfs entries; open files are unaffected', async () => {
    const s = withVivid(vgemSystem());
    await run(s, async (sys) => {
      const fd = await sys.open('/sys/class/video4linux/video0/name', O_RDONLY);
      s.vivid[0]!.vdev.unregister();
      expect(await errno(sys.readFile('/sys/class/video4linux/video0/name'))).toBe('ENOENT');
      expect(await errno(sys.readFile('/sys/dev/char/81:0/dev'))).toBe('ENOENT');
      expect(await errno(sys.readFile('/sys/devices/platform/vivid.0/video4linux/video0/dev'))).toBe('ENOENT');
      expect(new TextDecoder().decode(await sys.read(fd, 64))).toBe('vivid-000-vid-cap\n');
      expect(await sys.readFile('/sys/class/video4linux/video4/name')).toBe('vivid-001-vid-cap\n');
    });
  });

  it('ALSA PCM nodes are in the sound class with DEVNAME snd/...', async () => {
    const { s } = pcmSystem();
    await run(s, async (sys) => {
      expect(await sys.readFile('/sys/class/sound/pcmC1D0p/uevent')).toBe('MAJOR=116\nMINOR=48\nDEVNAME=snd/pcmC1D0p\n');
      expect(await sys.readFile('/sys/class/sound/pcmC1D0p/dev')).toBe(await devOf(sys, '/dev/snd/pcmC1D0p'));
    });
  });
});
