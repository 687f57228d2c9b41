import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { fixture, LABELLED_FIXTURES, multipart, testApp, type Part, type TestApp } from './helpers/server.ts';

interface Prediction {
  label: string;
  index: number;
  score: number;
}

interface ImageResult {
  predictions?: Prediction[];
  error?: string;
  message?: string;
}

interface PredictBody {
  model: string;
  predictions?: Prediction[];
  results?: ImageResult[];
  timing: { decode_ms: number; inference_ms: number; total_ms: number };
}

const WIDE_LABELS = ['red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white'];
const FRENCH = ['rouge', 'vert', 'bleu'];

const b64 = async (name: string): Promise<string> => (await fixture(name)).toString('base64');
const dataUrl = async (name: string, type: string): Promise<string> => `data:${type};base64,${await b64(name)}`;

/** The parsed body of a 200 answer with one image. */
function single(res: LightMyRequestResponse): PredictBody & { predictions: Prediction[] } {
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<PredictBody>();
  assert.ok(Array.isArray(body.predictions), `expected predictions in ${res.body}`);
  assert.equal(body.results, undefined, 'one image answers predictions, not results');
  return body as PredictBody & { predictions: Prediction[] };
}

/** The parsed body of a 200 answer with a batch. */
function batch(res: LightMyRequestResponse): PredictBody & { results: ImageResult[] } {
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<PredictBody>();
  assert.ok(Array.isArray(body.results), `expected results in ${res.body}`);
  assert.equal(body.predictions, undefined, 'a batch answers results, not predictions');
  return body as PredictBody & { results: ImageResult[] };
}

/** Assert the top prediction is `label` with a convincing score, and the list is well formed. */
function assertTop(predictions: Prediction[] | undefined, label: string): void {
  assert.ok(predictions && predictions.length > 0, 'predictions');
  const top = predictions[0]!;
  assert.equal(top.label, label, JSON.stringify(predictions));
  assert.ok(top.score > 0.5, `score of ${label} is ${top.score}`);
  for (const p of predictions) {
    assert.ok(Number.isInteger(p.index) && p.index >= 0, `index ${p.index}`);
    assert.ok(p.score >= 0 && p.score <= 1, `score ${p.score}`);
  }
  for (let i = 1; i < predictions.length; i++) assert.ok(predictions[i - 1]!.score >= predictions[i]!.score, 'sorted best first');
}

/** Assert a catalogued error answer. */
function assertError(res: LightMyRequestResponse, status: number, code: string, message: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<{ error: string; message: string }>();
  assert.equal(body.error, code, res.body);
  assert.equal(typeof body.message, 'string');
  assert.match(body.message, message);
}

function raw(app: TestApp, payload: Buffer | string, type: string, url = '/predict', headers: Record<string, string> = {}) {
  return app.app.inject({ method: 'POST', url, payload, headers: { 'content-type': type, ...headers } });
}

async function form(app: TestApp, parts: Part[], url = '/predict', headers: Record<string, string> = {}) {
  const m = await multipart(parts);
  return app.app.inject({ method: 'POST', url, payload: m.payload, headers: { ...m.headers, ...headers } });
}

function json(app: TestApp, body: unknown, url = '/predict', headers: Record<string, string> = {}) {
  return app.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

describe('POST /predict: input forms', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  test('raw image/jpeg body: red.jpg is red, with labels, indices, scores and timing', async () => {
    const body = single(await raw(t, await fixture('red.jpg'), 'image/jpeg'));
    assert.equal(body.model, 'colour');
    assertTop(body.predictions, 'red');
    assert.equal(body.predictions[0]!.index, 0);
    assert.deepEqual(body.predictions.map((p) => p.label).sort(), ['blue', 'green', 'red'], 'three classes, top_k 5 gives all three');
    for (const key of ['decode_ms', 'inference_ms', 'total_ms'] as const) {
      assert.equal(typeof body.timing[key], 'number', key);
      assert.ok(body.timing[key] >= 0, key);
    }
    assert.ok(body.timing.total_ms >= body.timing.inference_ms, 'total covers inference');
  });

  test('raw application/octet-stream body', async () => {
    assertTop(single(await raw(t, await fixture('green.png'), 'application/octet-stream')).predictions, 'green');
  });

  for (const [file, type, label] of LABELLED_FIXTURES) {
    test(`raw ${type} body: ${file} is ${label}`, async () => {
      assertTop(single(await raw(t, await fixture(file), type)).predictions, label);
    });
  }

  test('the bytes decide the format, not the Content-Type: a JPEG labelled image/png still classifies', async () => {
    assertTop(single(await raw(t, await fixture('red.jpg'), 'image/png')).predictions, 'red');
  });

  for (const field of ['file', 'image', 'image-file', 'data']) {
    test(`multipart field "${field}" with one file answers predictions`, async () => {
      const body = single(await form(t, [[field, await fixture('blue.webp'), 'blue.webp', 'image/webp']]));
      assert.equal(body.model, 'colour');
      assertTop(body.predictions, 'blue');
    });
  }

  test('multipart with several files is a batch, in request order, whatever the field names', async () => {
    const res = await form(t, [
      ['file', await fixture('green.png'), 'a.png', 'image/png'],
      ['image', await fixture('red.jpg'), 'b.jpg', 'image/jpeg'],
      ['data', await fixture('blue.webp'), 'c.webp', 'image/webp'],
      ['image-file', await fixture('red.avif'), 'd.avif', 'image/avif'],
      ['file', await fixture('green-then-red.gif'), 'e.gif', 'image/gif'],
    ]);
    const body = batch(res);
    assert.equal(body.model, 'colour');
    assert.equal(body.results.length, 5);
    ['green', 'red', 'blue', 'red', 'green'].forEach((label, i) => assertTop(body.results[i]!.predictions, label));
    assert.equal(typeof body.timing.total_ms, 'number');
  });

  test('multipart file without a Content-Type of its own (application/octet-stream) classifies', async () => {
    assertTop(single(await form(t, [['file', await fixture('red.jpg'), 'photo']])).predictions, 'red');
  });

  test('JSON {"image": base64}', async () => {
    const body = single(await json(t, { image: await b64('red.jpg') }));
    assert.equal(body.model, 'colour');
    assertTop(body.predictions, 'red');
  });

  test('JSON {"image": data: URL}', async () => {
    assertTop(single(await json(t, { image: await dataUrl('green.png', 'image/png') })).predictions, 'green');
  });

  test('JSON {"image": base64url without padding}', async () => {
    const text = (await fixture('blue.webp')).toString('base64url');
    assertTop(single(await json(t, { image: text })).predictions, 'blue');
  });

  test('JSON {"image": base64 with line breaks} (MIME style) is accepted', async () => {
    const wrapped = (await b64('red.jpg')).replace(/.{1,76}/g, '$&\r\n');
    assertTop(single(await json(t, { image: wrapped })).predictions, 'red');
  });

  test('JSON {"images": [...]} is a batch in request order, with a per-image error for bad base64', async () => {
    const res = await json(t, { images: [await b64('blue.webp'), '!!! not base64 !!!', await dataUrl('red.jpg', 'image/jpeg'), await b64('green.png')] });
    const body = batch(res);
    assert.equal(body.results.length, 4);
    assertTop(body.results[0]!.predictions, 'blue');
    assert.equal(body.results[1]!.error, 'INVALID_BASE64');
    assert.match(body.results[1]!.message ?? '', /images\[1\].*base64/);
    assert.equal(body.results[1]!.predictions, undefined);
    assertTop(body.results[2]!.predictions, 'red');
    assertTop(body.results[3]!.predictions, 'green');
  });

  test('JSON {"images": [one]} still answers results', async () => {
    const body = batch(await json(t, { images: [await b64('red.jpg')] }));
    assert.equal(body.results.length, 1);
    assertTop(body.results[0]!.predictions, 'red');
  });

  test('JSON {"url": ...} is refused while URL fetching is off: 403 URL_FETCH_DISABLED', async () => {
    assertError(await json(t, { url: 'http://127.0.0.1:9/red.jpg' }), 403, 'URL_FETCH_DISABLED', /turned off|--allow-url-fetch/);
  });
});

describe('POST /predict: batches with failing images', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  test('each failed image carries {error, message} in its slot; the others are classified', async () => {
    const res = await form(t, [
      ['file', await fixture('red.jpg'), 'ok1.jpg', 'image/jpeg'],
      ['file', await fixture('empty.jpg'), 'empty.jpg', 'image/jpeg'],
      ['file', await fixture('truncated.jpg'), 'truncated.jpg', 'image/jpeg'],
      ['file', await fixture('not-an-image.png'), 'text.png', 'image/png'],
      ['file', await fixture('drawing.svg'), 'drawing.svg', 'image/svg+xml'],
      ['file', await fixture('broken.png'), 'broken.png', 'image/png'],
      ['file', await fixture('blue.webp'), 'ok2.webp', 'image/webp'],
    ]);
    const body = batch(res);
    assert.equal(body.results.length, 7);
    assertTop(body.results[0]!.predictions, 'red');
    const expected: [number, string, RegExp][] = [
      [1, 'EMPTY_IMAGE', /empty/i],
      [2, 'CORRUPT_IMAGE', /corrupt|truncated/i],
      [3, 'UNSUPPORTED_MEDIA_TYPE', /not an image|format/i],
      [4, 'UNSUPPORTED_MEDIA_TYPE', /svg|format/i],
      [5, 'CORRUPT_IMAGE', /corrupt|truncated/i],
    ];
    for (const [i, code, message] of expected) {
      const r = body.results[i]!;
      assert.equal(r.error, code, `result ${i}: ${JSON.stringify(r)}`);
      assert.match(r.message ?? '', message);
      assert.equal(r.predictions, undefined);
    }
    assertTop(body.results[6]!.predictions, 'blue');
  });

  test('a batch in which every image fails is still 200 with one error per image', async () => {
    const body = batch(await form(t, [
      ['file', await fixture('truncated.jpg'), 'a.jpg', 'image/jpeg'],
      ['file', await fixture('empty.jpg'), 'b.jpg', 'image/jpeg'],
    ]));
    assert.deepEqual(body.results.map((r) => r.error), ['CORRUPT_IMAGE', 'EMPTY_IMAGE']);
  });

  test('Accept: text/plain on a batch: one line per image, in order, failures named', async () => {
    const res = await form(t, [
      ['file', await fixture('green.png'), 'a.png', 'image/png'],
      ['file', await fixture('truncated.jpg'), 'b.jpg', 'image/jpeg'],
      ['file', await fixture('red.jpg'), 'c.jpg', 'image/jpeg'],
    ], '/predict', { accept: 'text/plain' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.ok(res.body.endsWith('\n'), 'ends with a newline');
    const lines = res.body.slice(0, -1).split('\n');
    assert.equal(lines.length, 3, JSON.stringify(res.body));
    assert.equal(lines[0], 'green');
    assert.match(lines[1]!, /CORRUPT_IMAGE/);
    assert.equal(lines[2], 'red');
  });
});

describe('POST /predict: top_k', () => {
  let t: TestApp;
  before(async () => (t = await testApp({ models: [{ name: 'wide', labels: WIDE_LABELS }] })));
  after(() => t.cleanup());

  test('defaults to 5', async () => {
    const body = single(await raw(t, await fixture('red.jpg'), 'image/jpeg'));
    assert.equal(body.predictions.length, 5);
    assertTop(body.predictions, 'red');
  });

  test('query top_k=2', async () => {
    const body = single(await raw(t, await fixture('green.png'), 'image/png', '/predict?top_k=2'));
    assert.equal(body.predictions.length, 2);
    assertTop(body.predictions, 'green');
  });

  test('query top_k=all returns every class, scores summing to 1', async () => {
    const body = single(await raw(t, await fixture('blue.webp'), 'image/webp', '/predict?top_k=all'));
    assert.equal(body.predictions.length, WIDE_LABELS.length);
    assertTop(body.predictions, 'blue');
    assert.deepEqual(body.predictions.map((p) => p.label).sort(), [...WIDE_LABELS].sort());
    assert.deepEqual(body.predictions.map((p) => p.index).sort((a, b) => a - b), WIDE_LABELS.map((_, i) => i));
    const sum = body.predictions.reduce((s, p) => s + p.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-6, `sum ${sum}`);
  });

  test('top_k larger than the class count gives every class', async () => {
    const body = single(await raw(t, await fixture('red.jpg'), 'image/jpeg', '/predict?top_k=100'));
    assert.equal(body.predictions.length, WIDE_LABELS.length);
  });

  test('multipart field top_k', async () => {
    const body = single(await form(t, [['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg'], ['top_k', '1']]));
    assert.equal(body.predictions.length, 1);
    assertTop(body.predictions, 'red');
  });

  test('multipart field top_k=all, before the file', async () => {
    const body = single(await form(t, [['top_k', 'all'], ['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg']]));
    assert.equal(body.predictions.length, WIDE_LABELS.length);
  });

  test('multipart top_k applies to every image of a batch', async () => {
    const body = batch(await form(t, [['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg'], ['file', await fixture('blue.webp'), 'b.webp', 'image/webp'], ['top_k', '3']]));
    assert.deepEqual(body.results.map((r) => r.predictions?.length), [3, 3]);
  });

  test('JSON member top_k, as a number and as "all"', async () => {
    const one = single(await json(t, { image: await b64('green.png'), top_k: 1 }));
    assert.equal(one.predictions.length, 1);
    assertTop(one.predictions, 'green');
    const all = single(await json(t, { image: await b64('green.png'), top_k: 'all' }));
    assert.equal(all.predictions.length, WIDE_LABELS.length);
  });

  test('query top_k with a JSON body', async () => {
    const body = single(await json(t, { image: await b64('green.png') }, '/predict?top_k=3'));
    assert.equal(body.predictions.length, 3);
  });

  for (const bad of ['0', '-1', 'x', '1.5', 'ALL', '']) {
    test(`query top_k=${JSON.stringify(bad)} is 400 INVALID_REQUEST`, async () => {
      assertError(await raw(t, await fixture('red.jpg'), 'image/jpeg', `/predict?top_k=${encodeURIComponent(bad)}`), 400, 'INVALID_REQUEST', /top_k/);
    });
  }

  for (const bad of ['0', '-1', 'x']) {
    test(`multipart field top_k=${bad} is 400 INVALID_REQUEST`, async () => {
      assertError(await form(t, [['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg'], ['top_k', bad]]), 400, 'INVALID_REQUEST', /top_k/);
    });
  }

  for (const bad of [0, -1, 'x']) {
    test(`JSON top_k ${JSON.stringify(bad)} is 400 INVALID_REQUEST`, async () => {
      assertError(await json(t, { image: await b64('red.jpg'), top_k: bad }), 400, 'INVALID_REQUEST', /top_k/);
    });
  }
});

describe('POST /predict: Accept', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  test('Accept: text/plain answers the top label and a newline', async () => {
    const res = await raw(t, await fixture('red.jpg'), 'image/jpeg', '/predict', { accept: 'text/plain' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.equal(res.body, 'red\n');
  });

  test('Accept: text/plain with multipart and JSON bodies too', async () => {
    const m = await form(t, [['file', await fixture('blue.webp'), 'b.webp', 'image/webp']], '/predict', { accept: 'text/plain' });
    assert.equal(m.body, 'blue\n');
    const j = await json(t, { images: [await b64('green.png'), await b64('red.jpg')] }, '/predict', { accept: 'text/plain' });
    assert.equal(j.body, 'green\nred\n');
  });

  test('Accept: application/json, */* and a browser-style header all answer JSON', async () => {
    for (const accept of ['application/json', '*/*', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8']) {
      assertTop(single(await raw(t, await fixture('red.jpg'), 'image/jpeg', '/predict', { accept })).predictions, 'red');
    }
  });

  test('Accept preferring text/plain by quality picks text', async () => {
    const res = await raw(t, await fixture('green.png'), 'image/png', '/predict', { accept: 'application/json;q=0.5, text/plain' });
    assert.equal(res.body, 'green\n');
  });

  test('an error is JSON even when text/plain was asked for', async () => {
    assertError(await raw(t, await fixture('truncated.jpg'), 'image/jpeg', '/predict', { accept: 'text/plain' }), 422, 'CORRUPT_IMAGE', /corrupt|truncated/i);
  });
});

describe('POST /predict: errors', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  test('empty file (multipart) is 400 EMPTY_IMAGE', async () => {
    assertError(await form(t, [['file', await fixture('empty.jpg'), 'empty.jpg', 'image/jpeg']]), 400, 'EMPTY_IMAGE', /empty/i);
  });

  test('empty raw body is 400 EMPTY_IMAGE', async () => {
    assertError(await raw(t, Buffer.alloc(0), 'image/jpeg'), 400, 'EMPTY_IMAGE', /empty/i);
  });

  test('empty base64 image is 400 EMPTY_IMAGE', async () => {
    assertError(await json(t, { image: '' }), 400, 'EMPTY_IMAGE', /empty/i);
  });

  test('truncated JPEG is 422 CORRUPT_IMAGE (raw and multipart)', async () => {
    assertError(await raw(t, await fixture('truncated.jpg'), 'image/jpeg'), 422, 'CORRUPT_IMAGE', /corrupt|truncated/i);
    assertError(await form(t, [['file', await fixture('truncated.jpg'), 't.jpg', 'image/jpeg']]), 422, 'CORRUPT_IMAGE', /corrupt|truncated/i);
  });

  test('broken PNG is 422 CORRUPT_IMAGE', async () => {
    assertError(await raw(t, await fixture('broken.png'), 'image/png'), 422, 'CORRUPT_IMAGE', /corrupt|truncated/i);
  });

  test('text bytes labelled image/png are 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    assertError(await raw(t, await fixture('not-an-image.png'), 'image/png'), 415, 'UNSUPPORTED_MEDIA_TYPE', /not an image|format/i);
    assertError(await form(t, [['file', await fixture('not-an-image.png'), 'x.png', 'image/png']]), 415, 'UNSUPPORTED_MEDIA_TYPE', /not an image|format/i);
  });

  test('SVG is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    assertError(await raw(t, await fixture('drawing.svg'), 'image/svg+xml'), 415, 'UNSUPPORTED_MEDIA_TYPE', /svg|format/i);
    assertError(await form(t, [['file', await fixture('drawing.svg'), 'd.svg', 'image/svg+xml']]), 415, 'UNSUPPORTED_MEDIA_TYPE', /svg|format/i);
  });

  for (const type of ['text/plain', 'application/xml', 'text/html', 'application/x-www-form-urlencoded']) {
    test(`Content-Type ${type} is 415 UNSUPPORTED_MEDIA_TYPE naming what is accepted`, async () => {
      assertError(await raw(t, await fixture('red.jpg'), type), 415, 'UNSUPPORTED_MEDIA_TYPE', /multipart\/form-data.*image\/\*.*application\/json/);
    });
  }

  test('invalid base64 is 400 INVALID_BASE64', async () => {
    assertError(await json(t, { image: 'this is not base64!' }), 400, 'INVALID_BASE64', /image.*not valid base64/);
  });

  test('a data: URL that is not base64 is 400 INVALID_BASE64', async () => {
    assertError(await json(t, { image: 'data:image/png,rawtext' }), 400, 'INVALID_BASE64', /base64/);
  });

  test('valid base64 of non-image bytes is 415', async () => {
    assertError(await json(t, { image: await b64('not-an-image.png') }), 415, 'UNSUPPORTED_MEDIA_TYPE', /not an image|format/i);
  });

  test('JSON with no image is 400 MISSING_IMAGE', async () => {
    assertError(await json(t, {}), 400, 'MISSING_IMAGE', /no image/);
    assertError(await json(t, { top_k: 3 }), 400, 'MISSING_IMAGE', /no image/);
  });

  test('JSON with an empty images array is 400 MISSING_IMAGE', async () => {
    assertError(await json(t, { images: [] }), 400, 'MISSING_IMAGE', /empty/);
  });

  test('JSON with both image and url is 400 MISSING_IMAGE asking for exactly one', async () => {
    assertError(await json(t, { image: await b64('red.jpg'), url: 'http://example.com/x.jpg' }), 400, 'MISSING_IMAGE', /exactly one/);
  });

  // The schema says image is a string and images an array of strings; a number,
  // boolean or array must not be coerced into "base64" and sent to the decoder.
  test('JSON {"image": 42} is 400 INVALID_REQUEST, not coerced to the string "42"', async () => {
    assertError(await json(t, { image: 42 }), 400, 'INVALID_REQUEST', /image/);
  });

  test('JSON {"image": ["..."]} is 400 INVALID_REQUEST, not unwrapped to a string', async () => {
    assertError(await json(t, { image: ['abcd'] }), 400, 'INVALID_REQUEST', /image/);
  });

  test('JSON {"images": "..."} is 400 INVALID_REQUEST, not wrapped into an array', async () => {
    assertError(await json(t, { images: 'abcd' }), 400, 'INVALID_REQUEST', /images/);
  });

  test('malformed JSON is 400 INVALID_REQUEST', async () => {
    assertError(await raw(t, '{"image": ', 'application/json'), 400, 'INVALID_REQUEST', /JSON|body/i);
  });

  test('multipart with no file is 400 MISSING_IMAGE', async () => {
    assertError(await form(t, [['top_k', '3']]), 400, 'MISSING_IMAGE', /no image.*file/);
  });

  test('a POST with no body is 400 MISSING_IMAGE', async () => {
    assertError(await t.app.inject({ method: 'POST', url: '/predict' }), 400, 'MISSING_IMAGE', /no image/);
  });

  test('an unknown file field name is 400 INVALID_REQUEST naming it and the accepted names', async () => {
    assertError(await form(t, [['upload', await fixture('red.jpg'), 'r.jpg', 'image/jpeg']]), 400, 'INVALID_REQUEST', /"upload".*file, image, image-file, data/);
  });

  test('an unknown file field after a good one is still 400 INVALID_REQUEST', async () => {
    const res = await form(t, [['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg'], ['photo', await fixture('green.png'), 'g.png', 'image/png']]);
    assertError(res, 400, 'INVALID_REQUEST', /"photo"/);
  });

  test('multipart without a boundary is 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/predict', payload: 'whatever', headers: { 'content-type': 'multipart/form-data' } });
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json<{ error: string; message: string }>();
    assert.equal(body.error, 'INVALID_REQUEST', res.body);
    assert.match(body.message, /boundary|multipart/i);
  });

  test('multipart that ends prematurely is 400', async () => {
    const m = await multipart([['file', await fixture('red.jpg'), 'r.jpg', 'image/jpeg']]);
    const cut = m.payload.subarray(0, m.payload.length - 60);
    const res = await t.app.inject({ method: 'POST', url: '/predict', payload: cut, headers: m.headers });
    assert.equal(res.statusCode, 400, res.body);
    const body = res.json<{ error: string; message: string }>();
    assert.equal(body.error, 'INVALID_REQUEST', res.body);
    assert.match(body.message, /unexpected end|premature|multipart/i);
  });

  test('an unknown model is 404 MODEL_NOT_FOUND naming the served models', async () => {
    assertError(await raw(t, await fixture('red.jpg'), 'image/jpeg', '/models/nope/predict'), 404, 'MODEL_NOT_FOUND', /"nope".*colour/);
  });

  test('GET /predict is not a route: 404 NOT_FOUND', async () => {
    assertError(await t.app.inject({ method: 'GET', url: '/predict' }), 404, 'NOT_FOUND', /GET \/predict/);
  });
});

describe('POST /predict: limits', () => {
  let t: TestApp;
  // red.jpg (276 B) fits; photo-chelsea.jpg (34 KB) does not.
  before(async () => (t = await testApp({ config: { limits: { fileBytes: 4096, files: 2, jsonBytes: 8192 } } })));
  after(() => t.cleanup());

  test('within the limits all forms still work', async () => {
    assertTop(single(await raw(t, await fixture('red.jpg'), 'image/jpeg')).predictions, 'red');
    assert.equal(batch(await form(t, [['file', await fixture('red.jpg'), 'a.jpg'], ['file', await fixture('green.png'), 'b.png']])).results.length, 2);
    assertTop(single(await json(t, { image: await b64('red.jpg') })).predictions, 'red');
  });

  test('a multipart file over limits.fileBytes is 413', async () => {
    const res = await form(t, [['file', await fixture('photo-chelsea.jpg'), 'big.jpg', 'image/jpeg']]);
    assertError(res, 413, 'PAYLOAD_TOO_LARGE', /larger|too large|limit/i);
  });

  test('a raw body over limits.fileBytes is 413', async () => {
    assertError(await raw(t, await fixture('photo-chelsea.jpg'), 'image/jpeg'), 413, 'PAYLOAD_TOO_LARGE', /large|limit/i);
  });

  test('more multipart files than limits.files is 413', async () => {
    const res = await form(t, [
      ['file', await fixture('red.jpg'), 'a.jpg'],
      ['file', await fixture('green.png'), 'b.png'],
      ['file', await fixture('blue.webp'), 'c.webp'],
    ]);
    assertError(res, 413, 'TOO_MANY_IMAGES', /too many|limit/i);
  });

  test('more JSON images than limits.files is 413', async () => {
    const img = await b64('red.jpg');
    assertError(await json(t, { images: [img, img, img] }), 413, 'TOO_MANY_IMAGES', /3 images.*limit is 2/);
  });

  test('a JSON body over limits.jsonBytes is 413', async () => {
    assertError(await json(t, { image: await b64('photo-chelsea.jpg') }), 413, 'PAYLOAD_TOO_LARGE', /large|limit/i);
  });
});

describe('POST /models/{name}/predict and the default model', () => {
  let t: TestApp;
  // "colour" is added first, "francais" is marked default.
  before(async () => (t = await testApp({ models: [{ name: 'colour' }, { name: 'francais', labels: FRENCH, default: true }] })));
  after(() => t.cleanup());

  test('/predict uses the model marked default, not the first one added', async () => {
    const body = single(await raw(t, await fixture('red.jpg'), 'image/jpeg'));
    assert.equal(body.model, 'francais');
    assertTop(body.predictions, 'rouge');
  });

  test('/models/{name}/predict uses the named model: raw, multipart and JSON', async () => {
    const r = single(await raw(t, await fixture('red.jpg'), 'image/jpeg', '/models/colour/predict'));
    assert.equal(r.model, 'colour');
    assertTop(r.predictions, 'red');
    const m = single(await form(t, [['image', await fixture('green.png'), 'g.png', 'image/png']], '/models/colour/predict'));
    assert.equal(m.model, 'colour');
    assertTop(m.predictions, 'green');
    const j = single(await json(t, { image: await b64('blue.webp') }, '/models/francais/predict'));
    assert.equal(j.model, 'francais');
    assertTop(j.predictions, 'bleu');
  });

  test('/models/{name}/predict: batches, top_k and Accept', async () => {
    const b = batch(await form(t, [['file', await fixture('blue.webp'), 'b.webp'], ['file', await fixture('truncated.jpg'), 't.jpg'], ['top_k', '1']], '/models/colour/predict?top_k=2'));
    assert.equal(b.model, 'colour');
    assertTop(b.results[0]!.predictions, 'blue');
    assert.equal(b.results[0]!.predictions!.length, 1, 'the form field top_k wins over the query');
    assert.equal(b.results[1]!.error, 'CORRUPT_IMAGE');
    const q = single(await raw(t, await fixture('green.png'), 'image/png', '/models/francais/predict?top_k=1'));
    assert.deepEqual(q.predictions.map((p) => p.label), ['vert']);
    const text = await raw(t, await fixture('green.png'), 'image/png', '/models/colour/predict', { accept: 'text/plain' });
    assert.equal(text.body, 'green\n');
  });

  test('/models/{name}/predict errors like /predict', async () => {
    assertError(await raw(t, await fixture('broken.png'), 'image/png', '/models/colour/predict'), 422, 'CORRUPT_IMAGE', /corrupt|truncated/i);
    assertError(await json(t, { image: '%%%' }, '/models/colour/predict'), 400, 'INVALID_BASE64', /base64/);
    assertError(await json(t, {}, '/models/colour/predict'), 400, 'MISSING_IMAGE', /no image/);
    assertError(await raw(t, 'hello', 'text/plain', '/models/colour/predict'), 415, 'UNSUPPORTED_MEDIA_TYPE', /image\/\*/);
    assertError(await json(t, { image: await b64('red.jpg') }, '/models/colour/predict?top_k=0'), 400, 'INVALID_REQUEST', /top_k/);
  });

  test('an unknown model is 404 MODEL_NOT_FOUND listing both served models', async () => {
    assertError(await json(t, { image: await b64('red.jpg') }, '/models/missing/predict'), 404, 'MODEL_NOT_FOUND', /"missing".*colour.*francais|"missing".*francais.*colour/);
  });
});

describe('default model without {default: true}', () => {
  let t: TestApp;
  before(async () => (t = await testApp({ models: [{ name: 'first', labels: FRENCH }, { name: 'second' }] })));
  after(() => t.cleanup());

  test('/predict uses the first model added', async () => {
    const body = single(await raw(t, await fixture('blue.webp'), 'image/webp'));
    assert.equal(body.model, 'first');
    assertTop(body.predictions, 'bleu');
    const named = single(await raw(t, await fixture('blue.webp'), 'image/webp', '/models/second/predict'));
    assert.equal(named.model, 'second');
    assertTop(named.predictions, 'blue');
  });
});

describe('JSON {"url": ...} with URL fetching on', () => {
  let server: http.Server;
  let base: string;
  let connections = 0;
  const requested: string[] = [];
  let image: Buffer;

  before(async () => {
    image = await fixture('red.jpg');
    server = http.createServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url === '/big.jpg') {
        void fixture('photo-chelsea.jpg').then((big) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(big));
      } else if (req.url === '/red.jpg') {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': image.length });
        res.end(image);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not here');
      }
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  describe('with 127.0.0.0/8 allowed', () => {
    let t: TestApp;
    before(async () => (t = await testApp({ config: { urlFetch: { enabled: true, allow: ['127.0.0.0/8'] }, limits: { fileBytes: 4096 } } })));
    after(() => t.cleanup());

    test('fetches the image from the local server and classifies it', async () => {
      const before = requested.length;
      const body = single(await json(t, { url: `${base}/red.jpg` }));
      assert.equal(body.model, 'colour');
      assertTop(body.predictions, 'red');
      assert.deepEqual(requested.slice(before), ['/red.jpg']);
    });

    test('top_k and Accept apply to fetched images', async () => {
      const body = single(await json(t, { url: `${base}/red.jpg`, top_k: 1 }));
      assert.equal(body.predictions.length, 1);
      const text = await json(t, { url: `${base}/red.jpg` }, '/predict', { accept: 'text/plain' });
      assert.equal(text.body, 'red\n');
    });

    test('a 404 at the URL is 400 URL_FETCH_FAILED', async () => {
      assertError(await json(t, { url: `${base}/missing.jpg` }), 400, 'URL_FETCH_FAILED', /404/);
    });

    test('a fetched body over limits.fileBytes is 413 IMAGE_TOO_LARGE', async () => {
      assertError(await json(t, { url: `${base}/big.jpg` }), 413, 'IMAGE_TOO_LARGE', /4096-byte limit/);
    });

    test('a non-http scheme is 400 URL_NOT_ALLOWED', async () => {
      assertError(await json(t, { url: 'file:///etc/passwd' }), 400, 'URL_NOT_ALLOWED', /scheme/);
    });
  });

  describe('without an allow list', () => {
    let t: TestApp;
    before(async () => (t = await testApp({ config: { urlFetch: { enabled: true } } })));
    after(() => t.cleanup());

    test('a loopback URL is 400 URL_NOT_ALLOWED and the local server sees no connection', async () => {
      const before = connections;
      const seen = requested.length;
      assertError(await json(t, { url: `${base}/red.jpg` }), 400, 'URL_NOT_ALLOWED', /127\.0\.0\.1.*loopback/);
      assertError(await json(t, { url: `http://localhost:${new URL(base).port}/red.jpg` }), 400, 'URL_NOT_ALLOWED', /loopback/);
      assert.equal(connections - before, 0, 'no connection was made');
      assert.equal(requested.length, seen);
    });
  });
});
