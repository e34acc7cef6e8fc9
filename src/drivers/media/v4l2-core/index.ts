/**
 * V4L2 core for drivers: device nodes and the ioctl dispatch
 * (video-device), format descriptions (fmtdesc), a capture driver's frame
 * thread (frame-generator) and the mem-to-mem framework (v4l2-mem2mem).
 */
export { FrameGenerator, completeFrame, framePixFormat, yuyvPixFormat } from './frame-generator.ts';
export { VideoDevice, videoRegisterDevice, type VideoDeviceOptions } from './video-device.ts';
