/**
 * TF.js weight manifests: decoding the concatenated weight bytes into named
 * float tensors. Every encoding the TF.js converter writes is read:
 * float32, int32, float16, and uint8/uint16 quantisation, either in the
 * min/scale form TF.js writes (`value = q * scale + min`) or in the affine
 * zero-point form (`value = (q - zero_point) * scale`, TF-Lite style).
 *
 * Dequantisation does the arithmetic in doubles and rounds once to float32,
 * exactly as tfjs-core's `decodeWeights`, so a converted model carries the
 * very weights TF.js would compute with.
 */
import { createError } from '../errors.ts';

export interface Quantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  min?: number;
  scale?: number;
  zeroPoint?: number;
  zero_point?: number;
  original_dtype?: string;
}

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: Quantization;
}

export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

export interface Weight {
  name: string;
  shape: readonly number[];
  values: Float32Array;
}

const bad = (message: string): never => {
  throw createError('MODEL_INVALID', message);
};

/** IEEE half → float, for float16-quantised weights. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * An aligned copy that owns its buffer. Not `bytes.slice()`: on a Node Buffer
 * that is a view into a shared pool, whose `.buffer` holds other data.
 */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

const sizeOf = (spec: WeightSpec): number => spec.shape.reduce((a, b) => a * b, 1);

function bytesPerValue(spec: WeightSpec): number {
  const q = spec.quantization;
  if (q) {
    if (q.dtype === 'uint8') return 1;
    if (q.dtype === 'uint16' || q.dtype === 'float16') return 2;
    return bad(`Weight ${spec.name}: unknown quantization dtype "${String(q.dtype)}"; expected uint8, uint16 or float16`);
  }
  if (spec.dtype === 'float32' || spec.dtype === 'int32') return 4;
  if (spec.dtype === 'bool') return 1;
  return bad(`Weight ${spec.name}: dtype "${spec.dtype}" cannot be a layer weight; expected float32 or int32`);
}

function dequantize(spec: WeightSpec, bytes: Uint8Array, n: number): Float32Array {
  const q = spec.quantization!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = q.dtype === 'uint8' ? (i: number) => bytes[i]! : (i: number) => view.getUint16(i * 2, true);
  const out = new Float32Array(n);
  if (q.dtype === 'float16') {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(read(i));
    return out;
  }
  const scale = q.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) return bad(`Weight ${spec.name}: ${q.dtype} quantization needs a numeric "scale"`);
  const zeroPoint = q.zeroPoint ?? q.zero_point;
  const round = spec.dtype === 'int32' || q.original_dtype === 'int32';
  let min: number;
  if (typeof q.min === 'number') min = q.min;
  else if (typeof zeroPoint === 'number') min = -zeroPoint * scale;
  else return bad(`Weight ${spec.name}: ${q.dtype} quantization needs "min" (min/scale form) or "zero_point" (affine form)`);
  for (let i = 0; i < n; i++) {
    const v = read(i) * scale + min;
    out[i] = round ? Math.round(v) : v;
  }
  return out;
}

/**
 * Decode the weights of every group, in manifest order, from the bytes of
 * all shards concatenated (each group's shards in order, group after group).
 */
export function decodeWeights(groups: readonly WeightGroup[], data: Uint8Array): Map<string, Weight> {
  const weights = new Map<string, Weight>();
  let offset = 0;
  for (const group of groups) {
    for (const spec of group.weights) {
      if (!Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`Weight ${spec.name}: shape must be a list of sizes`);
      const n = sizeOf(spec);
      const length = n * bytesPerValue(spec);
      if (offset + length > data.byteLength) {
        bad(`Weight data is too short: ${spec.name} needs bytes ${offset}..${offset + length} but the shards hold ${data.byteLength}`);
      }
      const bytes = data.subarray(offset, offset + length);
      offset += length;
      let values: Float32Array;
      if (spec.quantization) values = dequantize(spec, bytes, n);
      else if (spec.dtype === 'float32') values = new Float32Array(copyBytes(bytes).buffer);
      else if (spec.dtype === 'int32') values = Float32Array.from(new Int32Array(copyBytes(bytes).buffer));
      else values = Float32Array.from(bytes);
      weights.set(spec.name, { name: spec.name, shape: spec.shape, values });
    }
  }
  if (offset !== data.byteLength) bad(`Weight data holds ${data.byteLength} bytes but the manifest describes ${offset}`);
  return weights;
}
