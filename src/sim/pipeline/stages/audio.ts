import type { PcmDevice } from '../../../drivers/index.ts';
import { audioSignal } from '../../stages/audio-signal.ts';
import { audioStage } from '../../stages/audio.ts';
import { stageDescriptor } from '../descriptor.ts';

/** A music player: ALSA mmap playback; checked at the DAC, period by period. */
export const audioDescriptor = stageDescriptor({
  name: 'audio',
  description: 'ALSA playback (alone) through its mmap of the ring (`rate`, `channels`, `periodFrames`, `periods`)',
  device: { kind: 'audio', node: 'pcm-playback' },
  role: 'alone',
  program: audioStage,
  plan: () => ({ inFmt: null, outFmt: null }),
  // What the DAC played, period by period, against the music the player wrote.
  watch: (x) => {
    const { st } = x;
    let period = 0;
    (x.device.data as PcmDevice).onPeriod = (bytes: Uint8Array) => {
      const want = audioSignal(period * st.periodFrames, st.periodFrames, st.channels, st.rate, x.seed);
      const ok = bytes.length === want.length && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(Buffer.from(want.buffer));
      if (period < x.frames) x.consumed(period, ok, x.now() - Math.round((st.periodFrames / st.rate) * 1e9));
      period++;
    };
  },
  placement: (st) => `${st.name}: audio ring buffer from dma_alloc_attrs(NO_KERNEL_MAPPING | WRITE_COMBINE), mapped only into this process`,
});
