/**
 * The server under fuzz, when the fuzzer starts its own: `imgcls serve
 * --workers 1 ...` through the shared starter (scripts/lib/server-process.ts),
 * which runs dist/ (so `npm run build` first). A later `--workers N` wins.
 */
import { startServer as start, type ServerHandle } from '../lib/server-process.ts';

export function startServer(extraArgs: readonly string[]): Promise<ServerHandle> {
  return start(['--workers', '1', ...extraArgs], { readyTimeoutMs: 120_000 });
}
