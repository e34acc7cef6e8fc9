/* unimem's C header layer: wasm32 is an ILP32 target, as 32-bit ARM. */
#ifndef UNIMEM_ASM_BITSPERLONG_H
#define UNIMEM_ASM_BITSPERLONG_H
#define __BITS_PER_LONG 32
#include <asm-generic/bitsperlong.h>
#endif
