/** The CPU stage's drawing, from its definition: the first `rows` lines of `frame` (of `stride` bytes) set to `value`. */
export function cpuOverlayReference(frame: Uint8Array, rows: number, stride: number, value: number): void {
  for (let y = 0; y < rows; y++) {
    const start = y * stride;
    for (let x = 0; x < stride; x++) frame[start + x] = value;
  }
}
