/**
 * JSON bodies for /predict: `{"image": <base64 of a mutated image>}` in its
 * spellings (plain, data: URL, base64url, wrapped, unpadded, with bad
 * characters), `{"images": [...]}` past the limits, wrong types, prototype
 * keys, and text that is not JSON at all.
 */
import { imagePayload, mutateBytes, type SeedImage } from './mutate.ts';
import type { Rng } from './random.ts';
import type { BuiltBody } from './multipart.ts';

const CONTENT_TYPES = ['application/json', 'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json; charset=latin1', 'application/vnd.api+json', 'application/json; charset=utf-16'] as const;
const TOP_K = [3, 0, -1, 1.5, 'all', 'ALL', '3', null, [], {}, 2 ** 53, 1e308, true] as const;

/** The base64 of `bytes`, spelt one of the ways a client might, or wrongly. */
function base64(rng: Rng, bytes: Uint8Array): { text: string; step?: string } {
  const b64 = Buffer.from(bytes).toString('base64');
  const variant = rng.weighted([[10, 'plain'], [2, 'data'], [1, 'data-no-base64'], [1, 'url'], [1, 'wrapped'], [1, 'unpadded'], [1, 'bad-char'], [1, 'len-mod-4']] as const);
  switch (variant) {
    case 'plain':
      return { text: b64 };
    case 'data':
      return { text: `data:image/${rng.pick(['png', 'jpeg', 'x-nonsense', ''])};base64,${b64}`, step: 'data: URL' };
    case 'data-no-base64':
      return { text: `data:image/png,${b64}`, step: 'data: URL without ;base64' };
    case 'url':
      return { text: Buffer.from(bytes).toString('base64url'), step: 'base64url' };
    case 'wrapped':
      return { text: b64.replace(/.{1,76}/g, '$&\r\n'), step: 'wrapped at 76 columns' };
    case 'unpadded':
      return { text: b64.replace(/=+$/, ''), step: 'padding stripped' };
    case 'bad-char': {
      const at = rng.int(b64.length + 1);
      return { text: `${b64.slice(0, at)}${rng.pick(['!', '\0', 'é', '"', '\\u0000', ' = '])}${b64.slice(at)}`, step: `bad character @${at}` };
    }
    default:
      return { text: `${b64}A`, step: 'length % 4 == 1' };
  }
}

/** Text that a JSON parser must refuse, or that parses to something that is not an object. */
function notJson(rng: Rng, valid: string): { text: string | Uint8Array; step: string } {
  switch (rng.int(9)) {
    case 0:
      return { text: valid.slice(0, rng.int(valid.length)), step: 'JSON truncated' };
    case 1:
      return { text: `${valid} trailing`, step: 'trailing garbage' };
    case 2:
      return { text: valid.replaceAll('"', "'"), step: 'single quotes' };
    case 3:
      return { text: '['.repeat(rng.pick([1000, 100_000])), step: 'deep nesting' };
    case 4:
      return { text: new Uint8Array(Buffer.concat([Buffer.from('{"image": "'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')])), step: 'invalid UTF-8' };
    case 5:
      return { text: `\ufeff${valid}`, step: 'byte-order mark' };
    case 6:
      return { text: rng.pick(['', 'null', '"a string"', '123', 'true', '[]', '{}']), step: 'not an object' };
    case 7:
      return { text: valid.replace('{', `{"image": 1, "image": `), step: 'duplicate key' };
    default:
      return { text: mutateBytes(rng, Buffer.from(valid)).bytes, step: 'JSON bytes mutated' };
  }
}

export function jsonBody(rng: Rng, seeds: readonly SeedImage[]): BuiltBody {
  const steps: string[] = [];
  const encode = (): string => {
    const image = imagePayload(rng, seeds);
    const b = base64(rng, image.bytes);
    steps.push(`${image.seed}: ${image.steps.join('; ')}${b.step ? `; ${b.step}` : ''}`);
    return b.text;
  };
  let value: Record<string, unknown>;
  const shape = rng.weighted([[10, 'image'], [3, 'images'], [1, 'url'], [1, 'two'], [1, 'none'], [1, 'wrong-type'], [1, 'proto']] as const);
  switch (shape) {
    case 'image':
      value = { image: encode() };
      break;
    case 'images': {
      const n = rng.weighted([[3, 2], [2, rng.range(0, 16)], [1, 17], [1, 100]] as const);
      // Past a few, the same encoded image repeats: the count is what is being tested, not n different images.
      const first = n > 0 ? encode() : '';
      const images: unknown[] = Array.from({ length: n }, (_, i) => (i < 4 && i > 0 ? encode() : first));
      if (n > 0 && rng.chance(0.2)) images[rng.int(n)] = rng.pick([42, null, {}, ['x']]);
      value = { images };
      steps.push(`${n} images`);
      break;
    }
    case 'url':
      value = { url: rng.pick(['http://127.0.0.1:1/x.png', 'file:///etc/passwd', 'not a url', '']) };
      steps.push('url');
      break;
    case 'two':
      value = { image: encode(), url: 'http://example.com/x.png' };
      steps.push('image and url');
      break;
    case 'none':
      value = { picture: encode() };
      steps.push('no image key');
      break;
    case 'wrong-type':
      value = { image: rng.pick([42, null, true, [], { nested: 'x' }]) };
      steps.push('image of the wrong type');
      break;
    default:
      value = JSON.parse(`{"__proto__": {"image": ${JSON.stringify(encode())}}, "constructor": {"prototype": {"top_k": 1}}}`) as Record<string, unknown>;
      steps.push('__proto__ and constructor keys');
  }
  if (rng.chance(0.2)) {
    value.top_k = rng.pick(TOP_K);
    steps.push(`top_k ${JSON.stringify(value.top_k)}`);
  }
  let text: string | Uint8Array = JSON.stringify(value);
  if (rng.chance(0.12)) {
    const broken = notJson(rng, text);
    text = broken.text;
    steps.push(broken.step);
  }
  const contentType = rng.pick(CONTENT_TYPES);
  if (contentType !== 'application/json') steps.push(`Content-Type ${contentType}`);
  return { contentType, body: typeof text === 'string' ? new Uint8Array(Buffer.from(text, 'utf8')) : text, steps };
}
