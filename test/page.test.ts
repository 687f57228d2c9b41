/**
 * The web page without a browser: `GET /` and the no-JavaScript `POST /`
 * through app.inject(), its security headers, HTML escaping of labels, and
 * the static files it loads.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { Classifier } from '../src/engine/classifier.ts';
import { buildApp } from '../src/server/app.ts';
import { serverConfig } from '../src/server/config.ts';
import { ModelRegistry } from '../src/server/registry.ts';
import { resolveModel } from '../src/store/store.ts';
import { colourModel, tempDir, writeBarePackage } from './helpers/models.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (name: string) => readFile(path.join(FIXTURES, name));

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'";
/** Labels a model file could carry; the page must show them as text. */
const MARKUP_LABELS = ['<script>alert("red")</script>', 'green & "quoted"', "<img src=x onerror=alert('blue')>"];

type Part = { name: string; value: string } | { name: string; bytes: Uint8Array; filename: string; type?: string };

/** A multipart body as a browser's form post sends it. */
async function multipart(parts: Part[]): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  for (const p of parts) {
    if ('value' in p) form.append(p.name, p.value);
    else form.append(p.name, new Blob([p.bytes], { type: p.type ?? 'application/octet-stream' }), p.filename);
  }
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } };
}

describe('web page (server-rendered)', () => {
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;

  before(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    const registry = new ModelRegistry();
    const nsfwDir = await resolveModel(undefined, { store: path.join(tmp.dir, 'store') });
    registry.add({ name: 'nsfw-mobilenet-v2', dir: nsfwDir, classifier: await Classifier.load(nsfwDir) });
    const colourDir = await writeBarePackage(path.join(tmp.dir, 'markup'), colourModel(), 'labels.txt', MARKUP_LABELS);
    registry.add({ name: 'markup', dir: colourDir, classifier: await Classifier.load(colourDir) });
    registry.markReady();
    app = await buildApp(serverConfig({ logLevel: false }), registry, { processMetrics: false });
  });

  after(async () => {
    await app?.close();
    await cleanup?.();
  });

  const post = async (parts: Part[]) => app.inject({ method: 'POST', url: '/', ...(await multipart(parts)) });
  const photo = async (name = 'photo-chelsea.jpg'): Promise<Part> => ({ name: 'file', bytes: await fixture(name), filename: name, type: 'image/jpeg' });

  test('GET / renders the form, the models and the security headers', async () => {
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html; charset=utf-8/);
    assert.equal(res.headers['content-security-policy'], CSP);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const html = res.body;
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<form [^>]*method="post" action="\/" enctype="multipart\/form-data"/);
    assert.match(html, /<select id="model" name="model"><option value="nsfw-mobilenet-v2" selected>nsfw-mobilenet-v2<\/option><option value="markup">markup<\/option><\/select>/);
    assert.match(html, /<input id="file" name="file" type="file" multiple accept="image\/\*">/);
    assert.match(html, /<label class="drop-label" for="file">/);
    assert.match(html, /<input id="top_k" name="top_k" type="number"[^>]* value="5"/);
    assert.match(html, /<button type="submit"/);
    assert.match(html, /aria-live="polite"/);
    // Everything it loads comes from this server, and nothing is inline.
    for (const [, url] of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.ok(url!.startsWith('/'), `${url} is not served by imgcls`);
    assert.doesNotMatch(html, /<script>|<style|style="/);
    assert.equal(html.match(/<script/g)?.length, 1);
  });

  test('POST / with a photo renders its labels with percentages, a thumbnail and the latency', async () => {
    const res = await post([{ name: 'model', value: 'nsfw-mobilenet-v2' }, { name: 'top_k', value: '3' }, await photo()]);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-security-policy'], CSP);
    const html = res.body;
    assert.match(html, /<li class="pred pred-top"><span class="pred-label">Neutral<\/span><span class="pred-pct">\d{1,3}\.\d%<\/span><progress class="pred-bar" max="100" value="[\d.]+"/);
    assert.equal(html.match(/<li class="pred/g)?.length, 3);
    assert.match(html, /<img src="data:image\/jpeg;base64,[A-Za-z0-9+/=]+" alt="Preview of Your image">/);
    assert.match(html, /1 image with <strong>nsfw-mobilenet-v2<\/strong> · <span class="latency">[\d.]+ ms on the server<\/span>/);
    // The form keeps what was chosen.
    assert.match(html, /<option value="nsfw-mobilenet-v2" selected>/);
    assert.match(html, /name="top_k"[^>]* value="3"/);
    // The client's filename is not echoed.
    assert.doesNotMatch(html, /photo-chelsea/);
  });

  test('POST / with no model field uses the default model and top 5', async () => {
    const res = await post([await photo()]);
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /<span class="pred-label">Neutral<\/span>/);
    assert.equal(res.body.match(/<li class="pred/g)?.length, 5);
  });

  test('POST / with a file that is not an image shows UNSUPPORTED_MEDIA_TYPE with a 4xx status', async () => {
    const res = await post([{ name: 'file', bytes: await fixture('not-an-image.png'), filename: 'not-an-image.png', type: 'image/png' }]);
    assert.equal(res.statusCode, 415);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /<p class="card-error"><span class="error-title">Could not classify this image\.<\/span> <span class="error-message">The data is not an image in a supported format[^<]*<\/span> <code class="error-code">UNSUPPORTED_MEDIA_TYPE<\/code>/);
    assert.match(res.body, /<form /);
  });

  test('POST / with a truncated JPEG shows CORRUPT_IMAGE with 422', async () => {
    const res = await post([await photo('truncated.jpg')]);
    assert.equal(res.statusCode, 422);
    assert.match(res.body, /CORRUPT_IMAGE/);
  });

  test('POST / with several images gives a card each; one bad image does not fail the others', async () => {
    const res = await post([await photo(), { name: 'file', bytes: await fixture('not-an-image.png'), filename: 'x.png' }, await photo('photo-astronaut-224.png')]);
    assert.equal(res.statusCode, 200);
    assert.equal(res.body.match(/<article class="card/g)?.length, 3);
    assert.equal(res.body.match(/<article class="card card--ok"/g)?.length, 2);
    assert.match(res.body, /<h3 class="card-title">Image 2<\/h3><\/div><p class="card-error">/);
    assert.match(res.body, /3 images with/);
  });

  test('POST / with the file input left empty says to choose an image', async () => {
    // What a browser sends for an empty file input: a file part with no name and no bytes.
    const res = await post([{ name: 'model', value: 'nsfw-mobilenet-v2' }, { name: 'file', bytes: new Uint8Array(0), filename: '' }, { name: 'top_k', value: '5' }]);
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /<div class="alert" role="alert"><strong>Could not classify:<\/strong> <span class="error-message">No image was chosen; choose one or more image files, then press Classify<\/span> <code class="error-code">MISSING_IMAGE<\/code><\/div>/);
    const none = await post([{ name: 'model', value: 'nsfw-mobilenet-v2' }]);
    assert.equal(none.statusCode, 400);
    assert.match(none.body, /MISSING_IMAGE/);
  });

  test('POST / with an unknown model or a bad top_k re-renders the page with the error', async () => {
    const unknown = await post([{ name: 'model', value: 'nope<b>' }, await photo()]);
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.body, /No model named &quot;nope&lt;b&gt;&quot; is served/);
    assert.match(unknown.body, /MODEL_NOT_FOUND/);
    assert.doesNotMatch(unknown.body, /nope<b>/);
    assert.match(unknown.body, /<option value="nsfw-mobilenet-v2" selected>/);

    const badTopK = await post([{ name: 'top_k', value: '"><script>x</script>' }, await photo()]);
    assert.equal(badTopK.statusCode, 400);
    assert.match(badTopK.body, /top_k must be a positive integer/);
    assert.doesNotMatch(badTopK.body, /<script>x/);
  });

  test('POST / with a body that is not a form answers the page, not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(res.statusCode, 415);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /UNSUPPORTED_MEDIA_TYPE/);
    assert.equal(res.headers['content-security-policy'], CSP);
  });

  test('labels from a model file are escaped', async () => {
    const res = await post([{ name: 'model', value: 'markup' }, { name: 'top_k', value: 'all' }, { name: 'file', bytes: await fixture('red.jpg'), filename: 'red.jpg', type: 'image/jpeg' }]);
    assert.equal(res.statusCode, 200);
    const html = res.body;
    assert.match(html, /<li class="pred pred-top"><span class="pred-label">&lt;script&gt;alert\(&quot;red&quot;\)&lt;\/script&gt;<\/span>/);
    assert.match(html, /green &amp; &quot;quoted&quot;/);
    assert.match(html, /&lt;img src=x onerror=alert\(&#39;blue&#39;\)&gt;/);
    assert.doesNotMatch(html, /<script>alert|<img src=x/);
    assert.equal(html.match(/<script/g)?.length, 1);
  });

  test('the static files are served with their types', async () => {
    const js = await app.inject({ method: 'GET', url: '/static/app.js' });
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /^(text|application)\/javascript/);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    assert.match(js.body, /addEventListener/);
    const css = await app.inject({ method: 'GET', url: '/static/style.css' });
    assert.equal(css.statusCode, 200);
    assert.match(css.headers['content-type'] as string, /^text\/css/);
    const icon = await app.inject({ method: 'GET', url: '/static/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.match(icon.headers['content-type'] as string, /^image\/svg\+xml/);
    for (const url of ['/static/missing.js', '/static/../package.json', '/static/%2e%2e/package.json']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
    }
  });

  test('the page routes stay out of the OpenAPI document', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    const paths = Object.keys((res.json() as { paths: Record<string, unknown> }).paths);
    assert.ok(paths.includes('/models/{name}/predict'));
    assert.ok(!paths.includes('/'), paths.join(', '));
    assert.ok(!paths.some((p) => p.startsWith('/static')), paths.join(', '));
  });
});
