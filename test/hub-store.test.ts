/**
 * Hub models in the store: `--model hf:...` pulls on first use only, then
 * works offline; `serve` names it by its store name; `models` shows where it
 * came from; `rm` deletes it; `pull --list` needs no network.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { missingBuild, startServer } from '../scripts/lib/server-process.ts';
import { modelName } from '../src/server/registry.ts';
import { listModels, resolveModel } from '../src/store/store.ts';
import { cli } from './helpers/cli.ts';
import { colourRepo, FakeHub, setEnv } from './helpers/hub.ts';
import { fx, tempDir } from './helpers/models.ts';

const RED = fx('red.jpg');

describe('hub models in the store', () => {
  let hub: FakeHub;
  let store: string;
  let cleanup: () => Promise<void>;
  let restoreEnv: () => void;

  before(async () => {
    hub = await new FakeHub().start();
    hub.repos.set('test-org/Colour-Net', colourRepo());
    restoreEnv = setEnv({ HF_ENDPOINT: hub.endpoint });
    ({ dir: store, cleanup } = await tempDir('imgcls-hub-store-'));
  });
  after(async () => {
    await hub.stop();
    await cleanup();
    restoreEnv();
  });

  test('pull --list names the curated models with no network', async () => {
    const r = await cli('pull', '--list');
    assert.equal(r.code, 0);
    const text = r.out.join('\n');
    for (const network of ['MobileNetV2', 'ResNet-50', 'DenseNet-121', 'InceptionV3', 'VGG16', 'EfficientNet', 'ViT', 'ConvNeXt']) assert.match(text, new RegExp(network));
    assert.match(text, /imgcls pull hf:Xenova\/resnet-50/);
    assert.match(text, /imgcls pull https:\/\/\S+vgg16-7\.onnx --labels https:\/\/\S+ --name vgg16/);
    assert.match(text, /\* = not checked/);
    assert.equal(hub.requests.length, 0);
  });

  test('predict --model hf:... pulls on first use, with progress on stderr', async () => {
    const r = await cli('predict', '--model', 'hf:test-org/Colour-Net', '--store', store, '--json', RED);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(JSON.parse(r.out[0]!).predictions[0].label, 'red');
    assert.match(r.err[0]!, /^hf:test-org\/Colour-Net is not in the store; pulling it from http:\/\/127\.0\.0\.1:\d+ \(once\)$/);
    assert.ok(r.err.some((l) => /^onnx\/model\.onnx .*in \d+:\d\d/.test(l)), 'a progress line per file');
    assert.ok(existsSync(path.join(store, 'models', 'colour-net', 'source.json')));
  });

  test('models shows the pulled model and its source', async () => {
    const r = await cli('models', '--store', store);
    assert.equal(r.code, 0);
    assert.match(r.out.join('\n'), /^ {2}colour-net +pulled {2}from hf:test-org\/Colour-Net \(main @ c0ffee0\)$/m);
    const json = JSON.parse((await cli('models', '--store', store, '--json')).out.join('\n'));
    assert.equal(json.models.find((m: { name: string }) => m.name === 'colour-net').source, 'hf:test-org/Colour-Net (main @ c0ffee0)');
  });

  test('once stored, hf:... resolves offline, and the server names it by its store name', async () => {
    await hub.stop();
    hub.requests.length = 0;
    const r = await cli('predict', '--model', 'hf:test-org/Colour-Net@main', '--store', store, '--json', RED);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.err, [], 'no pull, no progress');
    assert.equal(JSON.parse(r.out[0]!).predictions[0].label, 'red');

    const dir = await resolveModel('hf:test-org/Colour-Net', { store, onProgress: (m) => assert.fail(`unexpected progress: ${m}`) });
    assert.equal(dir, path.join(store, 'models', 'colour-net'));
    assert.equal(modelName('hf:test-org/Colour-Net', dir), 'colour-net');

    // Another revision is another model: it would need the (stopped) hub.
    const other = await cli('predict', '--model', 'hf:test-org/Colour-Net@v2', '--store', store, '--json', RED);
    assert.equal(other.code, 1);
    assert.match(other.err.at(-1)!, /Could not download http:\/\/127\.0\.0\.1:\d+\/api\/models\/test-org\/Colour-Net\/revision\/v2: ECONNREFUSED/);
  });

  test('serve --model hf:... and name=hf:... load from the store with the hub down', { skip: missingBuild() ?? false }, async () => {
    await hub.stop();
    const server = await startServer(['--workers', '0', '--store', store, '--model', 'hf:test-org/Colour-Net', '--model', 'mine=hf:test-org/Colour-Net'], {
      env: { ...process.env, HF_ENDPOINT: hub.endpoint },
      readyTimeoutMs: 30_000,
    });
    try {
      const r = await fetch(`${server.url}/models`);
      const names = ((await r.json()) as { models: { name: string }[] }).models.map((m) => m.name);
      assert.deepEqual(names.sort(), ['colour-net', 'mine']);
    } finally {
      await server.stop();
    }
  });

  test('rm deletes a pulled model; bad names and unknown models are refused', async () => {
    const r = await cli('rm', 'colour-net', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out[0]!, /^Removed colour-net \(.*models\/colour-net\)$/);
    assert.equal(existsSync(path.join(store, 'models', 'colour-net')), false);
    assert.deepEqual((await listModels({ store })).filter((m) => !m.builtin), []);

    const missing = await cli('rm', 'colour-net', '--store', store);
    assert.equal(missing.code, 1);
    assert.match(missing.err[0]!, /has no model "colour-net"/);
    for (const bad of ['../models', 'a/b', '..', '.staging']) {
      const refused = await cli('rm', bad, '--store', store);
      assert.equal(refused.code, 2, bad);
      assert.match(refused.err[0]!, /no '\/', '\\' or '\.\.'\) for the model name/);
    }
    assert.equal((await cli('rm', '--store', store)).code, 2);
  });
});
