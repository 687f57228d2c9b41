/**
 * Helpers for the Keras importer tests: TF.js (cpu backend) as the
 * reference, a seeded PRNG for reproducible inputs and weights, and a
 * one-call "convert, run with onnxruntime, compare with model.predict".
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ModelSession, type OutputTensor } from '../../src/engine/session.ts';
import { isImgclsError, type ErrorCode } from '../../src/errors.ts';
import { convertKeras, type ConvertOptions, type Converted, type KerasModel } from '../../src/keras/convert.ts';
import { Random } from '../../src/train/random.ts';

export { tf };

let backend: Promise<boolean> | null = null;

/** Select TF.js's plain JS backend (once); every reference output comes from it. */
export async function initTf(): Promise<void> {
  backend ??= tf.setBackend('cpu');
  assert.ok(await backend, 'the tfjs cpu backend is available');
}

/** mulberry32 (the trainer's Random): seeded floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

/** `n` seeded uniform values in [lo, hi). */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * Give every weight of a model seeded, non-trivial values: kernels scaled by
 * their fan-in, biases and BatchNormalization's beta and moving mean around
 * zero, gamma and moving variance around one (never an identity).
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const rand = mulberry32(seed);
  const uniform = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    const values = weights.map((w) => {
      const shape = w.shape as number[];
      const n = product(shape);
      const key = w.originalName.split('/').at(-1) ?? w.originalName;
      let data: Float32Array;
      if (key.includes('moving_variance')) data = uniform(n, 0.5, 1.5);
      else if (key.includes('gamma')) data = uniform(n, 0.5, 1.5);
      else if (key.includes('kernel')) {
        // Fan-in: everything but the output dimension (depthwise kernels: the window only).
        const fanIn = key.includes('depthwise') ? product(shape.slice(0, 2)) : product(shape.slice(0, -1));
        const a = Math.sqrt(3 / Math.max(fanIn, 1));
        data = uniform(n, -a, a);
      } else data = uniform(n, -0.5, 0.5);
      return tf.tensor(data, shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** The artefacts `model.save` writes, as the importer takes them. */
export async function kerasModelOf(model: tf.LayersModel): Promise<KerasModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  assert.ok(saved, 'tfjs saved the model');
  const data = saved.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(saved.weightData);
  return {
    topology: saved.modelTopology,
    weightsManifest: [{ paths: ['w.bin'], weights: (saved.weightSpecs ?? []) as KerasModel['weightsManifest'][number]['weights'] }],
    weightData: new Uint8Array(data),
  };
}

/** A deep copy of a KerasModel's JSON parts, to edit without touching the original. */
export function cloneModel(model: KerasModel): KerasModel {
  return { topology: structuredClone(model.topology), weightsManifest: structuredClone(model.weightsManifest), weightData: model.weightData.slice() };
}

/** Run ONNX bytes once through the project's session wrapper. */
export async function runOnnx(onnx: Uint8Array, x: Float32Array, dims: readonly number[], inputName = 'input', outputName = 'output'): Promise<OutputTensor> {
  const session = await ModelSession.open(onnx, {});
  try {
    const out = await session.run(inputName, x, dims, outputName);
    return { data: Float32Array.from(out.data), dims: [...out.dims] };
  } finally {
    await session.close();
  }
}

/** TF.js's prediction (inference mode), copied out and disposed. */
export function predictTf(model: tf.LayersModel, x: Float32Array, dims: readonly number[]): OutputTensor {
  return tf.tidy(() => {
    const y = model.predict(tf.tensor(x, [...dims])) as tf.Tensor;
    return { data: Float32Array.from(y.dataSync()), dims: [...y.shape] };
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'same number of values');
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(e)) return NaN;
    d = Math.max(d, e);
  }
  return d;
}

/** Assert two outputs agree to `tol` (and are the same shape); returns the max difference. */
export function assertClose(actual: OutputTensor, expected: OutputTensor, tol: number, what = 'output'): number {
  assert.deepEqual([...actual.dims], [...expected.dims], `${what}: shape`);
  const d = maxAbsDiff(actual.data, expected.data);
  assert.ok(d <= tol, `${what}: max |onnx - reference| = ${d} > ${tol}`);
  return d;
}

/** Largest difference seen by `compareWithTf` in this process, reported at the end of a suite. */
export const observed = { maxDiff: 0, worst: '' };

export interface CompareOptions {
  /** Input shape without the batch dimension. */
  shape: readonly number[];
  seed?: number;
  batch?: number;
  tol?: number;
  /** Range of the random input. */
  range?: [number, number];
  convert?: ConvertOptions;
  /** Convert these artefacts instead of the model's own (e.g. an edited topology). */
  artefacts?: KerasModel;
  label?: string;
}

/**
 * Convert a TF.js model, run the ONNX graph on a seeded random batch and
 * compare with `model.predict`. Returns the difference and the conversion.
 */
export async function compareWithTf(model: tf.LayersModel, o: CompareOptions): Promise<{ diff: number; converted: Converted; output: OutputTensor }> {
  const batch = o.batch ?? 2;
  const dims = [batch, ...o.shape];
  const [lo, hi] = o.range ?? [-1, 1];
  const x = randomData(product(dims), o.seed ?? 1, lo, hi);
  const artefacts = o.artefacts ?? (await kerasModelOf(model));
  const converted = convertKeras(artefacts, o.convert);
  const output = await runOnnx(converted.onnx, x, dims);
  const expected = predictTf(model, x, dims);
  const diff = assertClose(output, expected, o.tol ?? 1e-4, o.label ?? model.name);
  if (diff > observed.maxDiff) Object.assign(observed, { maxDiff: diff, worst: o.label ?? model.name });
  return { diff, converted, output };
}

/** Assert `fn` throws an ImgclsError with `code` whose message matches every pattern. */
export function assertImgclsError(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isImgclsError(err), `expected an ImgclsError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

/** Layer configs of a Keras 2 topology (Sequential or functional), to edit in place. */
export function layerConfigs(topology: unknown): Array<{ class_name: string; config: Record<string, unknown>; name?: string }> {
  const t = topology as { model_config?: unknown; config?: unknown };
  const inner = (t.model_config ?? t) as { config: { layers: unknown[] } | unknown[] };
  const layers = Array.isArray(inner.config) ? inner.config : inner.config.layers;
  return layers as Array<{ class_name: string; config: Record<string, unknown>; name?: string }>;
}

/** The one layer named `name` in a topology's top level. */
export function layerConfig(topology: unknown, name: string): { class_name: string; config: Record<string, unknown>; name?: string } {
  const found = layerConfigs(topology).filter((l) => l.config.name === name);
  assert.equal(found.length, 1, `one layer named ${name}`);
  return found[0]!;
}

/** Global average or max over height and width of an NHWC tensor: [n, c]. */
export function poolHW(t: OutputTensor, op: 'avg' | 'max'): OutputTensor {
  const [n, h, w, c] = t.dims as [number, number, number, number];
  const out = new Float32Array(n * c).fill(op === 'max' ? -Infinity : 0);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const v = t.data[((b * h + y) * w + x) * c + k]!;
          const i = b * c + k;
          out[i] = op === 'max' ? Math.max(out[i]!, v) : out[i]! + v / (h * w);
        }
  return { data: out, dims: [n, c] };
}

/**
 * PyTorch's adaptive average pooling to a g×g grid of an NHWC tensor (cell i
 * spans rows floor(i*H/g) to ceil((i+1)*H/g)), flattened cell-major in NHWC
 * order: (row, col, channel).
 */
export function gridMean(t: OutputTensor, g: number): OutputTensor {
  const [n, h, w, c] = t.dims as [number, number, number, number];
  const out = new Float32Array(n * g * g * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < g; i++)
      for (let j = 0; j < g; j++) {
        const [y0, y1] = [Math.floor((i * h) / g), Math.ceil(((i + 1) * h) / g)];
        const [x0, x1] = [Math.floor((j * w) / g), Math.ceil(((j + 1) * w) / g)];
        for (let k = 0; k < c; k++) {
          let sum = 0;
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += t.data[((b * h + y) * w + x) * c + k]!;
          out[((b * g + i) * g + j) * c + k] = sum / ((y1 - y0) * (x1 - x0));
        }
      }
  return { data: out, dims: [n, g * g * c] };
}
