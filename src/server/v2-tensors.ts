/**
 * Tensors of the Open Inference Protocol (KServe V2): reading FP32 and BYTES
 * inputs from JSON or from the binary tensor data extension, and writing
 * outputs back either way.
 */
import { createError } from '../errors.ts';
import { decodeBase64Image } from './request-images.ts';

export interface V2Tensor {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

export interface V2Output {
  name: string;
  shape: number[];
  datatype: 'FP32' | 'BYTES';
  parameters?: Record<string, unknown>;
  data?: (number | string)[];
}

export const bad = (message: string) => createError('INVALID_REQUEST', message);

/** Consumes the binary section of a request, input by input, in order. */
export class BinaryReader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  take(size: number, input: string): Uint8Array {
    if (!Number.isInteger(size) || size < 0 || this.offset + size > this.bytes.length) {
      throw bad(`Input "${input}" says binary_data_size ${size}, but only ${this.bytes.length - this.offset} bytes of binary data remain`);
    }
    const out = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Infinity) : data;
}

function binarySize(t: V2Tensor): number | undefined {
  const size = t.parameters?.binary_data_size;
  return size === undefined ? undefined : Number(size);
}

/** The FP32 input's values, from JSON (flat or nested) or binary (little-endian). */
export function readFp32(t: V2Tensor, binary: BinaryReader): Float32Array {
  const count = elementCount(t.shape);
  const size = binarySize(t);
  let values: Float32Array;
  if (size !== undefined) {
    const bytes = binary.take(size, t.name);
    if (bytes.length !== count * 4) throw bad(`Input "${t.name}" has shape [${t.shape}] (${count} FP32 values, ${count * 4} bytes) but ${bytes.length} bytes of binary data`);
    // Copy: the request buffer need not be 4-byte aligned.
    values = new Float32Array(count);
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const data = flatten(t.data ?? []);
    if (data.length !== count) throw bad(`Input "${t.name}" has shape [${t.shape}] (${count} values) but ${data.length} values of data`);
    values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const v = data[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`Input "${t.name}" value ${i} is ${JSON.stringify(v)}; FP32 data must be finite numbers`);
      values[i] = v;
    }
  }
  return values;
}

/** The BYTES input's elements: base64 strings (or data: URLs) in JSON, length-prefixed raw bytes in binary. */
export function readBytes(t: V2Tensor, binary: BinaryReader): Uint8Array[] {
  const count = elementCount(t.shape);
  const size = binarySize(t);
  const out: Uint8Array[] = [];
  if (size !== undefined) {
    const bytes = binary.take(size, t.name);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    while (at < bytes.length) {
      if (at + 4 > bytes.length) throw bad(`Input "${t.name}": binary BYTES element ${out.length} is cut short (each element is a 4-byte little-endian length, then the bytes)`);
      const length = view.getUint32(at, true);
      if (at + 4 + length > bytes.length) throw bad(`Input "${t.name}": binary BYTES element ${out.length} claims ${length} bytes but ${bytes.length - at - 4} remain`);
      out.push(bytes.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
  } else {
    const data = flatten(t.data ?? []);
    data.forEach((v, i) => {
      if (typeof v !== 'string') throw bad(`Input "${t.name}" element ${i} is ${typeof v}; BYTES data must be base64 strings (or use the binary extension)`);
      out.push(decodeBase64Image(v, `Input "${t.name}" element ${i}`));
    });
  }
  if (out.length !== count) throw bad(`Input "${t.name}" has shape [${t.shape}] (${count} elements) but ${out.length} elements of data`);
  return out;
}

/** Serialise outputs; those asking for binary data go after the JSON header, in order. */
export function encodeResponse(header: Record<string, unknown>, outputs: V2Output[], binaryFor: (o: V2Output) => boolean): { json: string } | { json: string; binary: Buffer } {
  const chunks: Buffer[] = [];
  const written = outputs.map((o) => {
    if (!binaryFor(o)) return o;
    const chunk = o.datatype === 'FP32' ? fp32Bytes(o.data as number[]) : bytesElements(o.data as string[]);
    chunks.push(chunk);
    const { data: _data, ...rest } = o;
    return { ...rest, parameters: { ...o.parameters, binary_data_size: chunk.length } };
  });
  const json = JSON.stringify({ ...header, outputs: written });
  return chunks.length === 0 ? { json } : { json, binary: Buffer.concat(chunks) };
}

function fp32Bytes(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

function bytesElements(values: readonly string[]): Buffer {
  return Buffer.concat(values.flatMap((s) => {
    const data = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(data.length);
    return [length, data];
  }));
}
