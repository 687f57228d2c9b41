/**
 * Weight manifests: every encoding the TF.js converter writes. Quantised
 * artefacts are made here the way tfjs-converter's quantization.py makes
 * them, TF.js loads them itself (tf.loadLayersModel from memory) as the
 * reference, and the converted graph must agree with it to 1e-4.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { convertKeras, type KerasModel } from '../src/keras/convert.ts';
import { decodeWeights, halfToFloat, type WeightGroup, type WeightSpec } from '../src/keras/weights.ts';
import { assertClose, assertImgclsError, initTf, kerasModelOf, maxAbsDiff, predictTf, randomData, randomizeWeights, runOnnx, tf } from './helpers/keras.ts';

type Quantized = { bytes: Uint8Array; quantization: NonNullable<WeightSpec['quantization']> };

/** float32 → IEEE half bits, rounding to nearest even (numpy's astype(float16)). */
function floatToHalf(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const x = view.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  const roundShift = (m: number, shift: number) => {
    let q = Math.floor(m / 2 ** shift);
    const rem = m - q * 2 ** shift;
    const halfway = 2 ** (shift - 1);
    if (rem > halfway || (rem === halfway && q % 2 === 1)) q++;
    return q;
  };
  if (e <= 0) {
    // Subnormal half (or zero): the significand with its hidden bit, shifted into place.
    if (e < -10) return sign;
    mant |= 0x800000;
    return sign | roundShift(mant, 14 - e);
  }
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | ((e << 10) + roundShift(mant, 13));
}

/** numpy's np.round: half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** tfjs-converter quantization.py `quantize_weights` for uint8/uint16, per weight, in doubles. */
function quantizeAffine(data: Float32Array, dtype: 'uint8' | 'uint16'): Quantized {
  const quantMax = dtype === 'uint8' ? 255 : 65535;
  let min = Math.min(...data);
  let max = Math.max(...data);
  const q = dtype === 'uint8' ? new Uint8Array(data.length) : new Uint16Array(data.length);
  let scale: number;
  if (min === max) {
    // A single value: all zeros, scale 1, min the value.
    scale = 1;
  } else {
    scale = (max - min) / quantMax;
    if (min <= 0 && 0 <= max) {
      // Nudge the range so that 0 is exactly representable.
      const zeroPoint = roundHalfEven((0 - min) / scale);
      min = -zeroPoint * scale;
      max = quantMax * scale + min;
    }
    for (let i = 0; i < data.length; i++) q[i] = roundHalfEven((Math.min(Math.max(data[i]!, min), max) - min) / scale);
  }
  return { bytes: new Uint8Array(q.buffer), quantization: { dtype, min, scale } };
}

function quantizeHalf(data: Float32Array): Quantized {
  const q = Uint16Array.from(data, floatToHalf);
  return { bytes: new Uint8Array(q.buffer), quantization: { dtype: 'float16' } };
}

/** Re-encode every float32 weight of a saved model. */
function quantizeModel(model: KerasModel, quantize: (data: Float32Array, spec: WeightSpec) => Quantized): KerasModel {
  const specs = model.weightsManifest.flatMap((g) => g.weights);
  const decoded = decodeWeights(model.weightsManifest, model.weightData);
  const parts: Uint8Array[] = [];
  const weights = specs.map((spec) => {
    const q = quantize(decoded.get(spec.name)!.values, spec);
    parts.push(q.bytes);
    return { ...spec, quantization: q.quantization };
  });
  return { topology: model.topology, weightsManifest: [{ paths: ['q.bin'], weights }], weightData: Buffer.concat(parts) };
}

/** TF.js loading the (quantised) artefacts itself. */
async function loadInTfjs(model: KerasModel) {
  const weightData = new Uint8Array(model.weightData).buffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: model.topology as object,
      weightSpecs: model.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
      weightData,
    }),
  );
}

const SHAPE = [8, 8, 3];
let reference: KerasModel;
const diffs: Record<string, number> = {};

/** A small CNN using every kind of weight: kernels, biases, BatchNormalization statistics, a constant bias. */
async function buildReference(): Promise<KerasModel> {
  const m = tf.sequential({
    layers: [
      tf.layers.inputLayer({ inputShape: SHAPE }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'pw' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
    ],
  });
  randomizeWeights(m, 7);
  // One weight holding a single value: quantization.py's min == max branch.
  m.getLayer('pw').setWeights([m.getLayer('pw').getWeights()[0]!, tf.fill([4], 0.25)]);
  return kerasModelOf(m);
}

/** Convert, run on a seeded batch of 2, compare with TF.js running the same artefacts. */
async function compareLoaded(model: KerasModel, label: string): Promise<number> {
  const tfModel = await loadInTfjs(model);
  const dims = [2, ...SHAPE];
  const x = randomData(2 * 8 * 8 * 3, 11);
  const out = await runOnnx(convertKeras(model).onnx, x, dims);
  const d = assertClose(out, predictTf(tfModel, x, dims), 1e-4, label);
  diffs[label] = d;
  // The importer decodes exactly the weights TF.js computes with.
  const decoded = decodeWeights(model.weightsManifest, model.weightData);
  for (const w of tfModel.weights) {
    const mine = decoded.get(w.originalName);
    assert.ok(mine, `decoded ${w.originalName}`);
    assert.deepEqual(mine.values, Float32Array.from(w.read().dataSync()), `${label}: ${w.originalName}`);
  }
  tfModel.dispose();
  return d;
}

before(async () => {
  await initTf();
  reference = await buildReference();
});

after(() => {
  console.log(`# keras-weights: max |onnx - tfjs| ${Object.entries(diffs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

describe('halfToFloat', () => {
  test('known values', () => {
    const cases: Array<[number, number]> = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, (1023 / 1024) * 2 ** -14], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) assert.equal(halfToFloat(bits), value, `0x${bits.toString(16)}`);
    assert.ok(Object.is(halfToFloat(0x8000), -0), 'negative zero');
    assert.ok(Number.isNaN(halfToFloat(0x7e00)) && Number.isNaN(halfToFloat(0xfc01)), 'NaN');
  });

  test('agrees with TF.js decoding all 65536 half values (finite and infinite)', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const spec = { name: 'all', shape: [65536], dtype: 'float32' as const, quantization: { dtype: 'float16' as const } };
    const ours = decodeWeights([{ paths: ['x'], weights: [spec] }], new Uint8Array(bits.buffer)).get('all')!.values;
    const theirs = tf.io.decodeWeights(bits.buffer, [spec]).all!.dataSync();
    for (let i = 0; i < 65536; i++) {
      // TF.js's lookup tables do not make NaNs: compare everything else bit for bit (with -0 as 0).
      if (Number.isNaN(ours[i]!)) continue;
      assert.equal(ours[i], theirs[i], `0x${i.toString(16)}`);
    }
  });

  test('the test quantiser round-trips every finite half exactly', () => {
    for (let h = 0; h < 65536; h++) {
      const v = halfToFloat(h);
      if (Number.isFinite(v)) assert.equal(floatToHalf(v), h, `0x${h.toString(16)}`);
    }
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00, 'ties go to even');
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02, 'ties go to even (up)');
    assert.equal(floatToHalf(70000), 0x7c00, 'overflow is infinity');
  });
});

describe('quantised weights against TF.js loading the same artefacts', () => {
  test('float32 (the plain artefacts)', async () => {
    await compareLoaded(reference, 'float32');
  });

  test('float16', async () => {
    const q = quantizeModel(reference, (data) => quantizeHalf(data));
    assert.equal(q.weightData.byteLength * 2, reference.weightData.byteLength);
    await compareLoaded(q, 'float16');
  });

  for (const dtype of ['uint8', 'uint16'] as const) {
    test(`${dtype} min/scale (quantization.py's nudged ranges)`, async () => {
      const q = quantizeModel(reference, (data) => quantizeAffine(data, dtype));
      const specs = q.weightsManifest[0]!.weights;
      // The weights exercise every branch: a constant, a range across 0 (nudged), an all-positive range.
      assert.deepEqual(specs.find((s) => s.name === 'pw/bias')!.quantization, { dtype, min: 0.25, scale: 1 });
      const variance = specs.find((s) => s.name === 'bn/moving_variance')!.quantization!;
      assert.ok(variance.min! > 0);
      const kernel = specs.find((s) => s.name === 'conv/kernel')!.quantization!;
      assert.equal(-Math.round(-kernel.min! / kernel.scale!) * kernel.scale!, kernel.min, 'zero is representable');
      const d = await compareLoaded(q, dtype);
      // And the quantised model is still close to the float one.
      const floatOut = await runOnnx(convertKeras(reference).onnx, randomData(2 * 8 * 8 * 3, 11), [2, ...SHAPE]);
      const quantOut = await runOnnx(convertKeras(q).onnx, randomData(2 * 8 * 8 * 3, 11), [2, ...SHAPE]);
      assert.ok(maxAbsDiff(floatOut.data, quantOut.data) < (dtype === 'uint8' ? 0.05 : 1e-3));
      assert.ok(d <= 1e-4);
    });
  }

  test('a mix of encodings in several groups (shards concatenated group after group)', async () => {
    const specs = reference.weightsManifest[0]!.weights;
    const decoded = decodeWeights(reference.weightsManifest, reference.weightData);
    const encoders = [(d: Float32Array) => quantizeAffine(d, 'uint8'), quantizeHalf, (d: Float32Array) => quantizeAffine(d, 'uint16'), (d: Float32Array) => ({ bytes: new Uint8Array(d.slice().buffer), quantization: undefined })];
    const groups: WeightGroup[] = [];
    const parts: Uint8Array[] = [];
    specs.forEach((spec, i) => {
      const q = encoders[i % encoders.length]!(decoded.get(spec.name)!.values);
      if (i % 3 === 0) groups.push({ paths: [`group${groups.length}-shard1of1.bin`], weights: [] });
      const { quantization: _drop, ...plain } = spec;
      groups.at(-1)!.weights.push(q.quantization ? { ...plain, quantization: q.quantization } : plain);
      parts.push(q.bytes);
    });
    assert.ok(groups.length > 1);
    await compareLoaded({ topology: reference.topology, weightsManifest: groups, weightData: Buffer.concat(parts) }, 'mixed');
  });
});

describe('affine zero-point form', () => {
  for (const dtype of ['uint8', 'uint16'] as const) {
    test(`${dtype}: {scale, zero_point} and {scale, zeroPoint} decode to the min/scale tensors exactly`, async () => {
      const minScale = quantizeModel(reference, (data) => quantizeAffine(data, dtype));
      const affine = (key: 'zero_point' | 'zeroPoint'): KerasModel => {
        const weights = minScale.weightsManifest[0]!.weights.map((spec) => {
          const { min, scale, dtype: qdtype } = spec.quantization!;
          // Where quantization.py nudged the range, min = -zero_point * scale exactly; others stay min/scale.
          const zeroPoint = Math.round(-min! / scale!);
          if (-zeroPoint * scale! !== min) return spec;
          return { ...spec, quantization: { dtype: qdtype, scale, [key]: zeroPoint } };
        });
        return { ...minScale, weightsManifest: [{ paths: ['q.bin'], weights }] };
      };
      const expected = decodeWeights(minScale.weightsManifest, minScale.weightData);
      for (const key of ['zero_point', 'zeroPoint'] as const) {
        const model = affine(key);
        const converted = model.weightsManifest[0]!.weights.filter((s) => s.quantization && key in s.quantization).length;
        assert.ok(converted >= 6, `${converted} weights in the affine form`);
        const got = decodeWeights(model.weightsManifest, model.weightData);
        assert.deepEqual([...got.keys()], [...expected.keys()]);
        for (const [name, w] of expected) assert.deepEqual(got.get(name)!.values, w.values, `${key}: ${name}`);
        // Same weights, same graph.
        assert.deepEqual(convertKeras(model).onnx, convertKeras(minScale).onnx);
      }
    });
  }

  test('a hand-made affine weight: value = (q - zero_point) * scale', () => {
    const spec: WeightSpec = { name: 'l/w', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, zero_point: 128 } };
    const w = decodeWeights([{ paths: ['x'], weights: [spec] }], Uint8Array.from([0, 127, 128, 255])).get('l/w')!;
    assert.deepEqual(Array.from(w.values), [-64, -0.5, 0, 63.5]);
  });
});

describe('other dtypes and malformed manifests', () => {
  const one = (spec: WeightSpec, bytes: Uint8Array) => decodeWeights([{ paths: ['x'], weights: [spec] }], bytes).get(spec.name)!;

  test('int32 weights, and uint8-quantised int32 (rounded as TF.js does)', () => {
    assert.deepEqual(Array.from(one({ name: 'i', shape: [3], dtype: 'int32' }, new Uint8Array(Int32Array.from([-7, 0, 123456]).buffer)).values), [-7, 0, 123456]);
    const q = one({ name: 'qi', shape: [3], dtype: 'int32', quantization: { dtype: 'uint8', min: -1.2, scale: 0.3 } }, Uint8Array.from([0, 5, 10]));
    const tfjs = tf.io.decodeWeights(Uint8Array.from([0, 5, 10]).buffer, [{ name: 'qi', shape: [3], dtype: 'int32', quantization: { dtype: 'uint8', min: -1.2, scale: 0.3 } }]).qi!.dataSync();
    assert.deepEqual(Array.from(q.values), Array.from(tfjs));
  });

  test('scalars and empty weights take no or one value', () => {
    const groups: WeightGroup[] = [
      {
        paths: ['x'],
        weights: [
          { name: 'a', shape: [], dtype: 'float32' },
          { name: 'b', shape: [0, 3], dtype: 'float32' },
        ],
      },
    ];
    const w = decodeWeights(groups, new Uint8Array(Float32Array.from([2.5]).buffer));
    assert.deepEqual(Array.from(w.get('a')!.values), [2.5]);
    assert.equal(w.get('b')!.values.length, 0);
  });

  test('malformed quantization and dtypes are MODEL_INVALID', () => {
    const bytes = new Uint8Array(4);
    const bad = (spec: Partial<WeightSpec> & { quantization?: object }, ...patterns: RegExp[]) =>
      assertImgclsError(() => decodeWeights([{ paths: ['x'], weights: [{ name: 'w', shape: [4], dtype: 'float32', ...spec } as WeightSpec] }], bytes), 'MODEL_INVALID', ...patterns);
    bad({ quantization: { dtype: 'int4' as 'uint8' } }, /unknown quantization dtype "int4"/);
    bad({ quantization: { dtype: 'uint8', min: 0 } }, /needs a numeric "scale"/);
    bad({ quantization: { dtype: 'uint8', scale: 1 } }, /needs "min".*or "zero_point"/);
    bad({ dtype: 'string' }, /dtype "string"/);
    bad({ shape: [2, -2] }, /shape must be a list of sizes/);
  });

  test('weight data too short or too long for the manifest is MODEL_INVALID', () => {
    const groups: WeightGroup[] = [{ paths: ['x'], weights: [{ name: 'w', shape: [2], dtype: 'float32', quantization: { dtype: 'uint16', min: 0, scale: 1 } }] }];
    assertImgclsError(() => decodeWeights(groups, new Uint8Array(3)), 'MODEL_INVALID', /too short: w needs bytes 0..4 but the shards hold 3/);
    assertImgclsError(() => decodeWeights(groups, new Uint8Array(5)), 'MODEL_INVALID', /holds 5 bytes but the manifest describes 4/);
  });
});

describe('weight bytes that are a view into a larger buffer', () => {
  // Buffer.concat of small shards returns a slice of Node's shared pool: its
  // .buffer holds other data, and its offset need not be a multiple of 4.
  for (const offset of [12, 13]) {
    test(`float32 and int32 at byte offset ${offset}`, () => {
      const pool = Buffer.alloc(64, 0xab);
      Buffer.from(Float32Array.from([1.5, -2, 3.25]).buffer).copy(pool, offset);
      Buffer.from(Int32Array.from([7, -9]).buffer).copy(pool, offset + 12);
      const weights: WeightSpec[] = [
        { name: 'f', shape: [3], dtype: 'float32' },
        { name: 'i', shape: [2], dtype: 'int32' },
      ];
      const decoded = decodeWeights([{ paths: ['x'], weights }], pool.subarray(offset, offset + 20));
      assert.deepEqual(Array.from(decoded.get('f')!.values), [1.5, -2, 3.25]);
      assert.deepEqual(Array.from(decoded.get('i')!.values), [7, -9]);
    });
  }
});
