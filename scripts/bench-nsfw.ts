/**
 * Speed of nsfwjs (TF.js, wasm and cpu backends) against imgcls (ONNX
 * Runtime) on the same model and the same photos, in milliseconds per image.
 * Every call is one image, sequential (batch 1).
 *
 * Two levels:
 * - model only: the photo is resized to the input size with sharp before the
 *   clock starts. nsfwjs: tf.tensor3d on the pixels + classify (scale by
 *   1/255, no resize, predict, read the five scores). imgcls:
 *   Classifier.classifyPixels on the same pixels (scale into a float tensor,
 *   onnxruntime run, softmax and ranking). Neither decodes nor resizes.
 * - end to end, from the file's bytes in memory: nsfwjs: sharp decodes to
 *   full-size RGB + tf.tensor3d + classify (nsfwjs resizes). imgcls:
 *   Classifier.classify([bytes]) (sharp decodes and resizes in one libvips
 *   pipeline, with JPEG shrink-on-load).
 *
 * Within a phase the engines take turns photo by photo (their order
 * rotating), so a noisy neighbour slows them alike; the ratio columns compare
 * medians measured in the same phase, on the same photos. Each turn starts
 * with one untimed call (see the loop below for why). The tfjs cpu backend is
 * far slower, so it runs on a few photos per size class with fewer iterations.
 *
 * Usage: npm run bench:nsfw -- [--model nsfw-mobilenet-v2|nsfw-inception-v3]
 *   [--iterations 3] [--backends wasm,cpu] [--cpu-photos 2] [--cpu-iterations 1]
 *   [--warmup 2] [--store DIR] [folder ...]
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../src/engine/classifier.ts';
import type { RgbImage } from '../src/image/pixels.ts';
import {
  COMMON_OPTIONS,
  decodeRgb,
  defaultFolders,
  findPhotos,
  fmtMs,
  imgclsScores,
  imgclsScoresForPixels,
  loadImgcls,
  loadNsfwjs,
  markdownTable,
  megapixels,
  nsfwjsScores,
  nsfwModel,
  parseCommandLine,
  usageError,
  progress,
  useTfBackend,
  type NsfwjsModel,
  type Photo,
  type TfBackend,
} from './lib-nsfw/common.ts';
import { cpuTimes, stealPercent } from './bench/cpu-times.ts';

const USAGE = `Usage: npm run bench:nsfw -- [--model nsfw-mobilenet-v2|nsfw-inception-v3] [--iterations 3] [--backends wasm,cpu]
  [--cpu-photos 2] [--cpu-iterations 1] [--warmup 2] [--store DIR] [folder ...]`;

const { values, positionals } = parseCommandLine(
  {
    ...COMMON_OPTIONS,
    iterations: { type: 'string', default: '3' },
    backends: { type: 'string', default: 'wasm,cpu' },
    'cpu-photos': { type: 'string', default: '2' },
    'cpu-iterations': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2' },
  },
  USAGE,
);
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) usageError(`--${name} must be an integer >= ${min}; got "${text}"`);
  return n;
}
const model = nsfwModel(values.model);
const iterations = positiveInt('iterations', values.iterations);
const cpuPhotos = positiveInt('cpu-photos', values['cpu-photos']);
const cpuIterations = positiveInt('cpu-iterations', values['cpu-iterations']);
const warmup = positiveInt('warmup', values.warmup, 0);
const backends = values.backends.split(',').map((b) => b.trim()).filter(Boolean) as TfBackend[];
for (const b of backends) if (b !== 'wasm' && b !== 'cpu') usageError(`--backends takes wasm and/or cpu; got "${b}"`);
if (backends.length === 0) usageError('--backends is empty');
const folders = positionals.length > 0 ? positionals : defaultFolders();
if (folders.length === 0) usageError('No folders given and neither default folder exists');

// ---------------------------------------------------------------- photos and size classes

const SIZE_CLASSES = [
  { label: '< 1 MP', max: 1 },
  { label: '1-3 MP', max: 3 },
  { label: '3-7 MP', max: 7 },
  { label: '7-10 MP', max: 10 },
  { label: '> 10 MP', max: Infinity },
] as const;
type SizeClass = (typeof SIZE_CLASSES)[number]['label'];
const sizeClass = (p: Photo): SizeClass => SIZE_CLASSES.find((c) => megapixels(p) < c.max)!.label;

const { photos } = await findPhotos(folders);
if (photos.length === 0) usageError(`No colour photos of at least 100x100 under ${folders.join(', ')}`);
photos.sort((a, b) => megapixels(a) - megapixels(b));

/** Up to `k` photos per size class, spread across the class (for the slow cpu backend). */
function sample(k: number): Photo[] {
  const out: Photo[] = [];
  for (const c of SIZE_CLASSES) {
    const inClass = photos.filter((p) => sizeClass(p) === c.label);
    if (inClass.length <= k) out.push(...inClass);
    else for (let i = 0; i < k; i++) out.push(inClass[Math.round(((inClass.length - 1) * i) / Math.max(1, k - 1))]!);
  }
  return [...new Set(out)];
}

// ---------------------------------------------------------------- engines

type Level = 'model' | 'e2e';

interface Engine {
  id: string;
  run(level: Level, photo: Photo): Promise<unknown>;
}

const resized = new Map<Photo, RgbImage>();
for (const p of photos) resized.set(p, await decodeRgb(p.bytes, model.size));

function nsfwjsEngine(id: string, net: NsfwjsModel): Engine {
  return {
    id,
    run: async (level, photo) =>
      level === 'model' ? nsfwjsScores(net, resized.get(photo)!) : nsfwjsScores(net, await decodeRgb(photo.bytes)),
  };
}

function imgclsEngine(id: string, classifier: Classifier): Engine {
  return {
    id,
    run: (level, photo) =>
      level === 'model' ? imgclsScoresForPixels(classifier, resized.get(photo)!) : imgclsScores(classifier, photo.bytes),
  };
}

const imgcls = await loadImgcls(model, values.store);
const imgcls1 = await loadImgcls(model, values.store, { threads: 1 });
// The built-ins resize as nsfwjs does (TF.js align-corners, after a full-size
// decode); --interpolation bilinear trades that parity for libvips's
// shrink-on-load. Both are measured.
const imgclsSharp = await loadImgcls(model, values.store, { overrides: { interpolation: 'linear' } });
const imgclsEngines = [imgclsEngine('imgcls', imgcls.classifier), imgclsEngine('imgcls-1t', imgcls1.classifier), imgclsEngine('imgcls-sharp', imgclsSharp.classifier)];

// ---------------------------------------------------------------- measuring

interface Sample {
  phase: TfBackend;
  engine: string;
  level: Level;
  photo: Photo;
  ms: number;
}
const samples: Sample[] = [];
const backendInfo: Partial<Record<TfBackend, string>> = {};
const phasePhotos: Partial<Record<TfBackend, Photo[]>> = {};
const loadBefore = loadavg();
const ticksBefore = cpuTimes();
const started = performance.now();

for (const backend of backends) {
  backendInfo[backend] = await useTfBackend(backend);
  const net = await loadNsfwjs(model);
  const engines = [nsfwjsEngine(`nsfwjs-${backend}`, net), ...imgclsEngines];
  const subset = backend === 'cpu' ? sample(cpuPhotos) : photos;
  const rounds = backend === 'cpu' ? cpuIterations : iterations;
  phasePhotos[backend] = subset;
  for (const level of ['model', 'e2e'] as const) {
    // Warm up on the smallest and the largest photo: JIT, onnxruntime's
    // first-run allocations, and the wasm heap growing to its high-water mark.
    const warm = [subset[0]!, subset[subset.length - 1]!];
    for (let w = 0; w < warmup; w++) for (const e of engines) for (const p of warm) await e.run(level, p);
    for (const [i, photo] of subset.entries()) {
      // Photo by photo, each engine in turn (the order rotating): one untimed
      // call, then `rounds` timed calls back to back. The untimed call absorbs
      // the switch from the previous engine: onnxruntime's default thread
      // pool keeps spinning for tens of milliseconds after a run, which slows
      // whatever runs next on this 2-core machine. The tfjs cpu backend's
      // calls take seconds, so it gets no untimed call.
      const shift = i % engines.length;
      for (const e of [...engines.slice(shift), ...engines.slice(0, shift)]) {
        if (!e.id.endsWith('-cpu')) await e.run(level, photo);
        for (let it = 0; it < rounds; it++) {
          const t0 = performance.now();
          await e.run(level, photo);
          samples.push({ phase: backend, engine: e.id, level, photo, ms: performance.now() - t0 });
        }
      }
      progress(`${backend} ${level} ${i + 1}/${subset.length}`);
    }
  }
  net.dispose();
}
progress(null);
const elapsedS = (performance.now() - started) / 1000;
const loadAfter = loadavg();
const ticksAfter = cpuTimes();
await imgcls.classifier.close();
await imgcls1.classifier.close();
await imgclsSharp.classifier.close();

// ---------------------------------------------------------------- report

function quantile(sorted: readonly number[], q: number): number {
  // Nearest rank for p90; the median averages the middle two.
  if (q === 0.5) {
    const m = sorted.length / 2;
    return sorted.length % 2 ? sorted[Math.floor(m)]! : (sorted[m - 1]! + sorted[m]!) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

type PhotoFilter = (p: Photo) => boolean;
const everyPhoto: PhotoFilter = () => true;

function select(phase: TfBackend, engine: string, level: Level, keep: PhotoFilter): number[] {
  return samples
    .filter((s) => s.phase === phase && s.engine === engine && s.level === level && keep(s.photo))
    .map((s) => s.ms)
    .sort((a, b) => a - b);
}

const cell = (ms: readonly number[]) => (ms.length ? `${fmtMs(quantile(ms, 0.5))} / ${fmtMs(quantile(ms, 0.9))}` : '-');
const ratio = (num: readonly number[], den: readonly number[]) =>
  num.length && den.length ? `${(quantile(num, 0.5) / quantile(den, 0.5)).toFixed(1)}x` : '-';

const first = backends[0]!;
const header = [
  'level / photo size',
  'photos',
  ...backends.map((b) => `nsfwjs ${b}${b === 'cpu' ? ' (subset)' : ''}`),
  'imgcls',
  'imgcls 1 thread',
  'imgcls, sharp resize',
  ...backends.map((b) => `nsfwjs ${b} / imgcls`),
  ...(backends.includes('wasm') ? ['nsfwjs wasm / imgcls 1 thread'] : []),
];

function row(label: string, level: Level, keep: PhotoFilter = everyPhoto): string[] {
  const chosen = photos.filter(keep);
  const mp = chosen.map(megapixels);
  const fmtMp = (v: number) => v.toFixed(v < 1 ? 2 : 1);
  const photosCell = `${chosen.length} (${fmtMp(Math.min(...mp))}-${fmtMp(Math.max(...mp))} MP)`;
  const cells = [label, level === 'model' ? `${chosen.length}` : photosCell];
  for (const b of backends) cells.push(cell(select(b, `nsfwjs-${b}`, level, keep)));
  cells.push(cell(select(first, 'imgcls', level, keep)), cell(select(first, 'imgcls-1t', level, keep)), cell(select(first, 'imgcls-sharp', level, keep)));
  // Each ratio compares medians measured in the same phase, on the same photos.
  for (const b of backends) cells.push(ratio(select(b, `nsfwjs-${b}`, level, keep), select(b, 'imgcls', level, keep)));
  if (backends.includes('wasm')) cells.push(ratio(select('wasm', 'nsfwjs-wasm', level, keep), select('wasm', 'imgcls-1t', level, keep)));
  return cells;
}

const rows: string[][] = [row(`model only (${model.size}x${model.size} pixels in)`, 'model')];
for (const c of SIZE_CLASSES) {
  if (photos.some((p) => sizeClass(p) === c.label)) rows.push(row(`end to end, ${c.label}`, 'e2e', (p) => sizeClass(p) === c.label));
}
rows.push(row('end to end, all photos', 'e2e'));
// By format: libvips shrinks baseline JPEGs while decoding (imgcls's fast
// path); progressive JPEGs and PNGs are decoded in full by both engines.
const FORMAT_ROWS: [string, PhotoFilter][] = [
  ['JPEG, baseline', (p) => p.format === 'jpeg' && !p.progressive],
  ['JPEG, progressive', (p) => p.format === 'jpeg' && p.progressive],
  ['PNG', (p) => p.format === 'png'],
];
for (const [label, keep] of FORMAT_ROWS) if (photos.some(keep)) rows.push(row(`end to end, ${label}`, 'e2e', keep));

const require = createRequire(import.meta.url);
const ortVersion = (require('onnxruntime-node/package.json') as { version: string }).version;
const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
const fmtLoad = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');

console.log(`## ${model.name} (${model.nsfwjsName}, ${model.size}x${model.size})`);
console.log('');
console.log(`Median / p90 milliseconds per image, batch 1, sequential calls. ${photos.length} photos from ${folders.join(', ')}; ` +
  `per photo and engine, ${iterations} timed call(s) after one untimed call (${warmup} warm-up round(s) first)` +
  (backends.includes('cpu') ? `; tfjs cpu backend on ${phasePhotos.cpu!.length} photos (up to ${cpuPhotos} per size class), ${cpuIterations} timed call(s) each, no untimed call` : '') + '.');
console.log('');
console.log(markdownTable(header, rows, header.map((_, i) => (i === 0 ? 'l' : 'r'))));
console.log('');
for (const b of backends) console.log(`- nsfwjs ${b}: nsfwjs ${model.nsfwjsName} on ${backendInfo[b]}`);
console.log(`- imgcls: onnxruntime-node ${ortVersion}, Classifier default options (intra-op threads chosen by onnxruntime; the built-in's align-corners resize after a full-size decode); imgcls 1 thread: threads: 1; imgcls, sharp resize: --interpolation bilinear (libvips resizes while decoding)`);
console.log(`- decoding: sharp ${sharp.versions.sharp ?? '?'} (libvips ${sharp.versions.vips}); tfjs ${tf.version.tfjs}`);
let usage = '';
if (ticksBefore && ticksAfter) {
  const total = ticksAfter.total - ticksBefore.total;
  const busy = total - (ticksAfter.idle - ticksBefore.idle);
  usage = `; during the run the CPUs were ${((100 * busy) / total).toFixed(0)}% busy (all processes), ${(stealPercent(ticksBefore, ticksAfter) ?? NaN).toFixed(1)}% stolen by the hypervisor`;
}
console.log(`- machine: ${availableParallelism()} CPUs, ${cpuModel}; Node ${process.version}; load average before ${fmtLoad(loadBefore)}, after ${fmtLoad(loadAfter)}${usage}; ${elapsedS.toFixed(0)} s`);
