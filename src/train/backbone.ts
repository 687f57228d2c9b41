/**
 * The frozen backbone the trainer computes features with: a Keras/TF.js
 * layers model (a built-in or any model.json the importer reads), cut at a
 * layer and pooled. The same emitted graph later carries the trained head,
 * so the exported model computes exactly the features the head saw.
 */
import { createHash } from 'node:crypto';
import { createError, isImgclsError } from '../errors.ts';
import { emitKeras, finishKeras, type Emitted, type Pooling } from '../keras/convert.ts';
import { CROP_SIGNED, kerasManifest, NSFWJS_PREPROCESS, parsePooling, poolName, STRETCH_UNIT, type KerasPreprocess } from '../keras/package.ts';
import { loadModelJson, loadNsfwBundle, type LoadedKerasModel, type NsfwBundle } from '../keras/source.ts';
import { parseManifest } from '../model/manifest.ts';
import type { PreprocessSpec } from '../model/spec.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL, nsfwSource } from '../store/builtin.ts';

export const DEFAULT_BACKBONE = DEFAULT_MODEL;

/**
 * Measured tap points per nsfwjs bundle, however it is named (see examples/fashion-mnist/README.md):
 * nsfwjs fine-tuned MobileNetV2's last blocks on its own five classes, so
 * block 13's expansion, pooled on a 2×2 grid, transfers better than the
 * final features.
 */
const MEASURED_TAPS: Partial<Record<NsfwBundle, Tap>> = {
  mobilenet_v2: { layer: 'block_13_expand_relu', pool: { grid: 2 } },
};
/** Elsewhere: the last spatial layer, averaged. */
const AUTO_TAP: Tap = { layer: 'auto', pool: 'avg' };

interface Tap {
  layer: string;
  pool: Pooling;
}

export interface BackboneOptions {
  /** A built-in name, nsfw:mobilenet_v2, or a TF.js model.json (or its directory). */
  backbone?: string;
  /** The layer to tap (default: the backbone's measured default, else the last spatial layer). */
  layer?: string;
  /** avg, max, none or grid:N. */
  pool?: string;
}

export interface Backbone {
  /** As the user named it. */
  name: string;
  loaded: LoadedKerasModel;
  emitted: Emitted;
  preprocess: KerasPreprocess;
  /** The same, as the inference pipeline takes it. */
  spec: PreprocessSpec;
  layer: string;
  pool: Pooling;
  dim: number;
  input: { width: number; height: number };
  /** The feature extractor: the graph cut at `layer` and pooled. */
  onnx: Uint8Array;
  /** Names these features in the cache: the extractor's bytes and the preprocessing. */
  id: string;
}

async function loadSource(name: string): Promise<{ loaded: LoadedKerasModel; preprocess: KerasPreprocess; tap: Tap }> {
  const bundle = BUILTIN_MODELS[name]?.bundle ?? nsfwSource(name);
  if (bundle) return { loaded: loadNsfwBundle(bundle), preprocess: NSFWJS_PREPROCESS, tap: MEASURED_TAPS[bundle] ?? AUTO_TAP };
  if (name.startsWith('nsfw:')) throw createError('INVALID_OPTION', `Unknown nsfwjs model ${name}; expected nsfw:mobilenet_v2 or nsfw:inception_v3`);
  let loaded: LoadedKerasModel;
  try {
    loaded = await loadModelJson(name);
  } catch (err) {
    if (isImgclsError(err) && err.code === 'MODEL_NOT_FOUND') {
      throw createError('MODEL_NOT_FOUND', `${err.message}. --backbone takes a built-in (${Object.keys(BUILTIN_MODELS).join(', ')}) or a TF.js layers model (model.json or its folder)`, err);
    }
    throw err;
  }
  // Teachable Machine models were trained on centre crops scaled to [-1, 1]; other Keras models usually on [0, 1].
  return { loaded, preprocess: loaded.metadata.teachableMachine ? CROP_SIGNED : STRETCH_UNIT, tap: AUTO_TAP };
}

export async function loadBackbone(options: BackboneOptions = {}): Promise<Backbone> {
  const name = options.backbone ?? DEFAULT_BACKBONE;
  const { loaded, preprocess, tap } = await loadSource(name);
  const pool = options.pool ? parsePooling(options.pool) : options.layer ? 'avg' : tap.pool;
  const emitted = emitKeras(loaded.model);
  const converted = finishKeras(emitted, { cut: options.layer ?? tap.layer, pool, outputName: 'features' });
  const dim = converted.output.shape[1];
  if (converted.output.shape.length !== 2 || typeof dim !== 'number') {
    throw createError('INVALID_OPTION', `Layer ${converted.cut} pooled by ${poolName(pool)} gives shape [${converted.output.shape.join(', ')}]; the trainer needs one vector per image (choose --pool avg, max or grid:N)`);
  }
  // The manifest's parser turns imgcls.json's preprocessing into the pipeline's spec, as for any package.
  const manifest = kerasManifest(converted, loaded.source, { name: 'backbone', labels: ['features'], preprocess });
  const spec = parseManifest(manifest, 'backbone').spec.preprocess;
  const id = createHash('sha256').update(converted.onnx).update(JSON.stringify(spec)).digest('hex');
  return {
    name,
    loaded,
    emitted,
    preprocess,
    spec,
    layer: converted.cut!,
    pool,
    dim,
    input: { width: manifest.input.width, height: manifest.input.height },
    onnx: converted.onnx,
    id,
  };
}
