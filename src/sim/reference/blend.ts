/**
 * The blend unit's average, from its definition: every byte of `out` is
 * floor((a + b) / 2) of the same byte of `a` and `b` (the GPU's
 * GPU_COMPOSE_OP_AVERAGE over XRGB8888 or any byte format).
 */
export function averageReference(a: Uint8Array, b: Uint8Array, out: Uint8Array): void {
  const len = out.length;
  for (let i = 0; i < len; i++) out[i] = (a[i]! + b[i]!) >> 1;
}
