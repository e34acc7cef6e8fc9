import type { WriteStream } from 'node:tty';

/**
 * A progress bar on a terminal, shown only once a run has lasted a second
 * and never when the stream is not a TTY (piped output, CI, JSON mode).
 */
export function progressBar(stream: NodeJS.WriteStream | WriteStream, unit = 'frames'): { update: (done: number, total: number) => void; done: () => void } | null {
  if (!stream.isTTY) return null;
  const start = Date.now();
  let drawn = false;
  return {
    update(done, total) {
      if (Date.now() - start < 1000) return;
      const width = 30;
      const fill = Math.round((done / total) * width);
      stream.write(`\r  [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${done}/${total} ${unit}`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
