import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.ts';
import { writeKerasColourModel } from './helpers/keras-colour.ts';
import { tempDir } from './helpers/models.ts';

const fx = (name: string) => path.join(import.meta.dirname, 'fixtures', name);

const readManifest = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'imgcls.json'), 'utf8'));

describe('imgcls convert', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir: tmp, cleanup } = await tempDir('imgcls-convert-')));
  after(() => cleanup());

  test('a model.json with --labels becomes a package that predict loads', async () => {
    const source = await writeKerasColourModel(path.join(tmp, 'keras'));
    const out = path.join(tmp, 'colours');
    const r = await cli('convert', source, '--out', out, '--labels', 'red,green,blue');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.out[0]!, /Wrote .*colours\/model\.onnx \(3 layers, input \[\?, 16, 16, 3\], output \[\?, 3\]\) and imgcls\.json \(3 labels\)/);
    assert.match(r.err[0]!, /says nothing about its preprocessing; imgcls.json says stretch/);
    const manifest = await readManifest(out);
    assert.equal(manifest.name, 'colours');
    assert.deepEqual(manifest.input, {
      name: 'input',
      layout: 'NHWC',
      width: 16,
      height: 16,
      resize: 'stretch',
      interpolation: 'bilinear',
      scale: 1 / 255,
      mean: [0, 0, 0],
      std: [1, 1, 1],
    });
    // The graph ends in softmax, so imgcls applies none of its own.
    assert.equal(manifest.output.activation, 'none');
    const p = await cli('predict', '--model', out, '--json', '--top-k', '1', fx('red.jpg'), fx('green.png'), fx('blue.webp'));
    assert.equal(p.code, 0, p.err.join('\n'));
    assert.deepEqual(
      p.out.map((l) => JSON.parse(l).predictions[0].label),
      ['red', 'green', 'blue'],
    );
  });

  test('the directory may be given instead of model.json; a Teachable Machine metadata.json gives labels and preprocessing', async () => {
    const dir = path.join(tmp, 'tm');
    await writeKerasColourModel(dir, { teachableMachineLabels: ['Red', 'Green', 'Blue'] });
    const out = path.join(tmp, 'tm-out');
    const r = await cli('convert', dir, '--out', out, '--name', 'teachable');
    assert.equal(r.code, 0, r.err.join('\n'));
    const manifest = await readManifest(out);
    assert.equal(manifest.name, 'teachable');
    assert.deepEqual(manifest.labels, ['Red', 'Green', 'Blue']);
    assert.equal(manifest.input.resize, 'shorter');
    assert.deepEqual(manifest.input.mean, [0.5, 0.5, 0.5]);
  });

  test('flags set the preprocessing; a labels file works', async () => {
    const source = await writeKerasColourModel(path.join(tmp, 'keras2'));
    const out = path.join(tmp, 'flags');
    const r = await cli('convert', source, '--out', out, '--labels', fx('models/bare-labels-txt/labels.txt'), '--resize-mode', 'shorter', '--scale', '0.00784313725490196', '--mean', '1', '--std', '1', '--interpolation', 'bicubic');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.err, [], 'no preprocessing note when flags are given');
    const manifest = await readManifest(out);
    assert.deepEqual(manifest.labels, ['red', 'green', 'blue']);
    assert.equal(manifest.input.resize, 'shorter');
    assert.equal(manifest.input.interpolation, 'bicubic');
    assert.deepEqual(manifest.input.mean, [1, 1, 1]);
  });

  test('--features writes a feature extractor listed in the manifest', async () => {
    const source = await writeKerasColourModel(path.join(tmp, 'keras3'));
    const out = path.join(tmp, 'features');
    const r = await cli('convert', source, '--out', out, '--labels', 'red,green,blue', '--features', '--layer', 'mix', '--pool', 'grid:2');
    assert.equal(r.code, 0, r.err.join('\n'));
    const manifest = await readManifest(out);
    assert.deepEqual(manifest.metadata.features, [{ file: 'features-mix-grid2.onnx', layer: 'mix', pool: 'grid2', dim: 12 }]);
    assert.ok((await readdir(out)).includes('features-mix-grid2.onnx'));
  });

  test('--list-layers prints each layer and its output shape', async () => {
    const r = await cli('convert', 'nsfw:mobilenet_v2', '--list-layers');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out[0], 'input  [?, 224, 224, 3]');
    assert.ok(r.out.includes('out_relu  ReLU  [?, 7, 7, 1280]'));
    assert.equal(r.out.at(-1), 'dense_3  Dense  [?, 5]');
  });

  test('output piped into a reader that stops early (| head) ends quietly, not with an EPIPE crash', async () => {
    const bin = path.join(import.meta.dirname, '..', 'bin', 'imgcls.js');
    const child = spawn(process.execPath, [bin, 'convert', 'nsfw:mobilenet_v2', '--list-layers']);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE/);
  });

  test('nsfw:mobilenet_v2 converts with nsfwjs labels and preprocessing', async () => {
    const out = path.join(tmp, 'nsfw');
    const r = await cli('convert', 'nsfw:mobilenet_v2', '--out', out);
    assert.equal(r.code, 0, r.err.join('\n'));
    const manifest = await readManifest(out);
    assert.deepEqual(manifest.labels, ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    assert.equal(manifest.input.width, 224);
    assert.equal(manifest.input.resize, 'stretch');
    assert.equal(manifest.input.interpolation, 'bilinear-align-corners');
  });

  test('errors: missing labels, unsupported layers, bad sources, bad flags', async () => {
    const source = await writeKerasColourModel(path.join(tmp, 'errors'));
    const noLabels = await cli('convert', source, '--out', path.join(tmp, 'x'));
    assert.equal(noLabels.code, 2);
    assert.match(noLabels.err[0]!, /comes with no labels .*--labels/);

    const wrongCount = await cli('convert', source, '--out', path.join(tmp, 'x'), '--labels', 'a,b');
    assert.equal(wrongCount.code, 1);
    assert.match(wrongCount.err[0]!, /3 classes but 2 labels/);

    const lstm = await writeKerasColourModel(path.join(tmp, 'lstm'), { poolingClass: 'LSTM' });
    const unsupported = await cli('convert', lstm, '--out', path.join(tmp, 'x'), '--labels', 'a,b,c');
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.err[0]!, /Layer pool has class LSTM, which the importer does not convert \(supported: .*Conv2D/);

    const missing = await cli('convert', path.join(tmp, 'nothing', 'model.json'), '--out', path.join(tmp, 'x'));
    assert.equal(missing.code, 1);
    assert.match(missing.err[0]!, /Cannot read model .*nothing\/model\.json/);

    const nsfw = await cli('convert', 'nsfw:resnet', '--out', path.join(tmp, 'x'));
    assert.equal(nsfw.code, 2);
    assert.match(nsfw.err[0]!, /expected nsfw:mobilenet_v2 or nsfw:inception_v3/);

    const noOut = await cli('convert', source, '--labels', 'a,b,c');
    assert.equal(noOut.code, 2);
    assert.match(noOut.err[0]!, /Expected --out <dir>/);

    const pool = await cli('convert', source, '--out', path.join(tmp, 'x'), '--labels', 'a,b,c', '--features', '--pool', 'median');
    assert.equal(pool.code, 2);
    assert.match(pool.err[0]!, /avg, max, none or grid:N/);

    const layer = await cli('convert', source, '--out', path.join(tmp, 'x'), '--labels', 'a,b,c', '--layer', 'nope');
    assert.equal(layer.code, 2);
    assert.match(layer.err[0]!, /no layer named nope/);
  });
});

describe('imgcls models', () => {
  let store: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir: store, cleanup } = await tempDir('imgcls-models-')));
  after(() => cleanup());

  test('lists the built-ins, marks the default, and --prepare converts them', async () => {
    const r = await cli('models', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.out[0], `store: ${store}`);
    assert.match(r.out[1]!, /nsfw-mobilenet-v2 +built-in, converts on first use \(default\)/);
    assert.match(r.out[2]!, /nsfw-inception-v3 +built-in, converts on first use/);

    const prepared = await cli('models', '--store', store, '--prepare', '--json');
    assert.equal(prepared.code, 0, prepared.err.join('\n'));
    assert.equal(prepared.err.length, 2, 'one progress line per conversion');
    const listing = JSON.parse(prepared.out.join('\n'));
    assert.equal(listing.default, 'nsfw-mobilenet-v2');
    assert.deepEqual(
      listing.models.map((m: { name: string; ready: boolean }) => [m.name, m.ready]),
      [
        ['nsfw-mobilenet-v2', true],
        ['nsfw-inception-v3', true],
      ],
    );
  });

  test('--prepare with names converts only those (what the Dockerfile does); unknown names and names without --prepare exit 2', async () => {
    const own = await tempDir('imgcls-models-one-');
    try {
      const r = await cli('models', '--store', own.dir, '--prepare', 'nsfw-mobilenet-v2', '--json');
      assert.equal(r.code, 0, r.err.join('\n'));
      assert.deepEqual(
        JSON.parse(r.out.join('\n')).models.map((m: { name: string; ready: boolean }) => [m.name, m.ready]),
        [
          ['nsfw-mobilenet-v2', true],
          ['nsfw-inception-v3', false],
        ],
      );
      const unknown = await cli('models', '--store', own.dir, '--prepare', 'resnet50');
      assert.equal(unknown.code, 2);
      assert.match(unknown.err.join('\n'), /Not a built-in model: resnet50; the built-ins are nsfw-mobilenet-v2, nsfw-inception-v3/);
      const bare = await cli('models', '--store', own.dir, 'nsfw-mobilenet-v2');
      assert.equal(bare.code, 2);
      assert.match(bare.err.join('\n'), /with --prepare only/);
    } finally {
      await own.cleanup();
    }
  });
});
