/**
 * The server under fuzz, when the fuzzer starts its own: `node bin/imgcls.js
 * serve --port 0 --log-level warn --workers 1 ...`, which runs dist/ (so
 * `npm run build` first). Its address comes from the "listening on" line;
 * it is ready when /readyz says 200. Its RSS is read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { probe } from './send.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');
/** Enough of the server's stderr to show what it logged around a failure. */
const KEEP_STDERR = 64 * 1024;

export interface SpawnedServer {
  url: string;
  pid: number;
  alive(): boolean;
  /** The last KEEP_STDERR characters of its stderr. */
  stderr(): string;
  /** SIGTERM, then wait; SIGKILL after `graceMs`. The exit code, or the signal that ended it. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Why the server cannot be spawned from this checkout, or null when it can. */
export function missingBuild(): string | null {
  const entry = path.join(ROOT, 'dist', 'cli', 'main.js');
  return existsSync(entry) ? null : `${path.relative(process.cwd(), entry) || entry} is missing: bin/imgcls.js runs dist/, so run \`npm run build\` first`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startServer(extraArgs: readonly string[], readyTimeoutMs = 120_000): Promise<SpawnedServer> {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  const args = [path.join(ROOT, 'bin', 'imgcls.js'), 'serve', '--port', '0', '--log-level', 'warn', '--workers', '1', ...extraArgs];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err += s;
    if (err.length > KEEP_STDERR) err = err.slice(-KEEP_STDERR);
  });
  // Drained so a full pipe can never block the server.
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async (graceMs = 20_000) => {
    if (alive()) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  const fail = async (why: string): Promise<never> => {
    await stop(2000);
    throw new Error(`${why}\n--- server stderr ---\n${err}`);
  };

  const deadline = Date.now() + readyTimeoutMs;
  let url: string | undefined;
  while (!url) {
    url = /listening on (http:\/\/\S+)/.exec(err)?.[1];
    if (url) break;
    if (!alive()) return fail(`imgcls serve exited (${child.exitCode ?? child.signalCode}) before listening`);
    if (Date.now() > deadline) return fail(`imgcls serve did not listen within ${readyTimeoutMs} ms`);
    await sleep(50);
  }
  for (;;) {
    const r = await probe(url, '/readyz', 5000);
    if ('status' in r && r.status === 200) break;
    if (!alive()) return fail(`imgcls serve exited (${child.exitCode ?? child.signalCode}) before /readyz said 200`);
    if (Date.now() > deadline) return fail(`/readyz did not say 200 within ${readyTimeoutMs} ms`);
    await sleep(100);
  }
  return { url, pid: child.pid!, alive, stderr: () => err, stop };
}

/** A process's resident set (VmRSS), or its peak (VmHWM), in MB; null when /proc cannot tell (not Linux, or gone). */
export async function rssMB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}
