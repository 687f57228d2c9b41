/**
 * The server's settings: one frozen, typed object, parsed once at start-up
 * (by `imgcls serve` or a test) and read everywhere else. Nothing in the
 * server reads `process.env`.
 */
import { DEFAULT_MAX_PIXELS } from '../image/decode.ts';

export interface Limits {
  /** Largest image file (multipart part or raw body), in bytes. */
  fileBytes: number;
  /** Most images in one request. */
  files: number;
  /** Largest JSON body (base64 inflates images by a third), in bytes. */
  jsonBytes: number;
  /** Most non-file multipart fields. */
  fields: number;
  /** Most multipart parts, files and fields together. */
  parts: number;
  /** Refuse images whose header claims more pixels than this. */
  maxPixels: number;
}

export interface UrlFetchConfig {
  enabled: boolean;
  timeoutMs: number;
  maxRedirects: number;
  /** CIDRs exempt from the private-address rule (an intranet image host). */
  allow: readonly string[];
}

export interface ServerConfig {
  host: string;
  port: number;
  limits: Limits;
  urlFetch: UrlFetchConfig;
  /** Store each upload re-encoded, with a JSON sidecar, under this directory. */
  saveUploads: string | null;
  /** Pino log level, or false for no logs (tests). */
  logLevel: string | false;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';

export const DEFAULT_LIMITS: Limits = Object.freeze({
  fileBytes: 20 * 1024 * 1024,
  files: 16,
  jsonBytes: 28 * 1024 * 1024,
  fields: 16,
  parts: 32,
  maxPixels: DEFAULT_MAX_PIXELS,
});

export const DEFAULT_URL_FETCH: UrlFetchConfig = Object.freeze({ enabled: false, timeoutMs: 10_000, maxRedirects: 3, allow: [] });

/** A complete config from partial settings; tests pass only what they change. */
export function serverConfig(partial: Partial<Omit<ServerConfig, 'limits' | 'urlFetch'>> & { limits?: Partial<Limits>; urlFetch?: Partial<UrlFetchConfig> } = {}): ServerConfig {
  return Object.freeze({
    host: partial.host ?? DEFAULT_HOST,
    port: partial.port ?? DEFAULT_PORT,
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...partial.limits }),
    urlFetch: Object.freeze({ ...DEFAULT_URL_FETCH, ...partial.urlFetch }),
    saveUploads: partial.saveUploads ?? null,
    logLevel: partial.logLevel ?? 'info',
  });
}
