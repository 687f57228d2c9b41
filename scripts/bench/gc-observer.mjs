// Preloaded into `imgcls serve` by scripts/bench-gc.ts (an `--import=` Node flag, through startServer's nodeArgs): on SIGTERM, prints the main thread's GC pauses and event-loop delay.
import { PerformanceObserver, monitorEventLoopDelay, constants } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  const kinds = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
  const gc = {};
  new PerformanceObserver((list) => { for (const e of list.getEntries()) { const k = kinds[e.detail?.kind] ?? String(e.detail?.kind); (gc[k] ??= []).push(e.duration); } }).observe({ entryTypes: ['gc'] });
  const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
  process.on('SIGTERM', () => {
    const out = Object.entries(gc).map(([k, v]) => { v.sort((a, b) => b - a); return `${k}: n=${v.length} total=${v.reduce((a, b) => a + b, 0).toFixed(0)}ms worst=${v.slice(0, 4).map((x) => x.toFixed(1)).join(',')}`; });
    process.stderr.write(`GCSTATS ${out.join(' | ')} | loop delay max ${(h.max / 1e6).toFixed(1)}ms p99 ${(h.percentile(99) / 1e6).toFixed(1)}ms\n`);
  });
}
