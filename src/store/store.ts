/**
 * The model store: a cache directory holding converted and pulled models,
 * one package directory per name. `--store <dir>` or `IMGCLS_HOME` chooses
 * it; the default follows XDG (~/.cache/imgcls).
 *
 * Built-in models are converted into the store the first time they are
 * used, and again only when imgcls or nsfwjs changes version. Hub models
 * (`hf:org/repo[@rev]`) are pulled the first time they are named, and then
 * used from the store without the network.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createError, isImgclsError } from '../errors.ts';
import type { FileProgress } from '../hub/download.ts';
import { hubSettings } from '../hub/huggingface.ts';
import { findPulled, pullHub } from '../hub/pull.ts';
import { checkModelName, formatHubRef, isHubRef, parseHubRef } from '../hub/ref.ts';
import { describeSource, readSource } from '../hub/source.ts';
import { MANIFEST_FILE } from '../model/manifest.ts';
import { writeKerasPackage } from '../keras/package.ts';
import { loadNsfwBundle, nsfwVersion } from '../keras/source.ts';
import { VERSION } from '../version.ts';
import { BUILTIN_MODELS, BUILTIN_REVISION, builtinPackageOptions, DEFAULT_MODEL } from './builtin.ts';
import { removeDirectory } from './write-directory.ts';

export interface StoreOptions {
  /** The store directory; else IMGCLS_HOME, else $XDG_CACHE_HOME/imgcls or ~/.cache/imgcls. */
  store?: string;
  /** Told when a slow step (a conversion, a download) starts. */
  onProgress?: (message: string) => void;
  /** Told how each file of an on-demand pull downloads (the CLI draws a bar). */
  progress?: FileProgress;
}

export interface StoredModel {
  name: string;
  dir: string;
  builtin: boolean;
  /** False for a built-in not converted yet. */
  ready: boolean;
  description: string;
  /** Where a pulled model came from: `hf:org/repo (main @ 1a2b3c4)` or its URL. */
  source?: string;
}

export function storeDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit);
  if (env.IMGCLS_HOME) return resolve(env.IMGCLS_HOME);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'imgcls');
}

/** `<store>/models`, where every package lives. */
export const modelsDir = (options: StoreOptions = {}): string => join(storeDir(options.store), 'models');

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function readManifest(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const builtinStamp = (name: string) => `${name}@nsfwjs-${nsfwVersion()}+imgcls-${VERSION}.${BUILTIN_REVISION}`;

async function builtinReady(name: string, dir: string): Promise<boolean> {
  const manifest = await readManifest(dir);
  const metadata = manifest?.metadata as Record<string, unknown> | undefined;
  return metadata?.builtin === builtinStamp(name);
}

/** Convert a built-in into the store unless it is there already; returns its directory. */
export async function ensureBuiltin(name: string, options: StoreOptions = {}): Promise<string> {
  const model = BUILTIN_MODELS[name];
  if (!model) throw createError('MODEL_NOT_FOUND', `${name} is not a built-in model; built-ins are ${Object.keys(BUILTIN_MODELS).join(', ')}`);
  const dir = join(modelsDir(options), name);
  if (await builtinReady(name, dir)) return dir;
  options.onProgress?.(`Converting ${name} from the nsfwjs package into ${dir} (once)`);
  try {
    await writeKerasPackage(loadNsfwBundle(model.bundle), dir, builtinPackageOptions(model, builtinStamp(name)));
  } catch (err) {
    throw storeWriteError(err, options);
  }
  return dir;
}

/** Why a store write failed, with what to do, for the permission errors a read-only store gives. */
function storeWriteError(err: unknown, options: StoreOptions): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (!isImgclsError(err) && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) {
    return createError('FILE_UNREADABLE', `Cannot write the model store ${storeDir(options.store)} (${code}); choose a writable one with --store or IMGCLS_HOME`, err);
  }
  return err;
}

/**
 * `hf:org/repo[@rev]`: the stored model pulled from that repository and
 * revision, with no network; else pull it now (the user named it).
 */
async function ensureHubModel(ref: string, options: StoreOptions): Promise<string> {
  const parsed = parseHubRef(ref);
  const found = await findPulled(modelsDir(options), parsed);
  if (found) return found.dir;
  // Read only now: a stored model, or a command that never pulls, does not care about a bad HF_ENDPOINT.
  const hub = hubSettings();
  options.onProgress?.(`${formatHubRef(parsed)} is not in the store; pulling it from ${hub.endpoint} (once)`);
  try {
    const pulled = await pullHub(parsed, undefined, hub, {
      modelsDir: modelsDir(options),
      onMessage: options.onProgress,
      progress: options.progress,
    });
    return pulled.dir;
  } catch (err) {
    throw storeWriteError(err, options);
  }
}

const looksLikePath = (ref: string) => ref.startsWith('.') || isAbsolute(ref) || ref.includes('/') || ref.includes('\\');

/**
 * Turn a `--model` value into a package directory: a path, a built-in name
 * (converted on first use), or the name of a model in the store. No value
 * means the default model.
 */
export async function resolveModel(ref: string | undefined, options: StoreOptions = {}): Promise<string> {
  const name = ref ?? DEFAULT_MODEL;
  if (isHubRef(name)) return ensureHubModel(name, options);
  if (!looksLikePath(name)) {
    if (BUILTIN_MODELS[name]) return ensureBuiltin(name, options);
    const stored = join(modelsDir(options), name);
    if (await isDirectory(stored)) return stored;
  }
  if (await isDirectory(name)) return resolve(name);
  const names = (await listModels(options)).map((m) => m.name);
  throw createError(
    'MODEL_NOT_FOUND',
    `No model "${name}": it is not a directory, and not a model name (available: ${names.join(', ')}; the store is ${storeDir(options.store)})`,
  );
}

/** Built-ins first, then whatever else the store holds. */
export async function listModels(options: StoreOptions = {}): Promise<StoredModel[]> {
  const root = modelsDir(options);
  const models: StoredModel[] = [];
  for (const m of Object.values(BUILTIN_MODELS)) {
    const dir = join(root, m.name);
    models.push({ name: m.name, dir, builtin: true, ready: await builtinReady(m.name, dir), description: m.description });
  }
  let entries: string[] = [];
  try {
    entries = (await readdir(root)).sort();
  } catch {
    // No store yet.
  }
  for (const entry of entries) {
    if (entry.startsWith('.') || BUILTIN_MODELS[entry]) continue;
    const dir = join(root, entry);
    if (!(await isDirectory(dir))) continue;
    const manifest = await readManifest(dir);
    const description = typeof manifest?.description === 'string' ? manifest.description : '';
    const source = await readSource(dir);
    models.push({ name: entry, dir, builtin: false, ready: true, description, ...(source ? { source: describeSource(source) } : {}) });
  }
  return models;
}

/**
 * Delete a model from the store. A built-in's converted copy may be removed
 * too: it is converted again on its next use.
 * @throws ImgclsError INVALID_OPTION for a name with a path in it,
 *   MODEL_NOT_FOUND when the store has no such model.
 */
export async function removeModel(name: string, options: StoreOptions = {}): Promise<{ dir: string; builtin: boolean }> {
  checkModelName(name, 'the model name');
  const root = modelsDir(options);
  const dir = join(root, name);
  if (!(await isDirectory(dir))) {
    const names = (await listModels(options)).filter((m) => m.ready).map((m) => m.name);
    throw createError('MODEL_NOT_FOUND', `The store ${storeDir(options.store)} has no model "${name}" (it has: ${names.join(', ') || 'none'})`);
  }
  try {
    await removeDirectory(dir);
  } catch (err) {
    throw storeWriteError(err, options);
  }
  return { dir, builtin: name in BUILTIN_MODELS };
}
