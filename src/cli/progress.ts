/**
 * Progress for long CLI steps (feature extraction over tens of thousands of
 * images, training epochs). On a terminal one line is redrawn in place; in CI
 * logs and pipes, where `\r` would pile up as garbage, plain lines come at a
 * modest cadence instead. The clock is injected so tests need no real time.
 */
import type { FileProgress } from '../hub/download.ts';
import { formatBytes } from '../hub/progress.ts';
import type { CliIO } from './io.ts';

export interface ProgressOptions {
  /** Redraw one line in place (a terminal) or append plain lines (logs, pipes). */
  tty: boolean;
  /** Milliseconds; Date.now by default. */
  now?: () => number;
  /** What is counted, for the rate: "img" by default ("img/s"). */
  unit?: string;
}

/** Redraws on a terminal: ~10 a second is smooth and costs nothing at 1000 img/s. */
const TTY_INTERVAL_MS = 100;
/** Plain lines: at every 10% or every 10 s, whichever comes first. */
const PLAIN_INTERVAL_MS = 10_000;
const PLAIN_STEPS = 10;
const BAR_WIDTH = 16;

/** Seconds as m:ss, or h:mm:ss from an hour; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Enough digits to read, few enough not to jitter: 312, 4.5, 0.052. */
function formatRate(rate: number): string {
  if (!(rate > 0) || !Number.isFinite(rate)) return '--';
  return rate >= 10 ? rate.toFixed(0) : rate >= 1 ? rate.toFixed(1) : rate.toPrecision(2);
}

export class Progress {
  private readonly now: () => number;
  private readonly unit: string;
  private readonly tty: boolean;
  private readonly start: number;
  private count = 0;
  private lastDraw = -Infinity;
  private lastStep = 0;
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly write: (text: string) => void,
    options: ProgressOptions,
  ) {
    this.tty = options.tty;
    this.now = options.now ?? Date.now;
    this.unit = options.unit ?? 'img';
    this.start = this.now();
    // The plain cadence's 10 s runs from the start, not from a first line.
    if (!this.tty) this.lastDraw = this.start;
  }

  /** Count `n` more done; `extra` (e.g. "loss 0.31") goes at the end of the line. */
  tick(n = 1, extra?: string): void {
    if (this.finished) return;
    this.count += n;
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < TTY_INTERVAL_MS) return;
      this.lastDraw = t;
      this.write(`\r${this.line(t, extra)}\x1b[K`);
      return;
    }
    const step = this.step();
    if (step <= this.lastStep && t - this.lastDraw < PLAIN_INTERVAL_MS) return;
    this.lastStep = Math.max(step, this.lastStep);
    this.lastDraw = t;
    this.write(`${this.line(t, extra)}\n`);
  }

  /** The final line with the elapsed time, ending the line. Later calls do nothing. */
  done(extra?: string): void {
    if (this.finished) return;
    this.finished = true;
    const t = this.now();
    const text = `${this.head(t)} in ${formatDuration((t - this.start) / 1000)}${extra ? ` ${extra}` : ''}`;
    this.write(this.tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  }

  /** Fraction done; a total of 0 is nothing to do, so it is complete. */
  private fraction(): number {
    return this.total > 0 ? Math.min(1, this.count / this.total) : 1;
  }

  /** Which 10% step the count has reached (0–10). */
  private step(): number {
    return Math.floor(this.fraction() * PLAIN_STEPS);
  }

  /** Label, bar (terminal only), percentage, count and average rate. */
  private head(t: number): string {
    const fraction = this.fraction();
    const percent = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
    const seconds = (t - this.start) / 1000;
    const rate = `${formatRate(seconds > 0 ? this.count / seconds : NaN)} ${this.unit}/s`;
    const filled = Math.floor(fraction * BAR_WIDTH);
    const bar = this.tty ? ` [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]` : '';
    return `${this.label}${bar} ${percent} ${this.count}/${this.total} ${rate}`;
  }

  /** A running line: the head, then the ETA from the average rate since the start. */
  private line(t: number, extra?: string): string {
    const remaining = Math.max(0, this.total - this.count);
    const seconds = (t - this.start) / 1000;
    const rate = seconds > 0 ? this.count / seconds : 0;
    const eta = remaining === 0 ? 0 : rate > 0 ? remaining / rate : NaN;
    return `${this.head(t)} ETA ${formatDuration(eta)}${extra ? ` ${extra}` : ''}`;
  }
}

/**
 * Where a command's progress goes: straight to stderr on a terminal (the
 * `\r` redraws need it), else whole lines through the command's IO.
 */
export function progressWriter(io: CliIO, tty: boolean): (text: string) => void {
  return tty ? (t) => process.stderr.write(t) : (t) => io.err(t.replace(/\n$/, ''));
}

/** Download progress counted in kB: one bar per file on a terminal, else a line per 10% through the command's IO. */
export function barProgress(io: CliIO, tty: boolean): FileProgress {
  const write = progressWriter(io, tty);
  let bar: Progress | null = null;
  let bytes = 0;
  let shown = 0;
  return {
    start(file, total, resumedFrom) {
      // A resumed file's bar counts what is left, so its rate is this attempt's.
      const remaining = total === undefined ? 0 : Math.max(0, total - resumedFrom);
      const label = resumedFrom > 0 ? `${file} (resuming at ${formatBytes(resumedFrom)})` : file;
      bar = new Progress(label, Math.ceil(remaining / 1000), write, { tty, unit: 'kB' });
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
