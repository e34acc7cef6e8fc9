import { describe, expect, it } from 'vitest';
import { PCM_BUFFER_ATTRS } from '../../src/drivers/sound/drivers/audio-pcm.ts';
import { PCM_HASH_INIT, pcmHash } from '../../src/hw/index.ts';
import { DMA_ATTR_NO_KERNEL_MAPPING } from '../../src/dma/index.ts';
import { PAGE_SIZE } from '../../src/lib/index.ts';
import type { Sys } from '../../src/proc/index.ts';
import {
  MAP_SHARED,
  O_NONBLOCK,
  O_RDWR,
  POLLERR,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  SNDRV_PCM_ACCESS_MMAP_INTERLEAVED as MMAP_I,
  SNDRV_PCM_ACCESS_RW_INTERLEAVED as RW_I,
  SNDRV_PCM_FORMAT_S16_LE as S16,
  SNDRV_PCM_FORMAT_S32_LE as S32,
  SNDRV_PCM_HW_PARAM_ACCESS as ACCESS,
  SNDRV_PCM_HW_PARAM_BUFFER_BYTES,
  SNDRV_PCM_HW_PARAM_BUFFER_SIZE,
  SNDRV_PCM_HW_PARAM_CHANNELS,
  SNDRV_PCM_HW_PARAM_FORMAT as FORMAT,
  SNDRV_PCM_HW_PARAM_FRAME_BITS,
  SNDRV_PCM_HW_PARAM_PERIOD_BYTES,
  SNDRV_PCM_HW_PARAM_PERIOD_SIZE,
  SNDRV_PCM_HW_PARAM_PERIOD_TIME,
  SNDRV_PCM_HW_PARAM_PERIODS,
  SNDRV_PCM_HW_PARAM_RATE,
  SNDRV_PCM_HW_PARAM_SAMPLE_BITS,
  SNDRV_PCM_IOCTL_DELAY,
  SNDRV_PCM_IOCTL_DRAIN,
  SNDRV_PCM_IOCTL_DROP,
  SNDRV_PCM_IOCTL_HWSYNC,
  SNDRV_PCM_IOCTL_HW_FREE,
  SNDRV_PCM_IOCTL_HW_PARAMS,
  SNDRV_PCM_IOCTL_HW_REFINE,
  SNDRV_PCM_IOCTL_INFO,
  SNDRV_PCM_IOCTL_PAUSE,
  SNDRV_PCM_IOCTL_PREPARE,
  SNDRV_PCM_IOCTL_PVERSION,
  SNDRV_PCM_IOCTL_RESET,
  SNDRV_PCM_IOCTL_START,
  SNDRV_PCM_IOCTL_STATUS,
  SNDRV_PCM_IOCTL_SW_PARAMS,
  SNDRV_PCM_IOCTL_WRITEI_FRAMES,
  SNDRV_PCM_MMAP_OFFSET_CONTROL,
  SNDRV_PCM_MMAP_OFFSET_DATA,
  SNDRV_PCM_MMAP_OFFSET_STATUS,
  SNDRV_PCM_STATE_OPEN,
  SNDRV_PCM_STATE_PAUSED,
  SNDRV_PCM_STATE_PREPARED,
  SNDRV_PCM_STATE_RUNNING,
  SNDRV_PCM_STATE_SETUP,
  SNDRV_PCM_STATE_XRUN,
  SNDRV_PCM_SYNC_PTR_APPL,
  SNDRV_PCM_SYNC_PTR_AVAIL_MIN,
  SNDRV_PCM_SYNC_PTR_HWSYNC,
  SNDRV_PCM_VERSION,
  type SndPcmInfo,
  type SndPcmStatus,
  type SndXferi,
} from '../../src/uapi/index.ts';
import { errno, run } from '../dmabuf/helpers.ts';
import { hwAny, hwParams, ivOf, pcmSystem, setInt, setMask, signal, swParams, sync } from './pcm-helpers.ts';

const PATH = '/dev/snd/pcmC1D0p';
const PERIOD = 1024;
const PERIODS = 4;
const BUF = PERIOD * PERIODS;
const FB = 4; // S16_LE stereo
const RING = BUF * FB;
const STD: [number, number][] = [
  [SNDRV_PCM_HW_PARAM_CHANNELS, 2],
  [SNDRV_PCM_HW_PARAM_RATE, 48000],
  [SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD],
  [SNDRV_PCM_HW_PARAM_PERIODS, PERIODS],
];

function status(): SndPcmStatus {
  const t = { tv_sec: 0, tv_nsec: 0 };
  return { state: -1, trigger_tstamp: t, tstamp: t, appl_ptr: 0, hw_ptr: 0, delay: 0, avail: 0, avail_max: 0, overrange: 0, suspended_state: 0, audio_tstamp_data: 0, audio_tstamp: t, driver_tstamp: t, audio_tstamp_accuracy: 0 };
}

/** Writes `frames` frames of `data` (from frame `from`) into the mmapped ring at appl_ptr, wrapping. */
async function ringWrite(sys: Sys, ring: number, appl: number, data: Uint8Array, from: number, frames: number): Promise<void> {
  let done = 0;
  while (done < frames) {
    const pos = (appl + done) % BUF;
    const n = Math.min(frames - done, BUF - pos);
    await sys.store(ring + pos * FB, data.subarray((from + done) * FB, (from + done + n) * FB));
    done += n;
  }
}

describe('asound.h request numbers (32-bit ARM, checked against gcc -m32 on the 6.1 header)', () => {
  it('match the values the real header gives', async () => {
    const u = await import('../../src/uapi/index.ts');
    const want: Record<string, number> = {
      SNDRV_PCM_IOCTL_PVERSION: 0x80044100,
      SNDRV_PCM_IOCTL_INFO: 0x81204101,
      SNDRV_PCM_IOCTL_TTSTAMP: 0x40044103,
      SNDRV_PCM_IOCTL_USER_PVERSION: 0x40044104,
      SNDRV_PCM_IOCTL_HW_REFINE: 0xc25c4110,
      SNDRV_PCM_IOCTL_HW_PARAMS: 0xc25c4111,
      SNDRV_PCM_IOCTL_HW_FREE: 0x4112,
      SNDRV_PCM_IOCTL_SW_PARAMS: 0xc0684113,
      SNDRV_PCM_IOCTL_STATUS: 0x806c4120,
      SNDRV_PCM_IOCTL_DELAY: 0x80044121,
      SNDRV_PCM_IOCTL_HWSYNC: 0x4122,
      SNDRV_PCM_IOCTL_SYNC_PTR: 0xc0844123,
      SNDRV_PCM_IOCTL_PREPARE: 0x4140,
      SNDRV_PCM_IOCTL_RESET: 0x4141,
      SNDRV_PCM_IOCTL_START: 0x4142,
      SNDRV_PCM_IOCTL_DROP: 0x4143,
      SNDRV_PCM_IOCTL_DRAIN: 0x4144,
      SNDRV_PCM_IOCTL_PAUSE: 0x40044145,
      SNDRV_PCM_IOCTL_WRITEI_FRAMES: 0x400c4150,
      SNDRV_PCM_VERSION: 0x2000f,
      SNDRV_PCM_MMAP_OFFSET_STATUS: 0x80000000,
      SNDRV_PCM_MMAP_OFFSET_CONTROL: 0x81000000,
    };
    for (const [k, v] of Object.entries(want)) expect([k, (u as unknown as Record<string, number>)[k]]).toEqual([k, v]);
  });
});

describe('ALSA PCM playback on the armv7-mobile audio block', () => {
  it('plays a seeded signal written through the mmapped ring with SYNC_PTR; the DAC hears exactly those samples', async () => {
    const { pcm, s } = pcmSystem();
    const N = 24;
    const data = signal(N * PERIOD, 1234);
    const port = pcm.device.master.port;
    const read0 = port.bytesRead;
    const busy0 = port.busyNs;
    let periodsSeen = 0;
    pcm.onPeriod = (b) => {
      expect(b.length).toBe(PERIOD * FB);
      periodsSeen++;
    };
    let startNs = 0;
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR);
      const v = { value: 0 };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PVERSION, v);
      expect(v.value).toBe(SNDRV_PCM_VERSION);
      const p = await hwParams(sys, fd, [[ACCESS, MMAP_I], [FORMAT, S16]], STD);
      expect(ivOf(p, SNDRV_PCM_HW_PARAM_BUFFER_SIZE).min).toBe(BUF);
      const sw = swParams(PERIOD, BUF, BUF);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, sw);
      expect(sw.boundary % BUF).toBe(0);
      expect(sw.boundary * 2 > 0x7fffffff - BUF).toBe(true);
      // alsa-lib tries the status page first and falls back to SYNC_PTR on ENXIO
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, SNDRV_PCM_MMAP_OFFSET_STATUS))).toBe('ENXIO');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SNDRV_PCM_MMAP_OFFSET_CONTROL))).toBe('ENXIO');
      expect(await errno(sys.mmap(0, RING + PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EINVAL');
      const ring = await sys.mmap(0, RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, SNDRV_PCM_MMAP_OFFSET_DATA);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      // with an empty ring START is EPIPE
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_START))).toBe('EPIPE');
      let appl = 0;
      await ringWrite(sys, ring, appl, data, 0, BUF);
      appl = BUF;
      let sp = await sync(sys, fd, SNDRV_PCM_SYNC_PTR_AVAIL_MIN, appl);
      expect([sp.s.status.state, sp.s.status.hw_ptr, sp.c.control.avail_min]).toEqual([SNDRV_PCM_STATE_PREPARED, 0, PERIOD]);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_START);
      startNs = s.soc.clock.now;
      while (appl < N * PERIOD) {
        const fds = [{ fd, events: POLLOUT, revents: 0 }];
        await sys.poll(fds, -1);
        expect(fds[0]!.revents & POLLERR).toBe(0);
        sp = await sync(sys, fd, SNDRV_PCM_SYNC_PTR_HWSYNC | SNDRV_PCM_SYNC_PTR_APPL | SNDRV_PCM_SYNC_PTR_AVAIL_MIN);
        expect(sp.s.status.state).toBe(SNDRV_PCM_STATE_RUNNING);
        const avail = sp.s.status.hw_ptr + BUF - appl;
        expect(avail).toBeGreaterThanOrEqual(PERIOD);
        const n = Math.min(avail - (avail % PERIOD), N * PERIOD - appl);
        await ringWrite(sys, ring, appl, data, appl, n);
        appl += n;
        await sync(sys, fd, 0, appl, PERIOD);
      }
      const st = status();
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_STATUS, st);
      expect(st.state).toBe(SNDRV_PCM_STATE_RUNNING);
      expect(st.appl_ptr).toBe(N * PERIOD);
      expect(st.delay).toBe(BUF - st.avail);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
      sp = await sync(sys, fd, SNDRV_PCM_SYNC_PTR_APPL);
      expect([sp.s.status.state, sp.s.status.hw_ptr]).toEqual([SNDRV_PCM_STATE_SETUP, N * PERIOD]);
      await sys.munmap(ring, RING);
      await sys.close(fd);
    });
    expect(pcm.played.frames).toBe(N * PERIOD);
    expect(pcm.played.hash).toBe(pcmHash(PCM_HASH_INIT, data));
    expect(periodsSeen).toBe(N);
    expect(pcm.stats.dmaReadBytes).toBe(N * PERIOD * FB);
    expect(pcm.stats.lateFetches).toBe(0);
    expect(pcm.stats.cpuCopyBytes).toBe(0);
    // every sample crossed the audio block's own port, at its 10 MB/s
    expect(port.bytesRead - read0).toBe(N * PERIOD * FB);
    expect(port.busyNs - busy0).toBeGreaterThanOrEqual(((N * PERIOD * FB) / 10e6) * 1e9 * 0.99);
    // N periods of 1024 frames at 48 kHz took their real time, give or take the last period
    const playedNs = s.soc.clock.now - startNs;
    expect(playedNs).toBeGreaterThanOrEqual(Math.floor(((N * PERIOD) / 48000) * 1e9) - 1);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('WRITEI copies frames in, starts at start_threshold, blocks for room and drains to the last frame', async () => {
    const { pcm, s } = pcmSystem();
    const N = 12;
    const data = signal(N * PERIOD, 99);
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR);
      await hwParams(sys, fd, [[ACCESS, RW_I], [FORMAT, S16]], STD);
      // RW access cannot be mmapped
      expect(await errno(sys.mmap(0, RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EINVAL');
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, swParams(PERIOD, 2 * PERIOD, BUF));
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      const x: SndXferi = { result: 0, buf: data.subarray(0, PERIOD * FB), frames: PERIOD };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, x);
      expect(x.result).toBe(PERIOD);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_PREPARED);
      // the rest in one call: it starts the stream and sleeps for room as periods play
      const y: SndXferi = { result: 0, buf: data.subarray(PERIOD * FB), frames: (N - 1) * PERIOD };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, y);
      expect(y.result).toBe((N - 1) * PERIOD);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_RUNNING);
      const d = { value: -1 };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_DELAY, d);
      expect(d.value).toBeGreaterThan(0);
      expect(d.value).toBeLessThanOrEqual(BUF);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_SETUP);
      await sys.close(fd);
    });
    expect(pcm.played.frames).toBe(N * PERIOD);
    expect(pcm.played.hash).toBe(pcmHash(PCM_HASH_INIT, data));
    expect(pcm.stats.cpuCopyBytes).toBe(N * PERIOD * FB);
  });

  it('WRITEI from an address in the caller memory, and O_NONBLOCK gives EAGAIN when the ring is full', async () => {
    const { pcm, s } = pcmSystem();
    const data = signal(BUF + PERIOD, 5);
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR | O_NONBLOCK);
      await hwParams(sys, fd, [[ACCESS, RW_I], [FORMAT, S16]], STD);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, swParams(PERIOD, BUF + 1, BUF));
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      const mem = await sys.mmap(0, data.length, PROT_READ | PROT_WRITE, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
      await sys.store(mem, data);
      const x: SndXferi = { result: 0, buf: mem, frames: BUF + PERIOD };
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, x);
      // a partial write returns what fit
      expect(x.result).toBe(BUF);
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, { result: 0, buf: mem, frames: 1 }))).toBe('EAGAIN');
      // non-blocking drain starts the stream and returns EAGAIN; poll shows nothing until it is done
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_DRAIN))).toBe('EAGAIN');
      await s.soc.clock.sleep(((BUF / 48000) * 1e9) + 1e6);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_SETUP);
      await sys.close(fd);
    });
    expect(pcm.played.hash).toBe(pcmHash(PCM_HASH_INIT, data.subarray(0, RING)));
  });

  it('an underrun stops the stream in XRUN: SYNC_PTR shows it, WRITEI and HWSYNC are EPIPE, poll POLLERR; PREPARE recovers', async () => {
    const { pcm, s } = pcmSystem();
    const data = signal(4 * PERIOD, 3);
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR);
      await hwParams(sys, fd, [[ACCESS, MMAP_I], [FORMAT, S16]], STD);
      const ring = await sys.mmap(0, RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      await ringWrite(sys, ring, 0, data, 0, 2 * PERIOD);
      await sync(sys, fd, SNDRV_PCM_SYNC_PTR_AVAIL_MIN, 2 * PERIOD);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_START);
      // nobody writes: after two periods the ring is empty
      await s.soc.clock.sleep(((3 * PERIOD) / 48000) * 1e9);
      let sp = await sync(sys, fd, SNDRV_PCM_SYNC_PTR_APPL | SNDRV_PCM_SYNC_PTR_AVAIL_MIN);
      expect([sp.s.status.state, sp.s.status.hw_ptr]).toEqual([SNDRV_PCM_STATE_XRUN, 2 * PERIOD]);
      expect(await errno(sync(sys, fd, SNDRV_PCM_SYNC_PTR_HWSYNC | SNDRV_PCM_SYNC_PTR_APPL))).toBe('EPIPE');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HWSYNC))).toBe('EPIPE');
      const fds = [{ fd, events: POLLOUT, revents: 0 }];
      expect(await sys.poll(fds, 0)).toBe(1);
      expect(fds[0]!.revents & POLLERR).toBe(POLLERR);
      await sys.munmap(ring, RING);
      // the mapping is gone; RW-style writes now hit the EPIPE of the state check
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, { result: 0, buf: data, frames: 1 }))).toBe('EPIPE');
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      sp = await sync(sys, fd, SNDRV_PCM_SYNC_PTR_APPL | SNDRV_PCM_SYNC_PTR_AVAIL_MIN);
      expect([sp.s.status.state, sp.s.status.hw_ptr, sp.c.control.appl_ptr]).toEqual([SNDRV_PCM_STATE_PREPARED, 0, 0]);
      await sys.close(fd);
    });
    expect(pcm.stats.xruns).toBe(1);
    expect(pcm.played.frames).toBe(2 * PERIOD);
    expect(pcm.played.hash).toBe(pcmHash(PCM_HASH_INIT, data.subarray(0, 2 * PERIOD * FB)));
    expect(s.soc.clock.pending).toBe(0);
  });

  it('calls in the wrong state fail with the errno Linux gives', async () => {
    const { pcm, s } = pcmSystem();
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR);
      // OPEN: nothing but hw_params works
      for (const r of [SNDRV_PCM_IOCTL_PREPARE, SNDRV_PCM_IOCTL_START, SNDRV_PCM_IOCTL_DROP, SNDRV_PCM_IOCTL_DRAIN, SNDRV_PCM_IOCTL_HW_FREE, SNDRV_PCM_IOCTL_HWSYNC, SNDRV_PCM_IOCTL_RESET])
        expect([r.toString(16), await errno(sys.ioctl(fd, r))]).toEqual([r.toString(16), 'EBADFD']);
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, swParams(1, 1, 1)))).toBe('EBADFD');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, { result: 0, buf: new Uint8Array(4), frames: 1 }))).toBe('EBADFD');
      expect(await errno(sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))).toBe('EBADFD');
      const st = status();
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_STATUS, st);
      expect(st.state).toBe(SNDRV_PCM_STATE_OPEN);
      expect(await errno(sys.ioctl(fd, 0xc0ff4199, {}))).toBe('ENOTTY');
      // a second opener: EBUSY without waiting
      expect(await errno(sys.open(PATH, O_RDWR | O_NONBLOCK))).toBe('EBUSY');
      await hwParams(sys, fd, [[ACCESS, MMAP_I], [FORMAT, S16]], STD);
      // SETUP: START needs PREPARE first, PAUSE needs RUNNING, WRITEI needs PREPARE
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_START))).toBe('EBADFD');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 1))).toBe('EBADFD');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HWSYNC))).toBe('EBADFD');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_SW_PARAMS, swParams(0, 1, BUF)))).toBe('EINVAL');
      expect(await errno(sync(sys, fd, SNDRV_PCM_SYNC_PTR_AVAIL_MIN, 2 ** 31))).toBe('EINVAL');
      const ring = await sys.mmap(0, RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      // a mapped ring cannot be freed or replaced
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_FREE))).toBe('EBADFD');
      expect(await errno(hwParams(sys, fd, [[ACCESS, MMAP_I]], STD))).toBe('EBADFD');
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
      await sys.store(ring, signal(BUF, 8));
      await sync(sys, fd, SNDRV_PCM_SYNC_PTR_AVAIL_MIN, BUF);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_START);
      // RUNNING: no second START, PREPARE is EBUSY, hw_params EBADFD
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_START))).toBe('EBADFD');
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE))).toBe('EBUSY');
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 1);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_PAUSED);
      const hw = pcm.pointers.hw;
      await s.soc.clock.sleep(100e6);
      expect(pcm.pointers.hw).toBe(hw);
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 1))).toBe('EBADFD');
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_PAUSE, 0);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_RUNNING);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_RESET);
      expect(pcm.pointers.appl).toBe(pcm.pointers.hw);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_DROP);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_SETUP);
      // the period timer is gone at once; only a DMA fetch in flight may still finish
      await s.soc.clock.sleep(1e6);
      expect(s.soc.clock.pending).toBe(0);
      await sys.munmap(ring, RING);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_FREE);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_OPEN);
      const info = {} as SndPcmInfo;
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_INFO, info);
      expect([info.card, info.device, info.stream, info.subdevices_count]).toEqual([1, 0, 0, 1]);
      await sys.close(fd);
    });
  });

  it('HW_REFINE narrows to what the block can do and HW_PARAMS chooses as the kernel does', async () => {
    const { pcm, s } = pcmSystem();
    await run(s, async (sys) => {
      const fd = await sys.open(PATH, O_RDWR);
      const r = hwAny();
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, r);
      expect(r.masks[ACCESS]!.bits[0]).toBe((1 << MMAP_I) | (1 << RW_I));
      expect(r.masks[FORMAT]!.bits[0]).toBe((1 << S16) | (1 << S32));
      const ch = ivOf(r, SNDRV_PCM_HW_PARAM_CHANNELS);
      const rate = ivOf(r, SNDRV_PCM_HW_PARAM_RATE);
      expect([ch.min, ch.max, rate.min, rate.max]).toEqual([1, 2, 8000, 48000]);
      expect([ivOf(r, SNDRV_PCM_HW_PARAM_SAMPLE_BITS).min, ivOf(r, SNDRV_PCM_HW_PARAM_SAMPLE_BITS).max]).toEqual([16, 32]);
      expect(ivOf(r, SNDRV_PCM_HW_PARAM_FRAME_BITS).max).toBe(64);
      expect(ivOf(r, SNDRV_PCM_HW_PARAM_BUFFER_BYTES).max).toBe(256 * 1024);
      expect(r.cmask).not.toBe(0);
      // a refine cannot change the state or allocate
      expect(pcm.state).toBe(SNDRV_PCM_STATE_OPEN);
      expect(pcm.buffer).toBeNull();
      // impossible requests: EINVAL
      const bad = hwAny();
      setInt(bad, SNDRV_PCM_HW_PARAM_RATE, 96000);
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, bad))).toBe('EINVAL');
      const bad2 = hwAny();
      setMask(bad2, FORMAT, 6 /* S24_LE */);
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, bad2))).toBe('EINVAL');
      const bad3 = hwAny();
      setInt(bad3, SNDRV_PCM_HW_PARAM_CHANNELS, 2);
      setInt(bad3, SNDRV_PCM_HW_PARAM_PERIOD_BYTES, 64 * 1024);
      setInt(bad3, SNDRV_PCM_HW_PARAM_PERIODS, 8); // 512 KiB > the 256 KiB ring limit
      expect(await errno(sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, bad3))).toBe('EINVAL');
      expect(pcm.state).toBe(SNDRV_PCM_STATE_OPEN);
      // fixed rate, format, channels, period: period_time is the open interval around 21333.3 us
      const q = hwAny();
      setMask(q, FORMAT, S16);
      setInt(q, SNDRV_PCM_HW_PARAM_CHANNELS, 2);
      setInt(q, SNDRV_PCM_HW_PARAM_RATE, 48000);
      setInt(q, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, 1024);
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_REFINE, q);
      expect(ivOf(q, SNDRV_PCM_HW_PARAM_PERIOD_BYTES)).toMatchObject({ min: 4096, max: 4096 });
      expect(ivOf(q, SNDRV_PCM_HW_PARAM_PERIOD_TIME)).toMatchObject({ min: 21333, max: 21334, openmin: 1, openmax: 1 });
      expect(ivOf(q, SNDRV_PCM_HW_PARAM_PERIODS)).toMatchObject({ min: 2, max: 32 });
      expect(q.msbits).toBe(16);
      expect([q.rate_num, q.rate_den]).toEqual([48000, 1]);
      // nothing fixed: first access and format, fewest channels, lowest rate, shortest period, then the largest buffer
      const c = hwAny();
      await sys.ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, c);
      const cfg = pcm.config!;
      expect([cfg.access, cfg.format, cfg.channels, cfg.rate]).toEqual([MMAP_I, S16, 1, 8000]);
      expect(cfg.periodSize * cfg.frameBytes).toBe(256);
      expect(cfg.periods).toBe(32);
      expect(cfg.bufferSize).toBe(cfg.periodSize * cfg.periods);
      for (const k of [SNDRV_PCM_HW_PARAM_CHANNELS, SNDRV_PCM_HW_PARAM_RATE, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, SNDRV_PCM_HW_PARAM_BUFFER_SIZE, SNDRV_PCM_HW_PARAM_BUFFER_BYTES]) {
        const i = ivOf(c, k);
        expect([k, i.min === i.max || i.min + 1 === i.max]).toEqual([k, true]);
      }
      expect(ivOf(c, SNDRV_PCM_HW_PARAM_BUFFER_BYTES).min).toBe(pcm.buffer!.size);
      expect(pcm.state).toBe(SNDRV_PCM_STATE_SETUP);
      // S32 stereo chosen explicitly, with a period in bytes
      const d = await hwParams(sys, fd, [[FORMAT, S32]], [[SNDRV_PCM_HW_PARAM_CHANNELS, 2], [SNDRV_PCM_HW_PARAM_RATE, 44100], [SNDRV_PCM_HW_PARAM_PERIOD_BYTES, 8192], [SNDRV_PCM_HW_PARAM_PERIODS, 3]]);
      expect(ivOf(d, SNDRV_PCM_HW_PARAM_PERIOD_SIZE).min).toBe(1024);
      expect(ivOf(d, SNDRV_PCM_HW_PARAM_BUFFER_BYTES).min).toBe(3 * 8192);
      expect(pcm.buffer!.size).toBe(3 * 8192);
      expect(pcm.stats.bufferFrees).toBe(1);
      await sys.close(fd);
    });
  });

  it('the ring is never mapped into the kernel, and close gives every page back', async () => {
    const { pcm, s, sys: booted } = pcmSystem();
    const kas = booted.mm.kas;
    const vmalloc0 = kas.vmallocUsed();
    const free0 = booted.mm.pages.freeCount();
    await run(s, async (sys) => {
      for (let round = 0; round < 2; round++) {
        const fd = await sys.open(PATH, O_RDWR);
        await hwParams(sys, fd, [[ACCESS, MMAP_I], [FORMAT, S16]], STD);
        const buf = pcm.buffer!;
        expect(buf.attrs).toBe(PCM_BUFFER_ATTRS);
        expect(buf.attrs & DMA_ATTR_NO_KERNEL_MAPPING).toBeTruthy();
        expect(buf.cpuAddr).toBeNull();
        expect(buf.vmallocBytes).toBe(0);
        expect(buf.memType).toBe('wc');
        expect(kas.vmallocUsed()).toBe(vmalloc0);
        // the audio block has a 32-bit mask and no IOMMU: the device sees the physical pages
        expect(buf.dmaAddr).toBe(buf.pfns[0]! * PAGE_SIZE);
        const ring = await sys.mmap(0, RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        const bytes = signal(BUF, 77 + round);
        await sys.store(ring, bytes);
        // what the process wrote is in memory (write-combined, no CPU cache in the way) for the DMA
        const inMem = new Uint8Array(PAGE_SIZE);
        booted.soc.mem.read(buf.pfns[0]! * PAGE_SIZE, inMem);
        expect(Buffer.compare(inMem, bytes.subarray(0, PAGE_SIZE))).toBe(0);
        await sys.ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
        await sync(sys, fd, SNDRV_PCM_SYNC_PTR_AVAIL_MIN, BUF);
        await sys.ioctl(fd, SNDRV_PCM_IOCTL_START);
        await s.soc.clock.sleep(30e6);
        // closing with the stream running and still mapped: the mapping keeps the file (and ring) alive
        await sys.close(fd);
        expect(pcm.buffer).not.toBeNull();
        await sys.munmap(ring, RING);
        expect(pcm.buffer).toBeNull();
        expect(kas.vmallocUsed()).toBe(vmalloc0);
      }
    });
    await pcm.settle();
    expect(pcm.stats.bufferAllocs).toBe(2);
    expect(pcm.stats.bufferFrees).toBe(2);
    expect(booted.mm.pages.freeCount()).toBe(free0);
    expect(booted.dma.debug.liveMappings(pcm.device)).toBe(0);
    expect(s.soc.clock.pending).toBe(0);
  });

  it('a blocked second open proceeds when the first closes', async () => {
    const { s } = pcmSystem();
    const order: string[] = [];
    await run(s, async (sys) => {
      // fork first: a child that inherited the fd would keep the substream open itself
      const child = await sys.fork(async (c) => {
        await s.soc.clock.sleep(0.5e6);
        expect(await errno(c.open(PATH, O_RDWR | O_NONBLOCK))).toBe('EBUSY');
        const f = await c.open(PATH, O_RDWR);
        order.push('child opened');
        await c.close(f);
        return 0;
      });
      const fd = await sys.open(PATH, O_RDWR);
      await s.soc.clock.sleep(1e6);
      order.push('parent closes');
      await sys.close(fd);
      await sys.wait(child);
    });
    expect(order).toEqual(['parent closes', 'child opened']);
  });
});
