/**
 * The collectors: when they ask V8 for a collection (counted against a fake
 * `gc`), that the exposed `gc` really runs the kind asked for (seen by a
 * PerformanceObserver), and what the server counts as a request's bytes.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { bodyGarbageCollector, exposeGc, pixelGarbageCollector, type GcFunction } from '../src/engine/collector.ts';
import { collectRequestBodies } from '../src/server/body-collection.ts';

/** Start times of the collections of `kind` that `during` causes, waiting up to 5 s for an asynchronous one. */
async function collections(kind: number, during: () => void): Promise<{ requested: number; seen: number[] }> {
  const seen: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === kind) seen.push(entry.startTime);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const requested = performance.now();
    during();
    // Usually within milliseconds; a busy machine gets a few seconds.
    for (let waited = 0; !seen.some((t) => t >= requested) && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    return { requested, seen };
  } finally {
    observer.disconnect();
  }
}

function mustGc(): GcFunction {
  const gc = exposeGc();
  assert.ok(gc, 'gc could not be exposed');
  return gc;
}

describe('collectors', () => {
  test('the pixel collector asks for one asynchronous major collection each time the reported bytes reach its threshold', () => {
    const calls: unknown[] = [];
    const collect = pixelGarbageCollector(1000, (options) => calls.push(options));
    collect(400);
    collect(400);
    assert.equal(calls.length, 0);
    collect(400);
    assert.deepEqual(calls, [{ type: 'major', execution: 'async' }]);
    collect(999);
    assert.equal(calls.length, 1);
    collect(1);
    assert.equal(calls.length, 2);
  });

  test('the body collector asks for asynchronous minor collections, one per threshold reached', () => {
    const calls: unknown[] = [];
    const collect = bodyGarbageCollector(100, (options) => calls.push(options));
    collect(99);
    assert.equal(calls.length, 0);
    collect(1);
    collect(250);
    assert.deepEqual(calls, [{ type: 'minor', execution: 'async' }, { type: 'minor', execution: 'async' }]);
  });

  test("gc is exposed after start-up, once per thread, and a synchronous call runs a major collection inside it", async () => {
    const gc = mustGc();
    assert.equal(exposeGc(), gc);
    let before = 0;
    let after = 0;
    const { seen } = await collections(constants.NODE_PERFORMANCE_GC_MAJOR, () => {
      before = performance.now();
      gc();
      after = performance.now();
    });
    assert.ok(seen.some((t) => t >= before && t <= after), `no major collection inside gc() (${before}-${after}): ${seen.join(', ')}`);
  });

  for (const [type, kind] of [['major', constants.NODE_PERFORMANCE_GC_MAJOR], ['minor', constants.NODE_PERFORMANCE_GC_MINOR]] as const) {
    test(`the asynchronous ${type} collection a collector asks for happens`, async () => {
      const gc = mustGc();
      const { requested, seen } = await collections(kind, () => gc({ type, execution: 'async' }));
      assert.ok(seen.some((t) => t >= requested), `no ${type} collection within 5 s of asking: ${seen.join(', ')}`);
    });
  }
});

describe('request bodies on the HTTP thread', () => {
  test('each response reports the bytes its connection read for it, request by request on a keep-alive connection', async () => {
    const reported: number[] = [];
    const app = Fastify();
    collectRequestBodies(app, (bytes) => reported.push(bytes));
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post('/', async (request) => ({ length: (request.body as Buffer).length }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const post = (size: number) =>
        new Promise<void>((resolve, reject) => {
          const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/', agent, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          });
          req.on('error', reject);
          req.end(Buffer.alloc(size, 1));
        });
      for (const size of [20_000, 50_000]) await post(size);
      // onResponse runs once the response has gone, which the client may see first.
      for (let waited = 0; reported.length < 2 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.equal(reported.length, 2, `reports: ${reported.join(', ')}`);
      // The body and a request head of a few hundred bytes.
      assert.ok(reported[0]! >= 20_000 && reported[0]! < 21_000, `first: ${reported[0]}`);
      assert.ok(reported[1]! >= 50_000 && reported[1]! < 51_000, `second: ${reported[1]}`);
      // inject() has no socket: nothing is reported.
      await app.inject({ method: 'POST', url: '/', payload: Buffer.alloc(10), headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(reported.length, 2);
    } finally {
      agent.destroy();
      await app.close();
    }
  });
});
