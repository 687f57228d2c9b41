/**
 * The Hugging Face hub's HTTP interface, as far as pulling needs it:
 * `GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true` lists the files
 * with sizes and checksums and names the commit; `{endpoint}/{repo}/resolve/
 * {commit}/{path}` serves a file (LFS files by a redirect to a CDN).
 */
import { createError } from '../errors.ts';
import type { Expected } from './download.ts';
import { openUrl, readBody, type HttpSettings, type Opened } from './http.ts';
import { formatHubRef, parseDownloadUrl, type HubRef } from './ref.ts';

const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Where the hub is and how to sign in, from HF_ENDPOINT and HF_TOKEN. */
export interface HubSettings {
  endpoint: string;
  token?: string;
}

/**
 * Read HF_ENDPOINT (default https://huggingface.co) and HF_TOKEN.
 * @throws ImgclsError URL_NOT_ALLOWED for an endpoint that is not https (or http to localhost).
 */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const endpoint = parseDownloadUrl(env.HF_ENDPOINT || DEFAULT_ENDPOINT, 'HF_ENDPOINT').href.replace(/\/+$/, '');
  const token = env.HF_TOKEN?.trim();
  return token ? { endpoint, token } : { endpoint };
}

/** HTTP settings that send the token to the endpoint's origin and nowhere else. */
export function hubHttp(settings: HubSettings): HttpSettings {
  return settings.token ? { token: { value: settings.token, origin: new URL(settings.endpoint).origin } } : {};
}

/** The ONNX file each `--variant` stands for, as transformers.js names them. */
export const VARIANTS = { quantized: 'onnx/model_quantized.onnx', fp16: 'onnx/model_fp16.onnx' } as const;
export type Variant = keyof typeof VARIANTS;

export interface RepoFile extends Expected {
  path: string;
}

export interface RepoInfo {
  /** The commit the revision resolved to; null when the endpoint did not say. */
  commit: string | null;
  files: Map<string, RepoFile>;
}

const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

export const resolveUrl = (settings: HubSettings, repo: string, revision: string, path: string): URL =>
  new URL(`${settings.endpoint}/${encodePath(repo)}/resolve/${encodeURIComponent(revision)}/${encodePath(path)}`);

/**
 * The error for a hub answer that is not a success, naming the repository
 * (and file) and what to do.
 */
export function hubStatusError(ref: HubRef, settings: HubSettings, status: number, opened: Opened, file?: string): Error {
  const what = file === undefined ? formatHubRef(ref) : `${file} of ${formatHubRef(ref)}`;
  const code = opened.response.headers.get('x-error-code') ?? '';
  if (status === 401) {
    return settings.token
      ? createError('HUB_UNAUTHORIZED', `${settings.endpoint} refused HF_TOKEN for ${what} (401); check that the token is valid and can read ${ref.repo}`)
      : createError('HUB_UNAUTHORIZED', `${settings.endpoint} answered 401 for ${what}: the repository is private or gated, or does not exist; set HF_TOKEN to a token that can read it`);
  }
  if (status === 403) {
    return createError('HUB_FORBIDDEN', `${settings.endpoint} answered 403 for ${what}: ${settings.token ? 'HF_TOKEN cannot read it' : 'it needs a token'}; for a gated model, accept its terms at ${settings.endpoint}/${ref.repo}${settings.token ? ' with the token\'s account' : ' and set HF_TOKEN'}`);
  }
  if (status === 404) {
    if (file !== undefined && code !== 'RepoNotFound' && code !== 'RevisionNotFound') return createError('MODEL_NOT_FOUND', `${formatHubRef(ref)} has no file ${file} (404 from ${settings.endpoint})`);
    if (code === 'RevisionNotFound') return createError('MODEL_NOT_FOUND', `${ref.repo} has no revision "${ref.revision}" on ${settings.endpoint}`);
    return createError('MODEL_NOT_FOUND', `No model repository ${ref.repo} on ${settings.endpoint} (404 for ${what}); check the name, e.g. hf:Xenova/resnet-50`);
  }
  return createError('DOWNLOAD_FAILED', `${settings.endpoint} answered ${status} for ${what}; try again later`);
}

const hex = (value: unknown, length: number): string | undefined =>
  typeof value === 'string' && new RegExp(`^[0-9a-f]{${length}}$`, 'i').test(value) ? value.toLowerCase() : undefined;
const count = (value: unknown): number | undefined => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined);

/**
 * The files of `ref` at its revision, with sizes and checksums, and the commit.
 * @throws ImgclsError MODEL_NOT_FOUND, HUB_UNAUTHORIZED, HUB_FORBIDDEN, DOWNLOAD_FAILED.
 */
export async function repoInfo(ref: HubRef, settings: HubSettings, http: HttpSettings): Promise<RepoInfo> {
  const url = new URL(`${settings.endpoint}/api/models/${encodePath(ref.repo)}/revision/${encodeURIComponent(ref.revision)}?blobs=true`);
  const opened = await openUrl(url, http, { accept: 'application/json' });
  if (opened.response.status !== 200) {
    opened.close();
    throw hubStatusError(ref, settings, opened.response.status, opened);
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse((await readBody(opened, 50 * 1024 * 1024)).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof SyntaxError) throw createError('DOWNLOAD_FAILED', `${settings.endpoint} sent a model listing for ${formatHubRef(ref)} that is not JSON`);
    throw err;
  }
  const files = new Map<string, RepoFile>();
  for (const sibling of Array.isArray(body.siblings) ? body.siblings : []) {
    const s = sibling as Record<string, unknown>;
    if (typeof s.rfilename !== 'string') continue;
    const lfs = s.lfs as Record<string, unknown> | undefined;
    const file: RepoFile = { path: s.rfilename, size: count(lfs?.size) ?? count(s.size) };
    const sha256 = hex(lfs?.sha256, 64) ?? hex(lfs?.oid, 64);
    if (sha256) file.sha256 = sha256;
    // A non-LFS file's blobId is git's blob id; an LFS file's is the pointer's, which says nothing about the bytes.
    else if (hex(s.blobId, 40)) file.gitSha1 = hex(s.blobId, 40);
    files.set(file.path, file);
  }
  return { commit: hex(body.sha, 40) ?? null, files };
}

/**
 * What the `resolve/` answer's own headers say about the file: X-Linked-Size
 * and X-Linked-Etag (the sha256) for LFS files, the ETag (git's blob id) for
 * others. Used only where the listing said nothing.
 */
export function linkedExpectations(headers: Headers): Expected {
  const unquote = (v: string | null): string => (v ?? '').replace(/^W\//, '').replace(/"/g, '').trim();
  const linked = hex(unquote(headers.get('x-linked-etag')), 64);
  const size = Number(headers.get('x-linked-size') ?? NaN);
  if (linked) return Number.isSafeInteger(size) ? { sha256: linked, size } : { sha256: linked };
  const etag = hex(unquote(headers.get('etag')), 40);
  return etag ? { gitSha1: etag } : {};
}
