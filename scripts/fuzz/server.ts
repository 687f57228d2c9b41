/**
 * The server under fuzz, when the fuzzer starts its own: `imgcls serve
 * --workers 1 ...` through the shared starter (scripts/lib/server-process.ts),
 * which runs dist/ (so `npm run build` first).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { memoryKb, REPO_ROOT, startServer as start, type ServerHandle } from '../lib/server-process.ts';

export type SpawnedServer = ServerHandle;

/** Why the server cannot be spawned from this checkout, or null when it can. */
export function missingBuild(): string | null {
  const entry = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');
  return existsSync(entry) ? null : `${path.relative(process.cwd(), entry) || entry} is missing: bin/imgcls.js runs dist/, so run \`npm run build\` first`;
}

export async function startServer(extraArgs: readonly string[], readyTimeoutMs = 120_000): Promise<SpawnedServer> {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  return start(['--workers', '1', ...extraArgs], { readyTimeoutMs });
}

/** A process's resident set (VmRSS), or its peak (VmHWM), in MB; null when /proc cannot tell (not Linux, or gone). */
export async function rssMB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number | null> {
  const kb = await memoryKb(pid);
  if (!kb) return null;
  const value = field === 'VmRSS' ? kb.rss : kb.hwm;
  return Number.isFinite(value) ? value / 1024 : null;
}
