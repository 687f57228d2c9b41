/**
 * HTTP at the byte level, for what fetch() will not send: malformed
 * multipart, lying headers, clients that stall half-way. Also the checks
 * every hardening test makes of an error answer.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from connecting until the server closed the connection (or the deadline). */
  closedAfterMs: number;
  /** The server closed the connection (rather than the deadline passing). */
  closedByServer: boolean;
  /** Status lines received: more than one for one request means a corrupted stream. */
  statusLines: number;
}

function parseResponse(raw: Buffer): Omit<RawResponse, 'closedAfterMs' | 'closedByServer' | 'statusLines'> | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; ) {
      const lineEnd = body.indexOf('\r\n', at);
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.toString('utf8') };
}

/**
 * Connect to `url`'s host, let `talk` write to the socket (it may pause
 * between writes), and collect what the server answers until it closes the
 * connection or `deadlineMs` passes. Resolves null when nothing parseable
 * came back.
 */
export function exchange(url: string, talk: (socket: net.Socket) => Promise<void> | void, deadlineMs = 10_000): Promise<RawResponse | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), deadlineMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => (closedByServer = true)); // a reset while we still write counts as the server closing
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const parsed = parseResponse(raw);
      const statusLines = raw.toString('latin1').match(/^HTTP\/1\.1 \d{3} /gm)?.length ?? 0;
      resolve(parsed && { ...parsed, closedAfterMs: performance.now() - started, closedByServer, statusLines });
    });
    socket.once('connect', () => {
      Promise.resolve(talk(socket)).catch((err: unknown) => {
        socket.destroy();
        reject(err);
      });
    });
  });
}

/** A request's head: request line, Host, the given headers, blank line. */
export function head(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: localhost', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A whole request in one write; the body may be anything, headers are not checked. */
export function sendWhole(url: string, method: string, path: string, headers: Record<string, string | number>, body: Buffer | string = ''): Promise<RawResponse | null> {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return exchange(url, (s) => void s.write(Buffer.concat([Buffer.from(head(method, path, { 'content-length': bytes.length, connection: 'close', ...headers })), bytes])));
}

/**
 * The catalogue's error shape: the status, `{"error": code, "message": ...}`
 * as JSON, a message that names something (not a stack trace), and
 * Retry-After on a 503.
 */
export function assertError(status: number, headers: Record<string, string> | Headers, body: string, code: ErrorCode): void {
  assert.equal(ERROR_CODES[code], status, `the catalogue maps ${code} to ${ERROR_CODES[code]}`);
  const json = JSON.parse(body) as { error: string; message: string };
  assert.deepEqual(Object.keys(json).sort(), ['error', 'message'], body);
  assert.equal(json.error, code, body);
  assert.ok(json.message.length > 10, body);
  assert.doesNotMatch(json.message, /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace or source path');
  const header = (name: string) => (headers instanceof Headers ? headers.get(name) : headers[name]) ?? undefined;
  assert.match(header('content-type') ?? '', /^application\/json/);
  if (status === 503) assert.match(header('retry-after') ?? '', /^\d+$/, 'a 503 says when to retry');
}

/** assertError on a fetch() response. */
export async function assertFetchError(response: Response, code: ErrorCode): Promise<{ error: string; message: string }> {
  const body = await response.text();
  assert.equal(response.status, ERROR_CODES[code], body);
  assertError(response.status, response.headers, body, code);
  return JSON.parse(body) as { error: string; message: string };
}

/** assertError on a raw exchange. */
export function assertRawError(response: RawResponse | null, code: ErrorCode): void {
  assert.ok(response, 'the server answered');
  assert.equal(response.status, ERROR_CODES[code], response.body);
  assertError(response.status, response.headers, response.body, code);
}
