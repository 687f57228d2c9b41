/**
 * Hostile images, built at test time (too large to commit, quick to make):
 * decompression bombs and animations with thousands of frames. Each is a
 * valid file of its format, so a decoder that trusted it would do all the
 * work it asks for.
 */
import zlib from 'node:zlib';
import sharp from 'sharp';
import { pngChunk } from '../../examples/fashion-mnist/png.ts';

/**
 * A single-colour (black) RGB PNG of `side`×`side`: 20000 gives 1.2 GB of
 * pixels in about 1.2 MB, deflate's best ratio. Rows are compressed one at a
 * time, so making it never holds the pixels either.
 */
export async function pngBomb(side = 20_000): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const deflate = zlib.createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (d: Buffer) => parts.push(d));
  const done = new Promise((resolve) => deflate.on('end', resolve));
  const row = Buffer.alloc(1 + side * 3); // filter byte 0, then zeros
  for (let y = 0; y < side; y++) {
    if (!deflate.write(row)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await done;
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(parts)), pngChunk('IEND', Buffer.alloc(0))]);
}

/** `jpeg` with its frame header (SOF0/SOF2) rewritten to claim `width`×`height`; the scan data stays that of the small image. */
export function jpegClaiming(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) throw new Error(`not a JPEG marker at ${i}`);
    const marker = out[i + 1]!;
    const length = out.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('no SOF marker found');
}

/** An animation of `frames` frames of `size`×`size`, each a different grey, as GIF or WebP. */
export async function animation(format: 'gif' | 'webp', frames: number, size = 16): Promise<Buffer> {
  const data = Buffer.alloc(size * size * frames * 3);
  for (let f = 0; f < frames; f++) data.fill(f % 256, f * size * size * 3, (f + 1) * size * size * 3);
  const image = sharp(data, { raw: { width: size, height: size * frames, channels: 3, pageHeight: size } });
  return format === 'gif' ? image.gif({ delay: 10 }).toBuffer() : image.webp({ delay: 10, lossless: true }).toBuffer();
}

/** A 16×16 PNG of one grey level. */
export function solidPng(level: number, size = 16): Promise<Buffer> {
  return sharp(Buffer.alloc(size * size * 3, level), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}
