/**
 * Feature extraction: every image read, hashed, looked up in the cache, and
 * otherwise decoded, preprocessed as the backbone expects and run through the
 * cut graph in batches. The next batch is read and decoded (on sharp's
 * threads) while onnxruntime runs the current one (on all cores).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ModelSession } from '../engine/session.ts';
import { isImgclsError } from '../errors.ts';
import { decodeImage } from '../image/decode.ts';
import type { Pixels } from '../image/pixels.ts';
import { batchDims, fitToInput, writeTensor } from '../image/preprocess.ts';
import { augment, type AugmentOptions } from './augment.ts';
import type { Backbone } from './backbone.ts';
import type { FeatureCache } from './feature-cache.ts';
import { matrix, type Matrix } from './linalg.ts';
import { Random } from './random.ts';

export interface AugmentView {
  /** 1, 2, …: which extra view of each image (each has its own cache file). */
  view: number;
  seed: number;
  options: AugmentOptions;
}

export interface ExtractOptions {
  cache: FeatureCache | null;
  /** Images per onnxruntime call (default 32). */
  batch?: number;
  /** Compute an augmented view instead of the plain image. */
  augment?: AugmentView;
  maxPixels?: number;
  /** Called after each batch with how many images are done. */
  onProgress?: (done: number) => void;
}

export interface Extracted {
  /** One row per path; rows of failed images are zeros. */
  x: Matrix;
  failed: { index: number; path: string; message: string }[];
  computed: number;
  cached: number;
}

interface Ready {
  row: number;
  hash: string;
  pixels: Pixels;
}

/** The augmentation of one image depends on its content, the view and the seed, never on the order of the run. */
function viewRandom(hash: string, view: AugmentView): Random {
  return new Random(parseInt(hash.slice(0, 8), 16) ^ Math.imul(view.view, 0x9e3779b1) ^ view.seed);
}

export async function extractFeatures(session: ModelSession, backbone: Backbone, paths: readonly string[], options: ExtractOptions): Promise<Extracted> {
  const dim = backbone.dim;
  const x = matrix(paths.length, dim);
  const failed: Extracted['failed'] = [];
  const seen = new Map<string, number>();
  const copies: { from: string; row: number }[] = [];
  let computed = 0;
  let cached = 0;
  const batch = Math.max(1, options.batch ?? 32);
  const { spec } = backbone;
  const inputName = session.signature.inputs[0]!.name;
  const outputName = session.signature.outputs[0]!.name;

  const prepareOne = async (row: number): Promise<Ready | null> => {
    const path = paths[row]!;
    try {
      const bytes = await readFile(path);
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (seen.has(hash)) {
        copies.push({ from: hash, row });
        return null;
      }
      seen.set(hash, row);
      if (options.cache?.has(hash)) {
        await options.cache.read(hash, x.data, row * dim);
        cached++;
        return null;
      }
      if (options.augment) {
        const full = await decodeImage(bytes, { maxPixels: options.maxPixels });
        return { row, hash, pixels: fitToInput(augment(full, viewRandom(hash, options.augment), options.augment.options), spec) };
      }
      const decoded = await decodeImage(bytes, { spec, maxPixels: options.maxPixels });
      return { row, hash, pixels: decoded.fitted ? decoded : fitToInput(decoded, spec) };
    } catch (err) {
      if (!isImgclsError(err) && !(err as NodeJS.ErrnoException).code) throw err;
      failed.push({ index: row, path, message: (err as Error).message });
      return null;
    }
  };

  const prepare = async (from: number, to: number): Promise<Ready[]> => {
    const all = await Promise.all(Array.from({ length: to - from }, (_, i) => prepareOne(from + i)));
    return all.filter((r): r is Ready => r !== null);
  };

  // One input buffer for every batch of a size (batches run one after another).
  let tensor = new Float32Array(0);
  const run = async (ready: Ready[]): Promise<void> => {
    if (ready.length === 0) return;
    const { width, height } = ready[0]!.pixels;
    const per = width * height * 3;
    if (tensor.length !== per * ready.length) tensor = new Float32Array(per * ready.length);
    ready.forEach((r, i) => writeTensor(r.pixels, spec, tensor, i * per));
    const dims = batchDims(ready.length, width, height, spec);
    const out = await session.run(inputName, tensor, dims, outputName);
    const entries = ready.map((r, i) => {
      const vector = out.data.subarray(i * dim, (i + 1) * dim);
      x.data.set(vector, r.row * dim);
      return { hash: r.hash, vector };
    });
    computed += ready.length;
    await options.cache?.append(entries);
  };

  let next: Promise<Ready[]> | null = prepare(0, Math.min(batch, paths.length));
  for (let from = 0; next !== null; from += batch) {
    const current: Ready[] = await next;
    const after = from + batch;
    next = after < paths.length ? prepare(after, Math.min(after + batch, paths.length)) : null;
    await run(current);
    options.onProgress?.(Math.min(after, paths.length));
  }
  // The same bytes under two names: computed (or read) once, copied to both rows.
  const failedRows = new Set(failed.map((f) => f.index));
  for (const c of copies) {
    const src = seen.get(c.from)!;
    if (failedRows.has(src)) failed.push({ index: c.row, path: paths[c.row]!, message: `same bytes as ${paths[src]}, which failed` });
    else x.data.copyWithin(c.row * dim, src * dim, (src + 1) * dim);
  }
  return { x, failed, computed, cached };
}
