/**
 * V4L2 core for drivers: device nodes and the ioctl dispatch
 * (video-device), format descriptions (fmtdesc), a capture driver's frame
 * thread (frame-generator) and the mem-to-mem framework (v4l2-mem2mem).
 */
export * from './fmtdesc.ts';
export * from './video-device.ts';
export * from './frame-generator.ts';
export * from './v4l2-mem2mem.ts';
