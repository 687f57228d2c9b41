/**
 * multipart/form-data bodies built by hand, byte by byte, so they can be
 * wrong in the ways FormData never is: a boundary that differs from the
 * header's, missing CRLFs, duplicate or broken part headers, field names
 * such as `__proto__`, filenames with `../` or NULs, more parts than the
 * limits allow, and truncation.
 */
import { imagePayload, mutateBytes, type SeedImage } from './mutate.ts';
import type { Rng } from './random.ts';

export interface Part {
  /** Header lines without their CRLF. */
  headers: string[];
  body: Uint8Array;
}

export interface BuiltBody {
  contentType: string;
  body: Uint8Array;
  steps: string[];
}

const CRLF = '\r\n';
/** Part headers and field values as browsers send them: UTF-8, unescaped. */
const enc = (s: string) => Buffer.from(s, 'utf8');

/** The image fields the server reads (request-images.ts FILE_FIELDS), and names that probe objects used as maps. */
const FIELD_NAMES = ['file', 'file', 'file', 'image', 'image-file', 'data', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'top_k', '', 'fi\0le', 'photo'] as const;
const FILENAMES = ['x.jpg', 'photo.png', '../../../../etc/passwd', '..\\..\\windows\\win.ini', '/etc/shadow', 'a\0b.jpg', '', '%2e%2e%2fx.png', 'CON', 'ü-字.webp', '.', '..'] as const;
const TOP_K_VALUES = ['3', 'all', '0', '-1', '1.5', '1e309', 'NaN', '0x10', '', '9'.repeat(400), '__proto__'] as const;
const PART_TYPES = ['image/jpeg', 'image/png', 'application/octet-stream', 'text/plain', 'image/svg+xml', 'multipart/mixed', ';;;', ''] as const;

function fileHeaders(rng: Rng, field: string): string[] {
  const name = rng.chance(0.03) ? 'n'.repeat(rng.pick([1000, 70_000])) : field;
  const filename = rng.chance(0.7) ? 'x.jpg' : rng.pick(FILENAMES);
  const disposition = rng.chance(0.1)
    ? `form-data; name="${name}"; filename*=UTF-8''${encodeURIComponent(filename)}`
    : `form-data; name="${name}"; filename="${filename}"`;
  return [`Content-Disposition: ${disposition}`, `Content-Type: ${rng.chance(0.8) ? 'image/jpeg' : rng.pick(PART_TYPES)}`];
}

function fieldPart(rng: Rng): Part {
  const name = rng.chance(0.6) ? 'top_k' : rng.pick(FIELD_NAMES);
  const value = name === 'top_k' ? rng.pick(TOP_K_VALUES) : rng.chance(0.1) ? 'v'.repeat(70_000) : 'value';
  return { headers: [`Content-Disposition: form-data; name="${name}"`], body: enc(value) };
}

/** Damage to one part's header lines. */
function damageHeaders(rng: Rng, part: Part): string {
  const kind = rng.int(8);
  switch (kind) {
    case 0:
      part.headers.push('Content-Disposition: form-data; name="image"; filename="dup.png"');
      return 'duplicate Content-Disposition';
    case 1:
      part.headers = part.headers.filter((h) => !h.startsWith('Content-Disposition'));
      return 'no Content-Disposition';
    case 2:
      part.headers.push('This header has no colon');
      return 'header without a colon';
    case 3:
      part.headers.push(`X-Long: ${'h'.repeat(rng.pick([9000, 90_000]))}`);
      return 'very long header';
    case 4:
      part.headers.splice(1, 0, ' folded; continuation');
      return 'folded header line';
    case 5:
      part.headers.push('Content-Transfer-Encoding: base64');
      return 'Content-Transfer-Encoding: base64';
    case 6:
      for (let i = 0; i < 3000; i++) part.headers.push(`X-${i}: y`);
      return '3000 part headers';
    default:
      part.headers[0] = 'Content-Disposition: attachment; name=file; filename=';
      return 'unquoted attachment disposition';
  }
}

function assemble(boundary: string, parts: readonly Part[], closing: boolean): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    chunks.push(enc(`--${boundary}${CRLF}${p.headers.join(CRLF)}${CRLF}${CRLF}`), p.body, enc(CRLF));
  }
  if (closing) chunks.push(enc(`--${boundary}--${CRLF}`));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Remove one CRLF at random, or turn every CRLF into a bare LF. */
function dropCrlf(rng: Rng, body: Uint8Array): { body: Uint8Array; step: string } {
  const buf = Buffer.from(body);
  if (rng.chance(0.3)) return { body: new Uint8Array(Buffer.from(buf.toString('latin1').replaceAll(CRLF, '\n'), 'latin1')), step: 'every CRLF is LF' };
  const positions: number[] = [];
  for (let i = buf.indexOf(CRLF); i >= 0 && positions.length < 64; i = buf.indexOf(CRLF, i + 2)) positions.push(i);
  if (positions.length === 0) return { body, step: 'no CRLF to drop' };
  const at = rng.pick(positions);
  return { body: new Uint8Array(Buffer.concat([buf.subarray(0, at), buf.subarray(at + 2)])), step: `CRLF @${at} dropped` };
}

/** The Content-Type's boundary parameter, right or wrong. */
function contentTypeFor(rng: Rng, boundary: string): { contentType: string; step?: string } {
  if (!rng.chance(0.15)) return { contentType: `multipart/form-data; boundary=${boundary}` };
  return rng.pick([
    { contentType: `multipart/form-data; boundary=${boundary}x`, step: 'header boundary differs' },
    { contentType: 'multipart/form-data', step: 'no boundary parameter' },
    { contentType: 'multipart/form-data; boundary=', step: 'empty boundary' },
    { contentType: `multipart/form-data; boundary="${boundary}"`, step: 'quoted boundary' },
    { contentType: `multipart/form-data; boundary=${boundary}; boundary=other`, step: 'two boundary parameters' },
    { contentType: `multipart/form-data; boundary=${'b'.repeat(5000)}`, step: '5000-char header boundary' },
    { contentType: `multipart/mixed; boundary=${boundary}`, step: 'multipart/mixed' },
  ]);
}

/** A multipart body with one or more image parts, then zero or more kinds of damage. */
export function multipartBody(rng: Rng, seeds: readonly SeedImage[]): BuiltBody {
  const boundary = rng.chance(0.9) ? `----fuzz${rng.next32().toString(16)}` : rng.pick(['-', ' spaced boundary', 'ü', 'a'.repeat(70)]);
  const steps: string[] = [];
  const parts: Part[] = [];
  const files = rng.weighted([[8, 1], [3, 2], [1, rng.range(3, 16)], [1, rng.range(17, 40)], [1, 0]] as const);
  for (let i = 0; i < files; i++) {
    const image = imagePayload(rng, seeds);
    const field = rng.chance(0.85) ? 'file' : rng.pick(FIELD_NAMES);
    parts.push({ headers: fileHeaders(rng, field), body: image.bytes });
    steps.push(`file[${i}] field "${field.slice(0, 20)}" ${image.seed}: ${image.steps.join('; ')}`);
  }
  const fields = rng.weighted([[6, 0], [3, 1], [1, rng.range(2, 40)]] as const);
  for (let i = 0; i < fields; i++) parts.splice(rng.int(parts.length + 1), 0, fieldPart(rng));
  if (fields > 0) steps.push(`${fields} plain field(s)`);
  if (parts.length > 0 && rng.chance(0.15)) steps.push(damageHeaders(rng, rng.pick(parts)));
  const closing = !rng.chance(0.05);
  if (!closing) steps.push('no closing boundary');
  let body = assemble(boundary, parts, closing);
  if (rng.chance(0.05)) {
    body = new Uint8Array(Buffer.concat([Buffer.from('preamble garbage\r\n'), body, Buffer.from('epilogue')]));
    steps.push('preamble and epilogue');
  }
  if (rng.chance(0.08)) {
    const dropped = dropCrlf(rng, body);
    body = dropped.body;
    steps.push(dropped.step);
  }
  if (rng.chance(0.08)) {
    const keep = rng.int(body.length);
    body = body.slice(0, keep);
    steps.push(`body truncated to ${keep}B`);
  }
  if (rng.chance(0.08)) {
    const damaged = mutateBytes(rng, body);
    body = damaged.bytes;
    steps.push(`body ${damaged.steps.join('; ')}`);
  }
  const type = contentTypeFor(rng, boundary);
  if (type.step) steps.push(type.step);
  return { contentType: type.contentType, body, steps };
}
