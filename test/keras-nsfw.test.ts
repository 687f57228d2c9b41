/**
 * The two models the nsfwjs package ships (uint8-quantised TF.js layers
 * models), converted and compared with TF.js running them on a seeded random
 * batch of 2 in [0, 1]: the classifier, and the feature extractor cut at the
 * last spatial layer, pooled globally and on a 2x2 grid. TF.js computes the
 * scores and the cut layer's output in one pass (InceptionV3 takes ~16 s an
 * image on the cpu backend), so each bundle is run through TF.js once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OutputTensor } from '../src/engine/session.ts';
import { convertKeras, type Converted, type KerasModel } from '../src/keras/convert.ts';
import { loadNsfwBundle, type NsfwBundle } from '../src/keras/source.ts';
import { assertClose, gridMean, initTf, poolHW, randomData, runOnnx, tf } from './helpers/keras.ts';

const BUNDLES: Array<{ bundle: NsfwBundle; size: number; cut: string; classes: number; seed: number }> = [
  { bundle: 'mobilenet_v2', size: 224, cut: 'out_relu', classes: 5, seed: 2024 },
  { bundle: 'inception_v3', size: 299, cut: 'mixed10', classes: 5, seed: 2025 },
];

const TOL = 1e-4;
const report: string[] = [];

before(initTf);

after(() => {
  for (const line of report) console.log(`# keras-nsfw: ${line}`);
});

for (const { bundle, size, cut, classes, seed } of BUNDLES) {
  describe(`nsfwjs ${bundle}`, () => {
    let model: KerasModel;
    let dims: number[];
    let x: Float32Array;
    let scores: OutputTensor;
    let features: OutputTensor;

    before(async () => {
      model = loadNsfwBundle(bundle).model;
      dims = [2, size, size, 3];
      x = randomData(2 * size * size * 3, seed, 0, 1);
      const tfModel = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: model.topology as object,
          weightSpecs: model.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
          weightData: new Uint8Array(model.weightData).buffer,
        }),
      );
      // The scores and the cut layer's output from one TF.js pass.
      const both = tf.model({ inputs: tfModel.inputs, outputs: [tfModel.outputs[0]!, tfModel.getLayer(cut).output as tf.SymbolicTensor] });
      const outputs = tf.tidy(() => (both.predict(tf.tensor4d(x, dims as [number, number, number, number])) as tf.Tensor[]).map((t) => ({ data: Float32Array.from(t.dataSync()), dims: [...t.shape] })));
      assert.equal(outputs.length, 2);
      [scores, features] = [outputs[0]!, outputs[1]!];
      tfModel.dispose();
    });

    async function run(converted: Converted): Promise<OutputTensor> {
      return runOnnx(converted.onnx, x, dims);
    }

    test('the classifier matches TF.js', async () => {
      const converted = convertKeras(model);
      assert.deepEqual(converted.input, { name: 'input', shape: [null, size, size, 3] });
      assert.deepEqual(converted.output, { name: 'output', shape: [null, classes] });
      assert.equal(converted.activated, true);
      assert.equal(converted.cut, null);
      const out = await run(converted);
      const d = assertClose(out, scores, TOL, `${bundle} scores`);
      report.push(`${bundle} scores max |onnx - tfjs| = ${d.toExponential(2)}`);
      for (let b = 0; b < 2; b++) assert.ok(Math.abs(out.data.slice(b * classes, (b + 1) * classes).reduce((s, v) => s + v, 0) - 1) < 1e-5);
    });

    test(`cut 'auto' is ${cut}, and its average pool is TF.js's ${cut} output averaged over height and width`, async () => {
      const converted = convertKeras(model, { cut: 'auto' });
      assert.equal(converted.cut, cut);
      const channels = features.dims[3]!;
      assert.deepEqual(converted.output.shape, [null, channels]);
      assert.equal(converted.activated, false);
      const d = assertClose(await run(converted), poolHW(features, 'avg'), TOL, `${bundle} ${cut} avg`);
      report.push(`${bundle} ${cut} (${features.dims.slice(1).join('x')}) avg-pooled max diff = ${d.toExponential(2)}`);
    });

    test(`${cut} pooled on a 2x2 grid (adaptive average pooling, cell-major NHWC)`, async () => {
      const converted = convertKeras(model, { cut: 'auto', pool: { grid: 2 } });
      assert.equal(converted.cut, cut);
      assert.deepEqual(converted.output.shape, [null, 4 * features.dims[3]!]);
      const d = assertClose(await run(converted), gridMean(features, 2), TOL, `${bundle} ${cut} grid 2`);
      report.push(`${bundle} ${cut} grid-2 max diff = ${d.toExponential(2)}`);
    });

    test(`${cut} max-pooled, and not pooled at all`, async () => {
      const max = assertClose(await run(convertKeras(model, { cut, pool: 'max' })), poolHW(features, 'max'), TOL, `${bundle} ${cut} max`);
      const none = assertClose(await run(convertKeras(model, { cut, pool: 'none' })), features, TOL, `${bundle} ${cut} none`);
      report.push(`${bundle} ${cut} max-pooled max diff = ${max.toExponential(2)}, unpooled = ${none.toExponential(2)}`);
    });
  });
}
