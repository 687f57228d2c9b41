/**
 * What `imgcls pull` and `--model hf:...` are given: a Hugging Face
 * reference (`hf:org/repo[@revision]`) or a plain http(s) URL, and the store
 * name a pulled model gets.
 */
import { createError } from '../errors.ts';
import { isStoreName } from '../model/name.ts';

export interface HubRef {
  /** `org/repo`, as the hub spells it. */
  repo: string;
  /** A branch, tag or commit; `main` when none is given. */
  revision: string;
}

const DEFAULT_REVISION = 'main';

const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export const isHubRef = (ref: string): boolean => ref.startsWith('hf:');

/**
 * Parse `hf:org/repo[@revision]`.
 * @throws ImgclsError INVALID_OPTION naming the accepted form.
 */
export function parseHubRef(ref: string): HubRef {
  const bad = (why: string): never => {
    throw createError('INVALID_OPTION', `"${ref}" is not a hub model: ${why}; expected hf:<org>/<repo>[@revision], like hf:Xenova/resnet-50`);
  };
  if (!isHubRef(ref)) bad('it does not start with hf:');
  const body = ref.slice(3);
  const at = body.indexOf('@');
  const repo = at < 0 ? body : body.slice(0, at);
  const revision = at < 0 ? DEFAULT_REVISION : body.slice(at + 1);
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts.every(isStoreName)) bad('the repository must be <org>/<repo>, letters, digits, ".", "_" or "-"');
  if (!REVISION.test(revision) || revision.includes('..')) bad(`the revision "${revision}" must be a branch, tag or commit`);
  return { repo, revision };
}

export const formatHubRef = (ref: HubRef): string => `hf:${ref.repo}${ref.revision === DEFAULT_REVISION ? '' : `@${ref.revision}`}`;

/**
 * A model name in the store: one directory under `<store>/models`, so no
 * path separators and no `..`; the server's model-name rule besides.
 * @throws ImgclsError INVALID_OPTION.
 */
export function checkModelName(name: string, what = '--name'): string {
  if (!isStoreName(name)) {
    throw createError('INVALID_OPTION', `Expected a model name of letters, digits, '.', '_' or '-' (no '/', '\\' or '..') for ${what} but received "${name}"`);
  }
  return name;
}

/** The store name a hub model gets by default: the repository's name, lower-cased. */
export const defaultHubName = (ref: HubRef): string => ref.repo.split('/')[1]!.toLowerCase();

/** The store name a URL model gets by default: the file's name without `.onnx`, lower-cased and tidied. */
export function defaultUrlName(url: URL): string {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  let stem = decodeURIComponent(segments.at(-1) ?? '').replace(/\.onnx$/i, '');
  // `.../resnet50/model.onnx` is better named after its folder.
  if (stem.toLowerCase() === 'model' && segments.length > 1) stem = decodeURIComponent(segments.at(-2)!);
  const name = stem.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').replace(/\.\.+/g, '.');
  return name === '' ? 'model' : name;
}

/** Only loopback hosts may be fetched over plain http (local mirrors, tests). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parse a model or labels URL: https anywhere, http only to a loopback host.
 * @throws ImgclsError URL_NOT_ALLOWED.
 */
export function parseDownloadUrl(text: string, what = 'URL'): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw createError('URL_NOT_ALLOWED', `The ${what} "${text}" is not an absolute URL; expected https://...`);
  }
  checkDownloadUrl(url, what);
  return url;
}

/** @throws ImgclsError URL_NOT_ALLOWED for another scheme, http to a non-loopback host, or credentials in the URL. */
export function checkDownloadUrl(url: URL, what = 'URL'): void {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw createError('URL_NOT_ALLOWED', `The ${what} ${url.protocol}//${url.host}${url.pathname} uses ${url.protocol}; imgcls downloads models over https only`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw createError('URL_NOT_ALLOWED', `The ${what} http://${url.host}${url.pathname} is plain http; imgcls downloads models over https (http only from localhost)`);
  }
  if (url.username !== '' || url.password !== '') {
    throw createError('URL_NOT_ALLOWED', `The ${what} ${url.protocol}//${url.host}${url.pathname} carries credentials (user:password@); for the hub, set HF_TOKEN instead`);
  }
}

/** A URL for messages: no query string (signed CDN URLs carry secrets there). */
export const shownUrl = (url: URL | string): string => {
  const u = typeof url === 'string' ? new URL(url) : url;
  return `${u.protocol}//${u.host}${u.pathname}`;
};
