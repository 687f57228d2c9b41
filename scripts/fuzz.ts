/**
 * A seeded fuzzer for POST /predict (issue 7, case 14): thousands of mutated
 * JPEG/PNG/WebP/GIF/... images sent as raw bodies, multipart and JSON, with
 * mutated multipart and JSON structure and some malformed HTTP framing.
 * It checks that every answer is a catalogued error or predictions (the only
 * 5xx: the catalogue's 503s, with Retry-After), and, every --check-every
 * cases, that /healthz answers 200 within a second, the process is alive and
 * its RSS stays under the bound.
 *
 * The same --seed and --count send the same bytes; each case is generated
 * from (seed, index) when it is sent, so memory stays flat and a failing case
 * is regenerated with --start INDEX --count 1.
 *
 * test/fuzz.test.ts runs a few hundred cases through `fuzz()`; by hand:
 *   npm run build && npx tsx scripts/fuzz.ts --count 3000 --seed 1
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCase, loadSeeds, type FuzzCase } from './fuzz/cases.ts';
import { checkOutcome } from './fuzz/check.ts';
import { probe, send, type Outcome } from './fuzz/send.ts';
import { formatReport, type FuzzReport, type Violation } from './fuzz/report.ts';
import { RssWatch } from './fuzz/rss-watch.ts';
import { memoryMB, missingBuild, type ServerHandle } from './lib/server-process.ts';
import { startServer } from './fuzz/server.ts';

const FIXTURES = path.join(import.meta.dirname, '..', 'test', 'fixtures');

export interface FuzzOptions {
  count: number;
  seed: number;
  /** The first case's index: `--start I --count 1` replays case I alone. */
  start?: number;
  /** Fuzz a server already running here instead of spawning one. */
  url?: string;
  /** With `url`: the server's pid, to watch its RSS (otherwise RSS is not checked). */
  pid?: number;
  /** Extra `imgcls serve` arguments for the spawned server, e.g. ['--model', dir]. */
  serveArgs?: readonly string[];
  /** Requests in flight at once (default 4): concurrent decodes are part of what is fuzzed. */
  concurrency?: number;
  /** Health, liveness and RSS are checked after every this many cases, and at the end (default 100). */
  checkEvery?: number;
  /** How far RSS may grow above its level after the warm-up, in MB (default 150). */
  rssGrowthMB?: number;
  /**
   * Cases run (and checked) before the RSS baseline is taken (default: a
   * quarter of the run, at most 300). V8's heap and the allocator's arenas
   * grow to their working size under the fuzz load itself (JSON bodies of
   * megabytes, four at once), which the seed images alone do not reach; a
   * leak shows as growth after that.
   */
  warmupCases?: number;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** /healthz must answer within this (default 1 s). */
  healthTimeoutMs?: number;
  /** Go on after a violation (default: stop at the first). */
  keepGoing?: boolean;
  /** Where offending bodies are saved (default: a new directory under the OS temp dir). */
  outDir?: string;
  /** Progress lines; silent when omitted. */
  log?: (line: string) => void;
}

const bump = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);

/** Cases remembered for a failed checkpoint: a crash or a leak belongs to one of the last few in flight. */
const RECENT = 16;

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { count, seed } = options;
  const start = options.start ?? 0;
  const concurrency = options.concurrency ?? 4;
  const checkEvery = options.checkEvery ?? 100;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const healthTimeoutMs = options.healthTimeoutMs ?? 1000;
  const log = options.log ?? (() => {});
  const seeds = loadSeeds(FIXTURES);
  const started = performance.now();

  let server: ServerHandle | null = null;
  if (!options.url) {
    server = await startServer(options.serveArgs ?? []);
    log(`fuzz: spawned imgcls serve (pid ${server.pid}) at ${server.url}`);
  }
  const url = options.url ?? server!.url;
  const pid = server?.pid ?? options.pid;

  const warmupCases = options.warmupCases ?? Math.min(300, Math.floor(count / 4));
  const report: FuzzReport = {
    seed, start, sent: 0, outcomes: {}, families: {}, closes: {}, violations: [], warmupCases,
    baselineRssMB: null, rssBoundMB: null, peakRssMB: null, serverHwmMB: null, healthChecks: 0, healthMaxMs: 0, elapsedMs: 0,
  };
  let outDir = options.outDir;
  const save = async (c: FuzzCase, extra: Record<string, unknown>): Promise<string[]> => {
    if (outDir === undefined) outDir = await mkdtemp(path.join(tmpdir(), 'imgcls-fuzz-'));
    else await mkdir(outDir, { recursive: true });
    const base = path.join(outDir, `seed${seed}-case${c.index}`);
    await writeFile(`${base}.bin`, c.raw ?? c.body);
    await writeFile(`${base}.json`, `${JSON.stringify({ seed, index: c.index, family: c.family, path: c.path, headers: c.headers, raw: c.raw !== undefined, description: c.description, ...extra }, null, 2)}\n`);
    return [`${base}.bin`, `${base}.json`];
  };
  const violate = async (v: Omit<Violation, 'saved'>, cases: readonly FuzzCase[], extra: Record<string, unknown> = {}) => {
    const saved: string[] = [];
    for (const c of cases) saved.push(...(await save(c, { reason: v.reason, ...extra })));
    const violation = { ...v, saved };
    report.violations.push(violation);
    const where = saved.length > 2 ? `${saved.length} files in ${path.dirname(saved[0]!)}` : saved.join(', ') || '(nothing)';
    log(`fuzz: VIOLATION at case ${v.index}: ${v.reason}\n  input: ${v.description}\n  saved: ${where}`);
  };

  // Warm-up: every seed once, intact, so the decoders' and the model's one-time allocations are in the baseline;
  // then the first warmupCases cases of the run.
  const rss = pid === undefined ? null : new RssWatch(pid, options.rssGrowthMB ?? 150);
  for (const s of seeds) {
    const c: FuzzCase = { index: -1, family: 'raw', description: `warm-up: ${s.name} intact`, path: '/predict', headers: { 'content-type': 'application/octet-stream' }, body: s.bytes };
    const verdict = checkOutcome(c, await send(url, c, timeoutMs));
    if (!verdict.ok) await violate({ index: -1, description: c.description, reason: verdict.reason, replay: null }, [c]);
  }
  if (warmupCases === 0) await rss?.start();

  const recent: number[] = [];
  const stopped = () => report.violations.length > 0 && !options.keepGoing;
  const alive = async (): Promise<boolean> => (server ? server.alive() : 'status' in (await probe(url, '/healthz', healthTimeoutMs)));

  const runCase = async (index: number) => {
    const c = generateCase(seed, index, seeds);
    recent.push(index);
    if (recent.length > RECENT) recent.shift();
    report.sent++;
    bump(report.families, c.family);
    const outcome: Outcome = await send(url, c, timeoutMs);
    const verdict = checkOutcome(c, outcome);
    if (verdict.ok && outcome.kind === 'reset') {
      // An allowed close must not hide a crash.
      if (!(await alive())) return violate({ index, description: c.description, reason: `the server died (connection: ${outcome.error})`, replay: { start: index, count: 1 } }, [c]);
      bump(report.closes, outcome.error.replace(/\d+B/g, 'nB'));
    }
    if (!verdict.ok) {
      const shown = outcome.kind === 'response' ? { status: outcome.status, headers: outcome.headers, body: outcome.body.subarray(0, 4096).toString('utf8') } : outcome;
      const dead = !(await alive());
      return violate({ index, description: c.description, reason: dead ? `the server died; ${verdict.reason}` : verdict.reason, replay: { start: index, count: 1 } }, [c], { outcome: shown });
    }
    bump(report.outcomes, c.raw ? `malformed HTTP: ${verdict.bucket}` : verdict.bucket);
  };

  const checkpoint = async (last: number) => {
    const again = (why: string) => violate(
      { index: last, description: `checkpoint after case ${last}; the last cases sent: ${recent.join(', ')}`, reason: why, replay: { start, count: last - start + 1 } },
      recent.map((i) => generateCase(seed, i, seeds)),
    );
    if (server && !server.alive()) return again(`the server process is gone\n--- server stderr ---\n${server.stderr().slice(-4000)}`);
    const health = await probe(url, '/healthz', healthTimeoutMs);
    report.healthChecks++;
    report.healthMaxMs = Math.max(report.healthMaxMs, health.ms);
    if (!('status' in health) || health.status !== 200) return again(`GET /healthz: ${'status' in health ? `status ${health.status}` : health.error}`);
    if (rss && !rss.started && last - start + 1 >= warmupCases) await rss.start();
    const over = await rss?.check();
    if (over) return again(over);
    const mb = rss?.started ? `, RSS peak ${rss.peakMB!.toFixed(0)} MB of ${rss.boundMB!.toFixed(0)} MB` : pid === undefined ? '' : `, RSS ${(await memoryMB(pid))?.rssMB.toFixed(0)} MB (warming up)`;
    log(`fuzz: ${last - start + 1}/${count} cases, ${((performance.now() - started) / 1000).toFixed(1)} s, /healthz ${health.ms} ms${mb}`);
  };

  try {
    for (let block = start; block < start + count && !stopped(); block += checkEvery) {
      const end = Math.min(block + checkEvery, start + count);
      let next = block;
      const worker = async () => {
        while (next < end && !stopped()) await runCase(next++);
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, end - block) }, worker));
      // Also after a violation has stopped the run: whether the server is still healthy is part of the report.
      await checkpoint(Math.min(end, next) - 1);
    }
  } finally {
    rss?.stop();
    Object.assign(report, { baselineRssMB: rss?.baselineMB ?? null, rssBoundMB: rss?.boundMB ?? null, peakRssMB: rss?.peakMB ?? null });
    if (pid !== undefined) report.serverHwmMB = (await memoryMB(pid))?.hwmMB ?? null;
    if (server) {
      report.serverExit = await server.stop();
      if (report.serverExit.code !== 0) {
        const reason = `the server exited with ${report.serverExit.code ?? report.serverExit.signal} on SIGTERM, not 0\n--- server stderr ---\n${server.stderr().slice(-4000)}`;
        await violate({ index: start + report.sent - 1, description: 'SIGTERM at the end of the run', reason, replay: { start, count: report.sent } }, []);
      }
    }
    report.elapsedMs = performance.now() - started;
  }
  return report;
}

const USAGE = `usage: npx tsx scripts/fuzz.ts --count N --seed S [options] [-- serve args...]

Without --url it spawns \`node bin/imgcls.js serve --port 0 --log-level warn
--workers 1\` plus any arguments after \`--\` (e.g. -- --model DIR). bin/ runs
dist/, so run \`npm run build\` first.

  --count N            cases to send (required)
  --seed S             PRNG seed, an integer (required); same seed and count, same bytes
  --start I            first case index (default 0); --start I --count 1 replays case I
  --url URL            fuzz a server that is already running
  --pid PID            with --url: its process id, to watch its RSS
  --concurrency N      requests in flight (default 4)
  --check-every K      /healthz, liveness and RSS after every K cases (default 100)
  --rss-growth-mb MB   RSS may grow this much over its level after the warm-up (default 150)
  --warmup-cases N     cases (checked as usual) before the RSS baseline is taken
                       (default: a quarter of --count, at most 300)
  --timeout-ms MS      per-request timeout (default 30000)
  --keep-going         report every violation instead of stopping at the first
  --out DIR            where offending requests are saved (default: a new temp dir)`;

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    console.error(`error: --${name} must be an integer >= ${min}; got "${value}"\n${USAGE}`);
    process.exit(2);
  }
  return Number(value);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        count: { type: 'string' }, seed: { type: 'string' }, start: { type: 'string' }, url: { type: 'string' }, pid: { type: 'string' },
        concurrency: { type: 'string' }, 'check-every': { type: 'string' }, 'rss-growth-mb': { type: 'string' }, 'timeout-ms': { type: 'string' },
        'warmup-cases': { type: 'string' }, 'keep-going': { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`error: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (v.count === undefined || v.seed === undefined) {
    console.error(`error: --count and --seed are required\n${USAGE}`);
    return 2;
  }
  if (v.url === undefined) {
    const missing = missingBuild();
    if (missing) {
      console.error(`error: ${missing}`);
      return 2;
    }
  }
  const options: FuzzOptions = {
    count: integer('count', v.count, 1)!,
    seed: integer('seed', v.seed, -(2 ** 31))!,
    start: integer('start', v.start, 0),
    url: v.url,
    pid: integer('pid', v.pid, 1),
    serveArgs: positionals,
    concurrency: integer('concurrency', v.concurrency, 1),
    checkEvery: integer('check-every', v['check-every'], 1),
    rssGrowthMB: integer('rss-growth-mb', v['rss-growth-mb'], 1),
    timeoutMs: integer('timeout-ms', v['timeout-ms'], 1),
    warmupCases: integer('warmup-cases', v['warmup-cases'], 0),
    keepGoing: v['keep-going'],
    outDir: v.out,
    log: (line) => console.error(line),
  };
  let report: FuzzReport;
  try {
    report = await fuzz(options);
  } catch (err) {
    // The server did not start (or the fuzzer itself failed): say so without a stack trace.
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
  console.log(formatReport(report));
  return report.violations.length === 0 ? 0 : 1;
}

// Importing this module (as the test does) must not run a fuzz.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
