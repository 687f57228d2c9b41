/**
 * The server under fuzz, when the fuzzer starts its own: `imgcls serve
 * --workers 1 ...` through the shared starter (scripts/lib/server-process.ts),
 * which runs dist/ (so `npm run build` first). A later `--workers N` wins.
 */
import { memoryKb, startServer as start, type ServerHandle } from '../lib/server-process.ts';

export { missingBuild } from '../lib/server-process.ts';

export function startServer(extraArgs: readonly string[]): Promise<ServerHandle> {
  return start(['--workers', '1', ...extraArgs], { readyTimeoutMs: 120_000 });
}

/** A process's resident set (VmRSS), or its peak (VmHWM), in MB; null when /proc cannot tell (not Linux, or gone). */
export async function rssMB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number | null> {
  const kb = await memoryKb(pid);
  if (!kb) return null;
  const value = field === 'VmRSS' ? kb.rss : kb.hwm;
  return Number.isFinite(value) ? value / 1024 : null;
}
