/**
 * Issue 7's battery, lifecycle side, each against its own real `imgcls
 * serve`: overload (case 11), SIGTERM with requests in flight (12), and bad
 * models at start-up (13).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getOnce, sleep, startServer, type ServerHandle } from '../scripts/lib/server-process.ts';
import { solidPng } from './helpers/hostile.ts';
import { colourModel, COLOURS, tempDir, writeBarePackage } from './helpers/models.ts';
import { assertFetchError, assertRawError, exchange, head } from './helpers/raw-http.ts';
import { fixture } from './helpers/server.ts';

let models: { dir: string; cleanup: () => Promise<void> };
let colourDir: string;

before(async () => {
  models = await tempDir('imgcls-lifecycle-');
  colourDir = await writeBarePackage(path.join(models.dir, 'colour'), colourModel({ size: 16 }), 'labels.txt', COLOURS);
});
after(() => models.cleanup());

/** Time one GET /healthz on a fresh connection. */
async function healthMs(url: string): Promise<number> {
  const started = performance.now();
  const r = await getOnce(`${url}/healthz`, 5000);
  assert.equal(r.status, 200);
  return performance.now() - started;
}

describe('11. overload: the excess gets 503 with Retry-After, never a 500', () => {
  let server: ServerHandle;
  before(async () => {
    server = await startServer(['--model', `colour=${colourDir}`, '--workers', '1', '--max-queue', '2'], { readyTimeoutMs: 60_000 });
  });
  after(async () => {
    assert.deepEqual(await server.stop(), { code: 0, signal: null }, server.stderr());
  });

  test('40 concurrent uploads against a queue of 2', async () => {
    // A large PNG: no shrink-on-load, so each decode takes a while and requests pile up.
    const big = await solidPng(200, 3000);
    const send = () => fetch(`${server.url}/predict`, { method: 'POST', body: big, headers: { 'content-type': 'image/png' } });
    const probes: number[] = [];
    let loading = true;
    const probing = (async () => {
      while (loading) {
        probes.push(await healthMs(server.url));
        await sleep(50);
      }
    })();
    const responses = await Promise.all(Array.from({ length: 40 }, send));
    loading = false;
    await probing;
    const statuses = responses.map((r) => r.status);
    assert.deepEqual([...new Set(statuses)].sort(), [200, 503], `statuses: ${statuses.join(' ')}`);
    for (const r of responses) {
      if (r.status === 503) await assertFetchError(r, 'OVERLOADED');
      else await r.arrayBuffer();
    }
    assert.ok(probes.length > 0);
    assert.ok(Math.max(...probes) < 1000, `/healthz took up to ${Math.max(...probes).toFixed(0)} ms`);
    assert.ok(server.alive());
  });
});

/** Start a request whose body stops half-way; `finish()` sends the rest and resolves with the answer. */
function halfSent(url: string, image: Buffer): { finish: () => void; response: ReturnType<typeof exchange>; started: Promise<void> } {
  let socket: net.Socket | undefined;
  let onStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const response = exchange(
    url,
    (s) => {
      socket = s;
      s.write(head('POST', '/predict', { 'content-type': 'image/png', 'content-length': image.length }));
      s.write(image.subarray(0, image.length >> 1), () => onStarted());
    },
    30_000,
  );
  return { finish: () => socket!.write(image.subarray(image.length >> 1)), response, started };
}

describe('12. SIGTERM with requests in flight', () => {
  test('in-flight requests complete, new ones get 503, readiness turns off, and the process exits 0 within the drain timeout', async () => {
    const server = await startServer(['--model', `colour=${colourDir}`, '--workers', '1', '--drain-timeout', '8000'], { readyTimeoutMs: 60_000 });
    try {
      const image = await fixture('green.png');
      const inFlight = [halfSent(server.url, image), halfSent(server.url, image), halfSent(server.url, image)];
      await Promise.all(inFlight.map((r) => r.started));
      await sleep(200); // the server has parsed their heads and admitted them
      const signalled = performance.now();
      server.signal('SIGTERM');
      for (let i = 0; i < 50 && !/draining 3 request/.test(server.stderr()); i++) await sleep(20);
      assert.match(server.stderr(), /SIGTERM: draining 3 request\(s\) in flight/);

      // New requests, on new connections, are refused with a retryable 503; probes still answer.
      await assertFetchError(await fetch(`${server.url}/predict`, { method: 'POST', body: image, headers: { 'content-type': 'image/png' } }), 'SHUTTING_DOWN');
      const page = await fetch(`${server.url}/`);
      assert.equal(page.status, 503, 'the web page is refused too');
      assert.equal(page.headers.get('retry-after'), '1');
      await page.arrayBuffer();
      assert.equal((await getOnce(`${server.url}/healthz`, 2000)).status, 200);
      const ready = await getOnce(`${server.url}/readyz`, 2000);
      assert.equal(ready.status, 503);
      assert.equal((JSON.parse(ready.body) as { status: string }).status, 'draining');

      // The in-flight requests complete normally.
      for (const r of inFlight) r.finish();
      for (const r of inFlight) {
        const answer = await r.response;
        assert.equal(answer?.status, 200, answer?.body);
        assert.equal((JSON.parse(answer!.body) as { predictions: { label: string }[] }).predictions[0]!.label, 'green');
      }
      const status = await server.exited;
      assert.deepEqual(status, { code: 0, signal: null }, server.stderr());
      assert.ok(performance.now() - signalled < 8000, 'exited within the drain timeout');
    } finally {
      await server.stop();
    }
  });

  test('a request still running when the drain timeout ends is cut, and the exit code says so', async () => {
    const server = await startServer(['--model', `colour=${colourDir}`, '--workers', '1', '--drain-timeout', '500', '--request-timeout', '60000'], { readyTimeoutMs: 60_000 });
    try {
      const stalled = halfSent(server.url, await fixture('green.png'));
      await stalled.started;
      await sleep(200);
      server.signal('SIGTERM');
      const status = await server.exited;
      assert.deepEqual(status, { code: 1, signal: null });
      assert.match(server.stderr(), /drain timeout \(500 ms\) cut 1 request/);
      assert.equal((await stalled.response)?.status, undefined, 'the cut request got no answer');
    } finally {
      await server.stop();
    }
  });

  test('SIGTERM while idle exits 0 at once', async () => {
    const server = await startServer(['--model', `colour=${colourDir}`, '--workers', '1'], { readyTimeoutMs: 60_000 });
    const signalled = performance.now();
    server.signal('SIGTERM');
    assert.deepEqual(await server.exited, { code: 0, signal: null }, server.stderr());
    assert.ok(performance.now() - signalled < 5000);
  });
});

describe('13. bad models fail at start with a clear message; requests never load models', () => {
  /** `imgcls serve --model ref`: it listens, fails loading, and exits. */
  async function failedStart(ref: string): Promise<string> {
    const server = await startServer(['--model', ref, '--workers', '1'], { waitReady: false, readyTimeoutMs: 60_000 });
    const status = await server.exited;
    assert.notEqual(status.code, 0, server.stderr());
    assert.equal(status.signal, null);
    assert.doesNotMatch(server.stderr(), /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
    return server.stderr();
  }

  test('a model path that does not exist', async () => {
    assert.match(await failedStart(path.join(models.dir, 'nowhere')), /nowhere/);
  });
  test('a corrupt ONNX file', async () => {
    const dir = path.join(models.dir, 'corrupt');
    await writeBarePackage(dir, colourModel({ size: 16 }), 'labels.txt', COLOURS);
    await writeFile(path.join(dir, 'model.onnx'), Buffer.from('this is not a protobuf at all, but it is long enough'));
    assert.match(await failedStart(dir), /model\.onnx|ONNX|protobuf/i);
  });
  test('labels that do not match the output', async () => {
    const dir = await writeBarePackage(path.join(models.dir, 'mislabelled'), colourModel({ size: 16 }), 'labels.txt', ['a', 'b', 'c', 'd', 'e']);
    assert.match(await failedStart(dir), /5 labels|labels.*3|3 classes/i);
  });

  test('no route loads a model named by the request', async () => {
    const server = await startServer(['--model', `colour=${colourDir}`, '--workers', '1'], { readyTimeoutMs: 60_000 });
    try {
      const image = await fixture('red.jpg');
      for (const name of [encodeURIComponent(colourDir), encodeURIComponent('../colour'), '..%2Fcolour']) {
        await assertFetchError(await fetch(`${server.url}/models/${name}/predict`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg' } }), 'MODEL_NOT_FOUND');
      }
      const v2 = await fetch(`${server.url}/v2/models/${encodeURIComponent(colourDir)}`);
      assert.equal(v2.status, 404);
      const raw = await exchange(server.url, (s) => void s.write(head('POST', `/models/${colourDir}/predict`, { 'content-type': 'image/jpeg', 'content-length': 0, connection: 'close' })));
      assertRawError(raw, 'NOT_FOUND');
      assert.deepEqual(((await (await fetch(`${server.url}/models`)).json()) as { models: { name: string }[] }).models.map((m) => m.name), ['colour']);
    } finally {
      await server.stop();
    }
  });
});
