/**
 * HTTP for downloading models: Node's fetch with redirects followed by hand,
 * so that every hop is checked (https, or http to localhost) and a token goes
 * only to the origin it belongs to. The hub answers `resolve/` with a
 * redirect to a CDN on another host; that hop must not carry the token.
 */
import { createError, isImgclsError } from '../errors.ts';
import { checkDownloadUrl, shownUrl } from './ref.ts';

export interface HttpSettings {
  /** Sent as `Authorization: Bearer` to `origin` only. */
  token?: { value: string; origin: string };
}

/** Milliseconds to wait for a response's headers. */
const TIMEOUT_MS = 30_000;
/** Milliseconds a body may send nothing before the download is abandoned. */
const STALL_MS = 60_000;
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface Opened {
  response: Response;
  /** Where the body came from, after redirects. */
  url: URL;
  /** The first hop's headers: the hub's own answer, before any CDN redirect. */
  first: Headers;
  /** Restart the stall clock; call on every chunk. */
  touch(): void;
  /** Stop the timers and drop the connection. */
  close(): void;
}

export interface OpenInit {
  /** Ask for the bytes from this offset on (`Range: bytes=N-`). */
  from?: number;
  accept?: string;
}

/**
 * Open `url`, following redirects, and return the final response whatever
 * its status (the caller decides what a 404 means).
 * @throws ImgclsError URL_NOT_ALLOWED for a hop that is not https (or http to
 *   localhost); DOWNLOAD_FAILED for connection failures, timeouts and
 *   redirect loops.
 */
export async function openUrl(url: URL, settings: HttpSettings, init: OpenInit = {}): Promise<Opened> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, why: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(createError('DOWNLOAD_FAILED', why)), ms);
  };
  const close = (): void => {
    clearTimeout(timer);
    controller.abort();
  };
  let current = url;
  let first: Headers | undefined;
  try {
    for (let hops = 0; ; hops++) {
      checkDownloadUrl(current);
      const headers: Record<string, string> = { 'User-Agent': 'imgcls', 'Accept-Encoding': 'identity' };
      if (init.accept) headers.Accept = init.accept;
      if (init.from !== undefined && init.from > 0) headers.Range = `bytes=${init.from}-`;
      // Only to the origin the token is for: never to a CDN a redirect points at.
      if (settings.token && current.origin === settings.token.origin) headers.Authorization = `Bearer ${settings.token.value}`;
      arm(TIMEOUT_MS, `${shownUrl(current)} sent no answer within ${TIMEOUT_MS / 1000} s`);
      const response = await fetch(current, { method: 'GET', headers, redirect: 'manual', signal: controller.signal });
      first ??= response.headers;
      if (!REDIRECTS.has(response.status)) {
        arm(STALL_MS, `${shownUrl(current)} sent nothing for ${STALL_MS / 1000} s`);
        // Called for every body chunk: restart the same timer rather than make a new one.
        const touch = (): void => void timer?.refresh();
        return { response, url: current, first, touch, close };
      }
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (location === null) throw createError('DOWNLOAD_FAILED', `${shownUrl(current)} answered ${response.status} without a Location header`);
      if (hops >= MAX_REDIRECTS) throw createError('DOWNLOAD_FAILED', `${shownUrl(url)} redirected more than ${MAX_REDIRECTS} times; giving up`);
      current = new URL(location, current);
    }
  } catch (err) {
    close();
    throw networkError(err, current, controller.signal);
  }
}

/** A catalogued error for whatever a fetch or a body read threw. */
export function networkError(err: unknown, url: URL, signal?: AbortSignal): Error {
  if (signal?.aborted && isImgclsError(signal.reason)) return signal.reason;
  if (isImgclsError(err)) return err;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return createError('DOWNLOAD_FAILED', `Could not download ${shownUrl(url)}: ${detail}`, err);
}

/**
 * GET a small body (JSON, a labels file) in full.
 * @throws ImgclsError DOWNLOAD_FAILED when it is over `maxBytes`, plus openUrl's.
 */
export async function readBody(opened: Opened, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of opened.response.body ?? []) {
      opened.touch();
      size += chunk.length;
      if (size > maxBytes) throw createError('DOWNLOAD_FAILED', `${shownUrl(opened.url)} is over ${maxBytes} bytes; expected a small file`);
      chunks.push(chunk);
    }
  } catch (err) {
    throw networkError(err, opened.url);
  } finally {
    opened.close();
  }
  return Buffer.concat(chunks, size);
}
