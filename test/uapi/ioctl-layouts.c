/*
 * Prints sizeof and offsetof of the uapi structs whose layouts
 * src/uapi/ioctl-args-*.ts describe, from the machine's real headers (Debian,
 * x86_64, linux-libc-dev and libdrm-dev installed). Build and run:
 *   gcc -I/usr/include/libdrm -o /tmp/ioctl-layouts test/uapi/ioctl-layouts.c && /tmp/ioctl-layouts > test/uapi/ioctl-layouts.txt
 * test/uapi/ioctl-layouts.test.ts checks every line against the layouts.
 * sw_sync and vgem keep their structs out of the uapi headers: they are
 * written out here as drivers/dma-buf/sw_sync.c and vgem_drm.h declare them.
 */
#include <stdio.h>
#include <stddef.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/sync_file.h>
#include <linux/udmabuf.h>
#include <linux/videodev2.h>
#include <drm.h>
#include <drm_mode.h>

struct sw_sync_create_fence_data { __u32 value; char name[32]; __s32 fence; };
struct drm_vgem_fence_attach { __u32 handle; __u32 flags; __u32 out_fence; __u32 pad; };
struct drm_vgem_fence_signal { __u32 fence; __u32 flags; };

#define S(t) printf("%s %zu\n", #t, sizeof(struct t))
#define R(x) printf("request %s 0x%08lx\n", #x, (unsigned long)(x))
#define F(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f))

int main(void) {
  S(dma_buf_sync); S(dma_buf_export_sync_file); F(dma_buf_export_sync_file, fd); S(dma_buf_import_sync_file);
  S(dma_heap_allocation_data); F(dma_heap_allocation_data, fd); F(dma_heap_allocation_data, fd_flags); F(dma_heap_allocation_data, heap_flags);
  S(sync_merge_data); F(sync_merge_data, fd2); F(sync_merge_data, fence); F(sync_merge_data, flags);
  S(sync_fence_info); F(sync_fence_info, driver_name); F(sync_fence_info, status); F(sync_fence_info, timestamp_ns);
  S(sync_file_info); F(sync_file_info, status); F(sync_file_info, num_fences); F(sync_file_info, sync_fence_info);
  S(sw_sync_create_fence_data); F(sw_sync_create_fence_data, name); F(sw_sync_create_fence_data, fence);
  S(udmabuf_create); F(udmabuf_create, offset); F(udmabuf_create, size);
  S(udmabuf_create_item); F(udmabuf_create_item, offset);
  S(udmabuf_create_list); F(udmabuf_create_list, count); F(udmabuf_create_list, list);
  S(drm_version); F(drm_version, version_patchlevel); F(drm_version, name_len); F(drm_version, name); F(drm_version, date_len);
  F(drm_version, date); F(drm_version, desc_len); F(drm_version, desc);
  S(drm_get_cap); F(drm_get_cap, value); S(drm_set_client_cap); F(drm_set_client_cap, value);
  S(drm_set_version); F(drm_set_version, drm_dd_minor); S(drm_unique); F(drm_unique, unique);
  S(drm_gem_close); S(drm_gem_flink); F(drm_gem_flink, name); S(drm_gem_open); F(drm_gem_open, handle); F(drm_gem_open, size);
  S(drm_prime_handle); F(drm_prime_handle, fd);
  S(drm_mode_create_dumb); F(drm_mode_create_dumb, handle); F(drm_mode_create_dumb, pitch); F(drm_mode_create_dumb, size);
  S(drm_mode_map_dumb); F(drm_mode_map_dumb, offset); S(drm_mode_destroy_dumb);
  S(drm_vgem_fence_attach); F(drm_vgem_fence_attach, out_fence); S(drm_vgem_fence_signal); F(drm_vgem_fence_signal, flags);
  S(v4l2_capability); F(v4l2_capability, card); F(v4l2_capability, bus_info); F(v4l2_capability, version); F(v4l2_capability, device_caps);
  S(v4l2_fmtdesc); F(v4l2_fmtdesc, description); F(v4l2_fmtdesc, pixelformat); F(v4l2_fmtdesc, mbus_code);
  S(v4l2_pix_format); F(v4l2_pix_format, colorspace); F(v4l2_pix_format, ycbcr_enc); F(v4l2_pix_format, xfer_func);
  S(v4l2_plane_pix_format); S(v4l2_pix_format_mplane); F(v4l2_pix_format_mplane, plane_fmt); F(v4l2_pix_format_mplane, num_planes);
  F(v4l2_pix_format_mplane, reserved);
  S(v4l2_format); F(v4l2_format, fmt); F(v4l2_format, fmt.pix.sizeimage); F(v4l2_format, fmt.pix_mp.num_planes);
  S(v4l2_requestbuffers); F(v4l2_requestbuffers, capabilities); F(v4l2_requestbuffers, flags);
  S(v4l2_create_buffers); F(v4l2_create_buffers, format); F(v4l2_create_buffers, capabilities); F(v4l2_create_buffers, reserved);
  S(v4l2_timecode); S(v4l2_buffer); F(v4l2_buffer, timestamp); F(v4l2_buffer, timecode); F(v4l2_buffer, sequence);
  F(v4l2_buffer, memory); F(v4l2_buffer, m); F(v4l2_buffer, length); F(v4l2_buffer, request_fd);
  S(v4l2_plane); F(v4l2_plane, m); F(v4l2_plane, data_offset); F(v4l2_plane, reserved);
  S(v4l2_exportbuffer); F(v4l2_exportbuffer, fd); F(v4l2_exportbuffer, reserved);
  S(v4l2_captureparm); F(v4l2_captureparm, timeperframe); F(v4l2_captureparm, readbuffers);
  S(v4l2_outputparm); S(v4l2_streamparm); F(v4l2_streamparm, parm); F(v4l2_streamparm, parm.capture.timeperframe);
  S(v4l2_input); F(v4l2_input, type); F(v4l2_input, std); F(v4l2_input, status); F(v4l2_input, reserved);
  S(v4l2_control); S(v4l2_rect); S(v4l2_selection); F(v4l2_selection, r); F(v4l2_selection, reserved);
  R(VIDIOC_G_CTRL); R(VIDIOC_S_CTRL); R(VIDIOC_CREATE_BUFS); R(VIDIOC_PREPARE_BUF); R(VIDIOC_G_SELECTION); R(VIDIOC_S_SELECTION);
  R(VIDIOC_ENUM_FMT); R(VIDIOC_G_PARM); R(VIDIOC_S_PARM); R(VIDIOC_TRY_FMT); R(DRM_IOCTL_SET_CLIENT_CAP); R(VIDEO_MAX_PLANES);
  return 0;
}
