/**
 * The definition of done: with no --model and no network,
 * `imgcls predict <photo>` prints the nsfwjs classes with nsfwjs's own
 * probabilities. nsfwjs (a dependency) and TF.js (a devDependency) compute
 * the reference on the same pixels.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as nsfwjs from 'nsfwjs';
import { cli } from './helpers/cli.ts';
import { decodeImage } from '../src/image/decode.ts';
import { tempDir } from './helpers/models.ts';

const ROOT = path.join(import.meta.dirname, '..');
const PHOTOS = ['photo-astronaut-224.png', 'photo-coffee-224.png'].map((f) => path.join(import.meta.dirname, 'fixtures', f));

/** nsfwjs.classify on the photo's decoded pixels (already 224x224, so nsfwjs does not resize). */
async function nsfwjsScores(model: nsfwjs.NSFWJS, file: string): Promise<Map<string, number>> {
  const image = await decodeImage(await readFile(file));
  const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
  const predictions = await model.classify(input, 5);
  input.dispose();
  return new Map(predictions.map((p) => [p.className, p.probability]));
}

describe('the default model', () => {
  let store: string;
  let cleanup: () => Promise<void>;
  let reference: nsfwjs.NSFWJS;
  before(async () => {
    ({ dir: store, cleanup } = await tempDir('imgcls-default-'));
    await tf.setBackend('cpu');
    const info = console.info;
    console.info = () => {}; // nsfwjs announces which model it loads
    try {
      reference = await nsfwjs.load('MobileNetV2');
    } finally {
      console.info = info;
    }
  });
  after(async () => {
    reference.dispose();
    await cleanup();
  });

  test("predict with no --model gives nsfwjs's classes and probabilities (within 1e-3)", async () => {
    const r = await cli('predict', '--store', store, '--json', '--top-k', 'all', ...PHOTOS);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(r.err[0]!, /Converting nsfw-mobilenet-v2/);
    for (const [i, line] of r.out.entries()) {
      const { predictions } = JSON.parse(line) as { predictions: { label: string; score: number }[] };
      const expected = await nsfwjsScores(reference, PHOTOS[i]!);
      assert.deepEqual(predictions.map((p) => p.label).sort(), ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
      for (const p of predictions) {
        const diff = Math.abs(p.score - expected.get(p.label)!);
        assert.ok(diff <= 1e-3, `${path.basename(PHOTOS[i]!)} ${p.label}: imgcls ${p.score} nsfwjs ${expected.get(p.label)}`);
      }
    }
  });

  test("a photo at its own size (451x300): nsfwjs's probabilities too, since both resize with TF.js's align-corners bilinear", async () => {
    const photo = path.join(import.meta.dirname, 'fixtures', 'photo-chelsea.jpg');
    const r = await cli('predict', '--store', store, '--json', '--top-k', 'all', photo);
    assert.equal(r.code, 0, r.err.join('\n'));
    const { predictions } = JSON.parse(r.out[0]!) as { predictions: { label: string; score: number }[] };
    const expected = await nsfwjsScores(reference, photo);
    for (const p of predictions) {
      assert.ok(Math.abs(p.score - expected.get(p.label)!) <= 1e-3, `${p.label}: imgcls ${p.score} nsfwjs ${expected.get(p.label)}`);
    }
  });

  test('inspect with no model describes the default', async () => {
    const r = await cli('inspect', '--store', store);
    assert.equal(r.code, 0, r.err.join('\n'));
    const text = r.out.join('\n');
    assert.match(text, /name: {7}nsfw-mobilenet-v2/);
    assert.match(text, /input: float32 \[batch, 224, 224, 3\]/);
    assert.match(text, /resize: {8}stretch to 224x224 \(align-corners\)/);
    assert.match(text, /labels: {5}5 \(Drawing, Hentai, Neutral, Porn, Sexy\)/);
  });

  test('the installed binary works offline with IMGCLS_HOME as the store', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'imgcls.js'), 'predict', '--top-k', '1', PHOTOS[0]!], {
      env: { ...process.env, IMGCLS_HOME: store },
    });
    assert.match(stdout, /photo-astronaut-224\.png\n {3}1\. Neutral +\d+\.\d+%/);
  });
});
