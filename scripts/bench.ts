/**
 * `npm run bench`: imgcls against the alternatives, at three levels, in one
 * run on one machine, so the ratios are comparable (see BENCHMARKS.md).
 *
 * 1. Engine only: ms per image at batch 1 and 8 for each built-in model,
 *    on the calling thread (onnxruntime's default threads), and images/s of
 *    the worker pool imgcls serves with.
 * 2. Where the time goes: per photo size, one image at a time, the median
 *    ms of each stage (decode, JS resize, tensor, model, JSON).
 * 3. In-process pipeline: bytes in memory to predictions, with 8 requests
 *    in flight: imgcls (default model, and the same MobileNetV2 in the
 *    Hugging Face layout), transformers.js's pipeline on that same
 *    Hugging Face directory, nsfwjs's classify() on TF.js's wasm backend.
 * 4. HTTP end to end: `imgcls serve` in a child process, wrk (or
 *    autocannon, where wrk is not installed or --generator says so) at
 *    concurrency 1, 8 and 32: throughput, p50/p99, /healthz latency while
 *    loaded, peak RSS; and the smallest photo at 32 once more with the
 *    other generator, for comparison.
 *    Then HTTP c32 against in-process once more, per photo, in turns over
 *    --rounds rounds (ratioLevel): the goal's figure.
 * 5. Batching sweep (--levels sweep): max batch × max delay, and workers ×
 *    threads, in process at 32 in flight.
 *
 *   npm run bench                       # all levels but the sweep; about 18 minutes here
 *   npm run bench -- --levels sweep     # the batching defaults
 *   npm run bench -- --seconds 3 --levels engine,pipeline
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Classifier, type ClassifierOptions } from '../src/engine/classifier.ts';
import { InThreadRunner } from '../src/engine/runner.ts';
import { WorkerPool } from '../src/engine/worker-pool.ts';
import { readPackage } from '../src/model/package.ts';
import { resolveSpec } from '../src/model/resolve.ts';
import { outputSize } from '../src/model/spec.ts';
import { resolveModel } from '../src/store/store.ts';
import { classifyTop5 } from './bench/classify.ts';
import { drive, type DriveResult } from './bench/drive.ts';
import { writeHuggingFaceLayout } from './bench/hf-layout.ts';
import { chooseGenerator, httpLoad, withServer, type Generator, type LoadResult } from './bench/http.ts';
import { benchPhotos, type BenchPhoto } from './bench/photos.ts';
import { alternating } from './bench/rounds.ts';
import { cpuTimes, stealPercent } from './bench/cpu-times.ts';
import { openTransformersJs } from './bench/transformers-js.ts';
import { wrkInstalled } from './bench/wrk.ts';
import { decodeRgb, fmtMs, loadNsfwjs, markdownTable, nsfwjsScores, nsfwModel, parseCommandLine, useTfBackend } from './lib-nsfw/common.ts';

const USAGE = 'usage: npm run bench -- [--levels engine,stages,pipeline,http,ratio,sweep] [--seconds N] [--http-seconds N] [--c1-seconds N] [--concurrency N] [--rounds N] [--generator wrk|autocannon] [--store DIR]';
const { values: opts } = parseCommandLine(
  {
    levels: { type: 'string', default: 'engine,stages,pipeline,http,ratio' },
    seconds: { type: 'string', default: '5' },
    'http-seconds': { type: 'string', default: '8' },
    // Longer at concurrency 1: 8 s of 12 MP photos is about 130 requests, whose p99 is their second-slowest.
    'c1-seconds': { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '8' },
    // The ratio level's rounds per photo: odd, so that the median is one round's.
    rounds: { type: 'string', default: '5' },
    generator: { type: 'string' },
    store: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  USAGE,
);
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}
const levels = new Set(String(opts.levels).split(','));
const SECONDS = Number(opts.seconds);
const HTTP_SECONDS = Number(opts['http-seconds']);
const C1_SECONDS = Number(opts['c1-seconds']);
const IN_FLIGHT = Number(opts.concurrency);
const ROUNDS = Number(opts.rounds);
// Odd, so that the median is one round's ratio rather than the lower of two.
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS % 2 === 0) {
  console.error(`--rounds must be an odd whole number of rounds, 1 or more (got ${String(opts.rounds)})\n${USAGE}`);
  process.exit(2);
}
const store = typeof opts.store === 'string' ? opts.store : undefined;
/** `imgcls serve` as the HTTP and ratio levels start it: the default model. */
const SERVE_ARGS = ['--model', 'nsfw-mobilenet-v2', ...(store ? ['--store', store] : [])];
/** The HTTP goal: at c32, at least this share of the in-process pipeline's throughput. */
const HTTP_GOAL = 0.85;
let GENERATOR: Generator;
try {
  GENERATOR = chooseGenerator(opts.generator);
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
/** The generator the smallest photo is also measured with, at c32, for comparison; wrk only where it is installed. */
const OTHER_GENERATOR: Generator | null = GENERATOR === 'wrk' ? 'autocannon' : wrkInstalled() ? 'wrk' : null;
const BUILTINS = ['nsfw-mobilenet-v2', 'nsfw-inception-v3'] as const;

const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
const out: string[] = [];
const print = (s = '') => {
  out.push(s);
  console.log(s);
};
const rate = (r: number) => (r >= 100 ? r.toFixed(0) : r.toFixed(1));
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
const percent = (fraction: number) => `${(fraction * 100).toFixed(0)}%`;

async function machine(): Promise<void> {
  const cpus = os.cpus();
  print(`Run on ${new Date().toISOString().slice(0, 10)}: ${os.availableParallelism()} CPUs (${cpus[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}.`);
  print('');
}

// ------------------------------------------------------------------ level 1

async function engineLevel(): Promise<void> {
  print('### Engine only (random input, no decoding)');
  print('');
  const rows: string[][] = [];
  for (const name of BUILTINS) {
    log(`engine: ${name}`);
    const dir = await resolveModel(name, { store, onProgress: log });
    const pkg = await readPackage(dir);
    const local = await InThreadRunner.open(pkg.modelPath, {});
    const spec = resolveSpec(pkg.spec, local.signature);
    const runSpec = { inputName: spec.inputName, outputName: spec.outputName, preprocess: spec.preprocess, resampler: 'sharp' as const };
    local.configure(runSpec);
    const size = outputSize(spec.preprocess);
    const [w, h] = [size?.width ?? 224, size?.height ?? 224];
    const ms: Record<number, number> = {};
    for (const batch of [1, 8]) {
      const data = new Float32Array(batch * w * h * 3).map(() => Math.random());
      const dims = [batch, h, w, 3];
      const r = await drive(async () => void (await local.runTensor(data, dims)), { concurrency: 1, seconds: SECONDS / 2 });
      ms[batch] = r.p50Ms / batch;
    }
    await local.close();
    const pool = await WorkerPool.open(pkg.modelPath, { workers: os.availableParallelism(), threads: 1 });
    pool.configure(runSpec);
    const poolRate: Record<number, number> = {};
    for (const batch of [1, 8]) {
      const data = new Float32Array(batch * w * h * 3).map(() => Math.random());
      const r = await drive(async () => void (await pool.runTensor(data, [batch, h, w, 3])), { concurrency: pool.capacity, seconds: SECONDS / 2 });
      poolRate[batch] = r.perSecond * batch;
    }
    await pool.close();
    rows.push([name, `${w}x${h}`, fmtMs(ms[1]!), fmtMs(ms[8]!), rate(1000 / ms[1]!), rate(poolRate[1]!), rate(poolRate[8]!)]);
  }
  print(markdownTable(
    ['model', 'input', 'ms/image, batch 1', 'ms/image, batch 8', 'images/s, batch 1, calling thread', `images/s, ${os.availableParallelism()} workers, batch 1`, `images/s, ${os.availableParallelism()} workers, batch 8`],
    rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
  ));
  print('');
  print('"ms/image": median run on the calling thread with onnxruntime\'s default threads (one per core), divided by the batch. "workers": the pool imgcls serves with, one onnxruntime thread per worker, two batches in flight per worker (one running, the next one waiting).');
  print('');
}

// ------------------------------------------------------------------ level 2

async function stagesLevel(photos: BenchPhoto[], models: { label: string; dir: string }[]): Promise<void> {
  print('### Where the time goes (one image at a time, median ms)');
  print('');
  const rows: string[][] = [];
  const med = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1]!;
  for (const m of models) {
    // The classifier's own per-image timing, on the calling thread with one onnxruntime thread, one image at a time.
    const c = await Classifier.load(m.dir, { workers: 0, threads: 1 });
    for (const photo of photos) {
      log(`stages: ${m.label}, ${photo.name}`);
      const t = { decode: [] as number[], resize: [] as number[], tensor: [] as number[], infer: [] as number[], json: [] as number[] };
      const until = performance.now() + (SECONDS / 2) * 1000;
      for (let n = 0; performance.now() < until || n < 3; n++) {
        const r = await classifyTop5(c, photo.bytes, photo.name);
        const began = performance.now();
        JSON.stringify({ model: m.label, predictions: r.predictions, timing: { decode_ms: r.timing.decodeMs } });
        t.json.push(performance.now() - began);
        t.decode.push(r.timing.decodeMs);
        t.resize.push(r.timing.resizeMs);
        t.tensor.push(r.timing.preprocessMs);
        t.infer.push(r.timing.inferMs);
      }
      const [decode, resize, tensor, infer, json] = [med(t.decode), med(t.resize), med(t.tensor), med(t.infer), med(t.json)];
      rows.push([m.label, photo.name, fmtMs(decode), fmtMs(resize), fmtMs(tensor), fmtMs(infer), fmtMs(json), percent((decode + resize) / (decode + resize + tensor + infer + json))]);
    }
    await c.close();
  }
  print(markdownTable(['model', 'photo', 'decode', 'resize (JS)', 'tensor', 'model (1 thread)', 'JSON', 'decode+resize share'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r']));
  print('');
}

// ------------------------------------------------------------------ level 3

interface PipelineRow {
  photo: string;
  imgcls: DriveResult;
  imgclsHf: DriveResult;
  transformers: DriveResult;
  nsfwjs: DriveResult;
}

/** The in-process pipeline on one photo: `inFlight` loops classifying it back to back. */
function classifyLoop(c: Classifier, photo: BenchPhoto, inFlight = IN_FLIGHT): Promise<DriveResult> {
  return drive(async () => void (await classifyTop5(c, photo.bytes, photo.name)), { concurrency: inFlight, seconds: SECONDS });
}

async function imgclsRun(dir: string, photo: BenchPhoto, options: ClassifierOptions = {}, inFlight = IN_FLIGHT): Promise<DriveResult> {
  const c = await Classifier.load(dir, options);
  try {
    return await classifyLoop(c, photo, inFlight);
  } finally {
    await c.close();
  }
}

async function pipelineLevel(photos: BenchPhoto[], defaultDir: string, hfDir: string): Promise<PipelineRow[]> {
  const rows: PipelineRow[] = [];
  const backend = await useTfBackend('wasm');
  const nsfw = await loadNsfwjs(nsfwModel('nsfw-mobilenet-v2'));
  const tjs = await openTransformersJs(hfDir);
  for (const photo of photos) {
    log(`pipeline: ${photo.name}`);
    const imgcls = await imgclsRun(defaultDir, photo);
    const imgclsHf = await imgclsRun(hfDir, photo);
    const transformers = await drive(async () => void (await tjs.classify(photo.bytes)), { concurrency: IN_FLIGHT, seconds: SECONDS });
    // nsfwjs takes pixels: sharp decodes at full size, nsfwjs resizes (as its README does in Node).
    const nsfwjs = await drive(async () => void (await nsfwjsScores(nsfw, await decodeRgb(photo.bytes))), { concurrency: IN_FLIGHT, seconds: SECONDS });
    rows.push({ photo: photo.name, imgcls, imgclsHf, transformers, nsfwjs });
  }
  await tjs.close();
  print(`### In-process pipeline (encoded bytes in memory to predictions, ${IN_FLIGHT} in flight, images/s)`);
  print('');
  print(markdownTable(
    ['photo', 'imgcls, default model', 'imgcls, HF layout', 'transformers.js (HF layout)', `nsfwjs (${backend.split(' (')[0]})`, 'imgcls HF / transformers.js', 'imgcls / nsfwjs'],
    rows.map((r) => [r.photo, rate(r.imgcls.perSecond), rate(r.imgclsHf.perSecond), rate(r.transformers.perSecond), rate(r.nsfwjs.perSecond), ratio(r.imgclsHf.perSecond, r.transformers.perSecond), ratio(r.imgcls.perSecond, r.nsfwjs.perSecond)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  ));
  print('');
  print(`nsfwjs: ${backend}. transformers.js: onnxruntime-node, its default threads.`);
  print('');
  return rows;
}

// ------------------------------------------------------------------ level 4

interface HttpRow {
  photo: string;
  byConcurrency: Map<number, LoadResult>;
  /** Concurrency 32 with the other load generator (the smallest photo only). */
  otherGenerator?: LoadResult;
}

async function httpLevel(photos: BenchPhoto[]): Promise<HttpRow[]> {
  const rows: HttpRow[] = [];
  await withServer(SERVE_ARGS, {}, async (server) => {
    for (const photo of photos) {
      const byConcurrency = new Map<number, LoadResult>();
      for (const c of [1, 8, 32]) {
        log(`http: ${photo.name}, concurrency ${c}, ${GENERATOR}`);
        byConcurrency.set(c, await httpLoad(server, photo, { concurrency: c, seconds: c === 1 ? C1_SECONDS : HTTP_SECONDS, generator: GENERATOR }));
      }
      const row: HttpRow = { photo: photo.name, byConcurrency };
      // The smallest photo, where the load generator's CPU weighs most, once more with the other generator.
      if (photo === photos[0] && OTHER_GENERATOR) {
        log(`http: ${photo.name}, concurrency 32, ${OTHER_GENERATOR}`);
        row.otherGenerator = await httpLoad(server, photo, { concurrency: 32, seconds: HTTP_SECONDS, generator: OTHER_GENERATOR });
      }
      rows.push(row);
    }
  });
  print(`### HTTP end to end (\`imgcls serve\`, default model, POST /predict multipart, ${GENERATOR})`);
  print('');
  const table: string[][] = [];
  for (const r of rows) {
    for (const [c, l] of r.byConcurrency) {
      const other = Object.entries(l.statuses).filter(([s]) => s !== '200').map(([s, n]) => `${n}x${s}`).join(' ');
      table.push([r.photo, String(c), String(l.requests), rate(l.rps), fmtMs(l.p50Ms), fmtMs(l.p99Ms), (l.p99Ms / l.p50Ms).toFixed(2), fmtMs(l.healthMaxMs), l.peakRssMB.toFixed(0), other || '-']);
    }
  }
  print(markdownTable(['photo', 'concurrency', 'requests', 'requests/s', 'p50 ms', 'p99 ms', 'p99/p50', '/healthz max ms', 'peak RSS MB', 'non-200'], table, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']));
  print('');
  for (const r of rows) {
    const l = r.otherGenerator;
    if (l) print(`The same server, ${r.photo} at concurrency 32 with ${OTHER_GENERATOR}: ${rate(l.rps)} requests/s, p50 ${fmtMs(l.p50Ms)} ms, p99 ${fmtMs(l.p99Ms)} ms.\n`);
  }
  return rows;
}

// ------------------------------------------------------------------ level 4b

interface RatioRound {
  inProcess: number;
  http: number;
}

interface RatioRow {
  photo: string;
  rounds: RatioRound[];
}

/**
 * HTTP at concurrency 32 against the in-process pipeline, per photo,
 * measured in turns: one in-process window, then one HTTP window, the order
 * reversed every other round, over ROUNDS rounds. The levels above measure
 * the two minutes apart, and on this shared machine the same code's
 * throughput drifts by more than 10% over minutes (BENCHMARKS.md, "Reading
 * the results"); a round's two windows are seconds apart. The median
 * round's ratio is the goal's figure.
 */
async function ratioLevel(photos: readonly BenchPhoto[], defaultDir: string): Promise<RatioRow[]> {
  const classifier = await Classifier.load(defaultDir);
  try {
    return await withServer(SERVE_ARGS, {}, async (server) => {
      const rows: RatioRow[] = [];
      for (const photo of photos) {
        const rounds: Partial<RatioRound>[] = [];
        for (const [round, side] of alternating(['inProcess', 'http'] as const, ROUNDS)) {
          log(`ratio: ${photo.name}, round ${round}, ${side === 'http' ? `HTTP c32, ${GENERATOR}` : 'in-process'}`);
          const r = (rounds[round - 1] ??= {});
          if (side === 'inProcess') r.inProcess = (await classifyLoop(classifier, photo)).perSecond;
          else r.http = (await httpLoad(server, photo, { concurrency: 32, seconds: HTTP_SECONDS, generator: GENERATOR })).rps;
        }
        rows.push({ photo: photo.name, rounds: rounds as RatioRound[] });
      }
      printRatio(rows);
      return rows;
    });
  } finally {
    await classifier.close();
  }
}

const medianRatio = (rounds: readonly RatioRound[]): number => {
  const ratios = rounds.map((r) => r.http / r.inProcess).sort((a, b) => a - b);
  return ratios[Math.floor((ratios.length - 1) / 2)]!;
};

function printRatio(rows: readonly RatioRow[]): void {
  print(`### HTTP c32 against in-process, in turns (${ROUNDS} rounds per photo)`);
  print('');
  print(markdownTable(
    ['photo', 'in-process images/s, by round', `HTTP c32 requests/s (${GENERATOR}), by round`, 'HTTP / in-process, by round', 'median round'],
    rows.map((row) => [row.photo, row.rounds.map((r) => rate(r.inProcess)).join(' '), row.rounds.map((r) => rate(r.http)).join(' '), row.rounds.map((r) => percent(r.http / r.inProcess)).join(' '), percent(medianRatio(row.rounds))]),
    ['l', 'r', 'r', 'r', 'r'],
  ));
  print('');
  print(`Each round measures in-process (the default model, ${IN_FLIGHT} in flight, ${SECONDS} s) and \`imgcls serve\` (the same model, 32 connections, ${HTTP_SECONDS} s) seconds apart, the order reversed every other round.`);
  print('');
}

// ------------------------------------------------------------------ level 5

async function sweepLevel(photos: BenchPhoto[], defaultDir: string): Promise<void> {
  const cores = os.availableParallelism();
  for (const photo of [photos[0]!, photos[2]!]) {
    print(`### Batching sweep: ${photo.name}, default model, 32 in flight, images/s (p99 ms)`);
    print('');
    const rows: string[][] = [];
    for (const [workers, threads] of [[cores, 1], [1, cores], [1, 1]] as const) {
      for (const maxBatch of [1, 4, 8, 16]) {
        const cells: string[] = [`${workers} x ${threads}`, String(maxBatch)];
        for (const maxDelayMs of [0, 2, 5]) {
          log(`sweep: ${photo.name} workers ${workers} threads ${threads} batch ${maxBatch} delay ${maxDelayMs}`);
          const r = await imgclsRun(defaultDir, photo, { workers, threads, maxBatch, maxDelayMs }, 32);
          cells.push(`${rate(r.perSecond)} (${fmtMs(r.p99Ms)})`);
        }
        rows.push(cells);
      }
    }
    print(markdownTable(['workers x threads', 'max batch', 'delay 0 ms', 'delay 2 ms', 'delay 5 ms'], rows, ['l', 'r', 'r', 'r', 'r']));
    print('');
  }
}

// ------------------------------------------------------------------ goals

/** The goals the levels that ran can judge; `--levels ratio` alone gives the HTTP goal's rows only. */
function goals(pipeline: PipelineRow[] | null, http: HttpRow[] | null, turns: RatioRow[] | null): void {
  if (!turns && !(pipeline && http)) return;
  print('### Goals');
  print('');
  const rows: string[][] = [];
  const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const photos = [...new Set([...(turns ?? []).map((r) => r.photo), ...(http ?? []).map((h) => h.photo)])];
  for (const photo of photos) {
    // Measured in turns, a photo is judged there (ratioLevel says why); its windows minutes apart are shown for reference.
    const t = turns?.find((r) => r.photo === photo);
    if (t) {
      const m = medianRatio(t.rounds);
      rows.push([`HTTP c32 >= 85% of in-process, ${photo}, median of ${t.rounds.length} rounds in turns`, percent(m), mark(m >= HTTP_GOAL)]);
    }
    const h = http?.find((r) => r.photo === photo);
    const p = pipeline?.find((r) => r.photo === photo);
    if (!h || !p) continue;
    const c32 = h.byConcurrency.get(32)!;
    rows.push([`HTTP c32 >= 85% of in-process, ${photo}${t ? ', the levels above' : ''}`, percent(c32.rps / p.imgcls.perSecond), t ? 'for reference' : mark(c32.rps >= HTTP_GOAL * p.imgcls.perSecond)]);
    const o = h.otherGenerator;
    if (o) rows.push([`(the same, loaded by ${OTHER_GENERATOR} instead of ${GENERATOR})`, percent(o.rps / p.imgcls.perSecond), 'for reference']);
  }
  if (pipeline) {
    const tjs = pipeline.find((r) => r.photo.startsWith('2560x1600'));
    if (tjs) rows.push(['>= 3x transformers.js, 2560x1600 JPEG, same MobileNetV2', ratio(tjs.imgclsHf.perSecond, tjs.transformers.perSecond), mark(tjs.imgclsHf.perSecond >= 3 * tjs.transformers.perSecond)]);
    const nsfw = pipeline.find((r) => r.photo.startsWith('224x224'));
    if (nsfw) rows.push(['>= 10x nsfwjs, default model, photo at input size', ratio(nsfw.imgcls.perSecond, nsfw.nsfwjs.perSecond), mark(nsfw.imgcls.perSecond >= 10 * nsfw.nsfwjs.perSecond)]);
  }
  if (http) {
    for (const h of http) {
      const c1 = h.byConcurrency.get(1)!;
      rows.push([`c1 p99 <= 2x p50, ${h.photo}`, `${(c1.p99Ms / c1.p50Ms).toFixed(2)}x`, mark(c1.p99Ms <= 2 * c1.p50Ms)]);
    }
    const health = Math.max(...http.map((h) => h.byConcurrency.get(32)!.healthMaxMs));
    rows.push(['/healthz < 50 ms while saturated (c32, worst photo)', `${fmtMs(health)} ms`, mark(health < 50)]);
    const rss = Math.max(...http.flatMap((h) => [...h.byConcurrency.values()].map((l) => l.peakRssMB)));
    rows.push(['RSS <= 400 MB under load, default model', `${rss.toFixed(0)} MB`, mark(rss <= 400)]);
  }
  print(markdownTable(['goal', 'measured', ''], rows, ['l', 'r', 'l']));
  print('');
}

// ------------------------------------------------------------------ main

/** Run one level and say how much CPU time the host took meanwhile (scripts/bench/cpu-times.ts). */
async function level<T>(run: () => Promise<T>): Promise<T> {
  const before = cpuTimes();
  const result = await run();
  const steal = stealPercent(before, cpuTimes());
  if (steal !== null) {
    print(`CPU time taken by the host during this level (steal, /proc/stat): ${steal.toFixed(1)}%.`);
    print('');
  }
  return result;
}

await machine();
const photos = await benchPhotos();
const defaultDir = await resolveModel('nsfw-mobilenet-v2', { store, onProgress: log });
const hfRoot = await mkdtemp(path.join(os.tmpdir(), 'imgcls-bench-hf-'));
try {
  const hfDir = await writeHuggingFaceLayout(path.join(hfRoot, 'mobilenet-v2-hf'), { store });
  if (levels.has('engine')) await level(() => engineLevel());
  if (levels.has('stages')) await level(() => stagesLevel(photos, [{ label: 'default (align-corners)', dir: defaultDir }, { label: 'HF layout (bilinear)', dir: hfDir }]));
  const pipeline = levels.has('pipeline') ? await level(() => pipelineLevel(photos, defaultDir, hfDir)) : null;
  const http = levels.has('http') ? await level(() => httpLevel(photos)) : null;
  const turns = levels.has('ratio') ? await level(() => ratioLevel(photos, defaultDir)) : null;
  if (levels.has('sweep')) await level(() => sweepLevel(photos, defaultDir));
  goals(pipeline, http, turns);
} finally {
  await rm(hfRoot, { recursive: true, force: true });
}
