import { describe, expect, it } from 'vitest';
import { PCM_BUFFER_ATTRS, audioHardware } from '../../src/drivers/sound/drivers/audio-pcm.ts';
import { SNDRV_PCM_TRIGGER_START, SNDRV_PCM_TRIGGER_STOP, type PcmOps } from '../../src/drivers/sound/core/pcm.ts';
import { pcmNew } from '../../src/drivers/sound/core/pcm-native.ts';
import { pcmPeriodElapsed } from '../../src/drivers/sound/core/pcm-lib.ts';
import {
  O_RDWR,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED as RW_I,
  SNDRV_PCM_FORMAT_S16_LE as S16,
  SNDRV_PCM_HW_PARAM_ACCESS as ACCESS,
  SNDRV_PCM_HW_PARAM_CHANNELS,
  SNDRV_PCM_HW_PARAM_FORMAT as FORMAT,
  SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
  SNDRV_PCM_HW_PARAM_PERIODS,
  SNDRV_PCM_HW_PARAM_RATE,
  SNDRV_PCM_IOCTL_PREPARE,
  SNDRV_PCM_IOCTL_SW_PARAMS,
  SNDRV_PCM_IOCTL_WRITEI_FRAMES,
  SNDRV_PCM_STATE_RUNNING,
  SNDRV_PCM_STATE_XRUN,
  SNDRV_PCM_SYNC_PTR_APPL,
  SNDRV_PCM_SYNC_PTR_AVAIL_MIN,
  type SndXferi,
} from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { hwParams, pcmSystem, swParams, sync } from './pcm-helpers.ts';

const PERIOD = 1024;
const BUF = 4 * PERIOD;
const FB = 4;
const STD: [number, number][] = [
  [SNDRV_PCM_HW_PARAM_CHANNELS, 2],
  [SNDRV_PCM_HW_PARAM_RATE, 48000],
  [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD],
  [SNDRV_PCM_HW_PARAM_PERIODS, 4],
];

describe('the PCM core against a driver of its own (struct snd_pcm_ops)', () => {
  it('calls the ops in ALSA order, takes hw_ptr from the pointer op on period elapsed and stops the driver on underrun', async () => {
    const { sys: booted, s } = pcmSystem();
    const device = booted.devices.get('audio')!;
    const calls: string[] = [];
    let pos = 0;
    let copied = 0;
    const ops: PcmOps = {
      open: () => void calls.push('open'),
      close: () => void calls.push('close'),
      hwParams: (_pcm, cfg) => void calls.push(`hw_params ${cfg.periodSize}x${cfg.periods}`),
      hwFree: () => void calls.push('hw_free'),
      prepare: () => {
        pos = 0;
        calls.push('prepare');
      },
      trigger: (_pcm, cmd) => void calls.push(`trigger ${cmd}`),
      pointer: () => pos,
      copy: (_pcm, _off, _src, _srcOff, len) => void (copied += len),
    };
    const pcm = pcmNew(booted.proc.vfs, { clock: booted.soc.clock, device, card: 2, dev: 0, name: 'fake', hw: audioHardware(device), bufferAttrs: PCM_BUFFER_ATTRS, ops });
    await run(s, async (sys) => {
      const fd = await sys.open('/dev/snd/pcmC2D0p', O_RDWR);
      await hwParams(sys, fd, [[ACCESS, RW_I], [FORMAT, S16]], STD);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, swParams(PERIOD, 2 * PERIOD, BUF));
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      const x: SndXferi = { result: 0, buf: new Uint8Array(2 * PERIOD * FB), frames: 2 * PERIOD };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, x);
      expect(x.result).toBe(2 * PERIOD);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_RUNNING);
      // the "hardware" played one period: the core reads the position from the driver
      pos = PERIOD;
      pcmPeriodElapsed(pcm);
      expect((await sync(sys, fd, SNDRV_PCM_SYNC_PTR_APPL | SNDRV_PCM_SYNC_PTR_AVAIL_MIN)).s.status.hw_ptr).toBe(PERIOD);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_RUNNING);
      // and the second: nothing left to play, an underrun
      pos = 2 * PERIOD;
      pcmPeriodElapsed(pcm);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_XRUN);
      expect(pcm.pointers).toEqual({ hw: 2 * PERIOD, appl: 2 * PERIOD });
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, { result: 0, buf: new Uint8Array(FB), frames: 1 }))).toBe('EPIPE');
      await sys.close(fd);
    });
    expect(calls).toEqual(['open', `hw_params ${PERIOD}x4`, 'prepare', `trigger ${SNDRV_PCM_TRIGGER_START}`, `trigger ${SNDRV_PCM_TRIGGER_STOP}`, 'hw_free', 'close']);
    expect(copied).toBe(2 * PERIOD * FB);
    expect(pcm.stats.xruns).toBe(1);
    expect(pcm.stats.bufferAllocs).toBe(1);
    expect(pcm.stats.bufferFrees).toBe(1);
    expect(pcm.buffer).toBeNull();
  });
});
