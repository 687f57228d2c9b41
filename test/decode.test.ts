import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../src/image/decode.ts';
import { imagenetPreprocess } from '../src/model/spec.ts';

const fixture = (name: string) => readFile(path.join(import.meta.dirname, 'fixtures', name));

/** Mean of each channel, to check colours without caring about codec noise. */
function channelMeans(data: Uint8Array): [number, number, number] {
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i++) sums[i % 3]! += data[i]!;
  const n = data.length / 3;
  return [sums[0]! / n, sums[1]! / n, sums[2]! / n];
}

function assertColour(data: Uint8Array, expected: [number, number, number], tolerance: number): void {
  const got = channelMeans(data);
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tolerance, `channel ${i}: ${v} vs ${expected[i]} (±${tolerance})`));
}

describe('decodeImage: formats', () => {
  const cases: [string, string, [number, number, number], number][] = [
    ['red.jpg', 'jpeg', [220, 30, 30], 4],
    ['green.png', 'png', [30, 200, 40], 0],
    ['blue.webp', 'webp', [20, 40, 210], 6],
    ['red.avif', 'avif', [220, 30, 30], 6],
    ['green-then-red.gif', 'gif', [30, 200, 40], 4],
    ['blue-then-red.tiff', 'tiff', [20, 40, 210], 2],
  ];
  for (const [file, format, colour, tolerance] of cases) {
    test(`${file} decodes to 8-bit RGB ${format}`, async () => {
      const img = await decodeImage(await fixture(file));
      assert.equal(img.source.format, format);
      assert.equal(img.width, 32);
      assert.equal(img.height, 24);
      assert.equal(img.data.length, 32 * 24 * 3);
      assert.equal(img.fitted, false);
      assertColour(img.data, colour, tolerance);
    });
  }
});

describe('decodeImage: colour spaces and depths', () => {
  test('CMYK JPEG converts to sRGB red', async () => {
    const img = await decodeImage(await fixture('red-cmyk.jpg'));
    const [r, g, b] = channelMeans(img.data);
    assert.ok(r > 180 && g < 80 && b < 80, `got ${r},${g},${b}`);
  });
  test('greyscale PNG expands to three equal channels', async () => {
    const img = await decodeImage(await fixture('grey.png'));
    assertColour(img.data, [128, 128, 128], 0);
  });
  test('grey+alpha drops alpha (as PIL convert("RGB") does)', async () => {
    const img = await decodeImage(await fixture('grey-alpha.png'));
    assert.equal(img.data.length, 32 * 24 * 3);
    assertColour(img.data, [90, 90, 90], 1);
  });
  test('RGBA drops alpha without compositing', async () => {
    const img = await decodeImage(await fixture('blue-rgba.png'));
    assertColour(img.data, [20, 40, 210], 0);
  });
  test('16-bit PNG scales to 8 bits', async () => {
    const img = await decodeImage(await fixture('green-16bit.png'));
    // 7710, 51400, 10280 of 65535 → 30, 200, 40 of 255
    assertColour(img.data, [30, 200, 40], 0);
  });
});

describe('decodeImage: EXIF orientation', () => {
  test('orientation 6 is applied: size swaps and the picture matches its rotated copy', async () => {
    const tagged = await decodeImage(await fixture('orientation-6.jpg'));
    const rotated = await decodeImage(await fixture('orientation-rotated.jpg'));
    assert.equal(tagged.width, 24);
    assert.equal(tagged.height, 32);
    assert.equal(rotated.width, 24);
    assert.equal(rotated.height, 32);
    // Displayed: top red, bottom blue.
    const top = tagged.data.subarray(0, 24 * 3 * 4);
    const bottom = tagged.data.subarray(tagged.data.length - 24 * 3 * 4);
    assertColour(top, [220, 30, 30], 12);
    assertColour(bottom, [20, 40, 210], 12);
    let maxDiff = 0;
    for (let i = 0; i < tagged.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(tagged.data[i]! - rotated.data[i]!));
    assert.ok(maxDiff <= 8, `max pixel difference ${maxDiff}`);
  });
});

describe('decodeImage: resizing in the decode pipeline', () => {
  test('with a spec, a large JPEG comes out at the crop size, fitted', async () => {
    const big = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: { r: 10, g: 200, b: 10 } } })
      .jpeg()
      .toBuffer();
    const img = await decodeImage(big, { spec: imagenetPreprocess() });
    assert.equal(img.width, 224);
    assert.equal(img.height, 224);
    assert.equal(img.fitted, true);
    assert.deepEqual(img.source, { format: 'jpeg', width: 3000, height: 2000 });
    assertColour(img.data, [10, 200, 10], 3);
  });
  test('orientation is applied before planning the crop', async () => {
    const spec = { ...imagenetPreprocess(), resize: { mode: 'shorter' as const, shortestEdge: 24, kernel: 'linear' as const }, crop: { width: 24, height: 16 } };
    const img = await decodeImage(await fixture('orientation-6.jpg'), { spec });
    assert.equal(img.width, 24);
    assert.equal(img.height, 16);
  });
  test('a crop larger than the resized image is padded with zeros', async () => {
    const spec = { ...imagenetPreprocess(), resize: { mode: 'none' as const }, crop: { width: 36, height: 24 } };
    const img = await decodeImage(await fixture('green.png'), { spec });
    assert.equal(img.width, 36);
    assert.deepEqual(Array.from(img.data.subarray(0, 6)), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(img.data.subarray(2 * 3, 2 * 3 + 3)), [30, 200, 40]);
  });
});

describe('decodeImage: bad input', () => {
  const cases: [string, string, number, RegExp][] = [
    ['empty.jpg', 'EMPTY_IMAGE', 400, /empty \(0 bytes\)/],
    ['truncated.jpg', 'CORRUPT_IMAGE', 422, /corrupt or truncated.*premature end/i],
    ['broken.png', 'CORRUPT_IMAGE', 422, /corrupt or truncated.*libpng/i],
    ['not-an-image.png', 'UNSUPPORTED_MEDIA_TYPE', 415, /not an image in a supported format \(jpeg, png, webp, gif, tiff, avif\)/],
    ['drawing.svg', 'UNSUPPORTED_MEDIA_TYPE', 415, /SVG is not accepted/],
  ];
  for (const [file, code, status, message] of cases) {
    test(`${file} → ${code}`, async () => {
      await assert.rejects(decodeImage(await fixture(file)), (err: { code: string; status: number; message: string }) => {
        assert.equal(err.code, code);
        assert.equal(err.status, status);
        assert.match(err.message, message);
        return true;
      });
    });
  }
  test('a format outside the list never reaches its loader (sharp.block): an SVG that evades the SVG check is "not in a supported format"', async () => {
    // 300 spaces first: too far in for our check, still an SVG to librsvg. Were its loader open, libvips would read it and the message would name "svg".
    const svg = Buffer.concat([Buffer.alloc(300, ' '), await fixture('drawing.svg')]);
    await assert.rejects(decodeImage(svg), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'UNSUPPORTED_MEDIA_TYPE');
      assert.match(err.message, /not an image in a supported format/);
      return true;
    });
  });
  test('an image over the pixel limit is refused from its header', async () => {
    await assert.rejects(decodeImage(await fixture('red.jpg'), { maxPixels: 100 }), (err: { code: string; message: string }) => {
      assert.equal(err.code, 'IMAGE_TOO_LARGE');
      assert.match(err.message, /32x24 \(768 pixels\); the limit is 100 pixels/);
      return true;
    });
  });
});
