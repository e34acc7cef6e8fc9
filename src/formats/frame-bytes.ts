/**
 * A frame's bytes as a device holds them: one array, or pieces lent in
 * order with no copy (a display's scanout, read where memory holds it),
 * valid only during the call that gets them.
 */
export interface LentFrame {
  readonly length: number;
  /** Calls `fn` with each piece and its offset in the frame, in order, until it returns false; whether every piece was visited. */
  forEachPiece(fn: (piece: Uint8Array, at: number) => boolean): boolean;
  /** The frame as one array (copied out of the pieces). */
  bytes(): Uint8Array;
}

/** A frame's bytes, whole or lent in pieces. */
export type FrameBytes = Uint8Array | LentFrame;

/** Calls `fn` with each piece of `frame` in order (an array is one piece) until it returns false; whether every piece was visited. */
export function forEachFramePiece(frame: FrameBytes, fn: (piece: Uint8Array, at: number) => boolean): boolean {
  return frame instanceof Uint8Array ? fn(frame, 0) : frame.forEachPiece(fn);
}

/** `frame` as one array: itself, or its pieces copied out. */
export function frameBytesOf(frame: FrameBytes): Uint8Array {
  return frame instanceof Uint8Array ? frame : frame.bytes();
}

/** Whether `frame` holds exactly the bytes of `want`, compared piece by piece. */
export function frameEquals(frame: FrameBytes, want: Uint8Array): boolean {
  if (frame.length !== want.length) return false;
  const w = Buffer.from(want.buffer, want.byteOffset, want.length);
  return forEachFramePiece(frame, (piece, at) => w.compare(piece, 0, piece.length, at, at + piece.length) === 0);
}
