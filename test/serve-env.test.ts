/**
 * `imgcls serve` configured through IMGCLS_* variables, as a container or a
 * Kubernetes ConfigMap configures it: the variables become flags, the
 * command line wins, and a bad value fails like a bad flag.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { envFlags, envName, SERVE_ENV } from '../src/cli/env.ts';
import { repeatedFlag } from '../src/cli/options.ts';
import { serveArgs } from '../src/cli/serve.ts';
import { missingBuild, startServer } from '../scripts/lib/server-process.ts';
import { cliWithEnv } from './helpers/cli.ts';
import { HF_COLOUR, tempDir } from './helpers/models.ts';
import { assertFetchError } from './helpers/raw-http.ts';
import { fixture, multipart } from './helpers/server.ts';

describe('IMGCLS_* variables', () => {
  test('every serve flag has one, named after it', () => {
    assert.equal(envName('max-queue'), 'IMGCLS_MAX_QUEUE');
    for (const flag of ['port', 'host', 'model', 'workers', 'drain-timeout', 'allow-url-fetch', 'log-level']) {
      assert.equal(SERVE_ENV.get(envName(flag)), flag);
    }
    assert.equal(SERVE_ENV.size, Object.keys(serveArgs).length);
  });

  test('values become flags; the command line wins; several models split on commas', () => {
    const env = { IMGCLS_PORT: '9000', IMGCLS_HOST: '0.0.0.0', IMGCLS_MODEL: 'a=/m/a, b', IMGCLS_UNRELATED: 'x', PORT: '1' };
    const r = envFlags(serveArgs, ['--host', '127.0.0.1'], env);
    assert.deepEqual(r.args, ['--model=a=/m/a', '--model=b', '--port=9000']);
    assert.deepEqual(r.used, ['IMGCLS_MODEL=a=/m/a, b', 'IMGCLS_PORT=9000']);
    assert.deepEqual(envFlags(serveArgs, ['--port=1'], env).args.includes('--port=9000'), false);
    // After `--` nothing is a flag.
    assert.ok(envFlags(serveArgs, ['--', '--port=1'], env).args.includes('--port=9000'));
  });

  test('a flag that takes a value takes the next word, as citty reads it, so every reader agrees on what was given', () => {
    // citty reads `--model --port 8081` as model "--port": the port was not given, and the model list says so.
    assert.deepEqual(repeatedFlag(['--model', '--port', '8081'], 'model', serveArgs), ['--port']);
    assert.ok(envFlags(serveArgs, ['--model', '--port', '8081'], { IMGCLS_PORT: '9000' }).args.includes('--port=9000'));
    assert.deepEqual(repeatedFlag(['--host', '--model', '--model', 'b'], 'model', serveArgs), ['b']);
  });

  test("a Kubernetes service link in IMGCLS_PORT (a Service named imgcls) is not taken for the port", () => {
    const r = envFlags(serveArgs, [], { IMGCLS_PORT: 'tcp://10.96.0.12:80', IMGCLS_SERVICE_HOST: '10.96.0.12', IMGCLS_PORT_80_TCP: 'tcp://10.96.0.12:80' });
    assert.deepEqual(r.args, []);
    assert.match(r.ignored[0]!, /IMGCLS_PORT=tcp:\/\/10\.96\.0\.12:80 \(a Kubernetes service link/);
  });

  test('booleans take true/false and their usual spellings; anything else is refused', () => {
    assert.deepEqual(envFlags(serveArgs, [], { IMGCLS_ALLOW_URL_FETCH: 'true' }).args, ['--allow-url-fetch']);
    assert.deepEqual(envFlags(serveArgs, [], { IMGCLS_ALLOW_URL_FETCH: '1' }).args, ['--allow-url-fetch']);
    assert.deepEqual(envFlags(serveArgs, [], { IMGCLS_ALLOW_URL_FETCH: 'false' }).args, []);
    assert.deepEqual(envFlags(serveArgs, ['--no-allow-url-fetch'], { IMGCLS_ALLOW_URL_FETCH: 'yes' }).args, []);
    assert.throws(() => envFlags(serveArgs, [], { IMGCLS_ALLOW_URL_FETCH: 'maybe' }), /IMGCLS_ALLOW_URL_FETCH/);
  });

  test('a bad value exits 2 naming the flag, after saying it came from the environment', async () => {
    const { code, err } = await cliWithEnv({ IMGCLS_PORT: 'http' }, 'serve', '--log-level', 'silent');
    assert.equal(code, 2);
    assert.match(err.join('\n'), /from the environment: IMGCLS_PORT=http/);
    assert.match(err.join('\n'), /--port but received "http"/);
  });

  test('a real server takes its model and limits from the environment', { skip: missingBuild() ?? false }, async () => {
    const store = await tempDir('imgcls-env-store-');
    const server = await startServer(['--workers', '1'], { env: { ...process.env, IMGCLS_MODEL: `colour=${HF_COLOUR}`, IMGCLS_MAX_FILES: '1', IMGCLS_HOME: store.dir }, readyTimeoutMs: 60_000 });
    try {
      assert.match(server.stderr(), /from the environment: .*IMGCLS_MAX_FILES=1/);
      const models = (await (await fetch(`${server.url}/models`)).json()) as { models: { name: string }[] };
      assert.deepEqual(models.models.map((m) => m.name), ['colour']);
      const red = await fixture('red.jpg');
      const one = await multipart([['file', red, 'red.jpg', 'image/jpeg']]);
      const ok = await fetch(`${server.url}/predict`, { method: 'POST', headers: one.headers, body: one.payload });
      assert.equal(ok.status, 200);
      const two = await multipart([
        ['file', red, 'a.jpg', 'image/jpeg'],
        ['file', red, 'b.jpg', 'image/jpeg'],
      ]);
      const refused = await fetch(`${server.url}/predict`, { method: 'POST', headers: two.headers, body: two.payload });
      await assertFetchError(refused, 'TOO_MANY_IMAGES');
      assert.equal((await server.stop()).code, 0);
    } finally {
      await server.stop();
      await store.cleanup();
    }
  });
});
