/**
 * DOC: sound — ALSA PCM playback for the audio block
 *
 * One playback substream per PCM node, owned by the file that opened it
 * (a second open waits, or is EBUSY with O_NONBLOCK). HW_PARAMS allocates
 * the ring with NO_KERNEL_MAPPING | WRITE_COMBINE: userspace maps it (only
 * the data area; status and control pages are ENXIO, so pointers go by
 * SYNC_PTR) and the audio DMA reads it; the kernel never maps it. HW_FREE,
 * a new HW_PARAMS and the last close free it; none of them is allowed
 * while a mapping exists. The period engine is a timer on the simulated
 * Clock that runs only while RUNNING or DRAINING. HW_PARAMS, WRITEI and
 * DRAIN may sleep; the pointer and state ioctls, mmap and poll do not.
 */
export * from './core/pcm-interval.ts';
export * from './core/pcm-hw-params.ts';
export * from './core/pcm.ts';
