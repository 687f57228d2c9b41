/**
 * `imgcls serve` as a user runs it: a real process on a real port, serving
 * the embedded default model, answering curl-style requests, and stopping
 * cleanly on SIGTERM. Bad flags fail before anything listens.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/models.ts';

const ROOT = path.join(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin', 'imgcls.js');

interface ModelList {
  default: string;
  models: { name: string; labels: string[] }[];
}

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Start `imgcls serve` on a free port and wait until it says where it listens. */
async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

async function untilReady(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const r = await fetch(`${url}/readyz`);
    if (r.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('never ready');
}

describe('imgcls serve with the embedded default model', () => {
  let served: Served;
  let store: Awaited<ReturnType<typeof tempDir>>;

  before(async () => {
    store = await tempDir('imgcls-serve-store-');
    served = await serve(['--store', store.dir]);
    await untilReady(served.url);
  });
  after(async () => {
    if (served.child.exitCode === null) served.child.kill('SIGKILL');
    await store.cleanup();
  });

  test('curl -F file=@photo /predict classifies a real photo', async () => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(path.join(ROOT, 'test/fixtures/photo-chelsea.jpg'))], { type: 'image/jpeg' }), 'chelsea.jpg');
    const r = await fetch(`${served.url}/predict`, { method: 'POST', body: form });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { model: string; predictions: { label: string }[] };
    assert.equal(body.model, 'nsfw-mobilenet-v2');
    assert.equal(body.predictions[0]!.label, 'Neutral');
    assert.equal(body.predictions.length, 5);
  });

  test('Accept: text/plain prints only the label', async () => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(path.join(ROOT, 'test/fixtures/photo-chelsea.jpg'))]), 'x.jpg');
    const r = await fetch(`${served.url}/predict`, { method: 'POST', body: form, headers: { accept: 'text/plain' } });
    assert.equal(await r.text(), 'Neutral\n');
  });

  test('the model list, the docs and the metrics answer', async () => {
    const models = (await (await fetch(`${served.url}/models`)).json()) as ModelList;
    assert.equal(models.default, 'nsfw-mobilenet-v2');
    assert.deepEqual(models.models[0]!.labels, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    assert.equal((await fetch(`${served.url}/docs`)).status, 200);
    assert.match(await (await fetch(`${served.url}/metrics`)).text(), /imgcls_http_requests_total\{route="\/predict",method="POST",status="200"\}/);
  });

  test('SIGTERM stops it with exit code 0', async () => {
    served.child.kill('SIGTERM');
    const [code] = await once(served.child, 'exit');
    assert.equal(code, 0, served.stderr());
  });
});

describe('imgcls serve flags', () => {
  test('two models by name=dir, one marked default', async () => {
    const store = await tempDir('imgcls-serve-store-');
    const s = await serve(['--store', store.dir, '--model', 'nsfw-mobilenet-v2', '--model', `small=nsfw-mobilenet-v2`, '--default', 'small']);
    try {
      await untilReady(s.url);
      const models = (await (await fetch(`${s.url}/models`)).json()) as ModelList;
      assert.deepEqual(models.models.map((m) => m.name), ['nsfw-mobilenet-v2', 'small']);
      assert.equal(models.default, 'small');
      assert.match(s.stderr(), /serving nsfw-mobilenet-v2, small \(default small;/);
    } finally {
      s.child.kill('SIGTERM');
      await once(s.child, 'exit');
      await store.cleanup();
    }
  });

  test('a model that does not exist: a message and a non-zero exit', async () => {
    const r = await cli('serve', '--port', '0', '--log-level', 'silent', '--model', '/no/such/model');
    assert.equal(r.code, 1);
    assert.match(r.err.join('\n'), /\/no\/such\/model/);
  });

  const bad: [string[], RegExp][] = [
    [['--port', 'http'], /--port/],
    [['--port', '70000'], /--port/],
    [['--max-file-size', 'lots'], /--max-file-size/],
    [['--url-allow', '10.0.0.0/99'], /10\.0\.0\.0\/99/],
    [['--log-level', 'loud'], /--log-level/],
    [['--portt', '1'], /Unknown option --portt/],
    [['--default', 'nope'], /--default nope/],
  ];
  for (const [args, message] of bad) {
    test(`serve ${args.join(' ')} fails with a message`, async () => {
      const store = await tempDir('imgcls-serve-store-');
      try {
        const r = await cli('serve', '--port', '0', '--log-level', 'silent', '--store', store.dir, ...args);
        assert.notEqual(r.code, 0);
        assert.match(r.err.join('\n'), message);
      } finally {
        await store.cleanup();
      }
    });
  }
});
