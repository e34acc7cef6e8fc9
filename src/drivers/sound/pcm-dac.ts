/** FNV-1a offset basis: the hash of nothing played yet. */
export const PCM_HASH_INIT = 0x811c9dc5;

/**
 * Folds `bytes` into a running 32-bit FNV-1a hash: what the simulated DAC
 * keeps of every byte it converted, so a test can compare a whole stream
 * with the samples it meant to play without storing them.
 */
export function pcmHash(hash: number, bytes: Uint8Array, off = 0, len = bytes.length - off): number {
  let h = hash >>> 0;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

/** What the DAC has converted so far: frames and the running hash of their bytes. */
export interface PcmPlayed {
  frames: number;
  hash: number;
}
