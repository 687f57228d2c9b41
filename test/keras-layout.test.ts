/**
 * The importer's Hugging Face-style variant of nsfwjs's MobileNetV2: an NCHW
 * `pixel_values` input (no Transpose in front, the graph being NCHW inside
 * already) and pre-softmax `logits` out. Its softmaxed logits must be the
 * built-in's probabilities (NHWC input, softmax output) on the same images.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { convertKeras, emitKeras, type KerasModel } from '../src/keras/convert.ts';
import { loadNsfwBundle } from '../src/keras/source.ts';
import { assertImgclsError, maxAbsDiff, randomData, runOnnx } from './helpers/keras.ts';

const SIZE = 224;
const BATCH = 2;
const CLASSES = 5;
const TOL = 1e-5;
const HF = { inputName: 'pixel_values', outputName: 'logits', inputLayout: 'NCHW', logits: true } as const;

/** NHWC [n, h, w, c] → NCHW [n, c, h, w]. */
function toNchw(x: Float32Array, [n, h, w, c]: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let i = 0; i < w; i++)
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + i] = x[((b * h + y) * w + i) * c + k]!;
  return out;
}

/** Row-wise softmax of [rows, cols] logits. */
function softmax(logits: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / cols; r++) {
    const row = logits.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    const exps = Array.from(row, (v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, i) => (out[r * cols + i] = e / sum));
  }
  return out;
}

describe('nsfwjs mobilenet_v2 with an NCHW input and logits out', () => {
  let model: KerasModel;

  before(() => {
    model = loadNsfwBundle('mobilenet_v2').model;
  });

  test('the input is pixel_values [batch, 3, 224, 224], used without a Transpose; the output is logits', () => {
    const emitted = emitKeras(model, { inputName: HF.inputName, inputLayout: 'NCHW' });
    assert.equal(emitted.inputLayout, 'NCHW');
    assert.deepEqual(emitted.builder.inputs, [{ name: 'pixel_values', elemType: 'FLOAT', shape: ['batch', 3, SIZE, SIZE] }]);
    const readers = emitted.builder.nodes.filter((n) => n.inputs.includes('pixel_values')).map((n) => n.opType);
    assert.ok(readers.length > 0 && !readers.includes('Transpose'), `pixel_values is read by ${readers.join(', ')}`);
    // The NHWC emission has exactly one Transpose more: the one on its input.
    const transposes = (nodes: readonly { opType: string }[]) => nodes.filter((n) => n.opType === 'Transpose').length;
    assert.equal(transposes(emitKeras(model).builder.nodes), transposes(emitted.builder.nodes) + 1);

    const converted = convertKeras(model, HF);
    assert.equal(converted.inputLayout, 'NCHW');
    assert.deepEqual(converted.output, { name: 'logits', shape: [null, CLASSES] });
    assert.equal(converted.activated, false);
  });

  test('softmax of its logits is the NHWC built-in on the transposed input', async () => {
    const dims = [BATCH, SIZE, SIZE, 3] as const;
    const x = randomData(BATCH * SIZE * SIZE * 3, 4242, 0, 1);
    const builtin = convertKeras(model);
    assert.equal(builtin.inputLayout, 'NHWC');
    const probs = await runOnnx(builtin.onnx, x, dims);
    const logits = await runOnnx(convertKeras(model, HF).onnx, toNchw(x, dims), [BATCH, 3, SIZE, SIZE], 'pixel_values', 'logits');
    assert.deepEqual([...logits.dims], [BATCH, CLASSES]);
    // Logits, not probabilities: some fall outside [0, 1].
    assert.ok(logits.data.some((v) => v < 0 || v > 1), 'the output is not already a softmax');
    const d = maxAbsDiff(softmax(logits.data, CLASSES), probs.data);
    assert.ok(d <= TOL, `max |softmax(logits) - built-in| = ${d} > ${TOL}`);
    console.log(`# keras-layout: max |softmax(NCHW logits) - NHWC built-in| = ${d.toExponential(2)}`);
  });

  test('inputLayout NHWC is the default, byte for byte', () => {
    assert.deepEqual(convertKeras(model, { inputLayout: 'NHWC' }).onnx, convertKeras(model).onnx);
  });

  test('logits are refused where the output is not a softmax', () => {
    assertImgclsError(() => convertKeras(model, { cut: 'auto', logits: true }), 'INVALID_OPTION', /not a softmax/);
  });
});
