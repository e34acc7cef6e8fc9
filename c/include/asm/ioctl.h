/* unimem's C header layer: the generic (asm-generic) definition, as most architectures use. */
#include <asm-generic/ioctl.h>
