/* unimem's C header layer: wasm32 is little-endian. */
#include <linux/byteorder/little_endian.h>
