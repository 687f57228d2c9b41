import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import sharp from 'sharp';
import { isImgclsError } from '../src/errors.ts';
import { decodeImage } from '../src/image/decode.ts';
import { decodePlainPng, PLAIN_PNG_MAX_PIXELS } from '../src/image/png.ts';
import { imagenetPreprocess } from '../src/model/spec.ts';
import { crc32Fallback, pngChunk } from '../examples/fashion-mnist/png.ts';

// Without zlib.crc32 (Node before 20.15 and 22.2) the fast path is off.
const skip = typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? false : 'zlib.crc32 needs Node 20.15 or 22.2';
const any = () => true;

/** What the sharp path gives for these bytes: the reference the fast path must equal byte for byte. */
async function viaSharp(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes, { failOn: 'warning', autoOrient: true, pages: 1, limitInputPixels: 100_000_000 }).toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer();
}

interface PngOptions {
  colourType?: number;
  depth?: number;
  interlace?: number;
  /** The filter each row gets, cycling; the pixels are filtered with it so that they decode to `pixels`. */
  filters?: number[];
  /** Chunks between IHDR and IDAT. */
  before?: Buffer[];
  /** Split the compressed data over this many IDAT chunks. */
  idats?: number;
  /** Bytes appended to the compressed data (inside IDAT). */
  trailing?: Uint8Array;
  /** The zlib window the stream's header declares (CINFO, 0-7; the data is compressed with the largest). */
  window?: number;
  /** Empty IDAT chunks before, between and after the ones with data. */
  emptyIdats?: number;
}

/** A PNG of `pixels` (channels per colour type, 8-bit) written with the filters asked for: a small encoder, so every filter type is covered. */
function encodePng(width: number, height: number, pixels: Uint8Array, options: PngOptions = {}): Buffer {
  const colourType = options.colourType ?? 2;
  const bpp = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType]!;
  const stride = width * bpp;
  const filters = options.filters ?? [0];
  const rows = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const kind = filters[y % filters.length]!;
    rows[y * (stride + 1)] = kind;
    for (let i = 0; i < stride; i++) {
      const x = pixels[y * stride + i]!;
      const a = i >= bpp ? pixels[y * stride + i - bpp]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = i >= bpp && y > 0 ? pixels[(y - 1) * stride + i - bpp]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][kind] ?? 0;
      rows[y * (stride + 1) + 1 + i] = (x - predictor) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([options.depth ?? 8, colourType, 0, 0, options.interlace ?? 0], 8);
  const compressed = Buffer.concat([zlib.deflateSync(rows), options.trailing ?? new Uint8Array()]);
  if (options.window !== undefined) {
    // CMF's top four bits, then FLG's check bits so that CMF * 256 + FLG is a multiple of 31 again.
    compressed[0] = (options.window << 4) | 8;
    const flg = compressed[1]! & 0xe0;
    compressed[1] = flg + ((31 - ((compressed[0] * 256 + flg) % 31)) % 31);
  }
  const parts = options.idats ?? 1;
  const size = Math.ceil(compressed.length / parts);
  const empty = Array.from({ length: options.emptyIdats ?? 0 }, () => pngChunk('IDAT', new Uint8Array()));
  const idats = Array.from({ length: parts }, (_, i) => [...empty, pngChunk('IDAT', compressed.subarray(i * size, (i + 1) * size))]).flat();
  idats.push(...empty);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), ...(options.before ?? []), ...idats, pngChunk('IEND', new Uint8Array())]);
}

/** Pixels that exercise every filter's arithmetic: noise, so predictions over- and underflow. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed;
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('decodePlainPng: the same pixels as sharp', { skip }, () => {
  for (const [colourType, name] of [
    [0, 'grey'],
    [2, 'RGB'],
    [4, 'grey + alpha'],
    [6, 'RGBA'],
  ] as const) {
    test(`${name}, every filter type, odd size`, async () => {
      const bpp = { 0: 1, 2: 3, 4: 2, 6: 4 }[colourType];
      const [width, height] = [13, 11];
      const png = encodePng(width, height, noise(width * height * bpp, colourType + 1), { colourType, filters: [0, 1, 2, 3, 4, 4, 3, 2, 1] });
      const plain = decodePlainPng(png, any);
      assert.ok(plain, 'a plain PNG is decoded');
      assert.deepEqual([plain.width, plain.height], [width, height]);
      assert.deepEqual(Buffer.from(plain.data), await viaSharp(png));
    });
  }

  test('PNGs sharp writes (adaptive filtering, RGB and RGBA), split over several IDAT chunks or not', async () => {
    for (const channels of [3, 4] as const) {
      const raw = noise(40 * 30 * channels, 7);
      for (let i = 0; i < raw.length; i += 5) raw[i] = 128; // some structure, so filters other than none win
      const png = await sharp(raw, { raw: { width: 40, height: 30, channels } }).png({ adaptiveFiltering: true }).toBuffer();
      const plain = decodePlainPng(png, any);
      assert.ok(plain);
      assert.deepEqual(Buffer.from(plain.data), await viaSharp(png));
    }
    const split = encodePng(20, 20, noise(20 * 20 * 3, 3), { idats: 4, filters: [4] });
    assert.deepEqual(Buffer.from(decodePlainPng(split, any)!.data), await viaSharp(split));
  });

  test('the photo fixtures at input size', async () => {
    for (const name of ['photo-astronaut-224.png', 'photo-coffee-224.png']) {
      const png = await readFile(path.join(import.meta.dirname, 'fixtures', name));
      assert.deepEqual(Buffer.from(decodePlainPng(png, any)!.data), await viaSharp(png), name);
    }
  });

  test('empty IDAT chunks before, between and after the data', async () => {
    const png = encodePng(10, 6, noise(10 * 6 * 3, 12), { idats: 3, emptyIdats: 2, filters: [3] });
    assert.deepEqual(Buffer.from(decodePlainPng(png, any)!.data), await viaSharp(png));
  });

  test('a zlib header declaring a small window that still holds every row', async () => {
    // 8x8 grey: 72 bytes of rows, within a 256-byte window (CINFO 0).
    const png = encodePng(8, 8, noise(64, 13), { colourType: 0, window: 0 });
    assert.deepEqual(Buffer.from(decodePlainPng(png, any)!.data), await viaSharp(png));
  });

  test('a physical-size chunk (pHYs, as sharp writes) stays on the fast path', async () => {
    const png = encodePng(8, 8, noise(8 * 8 * 3, 9), { before: [pngChunk('pHYs', Buffer.from([0, 0, 11, 19, 0, 0, 11, 19, 1]))] });
    assert.deepEqual(Buffer.from(decodePlainPng(png, any)!.data), await viaSharp(png));
  });
});

describe('decodePlainPng: anything not plain goes to sharp (null)', { skip }, () => {
  const rgb = noise(16 * 16 * 3, 5);
  const cases: [string, () => Promise<Uint8Array> | Uint8Array][] = [
    ['interlaced (Adam7)', () => sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png({ progressive: true }).toBuffer()],
    ['palette', () => sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).png({ palette: true }).toBuffer()],
    ['16-bit', () => readFile(path.join(import.meta.dirname, 'fixtures', 'green-16bit.png'))],
    ['a colour profile (iCCP)', () => sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).withIccProfile('p3').png().toBuffer()],
    ['gamma (gAMA)', () => encodePng(16, 16, rgb, { before: [pngChunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))] })],
    ['a transparency key (tRNS)', () => encodePng(16, 16, rgb, { before: [pngChunk('tRNS', Buffer.alloc(6))] })],
    ['EXIF (eXIf)', () => encodePng(16, 16, rgb, { before: [pngChunk('eXIf', Buffer.from('MM\0*'))] })],
    ['an unknown chunk', () => encodePng(16, 16, rgb, { before: [pngChunk('abCd', Buffer.alloc(3))] })],
    ['text (tEXt), which libpng checks and sharp refuses when malformed', () => encodePng(16, 16, rgb, { before: [pngChunk('tEXt', Buffer.from('Comment\0hi'))] })],
    ['pHYs of the wrong length', () => encodePng(16, 16, rgb, { before: [pngChunk('pHYs', Buffer.alloc(8))] })],
    ['pHYs twice', () => encodePng(16, 16, rgb, { before: [pngChunk('pHYs', Buffer.alloc(9)), pngChunk('pHYs', Buffer.alloc(9))] })],
    ['an unknown filter type', () => encodePng(16, 16, rgb, { filters: [0, 5] })],
    ['bytes after the zlib stream', () => encodePng(16, 16, rgb, { trailing: Buffer.from([1, 2, 3]) })],
    ['fewer rows than the header says', () => { const png = encodePng(16, 16, rgb); png.writeUInt32BE(17, 20); png.writeUInt32BE(crc32Fallback(png.subarray(12, 29)), 29); return png; }],
    ['more rows than the header says', () => { const png = encodePng(16, 16, rgb); png.writeUInt32BE(15, 20); png.writeUInt32BE(crc32Fallback(png.subarray(12, 29)), 29); return png; }],
    ['a bad chunk checksum', () => { const png = encodePng(16, 16, rgb); png[png.length - 13]! ^= 1; return png; }],
    ['truncated', () => encodePng(16, 16, rgb).subarray(0, 200)],
    ['bytes after IEND', () => Buffer.concat([encodePng(16, 16, rgb), Buffer.from([0])])],
    ['IDAT chunks apart (pHYs after the first IDAT)', () => { const png = encodePng(16, 16, rgb, { idats: 2 }); const at = png.indexOf('IDAT', 40) - 4; const second = png.indexOf('IDAT', at + 8) - 4; return Buffer.concat([png.subarray(0, second), pngChunk('pHYs', Buffer.alloc(9)), png.subarray(second)]); }],
    ['a zlib window smaller than the rows it must reach back over', () => { const row = noise(300, 14); const rows = new Uint8Array(3000); for (let y = 0; y < 10; y++) rows.set(row, y * 300); return encodePng(100, 10, rows, { window: 0 }); }],
    ['pHYs after an empty IDAT', () => { const png = encodePng(16, 16, rgb); const idat = png.indexOf('IDAT') - 4; return Buffer.concat([png.subarray(0, idat), pngChunk('IDAT', new Uint8Array()), pngChunk('pHYs', Buffer.alloc(9)), png.subarray(idat)]); }],
    ['more chunks than any encoder writes (5,000 empty IDATs)', () => encodePng(16, 16, rgb, { emptyIdats: 5000 })],
    ['a JPEG', () => sharp(rgb, { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toBuffer()],
    ['empty', () => new Uint8Array()],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      assert.equal(decodePlainPng(await make(), any), null);
    });
  }

  test('a size the caller does not accept, or more than PLAIN_PNG_MAX_PIXELS', async () => {
    const png = encodePng(16, 16, rgb);
    assert.equal(decodePlainPng(png, (w, h) => w * h < 256), null);
    const sizes: [number, number][] = [];
    decodePlainPng(png, (w, h) => (sizes.push([w, h]), true));
    assert.deepEqual(sizes, [[16, 16]]);
    const wide = encodePng(PLAIN_PNG_MAX_PIXELS + 1, 1, new Uint8Array((PLAIN_PNG_MAX_PIXELS + 1) * 3));
    assert.equal(decodePlainPng(wide, any), null);
    for (const [width, height] of [[PLAIN_PNG_MAX_PIXELS, 1], [1, PLAIN_PNG_MAX_PIXELS]] as const) {
      const largest = encodePng(width, height, noise(PLAIN_PNG_MAX_PIXELS * 3, 15), { filters: [1] });
      assert.deepEqual(Buffer.from(decodePlainPng(largest, any)!.data), await viaSharp(largest), `${width}x${height}`);
    }
  });
});

describe('decodeImage with plain PNGs', { skip }, () => {
  const rgb = noise(24 * 24 * 3, 11);
  const png = encodePng(24, 24, rgb, { filters: [1, 4] });

  test('no spec, or the align-corners resize: full-size pixels from the fast path, equal to sharp', async () => {
    const img = await decodeImage(png);
    assert.deepEqual(Buffer.from(img.data), await viaSharp(png));
    assert.deepEqual(img.source, { format: 'png', width: 24, height: 24 });
    assert.equal(img.fitted, false);
  });

  test('a sharp-resized spec already at the size: fitted, unchanged pixels', async () => {
    const spec = { ...imagenetPreprocess(), resize: { mode: 'stretch' as const, size: { width: 24, height: 24 }, kernel: 'linear' as const }, crop: null };
    // With libvips' PNG loader blocked, so that the test fails if the fast path is not taken.
    sharp.block({ operation: ['VipsForeignLoadPng'] });
    try {
      const img = await decodeImage(png, { spec });
      assert.equal(img.fitted, true);
      assert.deepEqual(Buffer.from(img.data), Buffer.from(rgb));
    } finally {
      sharp.unblock({ operation: ['VipsForeignLoadPng'] });
    }
  });

  test('a spec that resizes or crops still goes through libvips', async () => {
    // Resized to 256 on the shorter side, then centre-cropped to 224.
    const img = await decodeImage(png, { spec: imagenetPreprocess() });
    assert.equal(img.fitted, true);
    assert.deepEqual([img.width, img.height], [224, 224]);
  });

  test('libvips never sees a plain PNG: decoding works with its PNG loader blocked', async () => {
    sharp.block({ operation: ['VipsForeignLoadPng'] });
    try {
      assert.equal((await decodeImage(png)).width, 24);
      // The loader really is blocked: an interlaced PNG, which is not plain, fails.
      const interlaced = await sharp(rgb, { raw: { width: 24, height: 24, channels: 3 } }).png({ progressive: true }).toBuffer();
      await assert.rejects(decodeImage(interlaced), (err) => isImgclsError(err) && err.code === 'UNSUPPORTED_MEDIA_TYPE');
    } finally {
      sharp.unblock({ operation: ['VipsForeignLoadPng'] });
    }
  });

  test('errors still come from sharp: pixel limit, bad checksum', async () => {
    await assert.rejects(decodeImage(png, { maxPixels: 100 }), (err) => isImgclsError(err) && err.code === 'IMAGE_TOO_LARGE' && /24x24/.test(err.message));
    const bad = Buffer.from(png);
    bad[bad.length - 13]! ^= 1;
    await assert.rejects(decodeImage(bad), (err) => isImgclsError(err) && err.code === 'CORRUPT_IMAGE');
  });
});

/** The chunks of a PNG as [offset, length] pairs (offset of the length field), as far as they parse. */
function chunkSpans(png: Buffer): [number, number][] {
  const spans: [number, number][] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    if (at + 12 + length > png.length) break;
    spans.push([at, length]);
    at += 12 + length;
  }
  return spans;
}

/** One seeded change to a PNG. Most keep every CRC right, so that they reach past the checksums. */
function mutate(png: Buffer, seed: number): Buffer {
  const random = noise(8, seed + 1000);
  const spans = chunkSpans(png);
  const [at, length] = spans[random[0]! % spans.length]!;
  const out = Buffer.from(png);
  const recrc = () => out.writeUInt32BE(crc32Fallback(out.subarray(at + 4, at + 8 + length)), at + 8 + length);
  switch (random[1]! % 6) {
    case 0: // one byte of a chunk's data, CRC recomputed
      if (length > 0) out[at + 8 + (random[2]! * 256 + random[3]!) % length]! ^= 1 << random[4]! % 8;
      recrc();
      return out;
    case 1: // one bit of the chunk type, CRC recomputed
      out[at + 4 + random[2]! % 4]! ^= 1 << random[3]! % 8;
      recrc();
      return out;
    case 2: // the chunk dropped
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 12 + length)]);
    case 3: // the chunk repeated
      return Buffer.concat([out.subarray(0, at + 12 + length), out.subarray(at, at + 12 + length), out.subarray(at + 12 + length)]);
    case 4: // cut short
      return out.subarray(0, Math.max(8, out.length - 1 - (random[2]! * 256 + random[3]!) % (out.length - 8)));
    default: // one byte anywhere, CRCs left as they are
      out[8 + (random[2]! * 256 + random[3]!) % (out.length - 8)]! ^= 1 << random[4]! % 8;
      return out;
  }
}

describe('decodePlainPng: seeded mutations', { skip }, () => {
  test('whenever the fast path decodes a mutated PNG, sharp accepts it and gives the same pixels', async () => {
    const physical = pngChunk('pHYs', Buffer.from([0, 0, 11, 19, 0, 0, 11, 19, 1]));
    const bases = [
      encodePng(12, 9, noise(12 * 9 * 3, 21), { filters: [0, 1, 2, 3, 4], before: [physical] }),
      encodePng(7, 10, noise(7 * 10 * 4, 22), { colourType: 6, filters: [4, 3], idats: 3 }),
      encodePng(9, 9, noise(9 * 9, 23), { colourType: 0, filters: [2, 1] }),
    ];
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const png = mutate(bases[i % bases.length]!, i);
      const plain = decodePlainPng(png, any);
      if (!plain) {
        refused++;
        continue;
      }
      decoded++;
      const reference = await viaSharp(png).catch((err: Error) => assert.fail(`case ${i}: the fast path decoded what sharp refuses (${err.message})`));
      assert.deepEqual(Buffer.from(plain.data), reference, `case ${i}`);
    }
    // Both outcomes are reached, or the property says nothing.
    assert.ok(decoded >= 10 && refused >= 100, `${decoded} decoded, ${refused} refused`);
  });
});
