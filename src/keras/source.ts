/**
 * Where TF.js layers models come from: a `model.json` on disk with its
 * weight shards beside it (what `tfjs.converters.save_keras_model`, TF.js's
 * `model.save('file://…')` and Teachable Machine write), or the models
 * bundled inside the nsfwjs npm package as JS modules holding base64 shards.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { createError } from '../errors.ts';
import { resolveInside } from '../model/package.ts';
import type { KerasModel } from './convert.ts';
import type { WeightGroup } from './weights.ts';

/** Labels and sizes from a Teachable Machine `metadata.json`, when one sits beside the model. */
export interface KerasMetadata {
  labels?: string[];
  imageSize?: number;
  teachableMachine: boolean;
}

export interface LoadedKerasModel {
  model: KerasModel;
  metadata: KerasMetadata;
  /** Where it came from, for messages and the manifest. */
  source: string;
}

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: WeightGroup[];
  format?: string;
}

function checkModelJson(json: unknown, where: string): Required<Pick<ModelJson, 'modelTopology' | 'weightsManifest'>> {
  const j = json as ModelJson;
  if (typeof j !== 'object' || j === null || j.modelTopology === undefined) {
    throw createError('MODEL_INVALID', `${where} is not a TF.js layers model: it has no modelTopology`);
  }
  if (j.format === 'graph-model') {
    throw createError('UNSUPPORTED_LAYER', `${where} is a TF.js graph model; the importer converts layers models (Keras) only`);
  }
  if (!Array.isArray(j.weightsManifest)) throw createError('MODEL_INVALID', `${where} has no weightsManifest`);
  for (const group of j.weightsManifest) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group.weights)) throw createError('MODEL_INVALID', `${where}: each weightsManifest entry needs paths and weights`);
  }
  return { modelTopology: j.modelTopology, weightsManifest: j.weightsManifest };
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw createError(code === 'ENOENT' ? 'MODEL_NOT_FOUND' : 'FILE_UNREADABLE', `Cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw createError('MODEL_INVALID', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function readMetadata(json: unknown): KerasMetadata {
  const m = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const labels = Array.isArray(m.labels) && m.labels.every((l) => typeof l === 'string') ? (m.labels as string[]) : undefined;
  return {
    labels,
    imageSize: typeof m.imageSize === 'number' ? m.imageSize : undefined,
    teachableMachine: typeof m.packageName === 'string' && m.packageName.startsWith('@teachablemachine/'),
  };
}

/** Load `model.json` (or a directory holding one) with its weight shards and any `metadata.json`. */
export async function loadModelJson(path: string): Promise<LoadedKerasModel> {
  const file = path.endsWith('.json') ? resolve(path) : join(resolve(path), 'model.json');
  const json = checkModelJson(await readJson(file, 'model'), file);
  const dir = dirname(file);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const shard = resolveInside(dir, p);
      if (shard === null) throw createError('MODEL_INVALID', `Weight shard ${p} lies outside ${dir}`);
      try {
        shards.push(await readFile(shard));
      } catch (err) {
        throw createError('MODEL_NOT_FOUND', `Weight shard ${shard} named by ${file} cannot be read: ${(err as Error).message}`);
      }
    }
  }
  let metadata: KerasMetadata = { teachableMachine: false };
  try {
    metadata = readMetadata(JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')));
  } catch {
    // No (readable) metadata.json: labels must come from the command line.
  }
  return { model: { topology: json.modelTopology, weightsManifest: json.weightsManifest, weightData: Buffer.concat(shards) }, metadata, source: file };
}

/** The nsfwjs package's own bundled models (each finds its shards in its weights manifest). */
export type NsfwBundle = 'mobilenet_v2' | 'inception_v3';

/** The nsfwjs package's directory (its package.json is not in its "exports", so found from the entry point). */
function nsfwPackageDir(): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('nsfwjs');
  } catch {
    throw createError('MODEL_NOT_FOUND', 'The nsfwjs package is not installed; run npm install (it ships the default models)');
  }
  // .../nsfwjs/dist/cjs/index.js → .../nsfwjs
  return join(dirname(entry), '..', '..');
}

/** The installed nsfwjs version: part of a built-in's identity, so an upgrade reconverts. */
export function nsfwVersion(): string {
  try {
    return (createRequire(import.meta.url)(join(nsfwPackageDir(), 'package.json')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Load one of nsfwjs's bundled models: JS modules exporting the model JSON
 * and base64 weight shards, the shard named `p` by the weights manifest
 * being the module `p.min.js`.
 */
export function loadNsfwBundle(name: NsfwBundle): LoadedKerasModel {
  const dir = join(nsfwPackageDir(), 'dist', 'models', name);
  const require = createRequire(import.meta.url);
  const load = (file: string): unknown => {
    try {
      return require(join(dir, file));
    } catch (err) {
      throw createError('MODEL_NOT_FOUND', `Cannot load nsfwjs's ${name} bundle ${join(dir, file)}: ${(err as Error).message}`);
    }
  };
  const json = checkModelJson(load('model.min.js'), `nsfwjs ${name}/model.min.js`);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const base64 = load(`${p}.min.js`);
      if (typeof base64 !== 'string') throw createError('MODEL_INVALID', `nsfwjs ${name} shard ${p} is not a base64 string`);
      shards.push(Buffer.from(base64, 'base64'));
    }
  }
  return { model: { topology: json.modelTopology, weightsManifest: json.weightsManifest, weightData: Buffer.concat(shards) }, metadata: { teachableMachine: false }, source: `nsfwjs/${name}` };
}
