/**
 * Download progress drawn with the CLI's progress bar (src/cli/progress.ts),
 * counted in kB: one bar per file, a line per 10% when not on a terminal.
 */
import { Progress } from '../cli/progress.ts';
import type { FileProgress } from './download.ts';

export const formatBytes = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;

/** `write` gets what Progress writes: `\r`-redrawn text on a terminal, whole lines otherwise. */
export function barProgress(write: (text: string) => void, tty: boolean, now?: () => number): FileProgress {
  let bar: Progress | null = null;
  let bytes = 0;
  let shown = 0;
  return {
    start(file, total, resumedFrom) {
      // A resumed file's bar counts what is left, so its rate is this attempt's.
      const remaining = total === undefined ? 0 : Math.max(0, total - resumedFrom);
      const label = resumedFrom > 0 ? `${file} (resuming at ${formatBytes(resumedFrom)})` : file;
      bar = new Progress(label, Math.ceil(remaining / 1000), write, { tty, unit: 'kB', now });
      bytes = 0;
      shown = 0;
    },
    advance(n) {
      bytes += n;
      const kb = Math.floor(bytes / 1000);
      if (kb > shown) {
        bar?.tick(kb - shown);
        shown = kb;
      }
    },
    done(ok) {
      const kb = Math.ceil(bytes / 1000);
      if (ok && kb > shown) bar?.tick(kb - shown);
      bar?.done(ok ? `(${formatBytes(bytes)})` : 'interrupted');
      bar = null;
    },
  };
}
