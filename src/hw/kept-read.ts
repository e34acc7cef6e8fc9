/**
 * What a device last read into one of its own buffers (DmaMaster.readNowKept):
 * the bus range, the physical runs the translation gave for it, and memory's
 * write stamp when the bytes arrived. A device whose buffer nothing else
 * writes (a blend unit's second line buffer, which holds a compositor's
 * unchanging layer frame after frame) reads the same range again with the
 * same translation and no write in between: the buffer holds those bytes
 * already, so only the translation and the port's time are redone. A host
 * speed measure with no kernel counterpart, like a hardware prefetch buffer
 * that is never wrong.
 */
export class KeptRead {
  /** The buffer read into (the same view object next time, or nothing is kept). */
  dst: Uint8Array | null = null;
  dstOff = 0;
  addr = -1;
  len = 0;
  /** Memory's write stamp when the read completed. */
  stamp = -1;
  /** Physical address and length of each run, in order, two numbers a run. */
  runs = new Float64Array(16);
  count = 0;

  /** Forgets the read: its buffer was written, or the read did not complete. */
  forget(): void {
    this.dst = null;
    this.count = 0;
  }
}
