/**
 * The music an audio-playback process plays: interleaved S16_LE frames of a
 * sine per channel at seeded frequencies (a chord), deterministic in the
 * seed, so the runner can compute what the DAC should have played.
 */
export function audioSignal(first: number, frames: number, channels: number, rate: number, seed: number): Uint8Array {
  const out = new Int16Array(frames * channels);
  for (let c = 0; c < channels; c++) {
    const f = 220 * (1 + ((seed * (c + 3)) % 7) / 4);
    const w = (2 * Math.PI * f) / rate;
    for (let i = 0; i < frames; i++) out[i * channels + c] = Math.round(Math.sin(w * (first + i)) * 16000);
  }
  return new Uint8Array(out.buffer);
}
