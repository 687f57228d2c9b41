/** `imgcls pull <url> --labels ...`: a plain .onnx (ONNX Model Zoo style) becomes a bare package the loader reads. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.ts';
import { fileServer, setEnv, sha256 } from './helpers/hub.ts';
import { colourModel, fx, tempDir } from './helpers/models.ts';

const RED = fx('red.jpg');
const BLUE = fx('blue.webp');

describe('imgcls pull <url>', () => {
  const model = Buffer.from(colourModel());
  const modelSha = sha256(model);
  let server: Awaited<ReturnType<typeof fileServer>>;
  let store: string;
  let cleanup: () => Promise<void>;
  let restoreEnv: () => void;

  before(async () => {
    server = await fileServer(
      new Map<string, Buffer | string>([
        ['/zoo/colours-v1-12.onnx', model],
        ['/zoo/labels.txt', 'red\ngreen\nblue\n'],
      ]),
    );
    ({ dir: store, cleanup } = await tempDir('imgcls-url-'));
    restoreEnv = setEnv({ HF_TOKEN: 'hf_not_for_other_hosts' });
  });
  after(async () => {
    await server.stop();
    await cleanup();
    restoreEnv();
  });

  test('model and labels URLs make a bare package named after the file, which predict loads', async () => {
    const r = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', `${server.origin}/zoo/labels.txt`, '--sha256', modelSha.toUpperCase(), '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out[0]!, /^Pulled http:\/\/127\.0\.0\.1:\d+\/zoo\/colours-v1-12\.onnx as colours-v1-12: /);
    const dir = path.join(store, 'models', 'colours-v1-12');
    assert.deepEqual((await readdir(dir)).sort(), ['labels.txt', 'model.onnx', 'source.json']);
    assert.equal(await readFile(path.join(dir, 'labels.txt'), 'utf8'), 'red\ngreen\nblue\n');
    const source = JSON.parse(await readFile(path.join(dir, 'source.json'), 'utf8'));
    assert.equal(source.kind, 'url');
    assert.equal(source.files[0].sha256, modelSha);
    assert.ok(server.requests.every((q) => q.authorization === undefined), 'HF_TOKEN goes to the hub only');

    const predicted = await cli('predict', '--model', 'colours-v1-12', '--store', store, '--json', RED, BLUE);
    assert.equal(predicted.code, 0, predicted.err.join('\n'));
    assert.deepEqual(predicted.out.map((l) => JSON.parse(l).predictions[0].label), ['red', 'blue']);

    const again = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', `${server.origin}/zoo/labels.txt`, '--store', store);
    assert.equal(again.code, 0);
    assert.match(again.out[0]!, /colours-v1-12 is already in the store/);
  });

  test('labels from a local imagenet_class_index.json, and --name', async () => {
    const { dir, cleanup: done } = await tempDir();
    try {
      const labels = path.join(dir, 'imagenet_class_index.json');
      await writeFile(labels, JSON.stringify({ 0: ['n0', 'red'], 1: ['n1', 'green'], 2: ['n2', 'blue'] }));
      const r = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', labels, '--name', 'zoo-colours', '--store', store);
      assert.equal(r.code, 0, r.err.join('\n'));
      const predicted = await cli('predict', '--model', 'zoo-colours', '--store', store, '--json', RED);
      assert.equal(JSON.parse(predicted.out[0]!).predictions[0].label, 'red');
    } finally {
      await done();
    }
  });

  test('a wrong --sha256 leaves nothing in the store', async () => {
    const r = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', `${server.origin}/zoo/labels.txt`, '--sha256', '0'.repeat(64), '--name', 'bad-sum', '--store', store);
    assert.equal(r.code, 1);
    assert.match(r.err.at(-1)!, /colours-v1-12\.onnx has sha256 [0-9a-f]{64} but the source says 0{64}; the download was discarded/);
    assert.equal(existsSync(path.join(store, 'models', 'bad-sum')), false);
    assert.equal(existsSync(path.join(store, 'models', '.staging', 'bad-sum')), false);
  });

  test('failures are named: 404, labels, http to another host, missing --labels', async () => {
    const missing = await cli('pull', `${server.origin}/zoo/nothing.onnx`, '--labels', `${server.origin}/zoo/labels.txt`, '--store', store);
    assert.equal(missing.code, 1);
    assert.match(missing.err.at(-1)!, /\/zoo\/nothing\.onnx answered 404; no model there/);
    assert.equal(existsSync(path.join(store, 'models', 'nothing')), false);

    const noLabels = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', `${server.origin}/zoo/synset.txt`, '--name', 'x', '--store', store);
    assert.equal(noLabels.code, 1);
    assert.match(noLabels.err.at(-1)!, /The labels URL .*\/zoo\/synset\.txt answered 404/);

    const plain = await cli('pull', 'http://example.com/model.onnx', '--labels', 'labels.txt', '--store', store);
    assert.equal(plain.code, 1);
    assert.match(plain.err.at(-1)!, /http:\/\/example\.com\/model\.onnx is plain http; imgcls downloads models over https \(http only from localhost\)/);

    const unlabelled = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--store', store);
    assert.equal(unlabelled.code, 2);
    assert.match(unlabelled.err[0]!, /needs its labels: add --labels/);

    const variant = await cli('pull', `${server.origin}/zoo/colours-v1-12.onnx`, '--labels', 'x', '--variant', 'fp16', '--store', store);
    assert.equal(variant.code, 2);
    assert.match(variant.err[0]!, /--variant is for hub models/);
  });
});
