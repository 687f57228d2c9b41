/**
 * Benchmark, HTTP end-to-end level: a real `imgcls serve` child process,
 * loaded over the network, `POST /predict` with one image as
 * multipart/form-data.
 *
 * - startServer() (scripts/lib/server-process.ts, plus IMGCLS_BENCH_NODE_FLAGS) spawns
 *   `node bin/imgcls.js serve` (it runs dist/: build first) and waits for
 *   GET /readyz to answer 200.
 * - httpLoad() loads it with one of two generators:
 *   - autocannon (the default here): one instance for warmup + seconds,
 *     counting only what completes inside the measured window. Latency
 *     percentiles are computed here from autocannon's per-response
 *     'response' events (process.hrtime, fractional ms): autocannon 9 records
 *     its own histogram with hdr-histogram-js at lowestDiscernibleValue 1,
 *     i.e. integer ms, which is too coarse for a ~10 ms request. Only 2xx
 *     responses enter the latencies and rps.
 *   - wrk (wrk.ts; what `npm run bench` uses when it is installed): a run
 *     for the warm-up, then one for the window; the percentiles are wrk's
 *     own (µs), over every response.
 *   Either way every response is counted by status in `statuses`. While the
 *   window runs, a worker thread of this process probes GET /healthz every
 *   100 ms (health-prober.mjs: a new connection each time, fired on schedule
 *   whether or not the previous probe has answered, so a stalled server
 *   shows as several slow probes rather than one), and this thread samples
 *   the server's VmRSS from /proc/<pid>/status every 100 ms.
 *
 * The probe has a thread of its own because autocannon keeps this one busy:
 * with 12 MP uploads its event loop ran up to 40-45 ms late, as late as the
 * slowest probes measured from it. `clientLoopDelayMaxMs` still reports how
 * late this loop ran.
 *
 * By hand: npx tsx scripts/bench/http.ts [image] (default: skimage's
 * chelsea.png), concurrency 1, 8 and 32 for 5 s each against the default
 * model.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import { sleep, startServer as startServerProcess, type ServerHandle, type StartOptions } from '../lib/server-process.ts';
import { percentile } from './drive.ts';
import { wrkInstalled, wrkRun, type WrkResult } from './wrk.ts';

export type { ServerHandle };

/**
 * A benchmark's server: startServer (scripts/lib/server-process.ts) with the
 * Node flags in IMGCLS_BENCH_NODE_FLAGS put first, for flags NODE_OPTIONS
 * refuses (`--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export function startServer(args: string[], options: StartOptions = {}): Promise<ServerHandle> {
  const fromEnv = (process.env.IMGCLS_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return startServerProcess(args, { ...options, nodeArgs: [...fromEnv, ...(options.nodeArgs ?? [])] });
}

/** A server for the length of `work`, stopped whatever happens. */
export async function withServer<T>(args: string[], options: StartOptions, work: (server: ServerHandle) => Promise<T>): Promise<T> {
  const server = await startServer(args, options);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

const BOUNDARY = '----imgclsBenchBoundary7MA4YWxkTrZu0gW';
const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 10_000;
/** For the one checked POST before the load. */
const CHECK_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------
// Load

export interface LoadResult {
  concurrency: number;
  /** Length of the measured window (the warm-up is not counted). */
  seconds: number;
  /** 2xx responses completed in the window. */
  requests: number;
  /** 2xx responses per second. */
  rps: number;
  /** Latency of the 2xx responses (request written to response complete), ms, nearest-rank percentiles. */
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** Every response completed in the window, by status code. */
  statuses: Record<string, number>;
  /** Connection errors in the window, timeouts included (as autocannon counts them). */
  errors: number;
  timeouts: number;
  /** GET /healthz from a worker thread of this process every 100 ms during the window, to the full response. */
  healthMaxMs: number;
  healthP99Ms: number;
  healthProbes: number;
  /** Probes that failed (connection error or no answer within 10 s) or did not answer 200; not in the latencies. */
  healthFailures: number;
  /** Max VmRSS of the server process, sampled every 100 ms during the window. */
  peakRssMB: number;
  /** The server's VmHWM (peak RSS since it started, model loading included) at the end of the window. */
  serverHwmMB: number;
  /** How late this (client) process's event loop ran at worst during the window. */
  clientLoopDelayMaxMs: number;
}

export interface ImageUpload {
  bytes: Uint8Array;
  filename: string;
  contentType: string;
}

/** A multipart/form-data body with the image as field `file`, and its content-type. */
export function multipartBody(image: ImageUpload): { body: Buffer; contentType: string } {
  const bytes = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength);
  if (bytes.includes(BOUNDARY)) throw new Error(`the multipart boundary occurs in ${image.filename}; cannot build the body`);
  const filename = image.filename.replace(/["\r\n\\]/g, '_');
  const head = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${image.contentType}\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head, 'utf8'), bytes, Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'utf8')]);
  return { body, contentType: `multipart/form-data; boundary=${BOUNDARY}` };
}

/** One POST with the exact body the load sends; throws unless it is 200 JSON with a non-empty `predictions`. */
async function checkPredict(server: ServerHandle, target: string, body: Buffer, contentType: string): Promise<void> {
  const fail = (message: string): never => {
    throw new Error(`${message}\n--- server output ---\n${server.stderr()}`);
  };
  let status: number;
  let type: string;
  let text: string;
  try {
    const res = await fetch(target, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    status = res.status;
    type = res.headers.get('content-type') ?? '';
    text = await res.text();
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return fail(`POST ${target} failed before the load: ${err instanceof Error ? err.message : String(err)}${cause}`);
  }
  if (status !== 200 || !type.includes('application/json')) fail(`POST ${target} answered ${status} (${type}), expected 200 JSON: ${text.slice(0, 500)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(`POST ${target} answered 200 but not JSON: ${text.slice(0, 500)}`);
  }
  const predictions = (json as { predictions?: unknown }).predictions;
  if (!Array.isArray(predictions) || predictions.length === 0) fail(`POST ${target} answered 200 without predictions: ${text.slice(0, 500)}`);
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Which program loads the server: autocannon (Node, in this process) or wrk (C, a child process; scripts/bench/wrk.ts). */
export type Generator = 'autocannon' | 'wrk';

/**
 * The generator a `--generator` option asks for; by default wrk where it is
 * installed, since it takes a quarter of autocannon's CPU per request from
 * the vCPUs it shares with the server.
 * @throws Error for another name, or wrk asked for and missing.
 */
export function chooseGenerator(option: unknown): Generator {
  if (option === undefined) return wrkInstalled() ? 'wrk' : 'autocannon';
  if (option !== 'wrk' && option !== 'autocannon') throw new Error(`--generator must be wrk or autocannon; got ${String(option)}`);
  if (option === 'wrk' && !wrkInstalled()) throw new Error('--generator wrk: wrk is not installed (apt-get install -y wrk)');
  return option;
}

/** The values of one metric in the server's /metrics, each with its labels as written (`model="x",outcome="ok"`). */
export async function scrapeMetric(server: ServerHandle, name: string): Promise<{ labels: string; value: number }[]> {
  const text = await (await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  return [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((m) => ({ labels: m[1]!, value: Number(m[2]) }));
}

/** What the benchmark watches while the load runs: /healthz, the server's memory, this process's event loop. */
interface Watched {
  healthMs: number[];
  healthFailures: number;
  peakRssMB: number;
  hwmMB: number;
  clientLoopDelayMaxMs: number;
}

/**
 * Start probing /healthz from a worker thread and sampling the server's RSS,
 * every 100 ms, until the returned stop() is called.
 * @throws Error from stop() when the server went away meanwhile.
 */
function watchServer(server: ServerHandle): { stop: () => Promise<Watched> } {
  let peakRssMB = 0;
  let hwmMB = 0;
  let serverGone = false;
  const sample = async () => {
    const m = await server.memory();
    if (m === null) {
      serverGone = true;
      return;
    }
    if (m.rssMB > peakRssMB) peakRssMB = m.rssMB;
    if (m.hwmMB > hwmMB) hwmMB = m.hwmMB;
  };
  const samples: Promise<void>[] = [];
  const tick = () => samples.push(sample());
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const prober = new Worker(new URL('./health-prober.mjs', import.meta.url), {
    workerData: { url: `${server.url}/healthz`, intervalMs: PROBE_INTERVAL_MS, timeoutMs: PROBE_TIMEOUT_MS },
  });
  const probed = new Promise<{ times: number[]; failures: number }>((resolve, reject) => {
    prober.once('message', resolve);
    prober.once('error', reject);
  });
  // Awaited in stop(); a prober that fails meanwhile must not become an unhandled rejection.
  probed.catch(() => {});
  tick();
  const sampler = setInterval(tick, PROBE_INTERVAL_MS);
  return {
    stop: async () => {
      try {
        clearInterval(sampler);
        prober.postMessage('stop');
        loopDelay.disable();
        await sample();
        await Promise.all(samples);
        const { times, failures } = await probed;
        if (serverGone) throw new Error(`the server (pid ${server.pid}) went away during the load\n--- server output ---\n${server.stderr()}`);
        return { healthMs: times, healthFailures: failures, peakRssMB, hwmMB, clientLoopDelayMaxMs: loopDelay.max / 1e6 };
      } finally {
        // Its interval would otherwise keep this process alive after a failure.
        await prober.terminate();
      }
    },
  };
}

/** A load's own figures, before the watched ones are added: 2xx responses and their latency, every response by status. */
type Load = Pick<LoadResult, 'requests' | 'p50Ms' | 'p99Ms' | 'meanMs' | 'maxMs' | 'statuses' | 'errors' | 'timeouts'>;

/**
 * autocannon for warm-up + seconds, counting only what completes inside the
 * window; the watch runs over the window.
 */
async function autocannonLoad(target: string, body: Buffer, contentType: string, server: ServerHandle, o: { concurrency: number; seconds: number; warmupSeconds: number }): Promise<{ load: Load; watched: Watched }> {
  const latencies: number[] = [];
  const load = { statuses: {} as Record<string, number>, errors: 0, timeouts: 0 };
  const t0 = performance.now();
  const windowStart = t0 + o.warmupSeconds * 1000;
  const windowEnd = windowStart + o.seconds * 1000;
  const inWindow = (t: number) => t >= windowStart && t < windowEnd;

  let instance: autocannon.Instance | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    instance = autocannon(
      {
        url: target,
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
        connections: o.concurrency,
        pipelining: 1,
        // Whole seconds, with room to spare: the window is cut here by completion time and stop() ends the run.
        duration: Math.ceil(o.warmupSeconds + o.seconds) + 2,
        excludeErrorStats: true,
      },
      (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
    );
  });
  instance!.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (!inWindow(performance.now())) return;
    const key = String(statusCode);
    load.statuses[key] = (load.statuses[key] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  instance!.on('reqError', (err: unknown) => {
    if (!inWindow(performance.now())) return;
    load.errors++;
    if (err instanceof Error && err.message === 'request timed out') load.timeouts++;
  });

  await sleep(Math.max(0, windowStart - performance.now()));
  const watch = watchServer(server);
  await sleep(Math.max(0, windowEnd - performance.now()));
  let watched: Watched;
  try {
    watched = await watch.stop();
  } finally {
    instance!.stop();
    await finished;
  }
  const sorted = Float64Array.from(latencies).sort();
  const summary = {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : 0,
    maxMs: sorted.length ? sorted[sorted.length - 1]! : 0,
  };
  return { load: { ...load, ...summary }, watched };
}

/**
 * Wait until the server's queues are empty (`imgcls_queue_depth` in
 * /metrics): a wrk run that ends leaves its requests in flight in the
 * server, and the next run's first requests would wait behind them.
 */
async function waitIdle(server: ServerHandle, timeoutMs = 60_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const depths = (await scrapeMetric(server, 'imgcls_queue_depth')).map((m) => m.value);
    if (depths.length > 0 && depths.every((d) => d === 0)) return;
    if (performance.now() > until) throw new Error(`the server's queues did not empty within ${timeoutMs / 1000} s: ${depths.join(', ')}`);
    await sleep(20);
  }
}

/**
 * wrk for the warm-up, then, once the server has finished what the warm-up
 * left in flight, a second wrk run under the watch. wrk drops the
 * requests in flight when its time is up, which would count about a
 * latency's worth of work as not done (a fifth of an 8 s window at 12 MP and
 * concurrency 32). So the second run lasts 3 s longer than the window, and
 * only the 2xx responses completed in `seconds` whole seconds after its
 * first one are counted. The latency percentiles are wrk's, over the whole
 * second run.
 */
async function wrkLoad(target: string, body: Buffer, contentType: string, server: ServerHandle, o: { concurrency: number; seconds: number; warmupSeconds: number }): Promise<{ load: Load; watched: Watched; seconds: number }> {
  const seconds = Math.max(1, Math.round(o.seconds));
  if (o.warmupSeconds > 0) await wrkRun(target, body, contentType, { concurrency: o.concurrency, seconds: o.warmupSeconds });
  await waitIdle(server);
  const watch = watchServer(server);
  let r: WrkResult;
  try {
    r = await wrkRun(target, body, contentType, { concurrency: o.concurrency, seconds: seconds + 3 });
  } catch (err) {
    await watch.stop().catch(() => {});
    throw err;
  }
  const watched = await watch.stop();
  const first = Math.ceil(r.startedAtS + 1);
  if (r.startedAtS + r.seconds < first + seconds) throw new Error(`wrk ran ${r.seconds.toFixed(1)} s, too short for a window of ${seconds} s`);
  let requests = 0;
  for (let t = first; t < first + seconds; t++) requests += r.okBySecond.get(t) ?? 0;
  const load = { requests, p50Ms: r.p50Ms, p99Ms: r.p99Ms, meanMs: r.meanMs, maxMs: r.maxMs, statuses: r.statuses, errors: r.errors, timeouts: r.timeouts };
  return { load, watched, seconds };
}

/**
 * POST the same image as multipart (field `file`) to `${url}/predict` at
 * `concurrency` for `seconds` (after `warmupSeconds`, default 2, of load not
 * counted), with autocannon (the default) or wrk.
 */
export async function httpLoad(
  server: ServerHandle,
  image: ImageUpload,
  options: { concurrency: number; seconds: number; warmupSeconds?: number; path?: string; generator?: Generator },
): Promise<LoadResult> {
  const { concurrency, seconds } = options;
  const warmupSeconds = options.warmupSeconds ?? 2;
  const path = options.path ?? '/predict';
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer; got ${concurrency}`);
  if (!(seconds > 0) || !(warmupSeconds >= 0)) throw new RangeError(`seconds must be > 0 and warmupSeconds >= 0; got ${seconds}, ${warmupSeconds}`);

  const target = `${server.url}${path}`;
  const { body, contentType } = multipartBody(image);
  await checkPredict(server, target, body, contentType);
  const o = { concurrency, seconds, warmupSeconds };
  const { load, watched, seconds: measured } = options.generator === 'wrk' ? await wrkLoad(target, body, contentType, server, o) : { ...(await autocannonLoad(target, body, contentType, server, o)), seconds };

  const healthSorted = Float64Array.from(watched.healthMs).sort();
  return {
    concurrency,
    seconds: measured,
    requests: load.requests,
    rps: round2(load.requests / measured),
    p50Ms: round2(load.p50Ms),
    p99Ms: round2(load.p99Ms),
    meanMs: round2(load.meanMs),
    maxMs: round2(load.maxMs),
    statuses: load.statuses,
    errors: load.errors,
    timeouts: load.timeouts,
    healthMaxMs: round2(healthSorted.length ? healthSorted[healthSorted.length - 1]! : 0),
    healthP99Ms: round2(percentile(healthSorted, 99)),
    healthProbes: watched.healthMs.length + watched.healthFailures,
    healthFailures: watched.healthFailures,
    peakRssMB: round2(watched.peakRssMB),
    serverHwmMB: round2(watched.hwmMB),
    clientLoopDelayMaxMs: round2(watched.clientLoopDelayMaxMs),
  };
}

// ---------------------------------------------------------------------------
// By hand: npx tsx scripts/bench/http.ts [image]

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

/** An image file as an upload, its media type from its extension. */
export function imageUpload(imagePath: string): ImageUpload {
  return { bytes: readFileSync(imagePath), filename: basename(imagePath), contentType: CONTENT_TYPES[extname(imagePath).toLowerCase()] ?? 'application/octet-stream' };
}

async function main(): Promise<void> {
  const imagePath = process.argv[2] ?? '/usr/lib/python3/dist-packages/skimage/data/chelsea.png';
  const image = imageUpload(imagePath);
  const started = performance.now();
  const server = await startServer(['--model', 'nsfw-mobilenet-v2']);
  console.log(`server ${server.url} (pid ${server.pid}) ready in ${((performance.now() - started) / 1000).toFixed(1)} s; image ${imagePath} (${image.bytes.length} bytes)`);
  try {
    for (const concurrency of [1, 8, 32]) {
      const r = await httpLoad(server, image, { concurrency, seconds: 5 });
      console.log(JSON.stringify(r));
    }
  } finally {
    await server.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  });
}
