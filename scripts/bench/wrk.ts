/**
 * wrk (Debian's `wrk`, a load generator in C) posting one multipart body,
 * the HTTP level's load generator when it is installed. On this machine the
 * load generator shares the server's two vCPUs: autocannon (Node) spent
 * 0.4-0.6 ms of CPU per request there, wrk 0.10-0.18 ms, against the 10-11
 * ms the server spends on a 224x224 PNG (BENCHMARKS.md, "The load
 * generator").
 *
 * A Lua script sets the body and counts responses by status; its done()
 * hook prints one JSON line with wrk's own latency percentiles (µs) and
 * error counts, which this module parses. wrk's latencies cover every
 * response, not only the 2xx ones (in a clean run they are all 2xx).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface WrkResult {
  /** How long wrk ran, s. */
  seconds: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** Socket errors (connect, read, write) and timeouts. */
  errors: number;
  timeouts: number;
  /** When wrk was started, in seconds since the epoch (the clock Lua's os.time() reads). */
  startedAtS: number;
  /** 2xx responses by the wall-clock second (os.time()) they completed in. */
  okBySecond: Map<number, number>;
}

const MARK = 'IMGCLS_WRK ';

/** Whether `wrk` runs here (it prints its version and exits 1 when asked for it). */
export function wrkInstalled(): boolean {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && /^wrk /m.test(`${r.stdout}${r.stderr}`);
}

const script = (bodyFile: string, contentType: string) => `
local f = assert(io.open(${JSON.stringify(bodyFile)}, "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = ${JSON.stringify(contentType)}

counts = {}
ok_by_second = {}
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status >= 200 and status < 300 then
    local t = os.time()
    ok_by_second[t] = (ok_by_second[t] or 0) + 1
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local parts = {}
  local seconds = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do
      parts[#parts + 1] = string.format('"%d":%d', status, n)
    end
    for second, n in pairs(t:get("ok_by_second")) do
      seconds[#seconds + 1] = string.format('[%d,%d]', second, n)
    end
  end
  local e = summary.errors
  io.write(string.format('${MARK}{"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%f,"max_us":%d,"errors":%d,"timeouts":%d,"statuses":{%s},"ok_by_second":[%s]}\\n',
    summary.duration, latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect + e.read + e.write, e.timeout, table.concat(parts, ","), table.concat(seconds, ",")))
end
`;

/** Run wrk against `target` for whole `seconds` with `concurrency` connections on one thread. */
export async function wrkRun(target: string, body: Buffer, contentType: string, options: { concurrency: number; seconds: number }): Promise<WrkResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'imgcls-wrk-'));
  try {
    const bodyFile = path.join(dir, 'body');
    const scriptFile = path.join(dir, 'post.lua');
    await writeFile(bodyFile, body);
    await writeFile(scriptFile, script(bodyFile, contentType));
    const args = ['-t1', `-c${options.concurrency}`, `-d${Math.max(1, Math.round(options.seconds))}s`, '--timeout', '60s', '-s', scriptFile, target];
    const startedAtS = Date.now() / 1000;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (out += c.toString('utf8')));
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'ENOENT' ? new Error('wrk is not installed: apt-get install -y wrk, or pass --generator autocannon') : err),
      );
      child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}:\n${out}`))));
    });
    const line = output.split('\n').find((l) => l.startsWith(MARK));
    if (!line) throw new Error(`wrk printed no summary:\n${output}`);
    const r = JSON.parse(line.slice(MARK.length)) as {
      duration_us: number; p50_us: number; p99_us: number; mean_us: number; max_us: number; errors: number; timeouts: number; statuses: Record<string, number>; ok_by_second: [number, number][];
    };
    return {
      seconds: r.duration_us / 1e6,
      statuses: r.statuses,
      p50Ms: r.p50_us / 1000,
      p99Ms: r.p99_us / 1000,
      meanMs: r.mean_us / 1000,
      maxMs: r.max_us / 1000,
      errors: r.errors,
      timeouts: r.timeouts,
      startedAtS,
      okBySecond: new Map(r.ok_by_second),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
