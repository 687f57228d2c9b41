/**
 * Fetch an image for `POST /predict {"url": ...}` without becoming an SSRF
 * proxy. Every hop (the URL and each redirect) is checked from scratch: scheme,
 * credentials, and every address its host resolves to. The connection is then
 * pinned to the address that was checked, so a DNS answer that changes between
 * check and connect (DNS rebinding) cannot steer us somewhere private.
 *
 * Built on `node:http` rather than global fetch because only `request()` lets
 * us supply the `lookup` that pins the address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { createError, describeValue, isImgclsError } from '../errors.ts';
import { createAddressPolicy, describeRule, type AddressPolicy } from './address-policy.ts';

export interface FetchOptions {
  /** Body limit in bytes. */
  maxBytes: number;
  /** Budget for the whole fetch: DNS, headers and body, across redirects. */
  timeoutMs: number;
  /** Redirects followed before giving up (default 3). */
  maxRedirects?: number;
  /** CIDRs exempt from the private-address rule, e.g. `['10.0.0.0/8']`. */
  allow?: readonly string[];
  /** Resolver, injectable for tests (default `dns.lookup`). */
  lookup?: typeof dnsLookup;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

interface Context {
  policy: AddressPolicy;
  lookup: typeof dnsLookup;
  maxBytes: number;
  signal: AbortSignal;
}

type HopResult = { body: Uint8Array } | { location: string };

/**
 * Download the body at `url` (http: or https:), following up to
 * `maxRedirects` redirects, and return its bytes. The content type is not
 * checked: the caller sniffs the bytes.
 * @throws ImgclsError URL_NOT_ALLOWED (400) for a bad URL, scheme, credentials,
 *   or a host that is or resolves to a non-public address (not allow-listed);
 *   URL_FETCH_FAILED (400) for DNS or connection failure, a non-2xx answer,
 *   too many redirects, or the timeout; IMAGE_TOO_LARGE (413) for a body over
 *   `maxBytes`; INVALID_OPTION (400) for a malformed `allow` entry.
 *   Nothing else: unexpected errors are wrapped in URL_FETCH_FAILED.
 */
export async function fetchImage(url: string, options: FetchOptions): Promise<Uint8Array> {
  const { maxBytes, timeoutMs, maxRedirects = 3, lookup = dnsLookup } = options;
  const policy = createAddressPolicy(options.allow);
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(createError('URL_FETCH_FAILED', `fetching ${shown(url)} timed out after ${timeoutMs} ms`));
  }, timeoutMs);
  const ctx: Context = { policy, lookup, maxBytes, signal: controller.signal };
  let current = url;
  let label = shown(url);
  try {
    for (let redirects = 0; ; redirects++) {
      const target = parseTarget(current);
      const address = await resolveHost(target, label, ctx);
      const result = await fetchHop(target, address, label, ctx);
      if ('body' in result) return result.body;
      if (redirects >= maxRedirects) {
        throw createError('URL_FETCH_FAILED', `${shown(url)} redirected more than ${maxRedirects} times; giving up`);
      }
      label = `${shown(result.location)} (redirected from ${shown(current)})`;
      current = result.location;
    }
  } catch (err) {
    // Once the clock has run out, whatever broke (a destroyed socket, mostly) is the timeout.
    if (controller.signal.aborted) throw controller.signal.reason;
    if (isImgclsError(err)) throw err;
    throw createError('URL_FETCH_FAILED', `could not fetch ${label}: ${errorText(err)}`, err);
  } finally {
    clearTimeout(timer);
  }
}

/** Parse one hop's URL and apply the rules that need no network. */
function parseTarget(text: string): URL {
  let target: URL;
  try {
    target = new URL(text);
  } catch {
    throw createError('URL_NOT_ALLOWED', `${describeValue(text)} is not an absolute URL; expected e.g. "https://example.com/cat.jpg"`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw createError('URL_NOT_ALLOWED', `the ${target.protocol} scheme is not allowed; imgcls only fetches http: and https: URLs`);
  }
  if (target.username !== '' || target.password !== '') {
    // Don't echo the password back in the message.
    throw createError('URL_NOT_ALLOWED', `${target.protocol}//${target.host}${target.pathname} carries credentials (user:password@); imgcls does not send credentials`);
  }
  return target;
}

/** Resolve the host and check every address, so no answer in the set can be private. */
async function resolveHost(target: URL, label: string, ctx: Context): Promise<LookupAddress> {
  const host = bareHost(target.hostname);
  const family = isIP(host);
  const addresses = family !== 0 ? [{ address: host, family }] : await lookupAll(host, ctx);
  const first = addresses[0];
  if (!first) throw createError('URL_FETCH_FAILED', `${host} resolved to no addresses`);
  for (const { address } of addresses) {
    const rule = ctx.policy(address);
    if (rule !== undefined) {
      throw createError('URL_NOT_ALLOWED', `${label} resolves to ${address}, ${describeRule(rule)}; imgcls only fetches public addresses`);
    }
  }
  return first;
}

function lookupAll(host: string, ctx: Context): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    ctx.lookup(host, { all: true }, (err, addresses: LookupAddress[] | string) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (err) {
        reject(createError('URL_FETCH_FAILED', `could not resolve ${host}: ${err.code ?? err.message}`, err));
      } else {
        // A resolver that ignored `all: true` answers with one string; accept it rather than crash.
        resolve(typeof addresses === 'string' ? [{ address: addresses, family: isIP(addresses) }] : addresses);
      }
    });
  });
}

/** One request to a checked address: a redirect location, or the body. */
async function fetchHop(target: URL, address: LookupAddress, label: string, ctx: Context): Promise<HopResult> {
  ctx.signal.throwIfAborted();
  const host = bareHost(target.hostname);
  // Hand back the checked address whatever is asked (Node asks with `all: true` when it races families).
  const pinned: LookupFunction = (_hostname, opts, callback) => {
    if (opts.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  };
  const req = (target.protocol === 'https:' ? https : http).request(target, {
    method: 'GET',
    agent: false, // a pooled socket could be connected to an address this hop never checked
    lookup: pinned,
    ...(target.protocol === 'https:' && isIP(host) === 0 ? { servername: host } : {}),
    headers: { 'User-Agent': 'imgcls', Accept: 'image/*', 'Accept-Encoding': 'identity' },
  });
  let res: IncomingMessage | undefined;
  const onAbort = (): void => {
    res?.destroy(ctx.signal.reason);
    req.destroy(ctx.signal.reason);
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  // Belt and braces: whatever the resolver did, refuse a socket that landed somewhere forbidden.
  req.on('socket', (socket) => {
    socket.once('connect', () => {
      const rule = ctx.policy(socket.remoteAddress ?? '');
      if (rule !== undefined) {
        req.destroy(createError('URL_NOT_ALLOWED', `${label} connected to ${socket.remoteAddress}, ${describeRule(rule)}; imgcls only fetches public addresses`));
      }
    });
  });
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject); // stays attached: later errors after destroy() must not go unhandled
      req.end();
    });
    res.on('error', () => {}); // surfaced through the body iterator; this only prevents a crash
    const status = res.statusCode ?? 0;
    if (REDIRECT_STATUSES.has(status)) return { location: redirectTarget(res, target, label) };
    if (status < 200 || status > 299) {
      throw createError('URL_FETCH_FAILED', `${label} answered ${status} ${res.statusMessage ?? ''}`.trimEnd() + '; expected a 2xx response');
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > ctx.maxBytes) {
      throw createError('IMAGE_TOO_LARGE', `${label} is ${declared} bytes, over the ${ctx.maxBytes}-byte limit`);
    }
    return { body: await readBody(res, label, ctx.maxBytes) };
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    req.destroy(); // agent: false, so this closes the socket: nothing more is read
  }
}

function redirectTarget(res: IncomingMessage, target: URL, label: string): string {
  const location = res.headers.location;
  if (location === undefined) throw createError('URL_FETCH_FAILED', `${label} answered ${res.statusCode} without a Location header`);
  try {
    return new URL(location, target).href;
  } catch {
    throw createError('URL_FETCH_FAILED', `${label} redirected to ${describeValue(location)}, which is not a URL`);
  }
}

/** Read the body, stopping the moment it passes the limit (Content-Length may lie or be absent). */
async function readBody(res: IncomingMessage, label: string, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw createError('IMAGE_TOO_LARGE', `${label} sent more than the ${maxBytes}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** WHATWG keeps the brackets on IPv6 hostnames; sockets and the policy want them off. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** A URL for a message: as the user wrote it (so `127.1` stays `127.1`), length-capped, never showing a password. */
function shown(url: string): string {
  let text = url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '***';
      text = parsed.href;
    }
  } catch {
    // not a URL: show it as given
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
