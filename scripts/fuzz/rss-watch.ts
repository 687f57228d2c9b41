/**
 * Watching the server's resident set during a fuzz run: a baseline taken
 * once the process has reached its working size, a bound above it, and the
 * peak sampled every 100 ms (a spike between two checkpoints counts too).
 */
import { memoryMB } from '../lib/server-process.ts';

const SAMPLE_MS = 100;

export class RssWatch {
  baselineMB: number | null = null;
  boundMB: number | null = null;
  /** Highest RSS seen since the baseline. */
  peakMB: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private reported = false;

  constructor(
    private readonly pid: number,
    private readonly growthMB: number,
  ) {}

  get started(): boolean {
    return this.baselineMB !== null;
  }

  /** Take the baseline now and start sampling. */
  async start(): Promise<void> {
    const now = (await memoryMB(this.pid))?.rssMB ?? null;
    if (now === null) return;
    this.baselineMB = this.peakMB = now;
    this.boundMB = now + this.growthMB;
    this.timer = setInterval(() => void this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    const now = (await memoryMB(this.pid))?.rssMB ?? null;
    if (now !== null && this.peakMB !== null && now > this.peakMB) this.peakMB = now;
  }

  /**
   * Why the peak is over the bound, or null. Said once: past the bound, every
   * later checkpoint would repeat it.
   */
  async check(): Promise<string | null> {
    if (!this.started) return null;
    await this.sample();
    if (this.reported || this.peakMB! <= this.boundMB!) return null;
    this.reported = true;
    return `RSS reached ${this.peakMB!.toFixed(0)} MB, over the bound ${this.boundMB!.toFixed(0)} MB (baseline ${this.baselineMB!.toFixed(0)} MB after the warm-up)`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
