/**
 * A small reader for the IDX format of MNIST and Fashion-MNIST
 * (http://yann.lecun.com/exdb/mnist/): two zero bytes, a dtype byte, the
 * number of dimensions, each dimension as a big-endian uint32, then the data.
 * Only unsigned bytes (dtype 0x08) are supported, which is all (Fashion-)MNIST
 * uses. Gzipped files are recognised by their magic bytes, not their name.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  /** Dimension sizes, outermost first: [count, rows, cols] for images, [count] for labels. */
  readonly dims: readonly number[];
  /** The values in row-major order; a view on the (decompressed) file bytes. */
  readonly data: Uint8Array;
}

export class IdxError extends Error {
  override readonly name = 'IdxError';
}

const DTYPE_NAMES: Record<number, string> = { 0x08: 'ubyte', 0x09: 'sbyte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parse IDX bytes (gzipped or not).
 * @param name how errors refer to the data, e.g. its file name.
 * @throws IdxError on a bad magic number, an unsupported dtype, or truncated or overlong data.
 */
export function parseIdx(bytes: Uint8Array, name = 'IDX data'): IdxArray {
  // A plain Uint8Array view even when given a Buffer (whose subarray would be a Buffer).
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isGzip(bytes)) {
    let inflated: Buffer;
    try {
      inflated = gunzipSync(bytes);
    } catch (err) {
      throw new IdxError(`${name} is a corrupt or truncated gzip file: ${(err as Error).message}`, { cause: err });
    }
    bytes = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  }
  if (bytes.length < 4) throw new IdxError(`${name} is truncated: ${bytes.length} bytes is shorter than the 4-byte IDX header`);
  const zero0 = bytes[0]!, zero1 = bytes[1]!, dtype = bytes[2]!, ndims = bytes[3]!;
  if (zero0 !== 0 || zero1 !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new IdxError(`${name} is not an IDX file: bad magic number ${magic} (expected 00 00 <dtype> <ndims>)`);
  }
  if (dtype !== 0x08) {
    const known = DTYPE_NAMES[dtype];
    throw new IdxError(`${name} holds dtype 0x${dtype.toString(16).padStart(2, '0')}${known ? ` (${known})` : ' (unknown)'}; only 0x08 (ubyte) is supported`);
  }
  if (ndims === 0) throw new IdxError(`${name} has 0 dimensions`);
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) {
    throw new IdxError(`${name} is truncated: the header declares ${ndims} dimensions (${headerLength} bytes) but the data has ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new IdxError(`${name} is truncated: dimensions ${dims.join('×')} need ${expected} data bytes but only ${actual} follow the header`);
  }
  if (actual > expected) {
    throw new IdxError(`${name} has ${actual - expected} bytes more than its dimensions ${dims.join('×')} (${expected} bytes) declare`);
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Read and parse an IDX file, gzipped or not. */
export function readIdxFile(file: string): IdxArray {
  return parseIdx(readFileSync(file), file);
}

/** Encode unsigned bytes as IDX (dtype 0x08), the inverse of parseIdx; for tests and tools. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  if (dims.length === 0 || dims.length > 255) throw new RangeError(`IDX needs 1 to 255 dimensions, got ${dims.length}`);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new RangeError(`dimensions ${dims.join('×')} need ${expected} bytes, got ${data.length}`);
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
