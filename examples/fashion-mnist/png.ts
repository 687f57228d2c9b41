/**
 * A minimal PNG encoder for 8-bit greyscale images (colour type 0, no
 * filtering, no interlace), using only node:zlib. The project decodes images
 * with sharp in one module only (src/image/decode.ts); writing the
 * Fashion-MNIST PNGs needs no more than this.
 */
import * as zlib from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let table: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC, as PNG uses), for Node versions without zlib.crc32 (before 20.15). */
export function crc32Fallback(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = table[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
const crc32: (bytes: Uint8Array) => number = typeof nativeCrc32 === 'function' ? (b) => nativeCrc32(b) : crc32Fallback;

/** One PNG chunk: length, type, data, CRC of type and data. */
export function pngChunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/**
 * Encode `pixels` (one byte per pixel, row-major, `width × height`) as a
 * greyscale PNG.
 * @param level the zlib compression level (0–9); 9 by default: the images are tiny.
 */
export function encodeGreyPng(pixels: Uint8Array, width: number, height: number, level = 9): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new RangeError(`PNG width and height must be integers from 1 to 2^31-1, got ${width}×${height}`);
  }
  if (pixels.length !== width * height) {
    throw new RangeError(`${width}×${height} greyscale needs ${width * height} bytes, got ${pixels.length}`);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // colour type: greyscale
  // compression, filter and interlace methods: all 0
  const raw = Buffer.alloc((width + 1) * height); // each row: filter byte 0 (None), then the pixels
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([SIGNATURE, pngChunk('IHDR', header), pngChunk('IDAT', zlib.deflateSync(raw, { level })), pngChunk('IEND', new Uint8Array(0))]);
}
