/**
 * DOC: sound — ALSA PCM playback for the audio block
 *
 * core/ is ALSA's PCM core: pcm (struct snd_pcm, its runtime and the ops
 * a driver fills), pcm_native (the node's ioctls, the state machine,
 * hw/sw_params, mmap, SYNC_PTR), pcm_lib (hw_ptr updates, period elapsed,
 * xrun, WRITEI), and the hw_params refinement; drivers/ holds the audio
 * block's driver, which fills a snd_pcm_ops and drives the DMA and DAC.
 *
 * One playback substream per PCM node, owned by the file that opened it
 * (a second open waits, or is EBUSY with O_NONBLOCK). HW_PARAMS allocates
 * the ring with NO_KERNEL_MAPPING | WRITE_COMBINE: userspace maps it (only
 * the data area; status and control pages are ENXIO, so pointers go by
 * SYNC_PTR) and the audio DMA reads it; the kernel never maps it. HW_FREE,
 * a new HW_PARAMS and the last close free it; none of them is allowed
 * while a mapping exists. The period engine is a timer on the simulated
 * Clock that runs only while RUNNING or DRAINING. HW_PARAMS, WRITEI and
 * DRAIN may sleep; the pointer and state ioctls, mmap, poll and the
 * driver's trigger and pointer ops do not.
 */
export { PcmDevice, type PcmNewOptions } from './core/pcm.ts';
export { pcmPlaybackPlatformDriver } from './drivers/audio-pcm.ts';
