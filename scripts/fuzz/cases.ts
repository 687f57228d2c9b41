/**
 * One fuzz case per index: which family of request (a raw image body,
 * multipart, JSON, or malformed HTTP framing), its headers and its bytes.
 * Each case is generated from its own PRNG seeded by (seed, index), so cases
 * are made one at a time as they are sent and any one can be regenerated
 * alone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonBody } from './json-body.ts';
import { imagePayload, type SeedImage } from './mutate.ts';
import { multipartBody } from './multipart.ts';
import { mixSeed, Rng } from './random.ts';

export type Family = 'raw' | 'multipart' | 'json' | 'framing';

export interface FuzzCase {
  index: number;
  family: Family;
  description: string;
  /** Path and query string. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /**
   * The whole request, sent byte for byte over a socket, for malformed HTTP:
   * there the HTTP layer may rightly close the connection without answering.
   */
  raw?: Uint8Array;
}

/** Fixtures that seed the mutations: every accepted format, plus the ones that already fail in known ways. */
export const SEED_FIXTURES = [
  'red.jpg', 'photo-chelsea.jpg', 'orientation-6.jpg', 'red-cmyk.jpg', 'truncated.jpg',
  'green.png', 'blue-rgba.png', 'grey-alpha.png', 'green-16bit.png', 'photo-astronaut-224.png', 'broken.png',
  'blue.webp', 'green-then-red.gif', 'blue-then-red.tiff', 'red.avif', 'drawing.svg', 'not-an-image.png',
] as const;

export function loadSeeds(fixtures: string): SeedImage[] {
  return SEED_FIXTURES.map((name) => ({ name, bytes: new Uint8Array(readFileSync(path.join(fixtures, name))) }));
}

const RAW_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream', 'image/x-anything', 'image/svg+xml', 'text/plain', 'multipart/form-data', 'application/x-www-form-urlencoded'] as const;
const ACCEPTS = ['application/json', 'text/plain', 'text/html', 'application/xml', '*/*', 'text/plain;q=0, application/json;q=0'] as const;
const QUERIES = ['top_k=1', 'top_k=all', 'top_k=0', 'top_k=-5', 'top_k=abc', 'top_k=1e999', 'top_k=1&top_k=2', 'top_k[]=1', '__proto__[top_k]=1', 'top_k=%00', '%zz'] as const;

function rawBody(rng: Rng, seeds: readonly SeedImage[]): { contentType: string | undefined; body: Uint8Array; steps: string[] } {
  const image = imagePayload(rng, seeds);
  const contentType = rng.chance(0.85) ? rng.pick(RAW_TYPES.slice(0, 4)) : rng.chance(0.8) ? rng.pick(RAW_TYPES) : undefined;
  return { contentType, body: image.bytes, steps: [`${image.seed}: ${image.steps.join('; ')}`, `Content-Type ${contentType ?? '(none)'}`] };
}

/** A request whose HTTP framing is wrong: the length, the chunking, or the header block. */
function framing(rng: Rng, seeds: readonly SeedImage[]): { raw: Uint8Array; steps: string[] } {
  const body = Buffer.from(rng.pick(seeds).bytes);
  const head = (lines: string[]) => Buffer.from(`POST /predict HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1');
  const kind = rng.int(8);
  switch (kind) {
    case 0:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', `Content-Length: ${body.length + 1000}`]), body]), steps: ['Content-Length 1000 more than sent, then FIN'] };
    case 1:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', 'Transfer-Encoding: chunked']), Buffer.from(`zz\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]), steps: ['chunk size not hex'] };
    case 2:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', 'Transfer-Encoding: chunked', `Content-Length: ${body.length}`]), body]), steps: ['Content-Length and Transfer-Encoding both'] };
    case 3:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', `Content-Length: ${rng.pick(['-1', 'abc', '1, 2', '99999999999999999999'])}`]), body]), steps: ['bad Content-Length'] };
    case 4:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', 'Bad Header: x', `Content-Length: ${body.length}`]), body]), steps: ['space in a header name'] };
    case 5:
      return { raw: Buffer.concat([head([`X-Big: ${'x'.repeat(20_000)}`, `Content-Length: ${body.length}`]), body]), steps: ['20 kB header'] };
    case 6:
      return { raw: Buffer.concat([Buffer.from(`POST /predict HTTP/9.9 extra\r\n\r\n`), body]), steps: ['bad request line'] };
    default:
      return { raw: Buffer.concat([head(['Content-Type: image/jpeg', 'Transfer-Encoding: chunked']), Buffer.from(`${body.length.toString(16)}\r\n`), body.subarray(0, body.length >> 1)]), steps: ['chunked body cut short, then FIN'] };
  }
}

/** The case at `index` of the run seeded with `seed`. */
export function generateCase(seed: number, index: number, seeds: readonly SeedImage[]): FuzzCase {
  const rng = new Rng(mixSeed(seed, index));
  const family = rng.weighted([[30, 'raw'], [35, 'multipart'], [30, 'json'], [5, 'framing']] as const);
  if (family === 'framing') {
    const f = framing(rng, seeds);
    return { index, family, description: f.steps.join('; '), path: '/predict', headers: {}, body: f.raw, raw: f.raw };
  }
  const built = family === 'raw' ? rawBody(rng, seeds) : family === 'multipart' ? multipartBody(rng, seeds) : jsonBody(rng, seeds);
  const steps = [...built.steps];
  const headers: Record<string, string> = {};
  if (built.contentType !== undefined) headers['content-type'] = built.contentType;
  if (rng.chance(0.1)) {
    headers.accept = rng.pick(ACCEPTS);
    steps.push(`Accept ${headers.accept}`);
  }
  let query = '';
  if (rng.chance(0.1)) {
    query = `?${rng.pick(QUERIES)}`;
    steps.push(`query ${query}`);
  }
  return { index, family, description: steps.join('; '), path: `/predict${query}`, headers, body: built.body };
}
