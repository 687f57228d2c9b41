/**
 * Pulling a model into the store: from the Hugging Face hub (transformers.js
 * layout) or from a plain URL (an .onnx file plus a labels file). Files are
 * downloaded into a staging directory, verified, and the finished package is
 * renamed to `<store>/models/<name>` in one step, with a `source.json` saying
 * where it came from.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createError, isImgclsError } from '../errors.ts';
import { makeDirectory } from '../make-directory.ts';
import { parseLabelsFile } from '../model/labels.ts';
import { readHuggingFaceSpec } from '../model/package.ts';
import { BUILTIN_MODELS } from '../store/builtin.ts';
import { withStaging, type Staging } from '../store/staging.ts';
import { downloadFile, type FileProgress } from './download.ts';
import { openUrl, readBody, type HttpSettings } from './http.ts';
import { hubHttp, hubStatusError, linkedExpectations, repoInfo, resolveUrl, VARIANTS, type HubSettings, type RepoInfo, type Variant } from './huggingface.ts';
import { formatBytes } from './progress.ts';
import { checkModelName, defaultHubName, defaultUrlName, formatHubRef, parseDownloadUrl, shownUrl, type HubRef } from './ref.ts';
import { describeSource, isFromRepo, readSource, SOURCE_FILE, type PulledSource, type SourceFile } from './source.ts';

export interface PullOptions {
  /** `<store>/models`. */
  modelsDir: string;
  /** The store name; else the repository's (or the file's) name, lower-cased. */
  name?: string;
  /** One line per step: what is pulled from where, and into which directory. */
  onMessage?: (text: string) => void;
  progress?: FileProgress;
}

export interface PullResult {
  name: string;
  dir: string;
  source: PulledSource;
  /** Nothing was downloaded: the store already held this. */
  upToDate: boolean;
}

const isDirectory = async (p: string): Promise<boolean> => (await stat(p).catch(() => null))?.isDirectory() ?? false;

function storeName(options: PullOptions, fallback: string): string {
  const name = checkModelName(options.name ?? fallback);
  if (Object.hasOwn(BUILTIN_MODELS, name)) {
    throw createError('INVALID_OPTION', `"${name}" is a built-in model's name; pull under another name with --name`);
  }
  return name;
}

/** The source of the model already called `name`, or null; refuses a name taken by something `same` does not accept. */
async function existingSource(target: string, name: string, same: (s: PulledSource) => boolean): Promise<PulledSource | null> {
  if (!(await isDirectory(target))) return null;
  const source = await readSource(target);
  if (source && same(source)) return source;
  throw createError(
    'INVALID_OPTION',
    `The store already has a model named "${name}"${source ? ` (from ${describeSource(source)})` : ''}; pull under another name with --name, or remove it first with imgcls rm ${name}`,
  );
}

/** Download into the staging directory, then install; failures a retry cannot resume leave nothing behind. */
async function stage(options: PullOptions, name: string, target: string, key: string, fn: (staging: Staging) => Promise<PulledSource>): Promise<PullResult> {
  return withStaging(options.modelsDir, name, key, async (staging) => {
    try {
      const source = await fn(staging);
      await writeFile(join(staging.dir, SOURCE_FILE), `${JSON.stringify(source, null, 2)}\n`);
      await staging.install(target);
      const total = source.files.reduce((sum, f) => sum + f.size, 0);
      options.onMessage?.(`Stored ${name} in ${target} (${source.files.length} files, ${formatBytes(total)}, verified)`);
      return { name, dir: target, source, upToDate: false };
    } catch (err) {
      // An interrupted transfer keeps its .part to resume; anything else starts afresh.
      if (!(isImgclsError(err) && err.code === 'DOWNLOAD_FAILED')) await staging.discard();
      throw err;
    }
  });
}

const LAYOUT = 'imgcls pulls image classifiers in the transformers.js layout (config.json, preprocessor_config.json, onnx/model.onnx)';

/**
 * Which files to take from the listing: the ONNX model for `variant`, and its
 * external weights when the listing has them (over 2 GB live beside the graph).
 * @throws ImgclsError MODEL_NOT_FOUND naming what the repository lacks or has.
 */
function pickFiles(ref: HubRef, info: RepoInfo, variant: Variant | undefined): { model: string; data?: string } {
  // An endpoint that lists nothing (a bare mirror) is simply asked for the files.
  const listed = (path: string): boolean => info.files.size === 0 || info.files.has(path);
  for (const config of ['config.json', 'preprocessor_config.json']) {
    if (!listed(config)) throw createError('MODEL_NOT_FOUND', `${formatHubRef(ref)} has no ${config}; ${LAYOUT}`);
  }
  const wanted = variant ? VARIANTS[variant] : 'onnx/model.onnx';
  const model = listed(wanted) ? wanted : !variant && info.files.has('model.onnx') ? 'model.onnx' : null;
  if (model === null) {
    const onnx = [...info.files.keys()].filter((p) => p.endsWith('.onnx'));
    throw createError(
      'MODEL_NOT_FOUND',
      onnx.length > 0
        ? `${formatHubRef(ref)} has no ${wanted}; its ONNX files are ${onnx.join(', ')}`
        : `${formatHubRef(ref)} has no ONNX model; ${LAYOUT}. Look for a copy under Xenova/ or onnx-community/, or pull an .onnx URL with --labels`,
    );
  }
  const data = `${model}_data`;
  return info.files.has(data) ? { model, data } : { model };
}

/** Fail before the big download when the configs are not an image classifier the loader reads. */
async function checkClassifier(dir: string, ref: HubRef, name: string): Promise<void> {
  try {
    await readHuggingFaceSpec(dir, name);
  } catch (err) {
    if (isImgclsError(err)) throw createError(err.code, `${formatHubRef(ref)} is not an image classifier imgcls can load: ${err.message}`, err);
    throw err;
  }
}

/**
 * Pull `ref` into the store. A model already there from the same repository,
 * revision and variant at the same commit is left alone (`upToDate`); an
 * older commit is replaced.
 * @throws ImgclsError INVALID_OPTION (bad or taken name), MODEL_NOT_FOUND (no
 *   such repository, revision or file), HUB_UNAUTHORIZED / HUB_FORBIDDEN,
 *   MODEL_INVALID / LABELS_INVALID (not a classifier), DOWNLOAD_FAILED
 *   (resumable), CHECKSUM_MISMATCH, STORE_BUSY, URL_NOT_ALLOWED.
 */
export async function pullHub(ref: HubRef, variant: Variant | undefined, hub: HubSettings, options: PullOptions): Promise<PullResult> {
  const name = storeName(options, defaultHubName(ref));
  const target = join(options.modelsDir, name);
  const existing = await existingSource(target, name, (s) => isFromRepo(s, ref));
  const http = hubHttp(hub);
  const info = await repoInfo(ref, hub, http);
  const picked = pickFiles(ref, info, variant);
  if (existing && existing.revision === ref.revision && (existing.variant ?? null) === (variant ?? null) && info.commit !== null && existing.commit === info.commit) {
    options.onMessage?.(`${name} is up to date with ${formatHubRef(ref)} (commit ${info.commit.slice(0, 7)})`);
    return { name, dir: target, source: existing, upToDate: true };
  }
  // Every file from one commit, even if the branch moves during the pull.
  const pinned = info.commit ?? ref.revision;
  options.onMessage?.(`Pulling ${formatHubRef(ref)}${info.commit ? ` (commit ${info.commit.slice(0, 7)})` : ''}${variant ? `, ${variant}` : ''} from ${hub.endpoint} into ${target}`);
  const key = JSON.stringify({ endpoint: hub.endpoint, repo: ref.repo, commit: pinned, variant: variant ?? null });

  return stage(options, name, target, key, async (staging) => {
    const files: SourceFile[] = [];
    const get = async (path: string, storedAs: string): Promise<void> => {
      const dest = join(staging.dir, storedAs);
      await makeDirectory(dirname(dest));
      const got = await downloadFile({
        url: resolveUrl(hub, ref.repo, pinned, path),
        dest,
        label: path,
        expected: info.files.get(path) ?? {},
        http,
        fromHeaders: linkedExpectations,
        statusError: (status, opened) => hubStatusError(ref, hub, status, opened, path),
        progress: options.progress,
      });
      files.push({ path: storedAs, ...(storedAs === path ? {} : { from: path }), size: got.size, sha256: got.sha256 });
    };
    await get('config.json', 'config.json');
    await get('preprocessor_config.json', 'preprocessor_config.json');
    await checkClassifier(staging.dir, ref, name);
    // Whichever variant, it is stored where the loader looks: onnx/model.onnx.
    await get(picked.model, 'onnx/model.onnx');
    // External weights keep the name the graph refers to.
    if (picked.data) await get(picked.data, `onnx/${basename(picked.data)}`);
    return {
      kind: 'huggingface',
      source: formatHubRef(ref),
      endpoint: hub.endpoint,
      repo: ref.repo,
      revision: ref.revision,
      commit: info.commit,
      variant: variant ?? null,
      files,
      pulled_at: new Date().toISOString(),
    };
  });
}

const LABELS_LIMIT = 10 * 1024 * 1024;

/** The labels, from a URL or a file, parsed by the rules of the bare layout's labels files. */
async function readLabels(labels: string, http: HttpSettings): Promise<string[]> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(labels)) {
    const url = parseDownloadUrl(labels, 'labels URL');
    const opened = await openUrl(url, http);
    if (opened.response.status !== 200) {
      opened.close();
      const code = opened.response.status === 404 ? 'FILE_NOT_FOUND' : 'DOWNLOAD_FAILED';
      throw createError(code, `The labels URL ${shownUrl(url)} answered ${opened.response.status}; expected a labels file`);
    }
    const text = (await readBody(opened, LABELS_LIMIT)).toString('utf8');
    return parseLabelsFile(text, decodeURIComponent(basename(url.pathname)) || 'labels.txt');
  }
  let text: string;
  try {
    text = await readFile(labels, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw createError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE', `Cannot read the labels file ${labels} (${code ?? 'error'})`, err);
  }
  return parseLabelsFile(text, basename(labels));
}

const SHA256 = /^[0-9a-f]{64}$/i;

/**
 * Pull a plain `.onnx` URL and a labels file (URL or path) into the store as a
 * bare package: `model.onnx` + `labels.txt`, ImageNet preprocessing by default.
 * @throws ImgclsError INVALID_OPTION (bad name or --sha256, name taken),
 *   URL_NOT_ALLOWED, FILE_NOT_FOUND / LABELS_INVALID (labels), MODEL_NOT_FOUND
 *   (404), DOWNLOAD_FAILED (resumable), CHECKSUM_MISMATCH, STORE_BUSY.
 */
export async function pullUrl(url: URL, labels: string, sha256: string | undefined, options: PullOptions): Promise<PullResult> {
  if (sha256 !== undefined && !SHA256.test(sha256)) throw createError('INVALID_OPTION', `Expected 64 hexadecimal digits for --sha256 but received "${sha256}"`);
  const name = storeName(options, defaultUrlName(url));
  const target = join(options.modelsDir, name);
  const existing = await existingSource(target, name, (s) => s.kind === 'url' && s.source === url.href);
  const model = existing?.files.find((f) => f.path === 'model.onnx');
  if (existing && (sha256 === undefined || model?.sha256 === sha256.toLowerCase())) {
    options.onMessage?.(`${name} is already in the store from ${shownUrl(url)}; remove it with imgcls rm ${name} to pull it again`);
    return { name, dir: target, source: existing, upToDate: true };
  }
  // No token: it is the hub's, and this is not the hub.
  const http: HttpSettings = {};
  const labelList = await readLabels(labels, http);
  options.onMessage?.(`Pulling ${shownUrl(url)} (${labelList.length} labels) into ${target}`);
  const key = JSON.stringify({ url: url.href, sha256: sha256?.toLowerCase() ?? null });

  return stage(options, name, target, key, async (staging) => {
    const labelsText = `${labelList.join('\n')}\n`;
    await writeFile(join(staging.dir, 'labels.txt'), labelsText);
    const got = await downloadFile({
      url,
      dest: join(staging.dir, 'model.onnx'),
      label: basename(url.pathname) || 'model.onnx',
      expected: sha256 ? { sha256 } : {},
      http,
      statusError: (status) =>
        status === 404
          ? createError('MODEL_NOT_FOUND', `${shownUrl(url)} answered 404; no model there`)
          : createError('DOWNLOAD_FAILED', `${shownUrl(url)} answered ${status}${status === 401 || status === 403 ? '; imgcls sends no credentials to plain URLs' : ''}`),
      progress: options.progress,
    });
    return {
      kind: 'url',
      source: url.href,
      labels,
      files: [
        { path: 'model.onnx', size: got.size, sha256: got.sha256 },
        { path: 'labels.txt', size: Buffer.byteLength(labelsText), sha256: createHash('sha256').update(labelsText).digest('hex') },
      ],
      pulled_at: new Date().toISOString(),
    };
  });
}

/** The stored model pulled from `ref` (same repository and revision), if any; the default name is preferred. */
export async function findPulled(modelsDir: string, ref: HubRef): Promise<{ name: string; dir: string; source: PulledSource } | null> {
  let entries: string[];
  try {
    entries = await readdir(modelsDir);
  } catch {
    return null;
  }
  const names = entries.filter((e) => !e.startsWith('.')).sort();
  const preferred = defaultHubName(ref);
  for (const name of names.includes(preferred) ? [preferred, ...names.filter((n) => n !== preferred)] : names) {
    const dir = join(modelsDir, name);
    const source = await readSource(dir);
    if (source && isFromRepo(source, ref) && source.revision === ref.revision) return { name, dir, source };
  }
  return null;
}
