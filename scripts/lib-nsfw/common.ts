/**
 * Shared by scripts/nsfw-parity.ts and scripts/bench-nsfw.ts: the photo set,
 * decoding with sharp, and the two engines side by side: nsfwjs on TF.js
 * (wasm or cpu backend) and imgcls's Classifier on the same model converted
 * to ONNX.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type Metadata } from 'sharp';
import * as tf from '@tensorflow/tfjs';
import * as nsfwjs from 'nsfwjs';
import { collectInputs } from '../../src/cli/inputs.ts';
import { Classifier, type ClassifierOptions } from '../../src/engine/classifier.ts';
import { decodeImage } from '../../src/image/decode.ts';
import type { RgbImage } from '../../src/image/pixels.ts';
import type { PreprocessSpec } from '../../src/model/spec.ts';
import { NSFW_LABELS } from '../../src/store/builtin.ts';
import { resolveModel } from '../../src/store/store.ts';

export { NSFW_LABELS };

export interface NsfwModel {
  /** imgcls's built-in name. */
  name: string;
  /** nsfwjs's name for the same model. */
  nsfwjsName: 'MobileNetV2' | 'InceptionV3';
  /** Square input size. */
  size: number;
}

const NSFW_MODELS: Record<string, NsfwModel> = {
  'nsfw-mobilenet-v2': { name: 'nsfw-mobilenet-v2', nsfwjsName: 'MobileNetV2', size: 224 },
  'nsfw-inception-v3': { name: 'nsfw-inception-v3', nsfwjsName: 'InceptionV3', size: 299 },
};

/** Stop with a message about the command line (no stack trace), exit code 2. */
export function usageError(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

export function nsfwModel(name: string): NsfwModel {
  const model = NSFW_MODELS[name];
  if (!model) usageError(`--model must be one of ${Object.keys(NSFW_MODELS).join(', ')}; got "${name}"`);
  return model;
}

const SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data';
const WALLPAPERS = '/usr/share/wallpapers';

/** The folders used when none is given: those of the two that exist. */
export function defaultFolders(): string[] {
  return [SKIMAGE_DATA, WALLPAPERS].filter((d) => existsSync(d));
}

// ---------------------------------------------------------------- photos

export interface Photo {
  file: string;
  /** A short name for tables: the path below the folder it was found in. */
  name: string;
  bytes: Uint8Array;
  format: string;
  /** A progressive JPEG: libvips cannot shrink it while decoding. */
  progressive: boolean;
  width: number;
  height: number;
}

const PHOTO_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
/** Both sides at least this long: skips skimage's 10×10 test patterns and icons. */
const MIN_SIDE = 100;


/**
 * `Autumn/2560x1600.jpg` for `Autumn/contents/images/1280x1024.jpg`: the
 * wallpapers name their files after screen sizes, but most are one picture
 * under many names, so a name that is a size is replaced by the real one.
 */
function photoName(folder: string, file: string, width: number, height: number): string {
  const rel = path.relative(folder, file) || path.basename(file);
  const dir = path.dirname(rel).replace(/[\\/]contents[\\/]images$/, '').replace(/[\\/]contents[\\/]images_dark$/, '/dark');
  const base = path.basename(rel);
  const named = /^\d+x\d+(\.\w+)$/.exec(base) ? `${width}x${height}${path.extname(base)}` : base;
  return dir === '.' ? named : `${dir}/${named}`;
}

export interface PhotoSet {
  photos: Photo[];
  /** Files passed over, with the reason, for the record. */
  skipped: { file: string; reason: string }[];
}

/**
 * The colour photos under `folders` (recursively): JPEG, PNG or WebP, both
 * sides at least 100 pixels, decoded as colour (not greyscale). The
 * wallpapers' `screenshot.*` previews are skipped (small copies of the
 * wallpapers themselves), and files with the same content (the wallpapers
 * ship one JPEG under a dozen names) are kept once.
 */
export async function findPhotos(folders: readonly string[]): Promise<PhotoSet> {
  const photos: Photo[] = [];
  const skipped: PhotoSet['skipped'] = [];
  const seen = new Set<string>();
  for (const folder of folders) {
    // The CLI's own folder walk, narrowed to the formats both engines read.
    const files = (await collectInputs([folder])).filter((f) => PHOTO_EXTENSIONS.has(path.extname(f).toLowerCase()));
    for (const file of files) {
      if (/^screenshot\./i.test(path.basename(file))) {
        skipped.push({ file, reason: 'preview' });
        continue;
      }
      const bytes = await readFile(file);
      const hash = createHash('sha1').update(bytes).digest('hex');
      if (seen.has(hash)) {
        skipped.push({ file, reason: 'duplicate' });
        continue;
      }
      seen.add(hash);
      let meta: Metadata;
      try {
        meta = await sharp(bytes).metadata();
      } catch {
        skipped.push({ file, reason: 'not decodable' });
        continue;
      }
      const width = meta.autoOrient?.width ?? meta.width;
      const height = meta.autoOrient?.height ?? meta.height;
      if (width < MIN_SIDE || height < MIN_SIDE) {
        skipped.push({ file, reason: `small (${width}x${height})` });
        continue;
      }
      if ((meta.channels ?? 0) < 3 || meta.space === 'b-w' || meta.space === 'grey16') {
        skipped.push({ file, reason: 'greyscale' });
        continue;
      }
      photos.push({ file, name: photoName(folder, file, width, height), bytes, format: meta.format ?? '?', progressive: meta.isProgressive === true, width, height });
    }
  }
  return { photos, skipped };
}

export const megapixels = (p: { width: number; height: number }) => (p.width * p.height) / 1e6;

// ---------------------------------------------------------------- pixels

/**
 * Decode with imgcls's own decoder (EXIF orientation applied, alpha
 * dropped, 8-bit sRGB), optionally stretched to size×size by sharp's linear
 * kernel while decoding.
 */
export async function decodeRgb(bytes: Uint8Array, size?: number): Promise<RgbImage> {
  const stretch = (s: number): PreprocessSpec => ({
    resize: { mode: 'stretch', size: { width: s, height: s }, kernel: 'linear' },
    crop: null,
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    channelOrder: 'RGB',
    layout: 'NHWC',
  });
  const { data, width, height } = await decodeImage(bytes, { spec: size === undefined ? undefined : stretch(size) });
  return { data, width, height };
}

/** Lossless PNG of RGB pixels: decoding it gives back exactly these pixels. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.length);
}

// ---------------------------------------------------------------- nsfwjs on TF.js

export type TfBackend = 'wasm' | 'cpu';

/** Run `fn` with console.info/warn silenced: nsfwjs and TF.js greet on load. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const { info, warn, log } = console;
  console.info = () => {};
  console.warn = () => {};
  console.log = () => {};
  try {
    return await fn();
  } finally {
    Object.assign(console, { info, warn, log });
  }
}

let wasmRegistered = false;

/**
 * Switch TF.js to `backend`. The wasm binaries come from the installed
 * @tensorflow/tfjs-backend-wasm (no network). In Node, TF.js's wasm backend
 * always runs the single-threaded SIMD build (it disables threads under Node).
 * Returns a description for the report.
 */
export async function useTfBackend(backend: TfBackend): Promise<string> {
  if (backend === 'wasm' && !wasmRegistered) {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(`${dist}${path.sep}`);
    wasmRegistered = true;
  }
  const ok = await quietly(async () => {
    const set = await tf.setBackend(backend);
    await tf.ready();
    return set;
  });
  if (!ok || tf.getBackend() !== backend) throw new Error(`TF.js could not start its ${backend} backend`);
  if (backend === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
    return `tfjs ${tf.version.tfjs} wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? `${getThreadsCount()} threads` : '1 thread'})`;
  }
  return `tfjs ${tf.version.tfjs} cpu (plain JavaScript)`;
}

export type NsfwjsModel = Awaited<ReturnType<typeof nsfwjs.load>>;

/** Load nsfwjs's bundled copy of the model (no network: the weights are JS modules inside the package). */
export async function loadNsfwjs(model: NsfwModel): Promise<NsfwjsModel> {
  return quietly(() => nsfwjs.load(model.nsfwjsName, { size: model.size }));
}

/**
 * nsfwjs's probabilities in NSFW_LABELS order, for RGB pixels of any size
 * (nsfwjs stretches them to its input size unless they are that size already).
 * The tensor is built from the bytes as nsfwjs's README does (int32).
 */
export async function nsfwjsScores(model: NsfwjsModel, image: RgbImage): Promise<number[]> {
  const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  try {
    const predictions = await model.classify(input, NSFW_LABELS.length);
    return inLabelOrder(predictions.map((p) => ({ label: p.className, score: p.probability })));
  } finally {
    input.dispose();
  }
}

// ---------------------------------------------------------------- imgcls

export interface LoadedImgcls {
  classifier: Classifier;
  dir: string;
}

/**
 * Load imgcls's built-in `model` from the store (`store`, else IMGCLS_HOME or
 * the default cache), converting it from the nsfwjs package on first use.
 */
export async function loadImgcls(model: NsfwModel, store?: string, options: ClassifierOptions = {}): Promise<LoadedImgcls> {
  const dir = await resolveModel(model.name, {
    store,
    onProgress: (m) => console.error(m),
  });
  return { classifier: await Classifier.load(dir, options), dir };
}

/** imgcls's probabilities in NSFW_LABELS order, from encoded bytes. */
export async function imgclsScores(classifier: Classifier, bytes: Uint8Array): Promise<number[]> {
  const [result] = await classifier.classify([bytes], { topK: 'all' });
  if (!result?.ok) throw new Error(`imgcls failed: ${result ? result.error.message : 'no result'}`);
  return inLabelOrder(result.predictions);
}

/** imgcls's probabilities for pixels already at the input size (no decode, no resize). */
export async function imgclsScoresForPixels(classifier: Classifier, image: RgbImage): Promise<number[]> {
  const [predictions] = await classifier.classifyPixels([image], { topK: 'all' }, true);
  return inLabelOrder(predictions ?? []);
}

function inLabelOrder(predictions: readonly { label: string; score: number }[]): number[] {
  const scores = new Array<number>(NSFW_LABELS.length).fill(NaN);
  for (const p of predictions) scores[NSFW_LABELS.indexOf(p.label as (typeof NSFW_LABELS)[number])] = p.score;
  return scores;
}

export const argmax = (scores: readonly number[]) => scores.reduce((best, v, i) => (v > scores[best]! ? i : best), 0);

// ---------------------------------------------------------------- tables

/** A markdown table with columns padded to line up in a terminal too. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const pad = (s: string, i: number) => (align[i] === 'r' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- command line

/** node:util's parseArgs with positionals allowed; a bad option is a usage error, not a stack trace. */
export function parseCommandLine<O extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(options: O, usage: string) {
  try {
    return parseArgs({ options, allowPositionals: true });
  } catch (err) {
    usageError(`${(err as Error).message}\n${usage}`);
  }
}

/** Options both scripts take, for node:util's parseArgs. */
export const COMMON_OPTIONS = {
  model: { type: 'string', default: 'nsfw-mobilenet-v2' },
  store: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** A one-line progress note on stderr, only when stderr is a terminal; `null` clears it. */
export function progress(text: string | null): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(text === null ? '\r\x1b[K' : `\r\x1b[K${text}`);
}
