import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { COLOURS } from './helpers/models.ts';
import { fixture, multipart, testApp, type TestApp } from './helpers/server.ts';

const FRENCH = ['rouge', 'vert', 'bleu'];

function assertError(res: LightMyRequestResponse, status: number, code: string, message: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json<{ error: string; message: string }>();
  assert.equal(body.error, code, res.body);
  assert.match(body.message, message);
}

/** Parse Prometheus text: one entry per sample line, labels as a record. */
function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample `name` whose labels include `labels`, summed when several match; 0 when none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return parseMetrics(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('GET /models and /models/{name}', () => {
  let t: TestApp;
  before(async () => (t = await testApp({ models: [{ name: 'colour' }, { name: 'francais', labels: FRENCH, default: true }] })));
  after(() => t.cleanup());

  test('GET /models lists every model with the default named', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/models' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json<{ default: string; models: { name: string; default: boolean; labels: string[] }[] }>();
    assert.equal(body.default, 'francais');
    assert.deepEqual(body.models.map((m) => m.name), ['colour', 'francais']);
    assert.deepEqual(body.models.map((m) => m.default), [false, true]);
    assert.deepEqual(body.models[0]!.labels, [...COLOURS]);
    assert.deepEqual(body.models[1]!.labels, FRENCH);
  });

  test('GET /models/{name}: labels, input spec, output and preprocessing', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/models/colour' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<Record<string, any>>();
    assert.equal(body.name, 'colour');
    assert.equal(body.default, false);
    assert.deepEqual(body.labels, [...COLOURS]);
    assert.equal(body.input.name, 'pixel_values');
    assert.equal(body.input.layout, 'NCHW');
    assert.equal(body.input.width, 16);
    assert.equal(body.input.height, 16);
    assert.deepEqual(body.input.shape, ['batch', 3, 16, 16]);
    assert.deepEqual(body.output, { name: 'logits', activation: 'softmax', classes: 3 });
    assert.equal(typeof body.preprocess, 'object');
    assert.ok(body.preprocess.resize, 'preprocess names the resize');
    assert.equal(body.preprocess.layout, 'NCHW');
    assert.equal(body.format, 'bare');
    assert.equal(typeof body.device, 'string');
  });

  test('GET /models/{name} for the default model says so', async () => {
    const body = (await t.app.inject({ method: 'GET', url: '/models/francais' })).json<{ default: boolean; labels: string[] }>();
    assert.equal(body.default, true);
    assert.deepEqual(body.labels, FRENCH);
  });

  test('GET /models/{unknown} is 404 MODEL_NOT_FOUND naming the served models', async () => {
    assertError(await t.app.inject({ method: 'GET', url: '/models/nope' }), 404, 'MODEL_NOT_FOUND', /"nope".*colour, francais/);
  });
});

describe('health and readiness', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  test('GET /healthz is 200 {status: "ok"}, loaded or not', async () => {
    t = await testApp({ ready: false });
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<{ status: string }>().status, 'ok');
  });

  test('GET /readyz is 503 before registry.markReady() and 200 after', async () => {
    t = await testApp({ ready: false });
    const before = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(before.statusCode, 503, before.body);
    assert.equal(before.json<{ status: string }>().status, 'loading');
    t.registry.markReady();
    const after = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(after.statusCode, 200, after.body);
    assert.deepEqual(after.json(), { status: 'ready', models: ['colour'] });
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
  });

  test('GET /readyz is 503 when ready but serving no model', async () => {
    t = await testApp({ models: [] });
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503, res.body);
  });
});

describe('GET /metrics', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  const scrape = async (): Promise<string> => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  test('exposes the documented metrics in Prometheus text format', async () => {
    const text = await scrape();
    for (const name of ['imgcls_http_requests_total', 'imgcls_classification_duration_seconds', 'imgcls_inference_batch_size', 'imgcls_queue_depth']) {
      assert.match(text, new RegExp(`^# HELP ${name} `, 'm'), name);
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    parseMetrics(text); // every line parses
  });

  test('process metrics are off when the app is built with processMetrics: false', async () => {
    assert.doesNotMatch(await scrape(), /^imgcls_process_|^imgcls_nodejs_/m);
  });

  test('request counts by route and status change after requests', async () => {
    const before = await scrape();
    const okBefore = sample(before, 'imgcls_http_requests_total', { route: '/predict', method: 'POST', status: '200' });
    const badBefore = sample(before, 'imgcls_http_requests_total', { route: '/predict', method: 'POST', status: '422' });
    const namedBefore = sample(before, 'imgcls_http_requests_total', { route: '/models/:name/predict', method: 'POST', status: '200' });
    const red = await fixture('red.jpg');
    for (let i = 0; i < 2; i++) {
      const r = await t.app.inject({ method: 'POST', url: '/predict', payload: red, headers: { 'content-type': 'image/jpeg' } });
      assert.equal(r.statusCode, 200);
    }
    const bad = await t.app.inject({ method: 'POST', url: '/predict', payload: await fixture('truncated.jpg'), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(bad.statusCode, 422);
    const named = await t.app.inject({ method: 'POST', url: '/models/colour/predict', payload: red, headers: { 'content-type': 'image/jpeg' } });
    assert.equal(named.statusCode, 200);
    const after = await scrape();
    assert.equal(sample(after, 'imgcls_http_requests_total', { route: '/predict', method: 'POST', status: '200' }) - okBefore, 2);
    assert.equal(sample(after, 'imgcls_http_requests_total', { route: '/predict', method: 'POST', status: '422' }) - badBefore, 1);
    assert.equal(sample(after, 'imgcls_http_requests_total', { route: '/models/:name/predict', method: 'POST', status: '200' }) - namedBefore, 1, 'labelled by the route pattern, not the URL');
    assert.ok(sample(after, 'imgcls_http_requests_total', { route: '/metrics', method: 'GET', status: '200' }) >= 1, 'scrapes are counted too');
  });

  test('unknown URLs do not become route labels', async () => {
    const r = await t.app.inject({ method: 'GET', url: '/no/such/route-1234' });
    assert.equal(r.statusCode, 404);
    const text = await scrape();
    assert.doesNotMatch(text, /route-1234/);
    assert.ok(parseMetrics(text).some((s) => s.name === 'imgcls_http_requests_total' && s.labels.status === '404'), 'the 404 is counted');
  });

  test('classification durations by stage, batch sizes and queue depth change after classifying', async () => {
    const before = await scrape();
    const count = (text: string, stage: string) => sample(text, 'imgcls_classification_duration_seconds_count', { model: 'colour', stage });
    const batchCount = (text: string) => sample(text, 'imgcls_inference_batch_size_count', { model: 'colour' });
    const batchSum = (text: string) => sample(text, 'imgcls_inference_batch_size_sum', { model: 'colour' });
    const images = (text: string) => sample(text, 'imgcls_images_total', { model: 'colour', outcome: 'ok' });

    const m = await multipart([
      ['file', await fixture('red.jpg'), 'a.jpg', 'image/jpeg'],
      ['file', await fixture('green.png'), 'b.png', 'image/png'],
      ['file', await fixture('blue.webp'), 'c.webp', 'image/webp'],
    ]);
    const res = await t.app.inject({ method: 'POST', url: '/predict', payload: m.payload, headers: m.headers });
    assert.equal(res.statusCode, 200, res.body);

    const after = await scrape();
    // decode, queue and inference are observed per image; total per request.
    for (const stage of ['decode', 'queue', 'inference']) assert.equal(count(after, stage) - count(before, stage), 3, `stage ${stage}`);
    assert.equal(count(after, 'total') - count(before, 'total'), 1, 'stage total');
    assert.ok(sample(after, 'imgcls_classification_duration_seconds_sum', { model: 'colour', stage: 'total' }) > sample(before, 'imgcls_classification_duration_seconds_sum', { model: 'colour', stage: 'total' }));
    // Each image goes to inference once decoded, so the three run in one to three batches.
    const calls = batchCount(after) - batchCount(before);
    assert.ok(calls >= 1 && calls <= 3, `1-3 inference calls, got ${calls}`);
    assert.equal(batchSum(after) - batchSum(before), 3, 'of three images in all');
    assert.equal(images(after) - images(before), 3);
    assert.ok(parseMetrics(after).some((s) => s.name === 'imgcls_queue_depth' && s.labels.model === 'colour'), 'queue depth per model');
    assert.equal(sample(after, 'imgcls_queue_depth', { model: 'colour' }), 0, 'nothing queued once answered');
  });
});

describe('GET /openapi.json', () => {
  let t: TestApp;
  let doc: Record<string, any>;
  before(async () => {
    t = await testApp();
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json();
  });
  after(() => t.cleanup());

  test('is OpenAPI 3 with every API route', () => {
    assert.match(String(doc.openapi), /^3\./);
    assert.equal(doc.info.title, 'imgcls');
    const expected: [string, string][] = [
      ['/predict', 'post'],
      ['/models/{name}/predict', 'post'],
      ['/models', 'get'],
      ['/models/{name}', 'get'],
      ['/healthz', 'get'],
      ['/readyz', 'get'],
      ['/metrics', 'get'],
    ];
    for (const [path, method] of expected) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
  });

  test('/predict documents multipart, image/*, octet-stream and JSON request bodies', () => {
    for (const path of ['/predict', '/models/{name}/predict']) {
      const content = doc.paths[path].post.requestBody?.content;
      assert.ok(content, `${path} has a request body`);
      for (const type of ['multipart/form-data', 'image/*', 'application/octet-stream', 'application/json']) {
        assert.ok(content[type]?.schema, `${path} documents ${type}`);
      }
      const formProps = content['multipart/form-data'].schema.properties;
      for (const field of ['file', 'image', 'image-file', 'data']) assert.equal(formProps[field]?.format, 'binary', `${path} form field ${field}`);
      assert.ok(formProps.top_k, 'form field top_k');
      const jsonProps = content['application/json'].schema.properties;
      for (const member of ['image', 'images', 'url', 'top_k']) assert.ok(jsonProps[member], `${path} JSON member ${member}`);
    }
  });

  test('/predict documents top_k, the response and the error shape', () => {
    const op = doc.paths['/predict'].post;
    const topK = op.parameters.find((p: { name: string }) => p.name === 'top_k');
    assert.equal(topK?.in, 'query');
    assert.equal(topK.schema.default, 5);
    const ok = op.responses['200'].content['application/json'].schema;
    for (const prop of ['model', 'predictions', 'results', 'timing']) assert.ok(ok.properties[prop], `200 has ${prop}`);
    assert.deepEqual(Object.keys(ok.properties.timing.properties).sort(), ['decode_ms', 'inference_ms', 'queue_ms', 'total_ms']);
    assert.deepEqual([...ok.properties.predictions.items.required].sort(), ['index', 'label', 'score']);
    const errors = Object.keys(op.responses).filter((s) => /^4/.test(s));
    assert.ok(errors.length > 0, 'client errors documented');
    const named = doc.paths['/models/{name}/predict'].post.parameters.find((p: { name: string }) => p.name === 'name');
    assert.equal(named?.in, 'path');
  });

  test('the Error schema is a component with error and message', () => {
    const schemas = Object.values<Record<string, any>>(doc.components?.schemas ?? {});
    const error = schemas.find((s) => s.title === 'Error');
    assert.ok(error, 'an Error component');
    assert.deepEqual([...error.required].sort(), ['error', 'message']);
  });

  test('model and health routes document their responses', () => {
    assert.ok(doc.paths['/models'].get.responses['200'].content['application/json'].schema.properties.models);
    const one = doc.paths['/models/{name}'].get.responses['200'].content['application/json'].schema.properties;
    for (const prop of ['labels', 'input', 'output', 'preprocess']) assert.ok(one[prop], `/models/{name} has ${prop}`);
    assert.ok(doc.paths['/readyz'].get.responses['503'], '/readyz documents 503');
  });
});

describe('GET /docs', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  /** GET following redirects within the app. */
  async function follow(url: string): Promise<{ res: LightMyRequestResponse; url: string }> {
    let current = url;
    for (let hops = 0; hops < 5; hops++) {
      const res = await t.app.inject({ method: 'GET', url: current });
      if (res.statusCode < 300 || res.statusCode >= 400) return { res, url: current };
      const location = res.headers.location;
      assert.ok(location, `redirect from ${current} has a Location`);
      const next = new URL(String(location), `http://localhost${current}`);
      assert.equal(next.host, 'localhost', `redirect stays on the server: ${location}`);
      current = next.pathname + next.search;
    }
    assert.fail(`too many redirects from ${url}`);
  }

  /** Every src and href in the page. */
  const references = (html: string): string[] => [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!);

  test('serves Swagger UI whose assets are all local (no CDN)', async () => {
    const { res, url } = await follow('/docs');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(res.body, /swagger-ui/i);
    const refs = references(res.body);
    assert.ok(refs.some((r) => r.endsWith('swagger-ui-bundle.js')), 'loads swagger-ui-bundle.js');
    for (const ref of refs) {
      assert.doesNotMatch(ref, /^(?:[a-z][a-z0-9+.-]*:)?\/\//i, `${ref} is not a remote URL`);
    }
    assert.doesNotMatch(res.body, /unpkg\.com|cdn\.jsdelivr|cdnjs|googleapis/i);
    // Every referenced asset is served by the app itself.
    for (const ref of refs) {
      const resolved = new URL(ref, `http://localhost${url}`);
      const asset = await follow(resolved.pathname);
      assert.equal(asset.res.statusCode, 200, `${resolved.pathname} is served`);
    }
  });

  test('/docs/static/swagger-ui-bundle.js is served as JavaScript', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /javascript/);
    assert.ok(res.body.length > 100_000, 'the real bundle');
  });

  test('the initializer loads the spec from this server, with the validator badge off', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(res.statusCode, 200);
    assert.doesNotMatch(res.body, /validator\.swagger\.io|petstore/);
    assert.match(res.body, /"validatorUrl":null|validatorUrl: null/);
    const spec = await t.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(spec.statusCode, 200);
    assert.ok(spec.json<{ paths: object }>().paths['/predict' as keyof object]);
  });
});

describe('unknown routes', () => {
  let t: TestApp;
  before(async () => (t = await testApp()));
  after(() => t.cleanup());

  for (const [method, url] of [['GET', '/nope'], ['GET', '/models/colour/extra'], ['POST', '/models'], ['DELETE', '/predict'], ['GET', '/predict/']] as const) {
    test(`${method} ${url} is 404 NOT_FOUND naming the route`, async () => {
      const path = url.split('?')[0]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      assertError(await t.app.inject({ method, url }), 404, 'NOT_FOUND', new RegExp(`${method} ${path}.*\\/docs`));
    });
  }

  test('a query string is left out of the message', async () => {
    assertError(await t.app.inject({ method: 'GET', url: '/nope?secret=1' }), 404, 'NOT_FOUND', /^No route GET \/nope;/);
  });
});
