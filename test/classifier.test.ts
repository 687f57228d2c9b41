import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Classifier, type ClassifierOptions, type ClassifyResult } from '../src/engine/classifier.ts';
import { activate, postprocess, topK, type Prediction } from '../src/engine/postprocess.ts';
import { decodeImage } from '../src/image/decode.ts';
import { preprocess } from '../src/image/preprocess.ts';
import { colourModel, identityModel, tempDir, writeBarePackage, writeManifestPackage } from './helpers/models.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const image = (name: string) => readFile(path.join(FIXTURES, name));

/** The predictions of a result that must have succeeded. */
function predictionsOf(r: ClassifyResult | undefined): Prediction[] {
  assert.ok(r, 'a result');
  if (!r.ok) assert.fail(`expected predictions, got ${r.error.code}: ${r.error.message}`);
  return r.predictions;
}

describe('postprocess', () => {
  test('softmax, sorted, with labels', () => {
    const [preds] = postprocess(Float32Array.from([1, 3, 2]), 1, ['a', 'b', 'c'], 'softmax', 'all');
    const e = [Math.exp(1), Math.exp(3), Math.exp(2)];
    const sum = e[0]! + e[1]! + e[2]!;
    assert.deepEqual(preds!.map((p) => p.label), ['b', 'c', 'a']);
    assert.deepEqual(preds!.map((p) => p.index), [1, 2, 0]);
    preds!.forEach((p) => assert.ok(Math.abs(p.score - e[p.index]! / sum) < 1e-12));
  });
  test('softmax is stable for large logits', () => {
    const scores = activate([1000, 1000], 'softmax');
    assert.deepEqual(Array.from(scores), [0.5, 0.5]);
  });
  test('sigmoid is per class (multi-label), none passes scores through', () => {
    assert.ok(Math.abs(activate([0], 'sigmoid')[0]! - 0.5) < 1e-12);
    assert.deepEqual(Array.from(activate([0.25, 0.75], 'none')), [0.25, 0.75]);
  });
  test('top-k cuts, ties keep the lower index first', () => {
    assert.deepEqual(topK([0.2, 0.4, 0.4], ['a', 'b', 'c'], 2).map((p) => p.index), [1, 2]);
    assert.equal(topK([0.2, 0.4, 0.4], ['a', 'b', 'c'], 10).length, 3);
  });
  test('batches split into rows; a wrong score count is a mismatch', () => {
    const out = postprocess(Float32Array.from([0, 1, 1, 0]), 2, ['x', 'y'], 'none', 1);
    assert.deepEqual(out.map((r) => r[0]!.label), ['y', 'x']);
    assert.throws(() => postprocess(Float32Array.from([0, 1, 2]), 1, ['x', 'y'], 'none', 1), /returned 3 scores per image but the package has 2 labels/);
  });
});

describe('Classifier: end to end with real graphs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  test('Hugging Face package: a batch of colours, one broken file, order kept', async () => {
    const c = await Classifier.load(path.join(FIXTURES, 'models', 'hf-colour'));
    try {
      const inputs = await Promise.all(['red.jpg', 'green.png', 'truncated.jpg', 'blue.webp', 'red.avif'].map(image));
      const results = await c.classify(inputs, { topK: 1 });
      assert.deepEqual(
        results.map((r) => (r.ok ? r.predictions[0]!.label : r.error.code)),
        ['red', 'green', 'CORRUPT_IMAGE', 'blue', 'red'],
      );
      for (const r of results) if (r.ok) assert.ok(r.predictions[0]!.score > 0.99);
    } finally {
      await c.close();
    }
  });

  test('batch of 1 and batch of many give the same scores', async () => {
    const c = await Classifier.load(path.join(FIXTURES, 'models', 'hf-colour'), { maxBatch: 2 });
    try {
      const inputs = await Promise.all(['red.jpg', 'green.png', 'blue.webp'].map(image));
      const together = await c.classify(inputs, { topK: 'all' });
      for (let i = 0; i < inputs.length; i++) {
        const [alone] = await c.classify([inputs[i]!], { topK: 'all' });
        const batched = predictionsOf(together[i]);
        predictionsOf(alone).forEach((p, j) => assert.ok(Math.abs(p.score - batched[j]!.score) < 1e-6));
      }
    } finally {
      await c.close();
    }
  });

  test('NHWC manifest package ending in softmax (activation none)', async () => {
    const c = await Classifier.load(path.join(FIXTURES, 'models', 'manifest-nhwc'));
    try {
      const [r] = await c.classify([await image('blue-then-red.tiff')], { topK: 'all' });
      const preds = predictionsOf(r);
      assert.equal(preds[0]!.label, 'blue');
      const total = preds.reduce((s, p) => s + p.score, 0);
      assert.ok(Math.abs(total - 1) < 1e-5, `scores of a softmax graph sum to 1, got ${total}`);
    } finally {
      await c.close();
    }
  });

  for (const labels of ['labels.txt', 'index_to_name.json', 'imagenet_class_index.json'] as const) {
    test(`bare package with ${labels}`, async () => {
      const pkg = path.join(FIXTURES, 'models', `bare-${labels === 'labels.txt' ? 'labels-txt' : labels === 'index_to_name.json' ? 'index-to-name' : 'imagenet-class-index'}`);
      const c = await Classifier.load(pkg);
      try {
        const [r] = await c.classify([await image('green-16bit.png')], { topK: 1 });
        assert.equal(predictionsOf(r)[0]!.label, 'green');
      } finally {
        await c.close();
      }
    });
  }

  test('a graph with a fixed batch of 1 is fed one image at a time', async () => {
    const d = await writeBarePackage(path.join(dir, 'batch1'), colourModel({ size: 224, batch: 1 }), 'labels.txt');
    const c = await Classifier.load(d);
    try {
      const results = await c.classify(await Promise.all(['red.jpg', 'blue.webp'].map(image)), { topK: 1 });
      assert.deepEqual(results.map((r) => r.ok && r.predictions[0]!.label), ['red', 'blue']);
    } finally {
      await c.close();
    }
  });

  /**
   * Classify `file` with an 8×8 identity model (its output is its input) and
   * return [the tensor imgcls fed, preprocess() of the full-size decode].
   */
  async function fedAndExpected(name: string, input: Record<string, unknown>, options: ClassifierOptions = {}): Promise<[Float32Array, Float32Array]> {
    const d = await writeManifestPackage(path.join(dir, name), identityModel(8), {
      labels: Array.from({ length: 3 * 8 * 8 }, (_, i) => `v${i}`),
      input: { width: 8, height: 8, ...input },
      output: { activation: 'none' },
    });
    const c = await Classifier.load(d, options);
    try {
      const bytes = await image('orientation-6.jpg');
      const [r] = await c.classify([bytes], { topK: 'all' });
      const fed = new Float32Array(3 * 8 * 8);
      for (const p of predictionsOf(r)) fed[p.index] = p.score;
      return [fed, preprocess(await decodeImage(bytes), c.spec.preprocess).data];
    } finally {
      await c.close();
    }
  }

  test('the tensor fed to the graph is preprocess() of the decoded pixels', async () => {
    const [fed, expected] = await fedAndExpected('identity', {
      resize: 'stretch', interpolation: 'nearest', mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7], channel_order: 'BGR',
    });
    let maxDiff = 0;
    for (let i = 0; i < fed.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fed[i]! - expected[i]!));
    // sharp resized in the decoder, the pure path in JS; both nearest-neighbour, so only codec rounding can differ.
    assert.ok(maxDiff < 0.05, `max difference ${maxDiff}`);
    // BGR: channel 0 is blue. The picture is red on top, blue below.
    const topBlue = (fed[0]! * 0.7 + 0.3) * 255;
    assert.ok(topBlue < 80, `top-left blue value ${topBlue}`);
  });

  test('with resampler pillow the fed tensor equals preprocess() exactly', async () => {
    const [fed, expected] = await fedAndExpected('identity-pillow', { resize: 'shorter', shortest_edge: 10, interpolation: 'bicubic' }, { resampler: 'pillow' });
    for (let i = 0; i < fed.length; i++) assert.ok(Math.abs(fed[i]! - expected[i]!) < 1e-6, `value ${i}: ${fed[i]} vs ${expected[i]}`);
  });

  test('--device cuda falls back to the CPU with a warning when CUDA cannot be loaded', async () => {
    const warnings: string[] = [];
    const c = await Classifier.load(path.join(FIXTURES, 'models', 'hf-colour'), { device: 'cuda', onWarning: (m) => warnings.push(m) });
    try {
      if (c.device === 'cpu') {
        assert.equal(warnings.length, 1);
        assert.match(warnings[0]!, /CUDA execution provider unavailable \(.*\); running on the CPU\. Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12/);
      } else {
        assert.equal(c.device, 'cuda');
        assert.deepEqual(warnings, []);
      }
      const [r] = await c.classify([await image('red.jpg')], { topK: 1 });
      assert.equal(predictionsOf(r)[0]!.label, 'red');
    } finally {
      await c.close();
    }
  });

  test('classifyPixels resizes raw pixels with the pure path', async () => {
    const c = await Classifier.load(path.join(FIXTURES, 'models', 'hf-colour'));
    try {
      const px = await decodeImage(await image('green.png'));
      const [preds] = await c.classifyPixels([px], { topK: 1 });
      assert.equal(preds![0]!.label, 'green');
    } finally {
      await c.close();
    }
  });
});
