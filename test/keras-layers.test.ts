/**
 * The Keras/TF.js layers importer, layer by layer and model by model: every
 * converted graph is run with onnxruntime on a seeded random batch of 2 and
 * compared with TF.js's own `model.predict` (cpu backend) to 1e-4. Options
 * TF.js cannot express (ReLU's negative_slope, per-channel Rescaling, Keras
 * 3 layouts, ...) are written into the topology by hand and checked against
 * a formula or against the equivalent TF.js model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { convertKeras, type KerasModel } from '../src/keras/convert.ts';
import { LAYER_ALIASES, LAYERS } from '../src/keras/layers.ts';
import {
  assertClose,
  assertImgclsError,
  cloneModel,
  compareWithTf,
  gridMean,
  initTf,
  kerasModelOf,
  layerConfig,
  layerConfigs,
  observed,
  poolHW,
  predictTf,
  randomData,
  randomizeWeights,
  runOnnx,
  tf,
  type CompareOptions,
} from './helpers/keras.ts';

type Layer = tf.layers.Layer;
type Sym = tf.SymbolicTensor;
/** TF.js's activation names (its type leaves out logSoftmax, which it does have). */
type ActivationName = Parameters<typeof tf.layers.activation>[0]['activation'];

/** Layer classes (as the converter reports them) seen in a successful conversion. */
const covered = new Set<string>();

let seed = 100;

/** A Sequential with an explicit InputLayer and seeded weights. */
function sequential(shape: (number | null)[], ...layers: Layer[]): tf.Sequential {
  const m = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: shape }), ...layers] });
  randomizeWeights(m, seed++);
  return m;
}

function functional(inputs: Sym, outputs: Sym, name?: string): tf.LayersModel {
  const m = tf.model({ inputs, outputs, name });
  randomizeWeights(m, seed++);
  return m;
}

const apply = (layer: Layer, ...xs: Sym[]): Sym => layer.apply(xs.length === 1 ? xs[0]! : xs) as Sym;

/** Compare with TF.js and record which layer classes the conversion went through. */
async function check(model: tf.LayersModel, o: CompareOptions) {
  const r = await compareWithTf(model, { seed: seed++, ...o });
  r.converted.layers.forEach((l) => covered.add(l.className));
  return r;
}

/** Convert hand-edited artefacts and compare with `expected(x)` computed in JS on the same input. */
async function checkFormula(artefacts: KerasModel, shape: number[], expected: (x: Float32Array) => Float32Array, range: [number, number] = [-2, 2], outDims?: number[]) {
  const dims = [2, ...shape];
  const x = randomData(dims.reduce((a, b) => a * b, 1), seed++, ...range);
  const converted = convertKeras(artefacts);
  converted.layers.forEach((l) => covered.add(l.className));
  const out = await runOnnx(converted.onnx, x, dims);
  return assertClose(out, { data: expected(x), dims: outDims ?? dims }, 1e-4, 'formula');
}

before(initTf);

after(() => {
  console.log(`# keras-layers: largest |onnx - tfjs| = ${observed.maxDiff.toExponential(2)} (${observed.worst})`);
});

describe('Conv2D', () => {
  const cases: Array<[string, number[], Parameters<typeof tf.layers.conv2d>[0]]> = [
    ['valid 3x3, stride 1', [7, 7, 3], { filters: 4, kernelSize: 3 }],
    ['valid 3x3, stride 2, even input', [8, 8, 3], { filters: 4, kernelSize: 3, strides: 2 }],
    ['valid 3x3, stride 2, odd input', [9, 7, 3], { filters: 4, kernelSize: 3, strides: 2 }],
    ['same 3x3, stride 1', [6, 5, 3], { filters: 4, kernelSize: 3, padding: 'same' }],
    ['same 4x4 (even kernel: extra pad bottom/right), stride 1', [6, 6, 2], { filters: 3, kernelSize: 4, padding: 'same' }],
    ['same 3x3, stride 2, odd input', [7, 7, 3], { filters: 4, kernelSize: 3, strides: 2, padding: 'same' }],
    ['same 3x3, stride 2, even input (pad bottom/right)', [8, 8, 3], { filters: 4, kernelSize: 3, strides: 2, padding: 'same' }],
    ['same 1x1, stride 2, even input', [6, 6, 3], { filters: 2, kernelSize: 1, strides: 2, padding: 'same' }],
    ['same 5x5, stride 3', [10, 11, 2], { filters: 3, kernelSize: 5, strides: 3, padding: 'same' }],
    ['non-square kernel and strides, same', [7, 6, 3], { filters: 4, kernelSize: [3, 2], strides: [2, 1], padding: 'same' }],
    ['dilation 2, valid', [9, 9, 3], { filters: 4, kernelSize: 3, dilationRate: 2 }],
    ['dilation 2, same', [8, 7, 3], { filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' }],
    ['no bias', [6, 6, 3], { filters: 4, kernelSize: 3, useBias: false }],
    ['fused relu', [6, 6, 3], { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }],
    ['fused sigmoid', [6, 6, 3], { filters: 4, kernelSize: 3, activation: 'sigmoid' }],
  ];
  for (const [label, shape, args] of cases) {
    test(label, async () => {
      const r = await check(sequential(shape, tf.layers.conv2d(args)), { shape, label: `Conv2D ${label}` });
      assert.equal(r.converted.layers[0]!.className, 'Conv2D');
    });
  }

  test('reported shapes follow Keras (same: ceil(n / stride); valid: floor((n - k) / stride) + 1)', async () => {
    const m = sequential([9, 8, 3], tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }), tf.layers.conv2d({ filters: 5, kernelSize: 2, strides: 2 }));
    const r = await check(m, { shape: [9, 8, 3] });
    assert.deepEqual(r.converted.layers.map((l) => l.shape), [
      [null, 5, 4, 2],
      [null, 2, 2, 5],
    ]);
    assert.deepEqual(r.converted.output.shape, [null, 2, 2, 5]);
    assert.deepEqual(r.converted.input, { name: 'input', shape: [null, 9, 8, 3] });
  });
});

describe('DepthwiseConv2D and SeparableConv2D', () => {
  const dw: Array<[string, number[], Parameters<typeof tf.layers.depthwiseConv2d>[0]]> = [
    ['depth multiplier 1, valid', [6, 6, 3], { kernelSize: 3 }],
    ['depth multiplier 2, valid', [6, 5, 3], { kernelSize: 3, depthMultiplier: 2 }],
    ['depth multiplier 2, same, stride 2, odd input', [7, 7, 3], { kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }],
    ['depth multiplier 1, same, stride 2, even input', [8, 8, 4], { kernelSize: 3, strides: 2, padding: 'same' }],
    ['no bias, fused relu6', [6, 6, 3], { kernelSize: 3, useBias: false, padding: 'same', activation: 'relu6' }],
  ];
  for (const [label, shape, args] of dw) {
    test(`DepthwiseConv2D ${label}`, async () => {
      await check(sequential(shape, tf.layers.depthwiseConv2d(args)), { shape, label: `DepthwiseConv2D ${label}` });
    });
  }

  // TF.js's DepthwiseConv2D layer ignores dilation_rate (it runs undilated); tf.depthwiseConv2d, the op, does not.
  for (const [padding, shape] of [
    ['valid', [9, 9, 2]],
    ['same', [8, 7, 2]],
  ] as const) {
    test(`DepthwiseConv2D dilation 2, ${padding}, depth multiplier 2 (against the tf.depthwiseConv2d op)`, async () => {
      const m = sequential([...shape], tf.layers.depthwiseConv2d({ kernelSize: 3, dilationRate: 2, padding, depthMultiplier: 2, name: 'dw' }));
      const artefacts = await kerasModelOf(m);
      const dims = [2, ...shape];
      const x = randomData(dims.reduce((a, b) => a * b, 1), seed++);
      const [kernel, bias] = m.getLayer('dw').getWeights() as [tf.Tensor4D, tf.Tensor1D];
      const ref = tf.tidy(() => {
        const y = tf.add(tf.depthwiseConv2d(tf.tensor4d(x, dims as [number, number, number, number]), kernel, 1, padding, 'NHWC', 2), bias);
        return { data: Float32Array.from(y.dataSync()), dims: y.shape };
      });
      const converted = convertKeras(artefacts);
      converted.layers.forEach((l) => covered.add(l.className));
      assertClose(await runOnnx(converted.onnx, x, dims), ref, 1e-4, 'dilated depthwise');
    });
  }

  const sep: Array<[string, number[], Parameters<typeof tf.layers.separableConv2d>[0]]> = [
    ['valid, bias', [6, 6, 3], { filters: 5, kernelSize: 3 }],
    ['same, stride 2, odd input, bias', [7, 7, 3], { filters: 4, kernelSize: 3, strides: 2, padding: 'same' }],
    ['same, stride 2, even input, no bias, relu', [8, 8, 3], { filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, activation: 'relu' }],
    ['depth multiplier 2, same, stride 2', [8, 7, 3], { filters: 4, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2 }],
    ['depth multiplier 3, valid', [6, 6, 2], { filters: 3, kernelSize: 2, depthMultiplier: 3 }],
  ];
  for (const [label, shape, args] of sep) {
    test(`SeparableConv2D ${label}`, async () => {
      const m = sequential(shape, tf.layers.separableConv2d({ ...args, name: 'sep' }));
      // TF.js's SeparableConv2D.getConfig() leaves out depth_multiplier (Keras writes it): the importer reads it from the kernel.
      const artefacts = await kerasModelOf(m);
      assert.equal(layerConfig(artefacts.topology, 'sep').config.depth_multiplier, undefined);
      await check(m, { shape, artefacts, label: `SeparableConv2D ${label}` });
      // And as Keras writes it, with the multiplier in the config.
      layerConfig(artefacts.topology, 'sep').config.depth_multiplier = args.depthMultiplier ?? 1;
      await check(m, { shape, artefacts, label: `SeparableConv2D ${label} (Keras config)` });
    });
  }
});

describe('BatchNormalization', () => {
  test('on a conv output (moving statistics, gamma and beta all random)', async () => {
    const m = sequential([6, 6, 3], tf.layers.conv2d({ filters: 4, kernelSize: 3 }), tf.layers.batchNormalization({ epsilon: 0.01 }));
    await check(m, { shape: [6, 6, 3], label: 'BatchNormalization conv' });
  });
  test('straight on the input image', async () => {
    await check(sequential([4, 5, 3], tf.layers.batchNormalization({})), { shape: [4, 5, 3], label: 'BatchNormalization input' });
  });
  test('on a Dense output (rank 2)', async () => {
    const m = sequential([6], tf.layers.dense({ units: 5 }), tf.layers.batchNormalization({}));
    await check(m, { shape: [6], label: 'BatchNormalization rank 2' });
  });
  test('center: false and scale: false', async () => {
    const m = sequential([5, 5, 3], tf.layers.batchNormalization({ center: false }), tf.layers.conv2d({ filters: 3, kernelSize: 1 }), tf.layers.batchNormalization({ scale: false }));
    const artefacts = await kerasModelOf(m);
    const names = artefacts.weightsManifest[0]!.weights.map((w) => w.name);
    assert.equal(names.filter((n) => n.endsWith('/beta')).length, 1);
    assert.equal(names.filter((n) => n.endsWith('/gamma')).length, 1);
    await check(m, { shape: [5, 5, 3], artefacts, label: 'BatchNormalization center/scale false' });
  });
  test('center: false and scale: false together', async () => {
    const m = sequential([4, 4, 2], tf.layers.batchNormalization({ center: false, scale: false }));
    await check(m, { shape: [4, 4, 2], label: 'BatchNormalization no gamma/beta' });
  });
});

describe('activations', () => {
  // Every activation name the importer knows that TF.js also has.
  const names = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'logSoftmax', 'linear', 'swish', 'hardSigmoid', 'elu', 'selu', 'softplus', 'softsign', 'gelu', 'mish'] as const;
  for (const name of names) {
    test(`Activation ${name} (on a conv output, inputs in [-4, 4])`, async () => {
      const m = sequential([4, 4, 3], tf.layers.conv2d({ filters: 5, kernelSize: 1 }), tf.layers.activation({ activation: name as ActivationName }));
      await check(m, { shape: [4, 4, 3], range: [-4, 4], label: `Activation ${name}` });
    });
  }

  test('snake_case spellings (hard_sigmoid, log_softmax, silu) mean the same as TF.js camelCase', async () => {
    for (const [tfName, kerasName] of [
      ['hardSigmoid', 'hard_sigmoid'],
      ['logSoftmax', 'log_softmax'],
      ['swish', 'silu'],
    ] as const) {
      const m = sequential([3, 3, 2], tf.layers.activation({ activation: tfName as ActivationName, name: 'act' }));
      const artefacts = await kerasModelOf(m);
      layerConfig(artefacts.topology, 'act').config.activation = kerasName;
      await check(m, { shape: [3, 3, 2], range: [-4, 4], artefacts, label: `Activation ${kerasName}` });
    }
  });

  test('exponential (not in TF.js) against Math.exp', async () => {
    const artefacts = await kerasModelOf(sequential([3, 2], tf.layers.activation({ activation: 'linear', name: 'act' })));
    layerConfig(artefacts.topology, 'act').config.activation = 'exponential';
    await checkFormula(artefacts, [3, 2], (x) => x.map(Math.exp));
  });

  test('an activation the importer does not know is refused, naming the layer', async () => {
    const artefacts = await kerasModelOf(sequential([3], tf.layers.dense({ units: 2, activation: 'gelu_new', name: 'dense_gn' })));
    assertImgclsError(() => convertKeras(artefacts), 'UNSUPPORTED_LAYER', /dense_gn/, /gelu_new/);
  });

  test('fused activations on Dense, and `activated` reports a final softmax or sigmoid', async () => {
    for (const [activation, activated] of [
      ['softmax', true],
      ['sigmoid', true],
      ['tanh', false],
      ['linear', false],
    ] as const) {
      const r = await check(sequential([5], tf.layers.dense({ units: 4, activation })), { shape: [5], label: `Dense ${activation}` });
      assert.equal(r.converted.activated, activated, activation);
    }
  });

  test('ReLU, with and without max_value', async () => {
    await check(sequential([4, 4, 3], tf.layers.reLU({})), { shape: [4, 4, 3], label: 'ReLU' });
    await check(sequential([4, 4, 3], tf.layers.reLU({ maxValue: 0.5 })), { shape: [4, 4, 3], label: 'ReLU max 0.5' });
    await check(sequential([4, 4, 3], tf.layers.reLU({ maxValue: 6 })), { shape: [4, 4, 3], range: [-10, 10], label: 'ReLU6' });
  });

  // TF.js's ReLU ignores negative_slope and threshold: written into the config, checked against Keras's formula.
  const kerasRelu = (slope: number, threshold: number, max: number | null) => (x: Float32Array) =>
    x.map((v) => {
      if (max !== null && v >= max) return max;
      return v >= threshold ? v : slope * (v - threshold);
    });
  for (const [slope, threshold, max] of [
    [0.1, 0, null],
    [0, 0.5, null],
    [0.2, -0.3, null],
    [0.1, 0.5, 1.5],
  ] as const) {
    test(`ReLU negative_slope ${slope}, threshold ${threshold}, max_value ${max}`, async () => {
      const artefacts = await kerasModelOf(sequential([4, 4, 3], tf.layers.reLU({ name: 'r' })));
      Object.assign(layerConfig(artefacts.topology, 'r').config, { negative_slope: slope, threshold, max_value: max });
      await checkFormula(artefacts, [4, 4, 3], kerasRelu(slope, threshold, max));
    });
  }

  test('LeakyReLU (alpha 0.2 and the 0.3 default), and Keras 3 negative_slope', async () => {
    await check(sequential([4, 4, 3], tf.layers.leakyReLU({ alpha: 0.2 })), { shape: [4, 4, 3], label: 'LeakyReLU 0.2' });
    const m = sequential([4, 4, 3], tf.layers.leakyReLU({ name: 'leaky' }));
    await check(m, { shape: [4, 4, 3], label: 'LeakyReLU default' });
    const artefacts = await kerasModelOf(sequential([5], tf.layers.leakyReLU({ alpha: 0.07, name: 'leaky3' })));
    const config = layerConfig(artefacts.topology, 'leaky3').config;
    delete config.alpha;
    config.negative_slope = 0.07;
    await checkFormula(artefacts, [5], (x) => x.map((v) => (v >= 0 ? v : 0.07 * v)));
  });

  test('ELU (default alpha) and ThresholdedReLU (theta 0.4)', async () => {
    await check(sequential([4, 4, 3], tf.layers.elu({})), { shape: [4, 4, 3], range: [-4, 4], label: 'ELU' });
    await check(sequential([4, 4, 3], tf.layers.thresholdedReLU({ theta: 0.4 })), { shape: [4, 4, 3], label: 'ThresholdedReLU' });
  });

  test('ELU with alpha 0.7 (TF.js cannot run it: checked by formula)', async () => {
    const artefacts = await kerasModelOf(sequential([4, 4, 3], tf.layers.elu({ name: 'elu7' })));
    layerConfig(artefacts.topology, 'elu7').config.alpha = 0.7;
    await checkFormula(artefacts, [4, 4, 3], (x) => x.map((v) => (v > 0 ? v : 0.7 * Math.expm1(v))), [-4, 4]);
  });

  test('Softmax layer on the channel axis (rank 4 and rank 2)', async () => {
    await check(sequential([3, 4, 5], tf.layers.softmax({ axis: -1 })), { shape: [3, 4, 5], range: [-3, 3], label: 'Softmax rank 4' });
    const r = await check(sequential([6], tf.layers.softmax({ axis: -1 })), { shape: [6], label: 'Softmax rank 2' });
    assert.equal(r.converted.activated, true);
  });

  test('Softmax layer on the height axis (TF.js cannot run it: checked by formula)', async () => {
    const artefacts = await kerasModelOf(sequential([3, 4, 2], tf.layers.softmax({ axis: -1, name: 'sm' })));
    layerConfig(artefacts.topology, 'sm').config.axis = 1;
    const [H, W, C] = [3, 4, 2];
    await checkFormula(artefacts, [H, W, C], (x) => {
      const y = new Float32Array(x.length);
      for (let b = 0; b < 2; b++)
        for (let w = 0; w < W; w++)
          for (let c = 0; c < C; c++) {
            const at = (h: number) => ((b * H + h) * W + w) * C + c;
            let sum = 0;
            for (let h = 0; h < H; h++) sum += Math.exp(x[at(h)]!);
            for (let h = 0; h < H; h++) y[at(h)] = Math.exp(x[at(h)]!) / sum;
          }
      return y;
    });
  });
});

describe('padding and pooling', () => {
  const padCases: Array<[string, Parameters<typeof tf.layers.zeroPadding2d>[0]]> = [
    ['an int', { padding: 2 }],
    ['a symmetric [h, w] pair', { padding: [1, 2] }],
    ['asymmetric [[top, bottom], [left, right]]', { padding: [[1, 2], [0, 3]] }],
  ];
  for (const [label, args] of padCases) {
    test(`ZeroPadding2D with ${label}, then a valid conv`, async () => {
      const m = sequential([5, 4, 3], tf.layers.zeroPadding2d(args), tf.layers.conv2d({ filters: 3, kernelSize: 3 }));
      const r = await check(m, { shape: [5, 4, 3], label: `ZeroPadding2D ${label}` });
      const padded = predictTf(tf.sequential({ layers: [tf.layers.zeroPadding2d({ ...args, inputShape: [5, 4, 3] })] }), new Float32Array(60), [1, 5, 4, 3]);
      assert.deepEqual(r.converted.layers[0]!.shape, [null, ...padded.dims.slice(1)]);
    });
  }

  const poolCases: Array<[string, number[], Parameters<typeof tf.layers.maxPooling2d>[0]]> = [
    ['2x2 valid, odd input', [7, 7, 3], { poolSize: 2 }],
    ['2x2 same, odd input', [7, 5, 3], { poolSize: 2, padding: 'same' }],
    ['3x3 stride 2 valid', [8, 7, 2], { poolSize: 3, strides: 2 }],
    ['3x3 stride 2 same, even input', [8, 8, 2], { poolSize: 3, strides: 2, padding: 'same' }],
    ['3x3 stride 2 same, odd input', [7, 9, 2], { poolSize: 3, strides: 2, padding: 'same' }],
    ['3x3 stride 1 same', [5, 5, 3], { poolSize: 3, strides: 1, padding: 'same' }],
    ['[3, 2] pool, [2, 1] strides, valid', [7, 6, 2], { poolSize: [3, 2], strides: [2, 1] }],
  ];
  for (const [label, shape, args] of poolCases) {
    test(`MaxPooling2D ${label}`, async () => {
      await check(sequential(shape, tf.layers.maxPooling2d(args)), { shape, label: `MaxPooling2D ${label}` });
    });
    test(`AveragePooling2D ${label}`, async () => {
      // Same padding: TF divides by the pixels inside the image only.
      await check(sequential(shape, tf.layers.averagePooling2d(args)), { shape, label: `AveragePooling2D ${label}` });
    });
  }

  test('MaxPooling2D same never pads with zeros (all-negative inputs)', async () => {
    await check(sequential([5, 5, 2], tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })), { shape: [5, 5, 2], range: [-3, -1], label: 'MaxPooling2D negative' });
  });

  test('GlobalAveragePooling2D and GlobalMaxPooling2D', async () => {
    await check(sequential([5, 4, 3], tf.layers.globalAveragePooling2d({})), { shape: [5, 4, 3], label: 'GlobalAveragePooling2D' });
    await check(sequential([5, 4, 3], tf.layers.globalMaxPooling2d({})), { shape: [5, 4, 3], label: 'GlobalMaxPooling2D' });
  });

  test('global pooling with keepdims (Keras 2.6+) keeps [batch, 1, 1, channels]', async () => {
    for (const pool of [tf.layers.globalAveragePooling2d({ name: 'gp' }), tf.layers.globalMaxPooling2d({ name: 'gp' })]) {
      const m = sequential([4, 3, 5], pool);
      const artefacts = await kerasModelOf(m);
      layerConfig(artefacts.topology, 'gp').config.keepdims = true;
      const x = randomData(2 * 4 * 3 * 5, seed++);
      const converted = convertKeras(artefacts);
      assert.deepEqual(converted.output.shape, [null, 1, 1, 5]);
      const out = await runOnnx(converted.onnx, x, [2, 4, 3, 5]);
      const ref = predictTf(m, x, [2, 4, 3, 5]);
      assertClose(out, { data: ref.data, dims: [2, 1, 1, 5] }, 1e-4, 'keepdims');
    }
  });
});

describe('core and shape layers', () => {
  test('InputLayer first in a Sequential, and Sequentials that declare the input on their first layer', async () => {
    const explicit = sequential([5], tf.layers.dense({ units: 3 }));
    const artefacts = await kerasModelOf(explicit);
    assert.equal(layerConfigs(artefacts.topology)[0]!.class_name, 'InputLayer');
    await check(explicit, { shape: [5], artefacts, label: 'InputLayer' });
    const implicit = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [5] })] });
    randomizeWeights(implicit, seed++);
    assert.notEqual(layerConfigs((await kerasModelOf(implicit)).topology)[0]!.class_name, 'InputLayer');
    await check(implicit, { shape: [5], label: 'batch_input_shape' });
  });

  test('Flatten after a conv keeps Keras NHWC element order', async () => {
    const m = sequential([4, 3, 5], tf.layers.conv2d({ filters: 3, kernelSize: 2 }), tf.layers.flatten({}));
    const r = await check(m, { shape: [4, 3, 5], label: 'Flatten' });
    assert.deepEqual(r.converted.output.shape, [null, 18]);
    // And a Dense head reading it.
    const head = sequential([4, 3, 5], tf.layers.conv2d({ filters: 3, kernelSize: 2 }), tf.layers.flatten({}), tf.layers.dense({ units: 4 }));
    await check(head, { shape: [4, 3, 5], label: 'Flatten + Dense' });
  });

  test('Reshape to rank 3 with -1', async () => {
    const m = sequential([4, 4, 3], tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.reshape({ targetShape: [-1, 6] }));
    const r = await check(m, { shape: [4, 4, 3], label: 'Reshape rank 3' });
    assert.deepEqual(r.converted.output.shape, [null, 16, 6]);
  });

  test('Reshape with -1 written as Keras does (TF.js writes null)', async () => {
    const m = sequential([4, 4, 3], tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.reshape({ targetShape: [-1, 6], name: 'rs' }));
    const artefacts = await kerasModelOf(m);
    const config = layerConfig(artefacts.topology, 'rs').config;
    assert.deepEqual(config.target_shape, [null, 6]);
    config.target_shape = [-1, 6];
    await check(m, { shape: [4, 4, 3], artefacts, label: 'Reshape -1' });
  });

  test('Reshape an image to another image, then convolve', async () => {
    const m = sequential([4, 4, 6], tf.layers.conv2d({ filters: 6, kernelSize: 1 }), tf.layers.reshape({ targetShape: [8, -1, 2] }), tf.layers.conv2d({ filters: 3, kernelSize: 3 }));
    const r = await check(m, { shape: [4, 4, 6], label: 'Reshape rank 4' });
    assert.deepEqual(r.converted.layers[1]!.shape, [null, 8, 6, 2]);
  });

  test('Reshape a vector to an image (rank 2 → rank 4), then convolve', async () => {
    const m = sequential([5], tf.layers.dense({ units: 12 }), tf.layers.reshape({ targetShape: [2, -1, 3] }), tf.layers.conv2d({ filters: 2, kernelSize: [1, 2] }));
    await check(m, { shape: [5], label: 'Reshape rank 2 to 4' });
  });

  test('Rescaling (scale and offset numbers)', async () => {
    await check(sequential([3, 3, 3], tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 })), { shape: [3, 3, 3], range: [0, 255], label: 'Rescaling' });
    await check(sequential([3, 3, 3], tf.layers.rescaling({ scale: 1 / 255 })), { shape: [3, 3, 3], range: [0, 255], label: 'Rescaling no offset' });
  });

  test('Rescaling with one scale and offset per channel (hand-written config)', async () => {
    const artefacts = await kerasModelOf(sequential([3, 2, 3], tf.layers.rescaling({ scale: 1, name: 'rs' })));
    const [scale, offset] = [
      [0.5, -2, 3],
      [1, 0, -0.25],
    ];
    Object.assign(layerConfig(artefacts.topology, 'rs').config, { scale, offset });
    await checkFormula(artefacts, [3, 2, 3], (x) => x.map((v, i) => v * scale[i % 3]! + offset[i % 3]!));
  });

  test('Dense on rank 2, without bias, and on a rank-4 input (applied per pixel)', async () => {
    await check(sequential([7], tf.layers.dense({ units: 4 })), { shape: [7], label: 'Dense' });
    await check(sequential([7], tf.layers.dense({ units: 4, useBias: false })), { shape: [7], label: 'Dense no bias' });
    const m = sequential([3, 4, 5], tf.layers.dense({ units: 6 }), tf.layers.conv2d({ filters: 2, kernelSize: 2 }));
    const r = await check(m, { shape: [3, 4, 5], label: 'Dense rank 4' });
    assert.deepEqual(r.converted.layers[0]!.shape, [null, 3, 4, 6]);
    await check(sequential([3, 4, 5], tf.layers.dense({ units: 6 })), { shape: [3, 4, 5], label: 'Dense rank 4 output' });
  });

  test('Dropout and the noise layers are identities at inference', async () => {
    const m = sequential([4, 4, 3], tf.layers.dropout({ rate: 0.5 }), tf.layers.conv2d({ filters: 2, kernelSize: 1 }), tf.layers.gaussianNoise({ stddev: 1 }), tf.layers.gaussianDropout({ rate: 0.5 }), tf.layers.alphaDropout({ rate: 0.5 }));
    await check(m, { shape: [4, 4, 3], label: 'Dropout' });
  });

  test('SpatialDropout2D and ActivityRegularization (not in TF.js: renamed Dropouts) are identities', async () => {
    const m = sequential([4, 4, 3], tf.layers.dropout({ rate: 0.5, name: 'd1' }), tf.layers.conv2d({ filters: 2, kernelSize: 1 }), tf.layers.dropout({ rate: 0.5, name: 'd2' }));
    const artefacts = await kerasModelOf(m);
    layerConfig(artefacts.topology, 'd1').class_name = 'SpatialDropout2D';
    layerConfig(artefacts.topology, 'd2').class_name = 'ActivityRegularization';
    const r = await check(m, { shape: [4, 4, 3], artefacts, label: 'SpatialDropout2D' });
    assert.deepEqual(r.converted.layers.map((l) => l.className), ['SpatialDropout2D', 'Conv2D', 'ActivityRegularization']);
  });

  test('class-name aliases (Convolution2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, ...) convert like the canonical names', async () => {
    const m = sequential(
      [8, 8, 3],
      tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c' }),
      tf.layers.separableConv2d({ filters: 3, kernelSize: 1, name: 's' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'mp' }),
      tf.layers.averagePooling2d({ poolSize: 2, name: 'ap' }),
      tf.layers.globalMaxPooling2d({ name: 'gp' }),
    );
    const artefacts = await kerasModelOf(m);
    const renames: Record<string, string> = { c: 'Convolution2D', s: 'SeparableConvolution2D', mp: 'MaxPool2D', ap: 'AvgPool2D', gp: 'GlobalMaxPool2D' };
    for (const [name, alias] of Object.entries(renames)) layerConfig(artefacts.topology, name).class_name = alias;
    layerConfig(artefacts.topology, 's').config.depth_multiplier = 1;
    await check(m, { shape: [8, 8, 3], artefacts, label: 'aliases' });
    const m2 = sequential([4, 4, 2], tf.layers.averagePooling2d({ poolSize: 2, name: 'ap2' }), tf.layers.globalAveragePooling2d({ name: 'gap' }));
    const a2 = await kerasModelOf(m2);
    layerConfig(a2.topology, 'ap2').class_name = 'AveragePool2D';
    layerConfig(a2.topology, 'gap').class_name = 'GlobalAvgPool2D';
    await check(m2, { shape: [4, 4, 2], artefacts: a2, label: 'aliases 2' });
    for (const alias of Object.keys(LAYER_ALIASES)) assert.ok(Object.values(renames).includes(alias) || ['AveragePool2D', 'GlobalAvgPool2D'].includes(alias), alias);
  });
});

describe('merge layers', () => {
  /** Input → three differently-convolved branches of the same shape → merge. */
  function merged(make: () => Layer, branches: number, shape = [5, 5, 3]) {
    const x = tf.input({ shape });
    const outs = [
      apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), x),
      apply(tf.layers.conv2d({ filters: 4, kernelSize: 1 }), x),
      apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 4 }), apply(tf.layers.conv2d({ filters: 1, kernelSize: 1 }), x)),
    ].slice(0, branches);
    return functional(x, apply(make(), ...outs));
  }
  const kinds: Array<[string, () => Layer, number[]]> = [
    ['Add', () => tf.layers.add({}), [2, 3]],
    ['Multiply', () => tf.layers.multiply({}), [2, 3]],
    ['Average', () => tf.layers.average({}), [2, 3]],
    ['Maximum', () => tf.layers.maximum({}), [2, 3]],
    ['Minimum', () => tf.layers.minimum({}), [2, 3]],
  ];
  for (const [name, make, counts] of kinds) {
    for (const n of counts) {
      test(`${name} of ${n} inputs`, async () => {
        await check(merged(make, n), { shape: [5, 5, 3], label: `${name} ${n}` });
      });
    }
  }

  test('Subtract (not in TF.js: a renamed Add, against the difference of the branches)', async () => {
    const m = merged(() => tf.layers.add({ name: 'merge' }), 2);
    const artefacts = await kerasModelOf(m);
    layerConfig(artefacts.topology, 'merge').class_name = 'Subtract';
    const branches = tf.model({ inputs: m.inputs, outputs: (m.getLayer('merge').input as Sym[]).slice() });
    const dims = [2, 5, 5, 3];
    const x = randomData(2 * 5 * 5 * 3, seed++);
    const [a, b] = tf.tidy(() => (branches.predict(tf.tensor(x, dims)) as tf.Tensor[]).map((t) => ({ data: Float32Array.from(t.dataSync()), dims: t.shape })));
    const converted = convertKeras(artefacts);
    converted.layers.forEach((l) => covered.add(l.className));
    assertClose(await runOnnx(converted.onnx, x, dims), { data: a!.data.map((v, i) => v - b!.data[i]!), dims: a!.dims }, 1e-4, 'Subtract');
    const three = await kerasModelOf(merged(() => tf.layers.add({ name: 'merge3' }), 3));
    layerConfig(three.topology, 'merge3').class_name = 'Subtract';
    assertImgclsError(() => convertKeras(three), 'UNSUPPORTED_LAYER', /merge3/, /exactly 2/);
  });

  test('Multiply broadcasts a [1, 1, C] gate over an image (squeeze-and-excitation)', async () => {
    const x = tf.input({ shape: [5, 5, 3] });
    const f = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }), x);
    const gate = apply(tf.layers.reshape({ targetShape: [1, 1, 4] }), apply(tf.layers.dense({ units: 4, activation: 'sigmoid' }), apply(tf.layers.globalAveragePooling2d({}), f)));
    await check(functional(x, apply(tf.layers.multiply({}), f, gate)), { shape: [5, 5, 3], label: 'SE multiply' });
  });

  for (const axis of [-1, 3, 1, 2]) {
    test(`Concatenate on axis ${axis} (rank 4)`, async () => {
      const x = tf.input({ shape: [4, 4, 3] });
      const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
      const b = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
      const c = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
      const r = await check(functional(x, apply(tf.layers.concatenate({ axis }), a, b, c)), { shape: [4, 4, 3], label: `Concatenate ${axis}` });
      const expected = [null, 4, 4, 2];
      expected[axis < 0 ? 3 : axis] = axis === -1 || axis === 3 ? 6 : 12;
      assert.deepEqual(r.converted.output.shape, expected);
    });
  }

  test('Concatenate of different channel counts, and of vectors (rank 2)', async () => {
    const x = tf.input({ shape: [4, 4, 3] });
    const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x);
    const b = apply(tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same' }), x);
    await check(functional(x, apply(tf.layers.concatenate({}), a, x, b)), { shape: [4, 4, 3], label: 'Concatenate 2+3+5' });
    const v = tf.input({ shape: [6] });
    const p = apply(tf.layers.dense({ units: 3 }), v);
    const q = apply(tf.layers.dense({ units: 4 }), v);
    await check(functional(v, apply(tf.layers.concatenate({ axis: -1 }), p, q)), { shape: [6], label: 'Concatenate rank 2' });
  });
});

describe('models', () => {
  test('a Sequential CNN classifier', async () => {
    const m = sequential(
      [12, 12, 3],
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', strides: 2 }),
      tf.layers.batchNormalization({}),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }),
      tf.layers.flatten({}),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 5, activation: 'softmax' }),
    );
    const r = await check(m, { shape: [12, 12, 3], label: 'Sequential CNN' });
    assert.equal(r.converted.activated, true);
    assert.deepEqual(r.converted.output, { name: 'output', shape: [null, 5] });
    for (let b = 0; b < 2; b++) assert.ok(Math.abs(r.output.data.slice(b * 5, b * 5 + 5).reduce((s, v) => s + v, 0) - 1) < 1e-5);
  });

  test('a branching functional model (inception-style concat, residual add, shared head)', async () => {
    const x = tf.input({ shape: [9, 9, 3], name: 'img' });
    const stem = apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), x);
    const b1 = apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), stem);
    const b2 = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), stem));
    const b3 = apply(tf.layers.conv2d({ filters: 1, kernelSize: 1 }), apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }), stem));
    const cat = apply(tf.layers.concatenate({}), b1, b2, b3);
    const bn = apply(tf.layers.batchNormalization({}), cat);
    const res = apply(tf.layers.add({}), bn, stem);
    const y = apply(tf.layers.dense({ units: 3, activation: 'softmax' }), apply(tf.layers.globalAveragePooling2d({}), apply(tf.layers.activation({ activation: 'relu' }), res)));
    const r = await check(functional(x, y), { shape: [9, 9, 3], label: 'branching functional' });
    assert.equal(r.converted.activated, true);
  });

  test('a layer shared by two calls in a functional model', async () => {
    const x = tf.input({ shape: [5, 5, 3] });
    const shared = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'shared' });
    const a = apply(shared, x);
    const b = apply(shared, apply(tf.layers.activation({ activation: 'tanh' }), a));
    await check(functional(x, apply(tf.layers.concatenate({}), a, b)), { shape: [5, 5, 3], label: 'shared layer' });
  });

  test('Teachable Machine layout: a Sequential holding a functional model, then a Sequential head', async () => {
    const x = tf.input({ shape: [8, 8, 3] });
    const f = apply(tf.layers.reLU({ maxValue: 6 }), apply(tf.layers.batchNormalization({}), apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'base_conv' }), x)));
    const base = tf.model({ inputs: x, outputs: apply(tf.layers.globalAveragePooling2d({}), f), name: 'base' });
    const head = tf.sequential({ name: 'head', layers: [tf.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'scores' })] });
    const outer = tf.sequential({ name: 'outer' });
    outer.add(base);
    outer.add(head);
    randomizeWeights(outer, seed++);
    const artefacts = await kerasModelOf(outer);
    assert.deepEqual(
      layerConfigs(artefacts.topology).map((l) => l.class_name),
      ['Model', 'Sequential'],
    );
    const r = await check(outer, { shape: [8, 8, 3], artefacts, label: 'nested' });
    assert.equal(r.converted.activated, true);
    // Layers inside nested models are named by their path.
    assert.ok(r.converted.layers.some((l) => l.name === 'base/base_conv'), r.converted.layers.map((l) => l.name).join());
    assert.ok(r.converted.layers.some((l) => l.name === 'head/scores'));
    // A layer inside can be cut at by its own name or its path.
    const cut = convertKeras(artefacts, { cut: 'base_conv', pool: 'none' });
    assert.equal(cut.cut, 'base/base_conv');
    assert.equal(convertKeras(artefacts, { cut: 'base/base_conv', pool: 'none' }).cut, 'base/base_conv');
    assert.deepEqual(cut.output.shape, [null, 4, 4, 4]);
  });

  test('a functional model nested in a functional model, called once and then twice', async () => {
    const sx = tf.input({ shape: [5, 5, 2] });
    const sub = tf.model({ inputs: sx, outputs: apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'sub_conv' }), sx), name: 'sub' });
    const x = tf.input({ shape: [5, 5, 2] });
    const once = apply(sub, apply(tf.layers.conv2d({ filters: 2, kernelSize: 1 }), x));
    await check(functional(x, apply(tf.layers.globalAveragePooling2d({}), once)), { shape: [5, 5, 2], label: 'nested functional once' });

    const y = tf.input({ shape: [5, 5, 2] });
    const first = apply(sub, y);
    const second = apply(sub, first);
    const twice = functional(y, apply(tf.layers.concatenate({}), first, second));
    const artefacts = await kerasModelOf(twice);
    // TF.js (like Keras) numbers the nested model's calls from 1: the node that built it is node 0.
    assert.match(JSON.stringify(artefacts.topology), /\["sub",2,0/);
    await check(twice, { shape: [5, 5, 2], artefacts, label: 'nested functional twice' });
    // Numbered from 0 instead (a Keras 3 Sequential, or a model built without an Input): the same graph.
    const renumbered = cloneModel(artefacts);
    renumbered.topology = JSON.parse(JSON.stringify(renumbered.topology).replace(/\["sub",([12]),0/g, (_, n: string) => `["sub",${Number(n) - 1},0`));
    assert.match(JSON.stringify(renumbered.topology), /\["sub",0,0/);
    await check(twice, { shape: [5, 5, 2], artefacts: renumbered, label: 'nested functional twice, from 0' });
  });
});

describe('Keras 3 topology layout', () => {
  const shape = [6, 6, 3];

  /** The Keras 2 model TF.js builds; the Keras 3 config below describes the same graph with the same layer names. */
  function keras2() {
    const x = tf.input({ shape, name: 'image' });
    const stem = apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' }), x);
    const bn = apply(tf.layers.batchNormalization({ name: 'bn' }), stem);
    const left = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'left' }), bn);
    const right = apply(tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'right' }), bn);
    const sum = apply(tf.layers.add({ name: 'sum' }), left, right);
    const shared = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'shared' });
    const s1 = apply(shared, sum);
    const s2 = apply(shared, s1);
    const cat = apply(tf.layers.concatenate({ name: 'cat' }), s1, s2);
    const gap = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), cat);
    return functional(x, apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), gap));
  }

  const tensor = (layer: string, node = 0) => ({ class_name: '__keras_tensor__', config: { shape: [null], dtype: 'float32', keras_history: [layer, node, 0] } });
  const call = (...args: unknown[]) => ({ args, kwargs: {} });
  const dtype = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const layer = (class_name: string, name: string, config: Record<string, unknown>, inbound_nodes: unknown[]) => ({
    module: 'keras.layers',
    class_name,
    config: { name, trainable: true, dtype, ...config },
    registered_name: null,
    build_config: { input_shape: [null, 6, 6, 4] },
    name,
    inbound_nodes,
  });
  const conv = { strides: [1, 1], data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, use_bias: true, kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null } };

  const keras3Functional = {
    class_name: 'Functional',
    config: {
      name: 'k3',
      trainable: true,
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, ...shape], dtype: 'float32', sparse: false, name: 'image' }, registered_name: null, name: 'image', inbound_nodes: [] },
        layer('Conv2D', 'stem', { ...conv, filters: 4, kernel_size: [3, 3], padding: 'same', activation: 'relu' }, [call(tensor('image'))]),
        layer('BatchNormalization', 'bn', { axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true }, [{ args: [tensor('stem')], kwargs: { training: false } }]),
        layer('DepthwiseConv2D', 'left', { ...conv, kernel_size: [3, 3], depth_multiplier: 1, padding: 'same', activation: 'linear' }, [call(tensor('bn'))]),
        layer('Conv2D', 'right', { ...conv, filters: 4, kernel_size: [1, 1], padding: 'valid', activation: 'linear' }, [call(tensor('bn'))]),
        layer('Add', 'sum', {}, [call([tensor('left'), tensor('right')])]),
        layer('Conv2D', 'shared', { ...conv, filters: 4, kernel_size: [1, 1], padding: 'valid', activation: 'linear' }, [call(tensor('sum')), call(tensor('shared', 0))]),
        layer('Concatenate', 'cat', { axis: -1 }, [call([tensor('shared', 0), tensor('shared', 1)])]),
        layer('GlobalAveragePooling2D', 'gap', { data_format: 'channels_last', keepdims: false }, [call(tensor('cat'))]),
        layer('Dense', 'head', { units: 3, activation: 'softmax', use_bias: true }, [call(tensor('gap'))]),
      ],
      input_layers: ['image', 0, 0],
      output_layers: ['head', 0, 0],
    },
  };

  test('a Keras 3 Functional config gives the same output as its Keras 2 equivalent', async () => {
    const m = keras2();
    const k2 = await kerasModelOf(m);
    const r2 = await check(m, { shape, artefacts: k2, label: 'Keras 2 twin' });
    const k3: KerasModel = { ...k2, topology: { class_name: 'Functional', config: keras3Functional.config, keras_version: '3.4.1', backend: 'tensorflow' } };
    const r3 = await check(m, { shape, artefacts: k3, seed: 1, label: 'Keras 3 functional' });
    assert.deepEqual(r3.converted.layers.map((l) => l.name), r2.converted.layers.map((l) => l.name));
    // Same weights, same graph: the two conversions agree with each other exactly on the same input.
    const x = randomData(2 * 6 * 6 * 3, 5);
    const [o2, o3] = [await runOnnx(convertKeras(k2).onnx, x, [2, ...shape]), await runOnnx(convertKeras(k3).onnx, x, [2, ...shape])];
    assert.deepEqual(o3.data, o2.data);
  });

  test('a Keras 3 Sequential (InputLayer with batch_shape) and Keras 3 ReLU/LeakyReLU configs', async () => {
    const m = sequential(shape, tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'c' }), tf.layers.leakyReLU({ alpha: 0.1, name: 'lr' }), tf.layers.reLU({ maxValue: 0.8, name: 'r6' }));
    const artefacts = await kerasModelOf(m);
    const k3: KerasModel = {
      ...artefacts,
      topology: {
        class_name: 'Sequential',
        config: {
          name: 'seq3',
          trainable: true,
          dtype,
          layers: [
            { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, ...shape], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null },
            layer('Conv2D', 'c', { ...conv, filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'same', activation: 'linear' }, []),
            layer('LeakyReLU', 'lr', { negative_slope: 0.1 }, []),
            layer('ReLU', 'r6', { max_value: 0.8, negative_slope: 0, threshold: 0 }, []),
          ],
          build_input_shape: [null, ...shape],
        },
      },
    };
    const r = await check(m, { shape, artefacts: k3, label: 'Keras 3 sequential' });
    assert.deepEqual(r.converted.input, { name: 'input', shape: [null, ...shape] });
  });
});

describe('unknown height and width', () => {
  test("a model with input [null, null, 3] ('same' becomes SAME_UPPER) runs on odd and even sizes", async () => {
    const m = sequential(
      [null, null, 3],
      tf.layers.zeroPadding2d({ padding: [[0, 1], [1, 0]] }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    );
    const artefacts = await kerasModelOf(m);
    for (const size of [7, 8, 10]) {
      const r = await check(m, { shape: [size, size + 1, 3], artefacts, label: `unknown size ${size}` });
      assert.deepEqual(r.converted.input.shape, [null, null, null, 3]);
      assert.deepEqual(r.converted.layers[1]!.shape, [null, null, null, 4]);
    }
  });
});

describe('feature extraction (cut and pool) on a small model', () => {
  const shape = [9, 9, 3];
  function model() {
    return sequential(
      shape,
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv_a' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 3, activation: 'relu', name: 'conv_b' }),
      tf.layers.averagePooling2d({ poolSize: 7, name: 'to_1x1' }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'scores' }),
    );
  }

  test('cut at a named layer, pooled avg / max / none / on a grid, against TF.js intermediate outputs', async () => {
    const m = model();
    const artefacts = await kerasModelOf(m);
    const x = randomData(2 * 9 * 9 * 3, seed++);
    const dims = [2, ...shape];
    for (const name of ['conv_a', 'conv_b']) {
      const inner = predictTf(tf.model({ inputs: m.inputs, outputs: m.getLayer(name).output as Sym }), x, dims);
      const run = async (pool: 'avg' | 'max' | 'none' | { grid: number }) => {
        const c = convertKeras(artefacts, { cut: name, pool });
        assert.equal(c.cut, name);
        assert.equal(c.activated, false);
        return { c, out: await runOnnx(c.onnx, x, dims) };
      };
      assertClose((await run('avg')).out, poolHW(inner, 'avg'), 1e-5, `${name} avg`);
      assertClose((await run('max')).out, poolHW(inner, 'max'), 1e-5, `${name} max`);
      const none = await run('none');
      assert.deepEqual(none.c.output.shape, [null, ...inner.dims.slice(1)]);
      assertClose(none.out, inner, 1e-5, `${name} none`);
      for (const g of [2, 3]) {
        const grid = await run({ grid: g });
        assert.deepEqual(grid.c.output.shape, [null, g * g * inner.dims[3]!]);
        // 9x9 (conv_a) in a 2x2 grid: overlapping cells 0..5 and 4..9; 7x7 (conv_b) in 3x3: 0..3, 2..5, 4..7.
        assertClose(grid.out, gridMean(inner, g), 1e-5, `${name} grid ${g}`);
      }
    }
  });

  test("cut 'auto' picks the last layer with a spatial extent > 1 and drops the head's weights", async () => {
    const artefacts = await kerasModelOf(model());
    const full = convertKeras(artefacts);
    const c = convertKeras(artefacts, { cut: 'auto' });
    assert.equal(c.cut, 'conv_b');
    assert.deepEqual(c.output.shape, [null, 5]);
    assert.ok(c.onnx.byteLength < full.onnx.byteLength);
    assert.deepEqual(full.layers.map((l) => l.name), ['conv_a', 'conv_b', 'to_1x1', 'flat', 'scores']);
  });

  test('bad cuts: an unknown layer, a grid larger than the layer, nothing spatial to cut', async () => {
    const artefacts = await kerasModelOf(model());
    assertImgclsError(() => convertKeras(artefacts, { cut: 'nope' }), 'INVALID_OPTION', /no layer named nope/);
    assertImgclsError(() => convertKeras(artefacts, { cut: 'conv_b', pool: { grid: 8 } }), 'INVALID_OPTION', /8x8 grid/);
    const dense = await kerasModelOf(sequential([4], tf.layers.dense({ units: 2 })));
    assertImgclsError(() => convertKeras(dense, { cut: 'auto' }), 'INVALID_OPTION', /no spatial layer/);
  });

  test('input and output names can be chosen', async () => {
    const artefacts = await kerasModelOf(model());
    const c = convertKeras(artefacts, { inputName: 'pixels', outputName: 'probs' });
    assert.equal(c.input.name, 'pixels');
    assert.equal(c.output.name, 'probs');
    const x = randomData(9 * 9 * 3, 3);
    const out = await runOnnx(c.onnx, x, [1, ...shape], 'pixels', 'probs');
    assert.deepEqual(out.dims, [1, 3]);
  });
});

describe('failures', () => {
  async function small() {
    return kerasModelOf(sequential([6, 6, 3], tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'conv' }), tf.layers.maxPooling2d({ name: 'pool' }), tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units: 2, name: 'dense' })));
  }

  test('an unsupported layer class is UNSUPPORTED_LAYER, naming the layer and its class', async () => {
    for (const className of ['LSTM', 'MyFancyLayer']) {
      const artefacts = await small();
      layerConfig(artefacts.topology, 'pool').class_name = className;
      assertImgclsError(() => convertKeras(artefacts), 'UNSUPPORTED_LAYER', /Layer pool\b/, new RegExp(`class ${className}\\b`), /supported: .*Conv2D/);
    }
  });

  test('an unsupported layer inside a nested model is named with its path', async () => {
    const x = tf.input({ shape: [4, 4, 2] });
    const inner = tf.model({ inputs: x, outputs: apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'inner_conv' }), x), name: 'inner' });
    const outer = tf.sequential({ name: 'outer', layers: [inner, tf.layers.flatten({})] });
    const artefacts = await kerasModelOf(outer);
    const innerConfig = layerConfigs(artefacts.topology)[0]!.config as { layers: Array<{ class_name: string; name: string }> };
    innerConfig.layers.find((l) => l.name === 'inner_conv')!.class_name = 'ConvLSTM2D';
    assertImgclsError(() => convertKeras(artefacts), 'UNSUPPORTED_LAYER', /Layer inner\/inner_conv has class ConvLSTM2D/);
  });

  test('data_format channels_first is UNSUPPORTED_LAYER (conv, pooling, flatten)', async () => {
    for (const name of ['conv', 'pool', 'flat']) {
      const artefacts = await small();
      layerConfig(artefacts.topology, name).config.data_format = 'channels_first';
      assertImgclsError(() => convertKeras(artefacts), 'UNSUPPORTED_LAYER', new RegExp(`Layer ${name}\\b`), /channels_first/);
    }
  });

  test('strides > 1 with dilation > 1, and a window larger than the input, are UNSUPPORTED_LAYER', async () => {
    const a = await small();
    Object.assign(layerConfig(a.topology, 'conv').config, { strides: [2, 2], dilation_rate: [2, 2] });
    assertImgclsError(() => convertKeras(a), 'UNSUPPORTED_LAYER', /Layer conv\b/, /dilation/);
    const b = await small();
    layerConfig(b.topology, 'pool').config.pool_size = [5, 5];
    assertImgclsError(() => convertKeras(b), 'UNSUPPORTED_LAYER', /Layer pool\b/, /empty/);
  });

  test('a missing weight is MODEL_INVALID naming the layer and the weight', async () => {
    const artefacts = await small();
    const spec = artefacts.weightsManifest[0]!.weights.find((w) => w.name === 'dense/kernel')!;
    spec.name = 'dense/kernel_renamed';
    assertImgclsError(() => convertKeras(artefacts), 'MODEL_INVALID', /Layer dense\b/, /"kernel"/);
  });

  test('a weight whose shape disagrees with the config is MODEL_INVALID', async () => {
    const artefacts = await small();
    layerConfig(artefacts.topology, 'dense').config.units = 3;
    assertImgclsError(() => convertKeras(artefacts), 'MODEL_INVALID', /dense\/kernel has shape \[8, 2\]/, /\[8, 3\]/);
  });

  test('weight data too short, or longer than the manifest, is MODEL_INVALID', async () => {
    const artefacts = await small();
    const short = { ...cloneModel(artefacts), weightData: artefacts.weightData.subarray(0, artefacts.weightData.byteLength - 4) };
    assertImgclsError(() => convertKeras(short), 'MODEL_INVALID', /too short/, /dense\/bias/);
    const long = { ...cloneModel(artefacts), weightData: new Uint8Array(artefacts.weightData.byteLength + 4) };
    assertImgclsError(() => convertKeras(long), 'MODEL_INVALID', /describes/);
  });

  test('models with two inputs or two outputs are UNSUPPORTED_LAYER', async () => {
    const a = tf.input({ shape: [3] });
    const b = tf.input({ shape: [3] });
    const two = await kerasModelOf(tf.model({ inputs: [a, b], outputs: apply(tf.layers.add({}), a, b) }));
    assertImgclsError(() => convertKeras(two), 'UNSUPPORTED_LAYER', /2 inputs/);
    const x = tf.input({ shape: [3] });
    const twoOut = await kerasModelOf(tf.model({ inputs: x, outputs: [apply(tf.layers.dense({ units: 1 }), x), apply(tf.layers.dense({ units: 2 }), x)] }));
    assertImgclsError(() => convertKeras(twoOut), 'UNSUPPORTED_LAYER', /2 outputs/);
  });

  test('a topology that is not a layers model, or references a missing layer, is MODEL_INVALID', async () => {
    const artefacts = await small();
    assertImgclsError(() => convertKeras({ ...artefacts, topology: { node: [], versions: {} } }), 'MODEL_INVALID', /no class_name/);
    assertImgclsError(() => convertKeras({ ...artefacts, topology: { class_name: 'Conv2D', config: {} } }), 'MODEL_INVALID', /top level is a Conv2D/);
    const x = tf.input({ shape: [3] });
    const f = await kerasModelOf(tf.model({ inputs: x, outputs: apply(tf.layers.dense({ units: 1, name: 'd' }), x) }));
    const d = layerConfig(f.topology, 'd') as unknown as { inbound_nodes: unknown[][][] };
    d.inbound_nodes[0]![0]![0] = 'ghost';
    assertImgclsError(() => convertKeras(f), 'MODEL_INVALID', /ghost/);
  });
});

test('every supported layer class was converted and checked above', () => {
  const missing = Object.keys(LAYERS).filter((c) => !covered.has(c));
  assert.deepEqual(missing, []);
});

describe('options TF.js cannot build', () => {
  test('Conv2D with groups equals one convolution per channel group, concatenated', async () => {
    // Built as a 2-channel conv in TF.js, then declared as 2 groups over 4 input channels.
    const m = sequential([6, 6, 2], tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'grouped' }));
    const artefacts = cloneModel(await kerasModelOf(m));
    layerConfigs(artefacts.topology)[0]!.config.batch_input_shape = [null, 6, 6, 4];
    layerConfig(artefacts.topology, 'grouped').config.groups = 2;
    const x = randomData(2 * 6 * 6 * 4, seed++);
    const [kernel, bias] = m.getLayer('grouped').getWeights();
    const expected = tf.tidy(() => {
      const input = tf.tensor4d(x, [2, 6, 6, 4]);
      const groups = [0, 1].map((g) => {
        const xg = input.slice([0, 0, 0, g * 2], [2, 6, 6, 2]);
        const kg = (kernel as tf.Tensor4D).slice([0, 0, 0, g * 2], [3, 3, 2, 2]);
        return tf.conv2d(xg, kg, 1, 'same').add(bias!.slice([g * 2], [2]));
      });
      const y = tf.concat(groups, 3);
      return { data: Float32Array.from(y.dataSync()), dims: [...y.shape] };
    });
    const output = await runOnnx(convertKeras(artefacts).onnx, x, [2, 6, 6, 4]);
    assertClose(output, expected, 1e-4, 'grouped conv');
  });

  test("hard_sigmoid follows the topology's Keras version: 0.2x + 0.5 (Keras 2, TF.js), x/6 + 0.5 (Keras 3)", async () => {
    const m = sequential([5], tf.layers.activation({ activation: 'hardSigmoid', name: 'hs' }));
    const artefacts = cloneModel(await kerasModelOf(m));
    const x = Float32Array.from([-4, -2.6, -1, 0, 1.5, 2.4, 2.6, 3.2, 4, -0.3]);
    const clip = (v: number) => Math.min(1, Math.max(0, v));
    const keras2 = await runOnnx(convertKeras(artefacts).onnx, x, [2, 5]);
    assertClose(keras2, { data: x.map((v) => clip(0.2 * v + 0.5)), dims: [2, 5] }, 1e-6, 'Keras 2 hard_sigmoid');
    (artefacts.topology as { keras_version: string }).keras_version = '3.4.1';
    const keras3 = await runOnnx(convertKeras(artefacts).onnx, x, [2, 5]);
    assertClose(keras3, { data: x.map((v) => clip(v / 6 + 0.5)), dims: [2, 5] }, 1e-6, 'Keras 3 hard_sigmoid');
  });
});
