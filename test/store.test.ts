import assert from 'node:assert/strict';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isImgclsError } from '../src/errors.ts';
import { MANIFEST_FILE } from '../src/model/manifest.ts';
import { DEFAULT_MODEL } from '../src/store/builtin.ts';
import { ensureBuiltin, listModels, resolveModel, storeDir } from '../src/store/store.ts';
import { tempDir } from './helpers/models.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

describe('storeDir', () => {
  test('--store beats IMGCLS_HOME beats XDG_CACHE_HOME beats ~/.cache', () => {
    assert.equal(storeDir('/a', { IMGCLS_HOME: '/b', XDG_CACHE_HOME: '/c' }), '/a');
    assert.equal(storeDir(undefined, { IMGCLS_HOME: '/b', XDG_CACHE_HOME: '/c' }), '/b');
    assert.equal(storeDir(undefined, { XDG_CACHE_HOME: '/c' }), '/c/imgcls');
    assert.match(storeDir(undefined, {}), /\.cache\/imgcls$/);
  });
});

describe('the model store', () => {
  let store: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir: store, cleanup } = await tempDir('imgcls-store-')));
  after(() => cleanup());

  test('the default model is converted on first use, once', async () => {
    const progress: string[] = [];
    const dir = await resolveModel(undefined, { store, onProgress: (m) => progress.push(m) });
    assert.equal(dir, path.join(store, 'models', DEFAULT_MODEL));
    assert.equal(progress.length, 1);
    assert.match(progress[0]!, /Converting nsfw-mobilenet-v2 .*\(once\)/);
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8'));
    assert.deepEqual(manifest.labels, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    assert.equal(manifest.input.resize, 'stretch');
    assert.equal(manifest.input.scale, 1 / 255);
    assert.equal(manifest.metadata.features[0].layer, 'out_relu');
    const before = (await stat(path.join(dir, 'model.onnx'))).mtimeMs;

    const again: string[] = [];
    assert.equal(await resolveModel('nsfw-mobilenet-v2', { store, onProgress: (m) => again.push(m) }), dir);
    assert.deepEqual(again, [], 'a second use does not convert again');
    assert.equal((await stat(path.join(dir, 'model.onnx'))).mtimeMs, before);
  });

  test('a package from another imgcls or nsfwjs version is converted again', async () => {
    const dir = path.join(store, 'models', DEFAULT_MODEL);
    const file = path.join(dir, MANIFEST_FILE);
    const manifest = JSON.parse(await readFile(file, 'utf8'));
    manifest.metadata.builtin = 'nsfw-mobilenet-v2@nsfwjs-0.0.1+imgcls-0.0.1';
    await writeFile(file, JSON.stringify(manifest));
    const progress: string[] = [];
    await ensureBuiltin(DEFAULT_MODEL, { store, onProgress: (m) => progress.push(m) });
    assert.equal(progress.length, 1);
    assert.notEqual(JSON.parse(await readFile(file, 'utf8')).metadata.builtin, manifest.metadata.builtin);
  });

  test('two processes converting at once both get a complete package', async () => {
    const { dir: other, cleanup: done } = await tempDir('imgcls-race-');
    try {
      const [a, b] = await Promise.all([ensureBuiltin(DEFAULT_MODEL, { store: other }), ensureBuiltin(DEFAULT_MODEL, { store: other })]);
      assert.equal(a, b);
      const manifest = JSON.parse(await readFile(path.join(a, MANIFEST_FILE), 'utf8'));
      assert.equal(manifest.name, DEFAULT_MODEL);
      assert.ok((await stat(path.join(a, 'model.onnx'))).size > 1_000_000);
    } finally {
      await done();
    }
  });

  test('names in the store, directories, and unknown names', async () => {
    await cp(path.join(FIXTURES, 'models', 'manifest-nhwc'), path.join(store, 'models', 'colours'), { recursive: true });
    assert.equal(await resolveModel('colours', { store }), path.join(store, 'models', 'colours'));
    const fixture = path.join(FIXTURES, 'models', 'hf-colour');
    assert.equal(await resolveModel(fixture, { store }), fixture);
    await assert.rejects(resolveModel('no-such-model', { store }), (err) => {
      assert.ok(isImgclsError(err));
      assert.equal(err.code, 'MODEL_NOT_FOUND');
      assert.match(err.message, /No model "no-such-model".*available: nsfw-mobilenet-v2, nsfw-inception-v3, colours/);
      return true;
    });
    await assert.rejects(resolveModel('./no/such/dir', { store }), /No model "\.\/no\/such\/dir"/);
  });

  test('listModels: the built-ins first, with their state, then the store', async () => {
    const models = await listModels({ store });
    assert.deepEqual(
      models.map((m) => [m.name, m.builtin, m.ready]),
      [
        ['nsfw-mobilenet-v2', true, true],
        ['nsfw-inception-v3', true, false],
        ['colours', false, true],
      ],
    );
  });
});
