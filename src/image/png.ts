/**
 * Plain PNGs, decoded without libvips: small, 8-bit, non-interlaced grey or
 * RGB (with or without alpha), as image tools and dataset scripts write them
 * at a model's input size. At 224x224 a sharp call cost more than the
 * decoding it did: about 0.6 ms of synchronous setup on the calling thread
 * (sharp reads its whole options object through N-API), a second call for
 * the header, and a thread hand-off each way. Node's zlib and a JS unfilter
 * do the same work on the calling thread, which in the server is an inference
 * worker (BENCHMARKS.md, "Plain PNGs without libvips").
 *
 * Anything else returns null and goes to sharp, which then also words every
 * error: an interlaced, palette or 16-bit image; any ancillary chunk but
 * pHYs (a colour profile, gamma, a transparency key, EXIF orientation,
 * animation would change the pixels sharp gives; a malformed text chunk
 * would make it refuse); a bad checksum; compressed data that is short, long
 * or followed by anything, or that declares a smaller zlib window than its
 * rows need; more chunks or compressed bytes than a plain image of its size
 * needs. Some of these sharp would accept: the rule is only that what is
 * decoded here is byte for byte what the sharp path gives, and that sharp
 * accepts it too (test/png.test.ts).
 */
import * as zlib from 'node:zlib';
import type { RgbImage } from './pixels.ts';

/** Larger PNGs go to sharp: inflating whole would hold the filtered rows and the pixels at once, where libvips streams them. */
export const PLAIN_PNG_MAX_PIXELS = 1 << 20;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bytes per pixel by colour type: grey, RGB, grey + alpha, RGBA (palette, type 3, is not plain). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** Far more IDAT chunks than any encoder writes for 1 MP (512 of 8 kB): past it, sharp, which streams them in constant memory. */
const MAX_CHUNKS = 4096;

/** What IHDR says about a plain image: its size and bytes per pixel. */
interface PlainHeader {
  width: number;
  height: number;
  channels: number;
}

// zlib.crc32 arrived in Node 20.15 and 22.2; without it the fast path is off rather than unchecked.
const crc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/**
 * Decode `input` when it is a plain PNG whose size `accept` allows; null
 * otherwise (including for anything malformed), for the caller to hand to
 * sharp.
 */
export function decodePlainPng(input: Uint8Array, accept: (width: number, height: number) => boolean): RgbImage | null {
  if (!crc32 || input.length < 8 + 25 + 12 || SIGNATURE.some((b, i) => input[i] !== b)) return null;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const compressed: Uint8Array[] = [];
  let header: PlainHeader | null = null;
  let physicalSize = false;
  let imageData = false;
  let offset = 8;
  for (let chunks = 0; ; chunks++) {
    if (offset + 12 > input.length || chunks > MAX_CHUNKS) return null;
    const length = view.getUint32(offset);
    const end = offset + 12 + length;
    if (length > 0x7fffffff || end > input.length) return null;
    const type = String.fromCharCode(input[offset + 4]!, input[offset + 5]!, input[offset + 6]!, input[offset + 7]!);
    const data = input.subarray(offset + 8, offset + 8 + length);
    if (crc32(input.subarray(offset + 4, offset + 8 + length)) !== view.getUint32(offset + 8 + length)) return null;
    offset = end;
    if (!header) {
      if (type !== 'IHDR' || length !== 13) return null;
      header = plainHeader(data, accept);
      if (!header) return null;
    } else if (type === 'IDAT') {
      // Empty IDAT chunks are legal (libpng reads past them); they add nothing to inflate.
      imageData = true;
      if (length > 0) compressed.push(data);
    } else if (type === 'IEND') {
      // Anything after IEND is not plain either.
      if (length !== 0 || offset !== input.length || compressed.length === 0) return null;
      break;
    } else if (type === 'pHYs' && length === 9 && !physicalSize && !imageData) {
      // The one ancillary chunk allowed (sharp writes it; it does not touch the pixels), once, where libpng wants it.
      // Any other, even text, goes to sharp: libpng warns about malformed ones and sharp refuses on a warning.
      physicalSize = true;
    } else {
      return null;
    }
  }
  const rows = inflateRows(compressed, header.height * (header.width * header.channels + 1));
  return rows && unfilterToRgb(rows, header);
}

/** Width, height and bytes per pixel from IHDR's 13 bytes, when they describe a plain image `accept` allows. */
function plainHeader(data: Uint8Array, accept: (width: number, height: number) => boolean): PlainHeader | null {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = view.getUint32(0);
  const height = view.getUint32(4);
  const [depth, colourType, compression, filter, interlace] = [data[8], data[9], data[10], data[11], data[12]];
  const channels = CHANNELS[colourType!];
  if (depth !== 8 || !channels || compression !== 0 || filter !== 0 || interlace !== 0) return null;
  if (width === 0 || height === 0 || width * height > PLAIN_PNG_MAX_PIXELS || !accept(width, height)) return null;
  return { width, height, channels };
}

/** The filtered rows (a filter byte, then the row) from the IDAT data: exactly `expected` bytes, or null. */
function inflateRows(compressed: Uint8Array[], expected: number): Buffer | null {
  // Stored (uncompressed) deflate blocks add 5 bytes in 65,535: a quarter more is a stream no encoder writes for these rows.
  const total = compressed.reduce((sum, c) => sum + c.length, 0);
  if (total > expected + (expected >> 2) + 1024) return null;
  try {
    const joined = compressed.length === 1 ? compressed[0]! : Buffer.concat(compressed, total);
    // libpng inflates with the window the zlib header declares (CINFO), one row at a time, and refuses a
    // back-reference past it; Node inflates with the largest window. They agree when the declared window
    // holds all the rows (or is the largest, 32 kB).
    const cinfo = joined[0]! >> 4;
    if (cinfo < 7 && expected > 1 << (cinfo + 8)) return null;
    const { buffer, engine } = zlib.inflateSync(joined, { maxOutputLength: expected, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    // Short data, or bytes after the zlib stream (sharp accepts some trailing bytes; we need not).
    return buffer.length === expected && engine.bytesWritten === joined.length ? buffer : null;
  } catch {
    // Not zlib, a bad Adler-32, or more rows than the header says.
    return null;
  }
}

/** Undo each row's filter in place and keep the colour channels as RGB; null for an unknown filter type. */
function unfilterToRgb(rows: Buffer, { width, height, channels: bpp }: PlainHeader): RgbImage | null {
  const stride = width * bpp;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const start = y * (stride + 1) + 1;
    const kind = rows[start - 1];
    // The row above, or zeros for the first row (the up, average and Paeth filters read it).
    const up = y === 0 ? null : start - (stride + 1);
    switch (kind) {
      case 0:
        break;
      case 1:
        for (let i = start + bpp; i < start + stride; i++) rows[i] = (rows[i]! + rows[i - bpp]!) & 255;
        break;
      case 2:
        if (up !== null) for (let i = 0; i < stride; i++) rows[start + i] = (rows[start + i]! + rows[up + i]!) & 255;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? rows[start + i - bpp]! : 0;
          const above = up !== null ? rows[up + i]! : 0;
          rows[start + i] = (rows[start + i]! + ((left + above) >> 1)) & 255;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? rows[start + i - bpp]! : 0;
          const b = up !== null ? rows[up + i]! : 0;
          const c = i >= bpp && up !== null ? rows[up + i - bpp]! : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          rows[start + i] = (rows[start + i]! + predictor) & 255;
        }
        break;
      default:
        return null;
    }
    copyRow(rows, start, out, y * width * 3, width, bpp);
  }
  return { data: out, width, height };
}

/** One unfiltered row into RGB: grey is repeated into the three channels, alpha is dropped (as sharp's removeAlpha does). */
function copyRow(rows: Buffer, start: number, out: Uint8Array, at: number, width: number, channels: number): void {
  if (channels === 3) {
    out.set(rows.subarray(start, start + width * 3), at);
    return;
  }
  for (let x = 0, i = start, o = at; x < width; x++, i += channels, o += 3) {
    const r = rows[i]!;
    if (channels <= 2) {
      out[o] = r;
      out[o + 1] = r;
      out[o + 2] = r;
    } else {
      out[o] = r;
      out[o + 1] = rows[i + 1]!;
      out[o + 2] = rows[i + 2]!;
    }
  }
}
