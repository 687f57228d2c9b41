/**
 * Writing a converted Keras model as an imgcls package: `model.onnx` and an
 * `imgcls.json` that says how images are prepared, plus any feature-extractor
 * variants (listed under `metadata.features` for the trainer).
 *
 * Files are written into a temporary directory beside the target and renamed
 * into place, so a reader never sees a half-written package.
 */
import { readdir, stat } from 'node:fs/promises';
import { createError } from '../errors.ts';
import { writeDirectory } from '../store/write-directory.ts';
import { MANIFEST_FILE, type InterpolationName } from '../model/manifest.ts';
import { VERSION } from '../version.ts';
import { emitKeras, finishKeras, type Converted, type DenseLayer, type Emitted, type Pooling } from './convert.ts';
import type { LoadedKerasModel } from './source.ts';

/** How the package's images are prepared, in imgcls.json's terms. */
export interface KerasPreprocess {
  resize: 'stretch' | 'shorter';
  interpolation: InterpolationName;
  scale: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** Keras's usual preprocessing: stretch to the input size, scale to [0, 1]. */
export const STRETCH_UNIT: KerasPreprocess = { resize: 'stretch', interpolation: 'bilinear', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
/**
 * nsfwjs's exactly: the same, resized as TF.js's resizeBilinear(alignCorners)
 * does it. The top class of a large photo can depend on the resampling, so
 * only this reproduces nsfwjs's answers (see BENCHMARKS.md).
 */
export const NSFWJS_PREPROCESS: KerasPreprocess = { ...STRETCH_UNIT, interpolation: 'bilinear-align-corners' };
/** Teachable Machine's: centre crop, scale to [-1, 1]. */
export const CROP_SIGNED: KerasPreprocess = { resize: 'shorter', interpolation: 'bilinear', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

export interface FeatureVariant {
  /** Layer to cut at, or `auto` for the last spatial layer. */
  layer: string;
  pool: Pooling;
}

export interface KerasPackageOptions {
  name: string;
  labels: readonly string[];
  preprocess: KerasPreprocess;
  description?: string;
  features?: readonly FeatureVariant[];
  /** Extra manifest metadata (where the model came from). */
  metadata?: Record<string, unknown>;
  /** A trained head to put on the graph, cut at `cut` (the trainer's export). */
  head?: { cut: string; pool: Pooling; layers: readonly DenseLayer[] };
  /** Extra files written into the package with it (a training report, which wants the model's size). */
  files?: (converted: Converted) => Record<string, string | Uint8Array>;
  /** The model already emitted (the trainer emitted it for its features). */
  emitted?: Emitted;
}

export const poolName = (p: Pooling): string => (typeof p === 'object' ? `grid${p.grid}` : p);

/** `avg`, `max`, `none` or `grid:N`. */
export function parsePooling(value: string): Pooling {
  if (value === 'avg' || value === 'max' || value === 'none') return value;
  const m = /^grid:?(\d+)$/.exec(value);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 8) return { grid: Number(m[1]) };
  throw createError('INVALID_OPTION', `Expected avg, max, none or grid:N (N from 1 to 8) for the pooling but received "${value}"`);
}

function checkOutput(converted: Converted, labels: readonly string[]): void {
  const out = converted.output.shape;
  if (out.length !== 2) {
    throw createError('MODEL_MISMATCH', `The model's output has shape [${out.join(', ')}]; a classifier's is [batch, classes]`);
  }
  if (out[1] !== labels.length) {
    throw createError('LABELS_INVALID', `The model has ${out[1]} classes but ${labels.length} labels were given`);
  }
}

/** imgcls.json for a converted graph: labels, input size and preprocessing, output activation. */
export function kerasManifest(converted: Converted, source: string, options: Omit<KerasPackageOptions, 'files' | 'emitted' | 'head'>, extra: Record<string, unknown> = {}) {
  const [, h, w] = converted.input.shape;
  if (converted.input.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number') {
    throw createError('MODEL_MISMATCH', `The model's input has shape [${converted.input.shape.join(', ')}]; an image classifier's is [batch, height, width, channels] with a fixed size`);
  }
  return {
    name: options.name,
    model: 'model.onnx',
    labels: options.labels,
    input: {
      name: converted.input.name,
      layout: 'NHWC',
      width: w,
      height: h,
      resize: options.preprocess.resize,
      interpolation: options.preprocess.interpolation,
      scale: options.preprocess.scale,
      mean: options.preprocess.mean,
      std: options.preprocess.std,
    },
    // A graph ending in softmax (or sigmoid) needs no activation of ours; otherwise its scores are logits.
    output: { name: converted.output.name, activation: converted.activated ? 'none' : 'softmax' },
    ...(options.description ? { description: options.description } : {}),
    metadata: { ...options.metadata, source, converter: `imgcls ${VERSION}`, ...extra },
  };
}

/**
 * Refuse an output directory that is not a model package: only an earlier
 * package (or an empty folder) may be replaced, so a mistyped --out never
 * deletes a user's files.
 * @throws ImgclsError INVALID_OPTION for a file or a non-empty folder without imgcls.json.
 */
export async function checkReplaceable(outDir: string): Promise<void> {
  let entries: string[];
  try {
    if (!(await stat(outDir)).isDirectory()) throw createError('INVALID_OPTION', `${outDir} exists and is not a directory`);
    entries = await readdir(outDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
    throw createError('INVALID_OPTION', `${outDir} is a non-empty folder that holds no model (${MANIFEST_FILE}); choose a new or empty folder, or a previous model to replace`);
  }
}

/** Convert `loaded` and write the package to `outDir` (replacing an earlier package there). Returns the conversion. */
export async function writeKerasPackage(loaded: LoadedKerasModel, outDir: string, options: KerasPackageOptions): Promise<Converted> {
  await checkReplaceable(outDir);
  // Emitted once; the classifier and each feature extractor are finished from it.
  const emitted = options.emitted ?? emitKeras(loaded.model);
  const head = options.head;
  const converted = finishKeras(emitted, head ? { cut: head.cut, pool: head.pool, head: head.layers } : {});
  checkOutput(converted, options.labels);
  const features = (options.features ?? []).map((f) => {
    const c = finishKeras(emitted, { cut: f.layer, pool: f.pool, outputName: 'features' });
    const layer = c.cut!;
    return { file: `features-${layer.replace(/[^A-Za-z0-9_.-]/g, '_')}-${poolName(f.pool)}.onnx`, layer, pool: poolName(f.pool), dim: c.output.shape[1] ?? null, onnx: c.onnx };
  });
  const manifest = kerasManifest(converted, loaded.source, options, features.length > 0 ? { features: features.map(({ onnx: _onnx, ...rest }) => rest) } : {});

  await writeDirectory(outDir, [
    ['model.onnx', converted.onnx],
    ...features.map((f): [string, Uint8Array] => [f.file, f.onnx]),
    [MANIFEST_FILE, JSON.stringify(manifest, null, 2) + '\n'],
    ...Object.entries(options.files?.(converted) ?? {}),
  ]);
  return converted;
}
