/**
 * A failure nobody catalogued (a bug) is answered with a generic 500 that
 * names the request id and leaks nothing, and is logged in full under that
 * id, so an operator can find it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Writable } from 'node:stream';
import { fixture, testApp, type TestApp } from './helpers/server.ts';

let served: TestApp;
const logged: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});

before(async () => {
  served = await testApp({ config: { logLevel: 'error' }, logStream });
  // A bug deep inside: a plain Error with an internal path in its message.
  served.registry.get().classifier.classify = () => Promise.reject(new Error('secret detail at /srv/internal/path.ts'));
});
after(async () => {
  await served.cleanup();
});

test('an unexpected error is a generic 500 naming the request id; the log has the error under that id', async () => {
  const res = await served.app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'image/jpeg', 'x-request-id': 'req-test-42' }, payload: await fixture('red.jpg') });
  assert.equal(res.statusCode, 500);
  const body = res.json<{ error: string; message: string }>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
  assert.equal(body.error, 'INTERNAL_ERROR');
  assert.match(body.message, /request id req-test-42/);
  assert.doesNotMatch(res.body, /secret|\/srv\/|path\.ts/);
  const line = logged.map((l) => l.trim()).find((l) => l.includes('req-test-42') && l.includes('secret detail'));
  assert.ok(line, `no log line with the request id and the error among:\n${logged.join('')}`);
  const entry = JSON.parse(line) as { level: number; reqId: string; err: { message: string; stack: string } };
  assert.equal(entry.reqId, 'req-test-42');
  assert.equal(entry.level, 50); // pino's "error"
  assert.match(entry.err.stack, /secret detail/);
});
