/**
 * A closed-loop load driver for in-process engines: `concurrency` loops each
 * call `work()` back to back until the time is up, after a warm-up that is
 * not counted. The same driver times imgcls, transformers.js and nsfwjs, so
 * their numbers differ only by the engine.
 */
export interface DriveResult {
  images: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Nearest-rank percentile of ascending `sorted`; 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export async function drive(work: () => Promise<void>, options: { concurrency: number; seconds: number; warmupSeconds?: number; minCalls?: number }): Promise<DriveResult> {
  const warmEnd = performance.now() + (options.warmupSeconds ?? 1) * 1000;
  const loop = async (until: number, record: number[] | null, minCalls: number) => {
    for (let n = 0; performance.now() < until || n < minCalls; n++) {
      const began = performance.now();
      await work();
      record?.push(performance.now() - began);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => loop(warmEnd, null, 1)));
  const latencies: number[] = [];
  const began = performance.now();
  const end = began + options.seconds * 1000;
  // A slow engine still gets a few calls per loop, so its rate is not one call's noise.
  await Promise.all(Array.from({ length: options.concurrency }, () => loop(end, latencies, options.minCalls ?? 2)));
  const seconds = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return { images: latencies.length, seconds, perSecond: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
