/**
 * The server's settings: one frozen, typed object, parsed once at start-up
 * (by `imgcls serve` or a test) and read everywhere else. Nothing in the
 * server reads `process.env`.
 */
import { createError } from '../errors.ts';
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

/**
 * How long a client may take. Fastify's own request timeout defaults to 0
 * (none), so a client trickling a body would hold its socket and buffers for
 * ever; Node's header timeout defaults to a minute.
 */
export interface Timeouts {
  /** Receiving the request line and headers. */
  headersMs: number;
  /** Receiving the whole request, body included (a 20 MB upload at 10 Mbit/s takes 16 s). */
  requestMs: number;
  /** An idle keep-alive connection; above the 60 s idle timeout of common load balancers, so they close first. */
  keepAliveMs: number;
  /** On SIGTERM/SIGINT: how long in-flight requests may take to finish before they are cut. */
  drainMs: number;
}

export interface ServerConfig {
  host: string;
  port: number;
  limits: Limits;
  timeouts: Timeouts;
  urlFetch: UrlFetchConfig;
  /** Store each upload re-encoded, with a JSON sidecar, under this directory. */
  saveUploads: string | null;
  /** Pino log level, or false for no logs (tests). */
  logLevel: string | false;
}

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';

/** The JSON body limit for a file limit: base64 inflates by 4/3, plus room for the other members. */
export const jsonBytesFor = (fileBytes: number): number => Math.ceil((fileBytes * 4) / 3) + 64 * 1024;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  fileBytes: 20 * 1024 * 1024,
  files: 16,
  jsonBytes: 28 * 1024 * 1024,
  fields: 16,
  parts: 32,
  maxPixels: DEFAULT_MAX_PIXELS,
});

export const DEFAULT_TIMEOUTS: Timeouts = Object.freeze({ headersMs: 10_000, requestMs: 60_000, keepAliveMs: 72_000, drainMs: 20_000 });

export const DEFAULT_URL_FETCH: UrlFetchConfig = Object.freeze({ enabled: false, timeoutMs: 10_000, maxRedirects: 3, allow: [] });

/** A complete config from partial settings; tests pass only what they change. */
export function serverConfig(
  partial: Partial<Omit<ServerConfig, 'limits' | 'urlFetch' | 'timeouts'>> & { limits?: Partial<Limits>; urlFetch?: Partial<UrlFetchConfig>; timeouts?: Partial<Timeouts> } = {},
): ServerConfig {
  const timeouts = Object.freeze({ ...DEFAULT_TIMEOUTS, ...partial.timeouts });
  // Node refuses a header timeout longer than the whole request's.
  if (timeouts.headersMs > timeouts.requestMs) {
    throw createError('INVALID_OPTION', `The header timeout (${timeouts.headersMs} ms) must not exceed the request timeout (${timeouts.requestMs} ms)`);
  }
  return Object.freeze({
    host: partial.host ?? DEFAULT_HOST,
    port: partial.port ?? DEFAULT_PORT,
    limits: Object.freeze({ ...DEFAULT_LIMITS, ...partial.limits }),
    timeouts,
    urlFetch: Object.freeze({ ...DEFAULT_URL_FETCH, ...partial.urlFetch }),
    saveUploads: partial.saveUploads ?? null,
    logLevel: partial.logLevel ?? 'info',
  });
}
