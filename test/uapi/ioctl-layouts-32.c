/*
 * Prints sizeof and offsetof of the V4L2 structs a 32-bit program passes,
 * as it sees them through the uapi headers: it is built for wasm32 (a
 * 32-bit process with a 64-bit time_t, like armhf with time64) and run by
 * unimem:
 *   npx unimem exec test/uapi/ioctl-layouts-32.c > test/uapi/ioctl-layouts-32.txt
 * test/uapi/ioctl-layouts-compat.test.ts checks every line against the
 * compat layouts of src/uapi/ioctl-args-compat-v4l2.ts.
 */
#include <stdio.h>
#include <stddef.h>
#include <linux/videodev2.h>

#define S(t, l) printf("%s %s %zu\n", #t, l, sizeof(struct t))
#define F(t, l, f) printf("%s.%s %s %zu\n", #t, #f, l, offsetof(struct t, f))
#define R(x) printf("request %s32 0x%08lx\n", #x, (unsigned long)(x))

int main(void) {
  S(v4l2_format, "v4l2_format32"); F(v4l2_format, "v4l2_format32", fmt); F(v4l2_format, "v4l2_format32", fmt.pix.sizeimage);
  S(v4l2_create_buffers, "v4l2_create_buffers32"); F(v4l2_create_buffers, "v4l2_create_buffers32", format);
  F(v4l2_create_buffers, "v4l2_create_buffers32", capabilities); F(v4l2_create_buffers, "v4l2_create_buffers32", flags);
  F(v4l2_create_buffers, "v4l2_create_buffers32", reserved);
  S(v4l2_buffer, "v4l2_buffer32"); F(v4l2_buffer, "v4l2_buffer32", timestamp); F(v4l2_buffer, "v4l2_buffer32", timestamp.tv_usec);
  F(v4l2_buffer, "v4l2_buffer32", timecode); F(v4l2_buffer, "v4l2_buffer32", sequence); F(v4l2_buffer, "v4l2_buffer32", memory);
  F(v4l2_buffer, "v4l2_buffer32", m); F(v4l2_buffer, "v4l2_buffer32", length); F(v4l2_buffer, "v4l2_buffer32", reserved2);
  F(v4l2_buffer, "v4l2_buffer32", request_fd);
  S(v4l2_plane, "v4l2_plane32"); F(v4l2_plane, "v4l2_plane32", m); F(v4l2_plane, "v4l2_plane32", data_offset); F(v4l2_plane, "v4l2_plane32", reserved);
  R(VIDIOC_G_FMT); R(VIDIOC_S_FMT); R(VIDIOC_TRY_FMT); R(VIDIOC_CREATE_BUFS);
  R(VIDIOC_QUERYBUF); R(VIDIOC_QBUF); R(VIDIOC_DQBUF); R(VIDIOC_PREPARE_BUF);
  return 0;
}
