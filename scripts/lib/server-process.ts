/**
 * `imgcls serve` as a child process, the way users run it: the bench's HTTP
 * level, the fuzzer and the hardening tests all start servers through here.
 *
 * startServer() spawns `node bin/imgcls.js serve --port 0 --log-level warn
 * ...args` (bin runs dist/: build first) with `npm start`'s environment, reads the URL from its "listening
 * on" line and, unless told not to, waits for GET /readyz to answer 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The allocator settings `npm start` puts in front of `imgcls serve`
 * (package.json; test/start-env.test.ts keeps the two equal), so that a
 * benchmark measures the server as users start it. Two malloc arenas and a
 * fixed 1 MB mmap threshold hand every freed decode buffer back to the
 * kernel, where glibc's defaults kept 4 MP photos' 12 MB buffers in
 * per-thread arenas. Not glibc's huge-page tunable: 20% more throughput on
 * 4-12 MP photos, but faulting in 2 MB pages stalled now and then for up to
 * 95 ms, which put /healthz over 50 ms and p99 over twice p50. BENCHMARKS.md,
 * "Memory at large photos", has the measurements (`npm run bench:env`).
 * A variable already set in the environment wins.
 */
export const START_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' };
const OUTPUT_KEEP = 256 * 1024;

/** Why a server cannot be spawned from this checkout (bin/imgcls.js runs dist/), or null when it can. */
export function missingBuild(): string | null {
  const entry = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  return existsSync(entry) ? null : `${entry} is missing: bin/imgcls.js runs dist/, so run \`npm run build\` first`;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerHandle {
  url: string;
  pid: number;
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s). */
  stop(): Promise<ExitStatus>;
  /** Send a signal without waiting. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves when the process exits. */
  readonly exited: Promise<ExitStatus>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Everything it wrote (the last 256 KiB of each stream). */
  stderr(): string;
  /** VmRSS and VmHWM (peak RSS since start) in MB; null once it has exited. */
  memory(): Promise<{ rssMB: number; hwmMB: number } | null>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Variables put under `env` (default START_ENV, as `npm start` does; {} for none). */
  startEnv?: Readonly<Record<string, string>>;
  /** Node flags for the server (`--cpu-prof`, `--import=...`), before the script. */
  nodeArgs?: readonly string[];
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Give up waiting for the address and readiness after this long (default 300 s: a built-in converts on first start). */
  readyTimeoutMs?: number;
  /** Wait for GET /readyz 200 (default true). */
  waitReady?: boolean;
}

/** Children still running, killed if this process exits without stopping them. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** GET `url` once, a fresh connection, no keep-alive; resolves with the status and body. */
export function getOnce(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** VmRSS and VmHWM of `pid` in MB, or null once the process is gone (or off Linux, where /proc cannot tell). */
export async function memoryMB(pid: number): Promise<{ rssMB: number; hwmMB: number } | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const rssMB = field('VmRSS');
  const hwmMB = field('VmHWM');
  return Number.isFinite(rssMB) && Number.isFinite(hwmMB) ? { rssMB, hwmMB } : null;
}

export async function startServer(args: string[], options: StartOptions = {}): Promise<ServerHandle> {
  const missing = missingBuild();
  if (missing) throw new Error(missing);
  const readyTimeoutMs = options.readyTimeoutMs ?? 300_000;
  const bin = fileURLToPath(new URL('../../bin/imgcls.js', import.meta.url));
  const argv = [...(options.nodeArgs ?? []), bin, 'serve', '--port', '0', '--log-level', 'warn', ...args];
  const env = { ...(options.startEnv ?? START_ENV), ...(options.env ?? process.env) };
  const child = spawn(process.execPath, argv, { cwd: options.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  if (child.pid === undefined) {
    liveChildren.delete(child);
    throw new Error(`could not spawn ${process.execPath} ${argv.join(' ')}`);
  }
  const pid = child.pid;

  let err = '';
  let out = '';
  const keep = (s: string) => (s.length > OUTPUT_KEEP ? s.slice(s.length - OUTPUT_KEEP) : s);
  child.stderr!.setEncoding('utf8');
  child.stdout!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (err = keep(err + s)));
  // Drained so a chatty logger cannot fill the pipe and block the server.
  child.stdout!.on('data', (s: string) => (out = keep(out + s)));
  const stderr = () => (out ? `${err}\n[stdout]\n${out}` : err);

  const exited = new Promise<ExitStatus>((resolve) =>
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    }),
  );

  const stop = async (): Promise<ExitStatus> => {
    if (!hasExited(child)) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };

  const fail = async (message: string): Promise<never> => {
    await stop();
    throw new Error(`${message}\n--- server output ---\n${stderr()}`);
  };

  const deadline = Date.now() + readyTimeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    const m = /imgcls: listening on (https?:\/\/\S+)/.exec(err);
    if (m) url = m[1]!.replace(/\/+$/, '');
    else if (hasExited(child)) return fail(`imgcls serve exited (code ${child.exitCode}, signal ${child.signalCode}) before listening`);
    else if (Date.now() > deadline) return fail(`imgcls serve did not print its address within ${readyTimeoutMs} ms`);
    else await sleep(50);
  }

  while (options.waitReady !== false) {
    if (hasExited(child)) return fail(`imgcls serve exited (code ${child.exitCode}, signal ${child.signalCode}) before /readyz said 200`);
    const left = deadline - Date.now();
    if (left <= 0) return fail(`GET ${url}/readyz did not answer 200 within ${readyTimeoutMs} ms`);
    try {
      const r = await getOnce(`${url}/readyz`, Math.min(left, 5_000));
      if (r.status === 200) break;
    } catch {
      // not answering yet: retry until the deadline
    }
    await sleep(200);
  }

  const memory = () => memoryMB(pid);
  return { url, pid, stop, signal: (s) => child.kill(s), exited, alive: () => !hasExited(child), stderr, memory };
}
