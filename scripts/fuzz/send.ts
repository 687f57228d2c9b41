/**
 * Sending a fuzz case over real HTTP. Every request is written byte for byte
 * on its own socket, and the socket is dropped once a whole answer is in, so
 * one case can never leave a connection in a state that changes the next.
 * node:http is not used for the cases: it refuses to write malformed HTTP,
 * and when a server answers early (415 before the body is read) and closes,
 * it reports the failed write (EPIPE) and drops the answer it already had.
 */
import http from 'node:http';
import net from 'node:net';
import type { FuzzCase } from './cases.ts';
import { getOnce } from '../lib/server-process.ts';

export type Outcome =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer }
  /** The connection ended or failed before a whole response arrived. */
  | { kind: 'reset'; error: string }
  | { kind: 'timeout' };

/** Responses are kept up to this much; a larger one is cut (and then fails its JSON check). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The bytes of a well-formed request for `c`. Header values are latin1, as
 * HTTP/1.1 carries them. No `Connection: close`: like most clients it keeps
 * the connection open, so a server that answers before reading the body
 * drains the rest instead of resetting the connection under its answer.
 */
export function encodeRequest(url: URL, c: FuzzCase): Uint8Array {
  const headers = { host: url.host, ...c.headers, 'content-length': String(c.body.length) };
  const head = `POST ${c.path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), c.body]);
}

/** A chunked body's data, and whether its last (zero) chunk arrived. */
function dechunk(data: Buffer): { body: Buffer; complete: boolean } {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) return { body: Buffer.concat(out), complete: false };
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return { body: Buffer.concat(out), complete: true };
    if (!(size > 0) || eol + 2 + size > data.length) return { body: Buffer.concat(out), complete: false };
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * Parse an HTTP/1.1 response: status, headers, and a Content-Length, chunked
 * or close-delimited body. While the connection is open (`closed` false) an
 * incomplete response gives null: more may come.
 */
export function parseResponse(data: Buffer, closed: boolean): Outcome | null {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return !closed ? null : { kind: 'reset', error: data.length === 0 ? 'closed without a byte' : 'closed mid-headers' };
  const lines = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!status) return { kind: 'reset', error: `not an HTTP response: ${JSON.stringify(lines[0]?.slice(0, 80))}` };
  // An interim answer (100 Continue) comes before the real one.
  if (status[1]!.startsWith('1')) return parseResponse(data.subarray(end + 4), closed);
  const headers: http.IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
    const chunked = dechunk(body);
    if (!chunked.complete) return !closed ? null : { kind: 'reset', error: `response ${status[1]} cut short (chunked)` };
    body = chunked.body;
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (body.length < length && data.length < MAX_RESPONSE_BYTES) return !closed ? null : { kind: 'reset', error: `response ${status[1]} cut short` };
    body = body.subarray(0, length);
  } else if (!closed) {
    return null;
  }
  return { kind: 'response', status: Number(status[1]), headers, body };
}

/**
 * Write `bytes` and collect the answer: until it is complete, or until the
 * server closes. Only malformed requests half-close after writing: Node's
 * server takes a client's FIN as an abort, so a well-formed request that did
 * so would never be answered.
 */
function exchange(url: URL, bytes: Uint8Array, timeoutMs: number, halfClose: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    let settled = false;
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
      size += chunk.length;
      const outcome = parseResponse(Buffer.concat(chunks), size >= MAX_RESPONSE_BYTES);
      if (outcome) done(outcome);
    });
    // A failed write after the server has answered early loses nothing: the answer is judged.
    socket.on('error', (err: NodeJS.ErrnoException) => (failure = err.code ?? err.message));
    socket.on('close', () => {
      const outcome = parseResponse(Buffer.concat(chunks), true)!;
      done(outcome.kind === 'reset' && failure ? { kind: 'reset', error: `${failure}; ${outcome.error}` } : outcome);
    });
    // For malformed HTTP, the FIN is how a request that promised more body than it has ends.
    if (halfClose) socket.end(bytes);
    else socket.write(bytes);
  });
}

export function send(baseUrl: string, c: FuzzCase, timeoutMs: number): Promise<Outcome> {
  const url = new URL(baseUrl);
  return c.raw ? exchange(url, c.raw, timeoutMs, true) : exchange(url, encodeRequest(url, c), timeoutMs, false);
}

/** GET `path` on a fresh connection; the status, or an error string when there was no answer within `timeoutMs`. */
export async function probe(baseUrl: string, path: string, timeoutMs: number): Promise<{ status: number; ms: number } | { error: string; ms: number }> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const r = await getOnce(new URL(path, baseUrl).href, timeoutMs);
    return { status: r.status, ms: ms() };
  } catch (err) {
    return { error: (err as Error).message, ms: ms() };
  }
}
