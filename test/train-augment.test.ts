/**
 * Augmentation: determinism under a seed, no mutation of the input, crop
 * rectangles that honour torchvision's bounds, and flip and colour jitter
 * against pixels computed by hand. A Random whose next() is a constant pins
 * every draw (crop, coin flip, jitter factor) to a known value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RgbImage } from '../src/image/pixels.ts';
import { augment, DEFAULT_AUGMENT, randomResizedCropRect, type AugmentOptions } from '../src/train/augment.ts';
import { Random } from '../src/train/random.ts';

/** Every draw returns `value`: uniform(lo, hi) is lo + (hi - lo) * value. */
class ConstRandom extends Random {
  constructor(private readonly value: number) {
    super(0);
  }

  override next(): number {
    return this.value;
  }
}

/** A busy image whose bytes all differ between neighbours, so any change shows. */
function noise(width: number, height: number, seed = 1): RgbImage {
  const rng = new Random(seed);
  return { data: Uint8Array.from({ length: width * height * 3 }, () => rng.int(256)), width, height };
}

/** No crop (scale 1 at the image's own aspect), no flip, no jitter: the identity. */
function still(image: RgbImage): AugmentOptions {
  const r = image.width / image.height;
  return { scale: [1, 1], ratio: [r, r], flip: false, brightness: 0, contrast: 0, saturation: 0 };
}

/** Two pixels, (100, 50, 200) and (10, 20, 30); their luma is 82.05 and 18.15, mean 50.1. */
const pair: RgbImage = { data: Uint8Array.from([100, 50, 200, 10, 20, 30]), width: 2, height: 1 };

test('the same seed gives the same bytes, a different seed different ones', () => {
  const image = noise(32, 24);
  const a = augment(image, new Random(7));
  const b = augment(image, new Random(7));
  const c = augment(image, new Random(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('the input is never mutated, and even the identity returns a new buffer', () => {
  const image = noise(16, 16);
  const before = Uint8Array.from(image.data);
  for (let seed = 0; seed < 20; seed++) augment(image, new Random(seed));
  assert.deepEqual(image.data, before);
  const same = augment(image, new Random(0), still(image));
  assert.deepEqual(same, image);
  assert.notEqual(same.data, image.data);
});

/** torchvision's fallback: the whole image, its aspect clamped into `ratio`, centred. */
function fallback(width: number, height: number, [lo, hi]: [number, number]) {
  const r = width / height;
  const w = r > hi ? Math.round(height * hi) : width;
  const h = r < lo ? Math.round(width / lo) : height;
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

test('crop rectangles stay inside the image with area and aspect in bounds', () => {
  const sizes: [number, number][] = [[1, 1], [28, 28], [300, 20], [20, 300], [3, 7], [224, 224], [640, 480]];
  const settings: { scale: [number, number]; ratio: [number, number] }[] = [DEFAULT_AUGMENT, { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] }];
  for (const [width, height] of sizes) {
    for (const { scale, ratio } of settings) {
      for (let seed = 0; seed < 200; seed++) {
        const rect = randomResizedCropRect(width, height, scale, ratio, new Random(seed));
        const where = `${width}×${height} seed ${seed}: ${JSON.stringify(rect)}`;
        assert.ok(Number.isInteger(rect.left) && Number.isInteger(rect.top), where);
        assert.ok(rect.width >= 1 && rect.height >= 1, where);
        assert.ok(rect.left >= 0 && rect.top >= 0, where);
        assert.ok(rect.left + rect.width <= width && rect.top + rect.height <= height, where);
        if (JSON.stringify(rect) === JSON.stringify(fallback(width, height, ratio))) continue;
        // Sampled sizes are rounded, so the real-valued area and aspect lie within half a pixel.
        const { width: w, height: h } = rect;
        const area = width * height;
        assert.ok((w - 0.5) * (h - 0.5) <= scale[1] * area && (w + 0.5) * (h + 0.5) >= scale[0] * area, `area, ${where}`);
        assert.ok((w - 0.5) / (h + 0.5) <= ratio[1] && (w + 0.5) / (h - 0.5) >= ratio[0], `aspect, ${where}`);
      }
    }
  }
});

test('an image too elongated for any sampled crop falls back to a centred crop at the ratio bound', () => {
  assert.deepEqual(randomResizedCropRect(300, 20, [0.6, 1], [3 / 4, 4 / 3], new Random(3)), { left: 136, top: 0, width: 27, height: 20 });
  assert.deepEqual(randomResizedCropRect(20, 300, [0.6, 1], [3 / 4, 4 / 3], new Random(3)), { left: 0, top: 136, width: 20, height: 27 });
  assert.deepEqual(randomResizedCropRect(1, 1, [0.6, 1], [3 / 4, 4 / 3], new Random(3)), { left: 0, top: 0, width: 1, height: 1 });
});

test('the crop is cut out of the image at the drawn rectangle', () => {
  const image = noise(40, 30);
  const options = { ...still(image), scale: [0.3, 0.6] as [number, number], ratio: [3 / 4, 4 / 3] as [number, number] };
  const rect = randomResizedCropRect(40, 30, options.scale, options.ratio, new Random(5));
  const out = augment(image, new Random(5), options);
  assert.equal(out.width, rect.width);
  assert.equal(out.height, rect.height);
  const at = (img: RgbImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  assert.deepEqual(at(out, 0, 0), at(image, rect.left, rect.top));
  assert.deepEqual(at(out, rect.width - 1, rect.height - 1), at(image, rect.left + rect.width - 1, rect.top + rect.height - 1));
});

test('flip mirrors each row when the coin comes up below 0.5, and not otherwise', () => {
  // 3×2: pixel (x, y) is (10y + x, 100 + 10y + x, 200 + 10y + x).
  const image: RgbImage = { data: Uint8Array.from([0, 100, 200, 1, 101, 201, 2, 102, 202, 10, 110, 210, 11, 111, 211, 12, 112, 212]), width: 3, height: 2 };
  const mirrored = Uint8Array.from([2, 102, 202, 1, 101, 201, 0, 100, 200, 12, 112, 212, 11, 111, 211, 10, 110, 210]);
  const options = { ...still(image), flip: true };
  assert.deepEqual(augment(image, new ConstRandom(0.1), options).data, mirrored);
  assert.deepEqual(augment(image, new ConstRandom(0.9), options).data, image.data);
  // With a real generator both outcomes occur, and nothing else does.
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 50; seed++) {
    const data = augment(image, new Random(seed), options).data;
    assert.ok(data.every((v, i) => v === image.data[i]) || data.every((v, i) => v === mirrored[i]));
    outcomes.add(data.join());
  }
  assert.equal(outcomes.size, 2);
});

test('jitter strengths of 0 leave the pixels alone', () => {
  const image = noise(8, 5);
  for (let seed = 0; seed < 10; seed++) assert.deepEqual(augment(image, new Random(seed), still(image)).data, image.data);
});

test('jitter with a fixed factor matches pixels computed by hand', () => {
  const off = { ...still(pair) };
  // next() = 0.75 draws factor 0.5 + (1.5 - 0.5) * 0.75 = 1.25 from strength 0.5.
  const rng = () => new ConstRandom(0.75);
  // Brightness: ×1.25 → 125, 62.5, 250 | 12.5, 25, 37.5.
  assert.deepEqual(Array.from(augment(pair, rng(), { ...off, brightness: 0.5 }).data), [125, 63, 250, 13, 25, 38]);
  // ...and clamped at 255.
  const bright: RgbImage = { data: Uint8Array.from([220, 50, 200]), width: 1, height: 1 };
  assert.deepEqual(Array.from(augment(bright, rng(), { ...still(bright), brightness: 0.5 }).data), [255, 63, 250]);
  // Contrast: 1.25p - 0.25 × 50.1 → 112.475, 49.975, 237.475 | -0.025 (clamped to 0), 12.475, 24.975.
  assert.deepEqual(Array.from(augment(pair, rng(), { ...off, contrast: 0.5 }).data), [112, 50, 237, 0, 12, 25]);
  // Saturation: 1.25p - 0.25 × grey → 104.4875, 41.9875, 229.4875 | 7.9625, 20.4625, 32.9625.
  assert.deepEqual(Array.from(augment(pair, rng(), { ...off, saturation: 0.5 }).data), [104, 42, 229, 8, 20, 33]);
  // Saturation factor 0 (strength 1, next() = 0) is greyscale: each pixel becomes its luma.
  assert.deepEqual(Array.from(augment(pair, new ConstRandom(0), { ...off, saturation: 1 }).data), [82, 82, 82, 18, 18, 18]);
});
