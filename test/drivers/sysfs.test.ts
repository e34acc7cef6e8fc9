import { describe, expect, it } from 'vitest';
import { makeCred } from '../../src/fs/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import { DT_LNK, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, S_IFDIR, S_IFLNK } from '../../src/uapi/index.ts';
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

  it('class and dev entries are symbolic links to the device, which links to its subsystem and parent, as libdrm and udev read them', async () => {
    const s = withVivid(vgemSystem());
    await run(s, async (sys) => {
      expect(await sys.readlink('/sys/dev/char/226:0')).toBe('../../devices/platform/vgem/drm/card0');
      expect(await sys.readlink('/sys/class/drm/renderD128')).toBe('../../devices/platform/vgem/drm/renderD128');
      expect(await sys.readlink('/sys/class/drm/card0/subsystem')).toBe('../../../../../class/drm');
      expect(await sys.readlink('/sys/class/drm/card0/device')).toBe('../../../vgem');
      // drmParseSubsystemType: the basename of /sys/dev/char/M:m/device/subsystem names the bus
      expect(await sys.readlink('/sys/dev/char/226:0/device/subsystem')).toBe('../../../bus/platform');
      expect(await sys.readFile('/sys/dev/char/226:0/device/uevent')).toBe('MODALIAS=platform:vgem\n');
      expect(await sys.readlink('/sys/bus/platform/devices/vgem')).toBe('../../../devices/platform/vgem');
      expect(await sys.readlink('/sys/class/video4linux/video4')).toBe('../../devices/platform/vivid.1/video4linux/video4');
      expect(await sys.readlink('/sys/class/video4linux/video4/device')).toBe('../../../vivid.1');
      expect(await sys.readFile('/sys/class/video4linux/video4/device/uevent')).toBe('MODALIAS=platform:vivid\n');
      expect(await sys.readlink('/sys/class/dma_heap/system')).toBe('../../devices/virtual/dma_heap/system');
      // the link itself and what it leads to
      expect((await sys.lstat('/sys/class/drm/card0')).st_mode).toBe(S_IFLNK | 0o777);
      expect((await sys.stat('/sys/class/drm/card0')).st_mode).toBe(S_IFDIR | 0o755);
      expect(await errno(sys.open('/sys/class/drm/card0', O_RDONLY | O_NOFOLLOW))).toBe('ELOOP');
      expect(await errno(sys.readlink('/sys/class/drm/card0/dev'))).toBe('EINVAL');
      const dir = await sys.open('/sys/class/drm', O_RDONLY | O_DIRECTORY);
      const ents = await sys.getdents64(dir, 4096);
      await sys.close(dir);
      expect(ents.filter((d) => d.d_name.startsWith('card') || d.d_name.startsWith('render')).map((d) => [d.d_name, d.d_type])).toEqual(
        expect.arrayContaining([
          ['card0', DT_LNK],
          ['renderD128', DT_LNK],
        ]),
      );
    });
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
