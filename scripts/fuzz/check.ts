/**
 * What a response to a fuzz case may be. Every error must come from the
 * catalogue (src/errors.ts, imported, so a new code is allowed as soon as it
 * exists) with its catalogued status and no stack trace; the only 5xx allowed
 * are the catalogue's 503s (overloaded, still loading), with Retry-After; a
 * 200 must hold predictions. A connection closed without an answer is
 * allowed only for malformed HTTP, where the HTTP layer may close.
 */
import { ERROR_CODES, type ErrorCode } from '../../src/errors.ts';
import type { FuzzCase } from './cases.ts';
import type { Outcome } from './send.ts';

/** Where an accepted outcome is counted in the summary, e.g. "200", "422 CORRUPT_IMAGE", "reset (framing)". */
export type Verdict = { ok: true; bucket: string } | { ok: false; reason: string };

const isCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);

/** A V8 stack frame ("at f (file:///x.js:1:2)") or a source location ("/src/a.ts:12"): internals a client must not see. */
const STACK = /\n\s*at\s|\bat\s+\S+\s+\((?:file:|node:|\/)[^)]*:\d+(?::\d+)?\)|(?:file:\/\/|\/)[\w.@/-]+\.(?:ts|js|mjs|cjs):\d+/;

function checkMessage(message: unknown, where: string): string | null {
  if (typeof message !== 'string' || message.length === 0) return `${where}: message is not a non-empty string`;
  if (STACK.test(message)) return `${where}: message holds a stack trace or source path: ${JSON.stringify(message.slice(0, 300))}`;
  return null;
}

/** `{"error": CODE, "message": string}` with CODE catalogued for `status` (or any catalogued code for a per-image error). */
function checkError(body: unknown, status: number | null, where: string): string | null {
  if (body === null || typeof body !== 'object') return `${where}: not a JSON object`;
  const { error, message } = body as { error?: unknown; message?: unknown };
  if (!isCode(error)) return `${where}: error ${JSON.stringify(error)} is not in the catalogue`;
  if (status !== null && ERROR_CODES[error] !== status) return `${where}: ${error} is catalogued as ${ERROR_CODES[error]}, answered with ${status}`;
  return checkMessage(message, where);
}

function checkPredictions(predictions: unknown, where: string): string | null {
  if (!Array.isArray(predictions) || predictions.length === 0) return `${where}: predictions is not a non-empty array`;
  for (const p of predictions as { label?: unknown; index?: unknown; score?: unknown }[]) {
    if (typeof p?.label !== 'string' || !Number.isInteger(p.index) || typeof p.score !== 'number' || !Number.isFinite(p.score)) {
      return `${where}: a prediction is not {label, index, score}: ${JSON.stringify(p).slice(0, 200)}`;
    }
  }
  return null;
}

function parseJson(o: Extract<Outcome, { kind: 'response' }>): { value: unknown } | { reason: string } {
  const type = String(o.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return { reason: `Content-Type "${type}" is not JSON; body ${JSON.stringify(o.body.subarray(0, 200).toString('utf8'))}` };
  try {
    return { value: JSON.parse(o.body.toString('utf8')) as unknown };
  } catch {
    return { reason: `body is not JSON: ${JSON.stringify(o.body.subarray(0, 200).toString('utf8'))}` };
  }
}

function check200(o: Extract<Outcome, { kind: 'response' }>): string | null {
  if (/^text\/plain\b/i.test(String(o.headers['content-type'] ?? ''))) {
    // Accept: text/plain gets the top label per image, or "error: CODE" for an image that failed.
    const lines = o.body.toString('utf8').replace(/\n$/, '').split('\n');
    const bad = lines.find((l) => l.length === 0 || (l.startsWith('error: ') && !isCode(l.slice(7))));
    return bad === undefined ? null : `text/plain 200 has a bad line ${JSON.stringify(bad)}`;
  }
  const parsed = parseJson(o);
  if ('reason' in parsed) return `200: ${parsed.reason}`;
  const body = parsed.value as { model?: unknown; predictions?: unknown; results?: unknown };
  if (typeof body?.model !== 'string') return '200: no model name';
  if (body.results === undefined) return checkPredictions(body.predictions, '200');
  if (!Array.isArray(body.results) || body.results.length === 0) return '200: results is not a non-empty array';
  for (const [i, r] of (body.results as { predictions?: unknown }[]).entries()) {
    const problem = r?.predictions !== undefined ? checkPredictions(r.predictions, `200 results[${i}]`) : checkError(r, null, `200 results[${i}]`);
    if (problem) return problem;
  }
  return null;
}

export function checkOutcome(c: FuzzCase, o: Outcome): Verdict {
  if (o.kind === 'timeout') return { ok: false, reason: 'no answer within the request timeout' };
  if (o.kind === 'reset') {
    if (c.raw) return { ok: true, bucket: 'closed without answer (malformed HTTP)' };
    return { ok: false, reason: `connection closed without a whole response to well-formed HTTP: ${o.error}` };
  }
  if (o.status === 200) {
    const problem = check200(o);
    return problem ? { ok: false, reason: problem } : { ok: true, bucket: '200' };
  }
  if (o.status < 400) return { ok: false, reason: `unexpected status ${o.status}` };
  const parsed = parseJson(o);
  if ('reason' in parsed) return { ok: false, reason: `${o.status}: ${parsed.reason}` };
  const problem = checkError(parsed.value, o.status, String(o.status));
  if (problem) return { ok: false, reason: problem };
  const code = (parsed.value as { error: ErrorCode }).error;
  if (o.status >= 500) {
    // Only refusals that pass within seconds are allowed: the catalogue's 503s. A 500 for any input is a bug.
    if (o.status !== 503) return { ok: false, reason: `${o.status} ${code}: ${(parsed.value as { message: string }).message}` };
    if (o.headers['retry-after'] === undefined) return { ok: false, reason: `503 ${code} without Retry-After` };
  }
  return { ok: true, bucket: `${o.status} ${code}` };
}
