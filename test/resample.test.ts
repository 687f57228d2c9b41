/**
 * resizeRgb against Pillow: exact equality with Image.resize on 8-bit RGB.
 * The golden outputs live in test/fixtures/resample-golden.json, written by
 * scripts/make-resample-golden.py (the test itself needs no Python).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RgbImage } from '../src/image/pixels.ts';
import { resizeAlignCorners, resizeRgb, type PillowKernel } from '../src/image/resample.ts';
import type { Size } from '../src/model/spec.ts';

interface GoldenSource {
  width: number;
  height: number;
  data: number[];
}

interface GoldenCase {
  name: string;
  kernel: PillowKernel;
  source: string;
  size: Size;
  expected: number[];
}

interface Golden {
  generator: string;
  pillow: string;
  sources: Record<string, GoldenSource>;
  cases: GoldenCase[];
}

const golden = JSON.parse(
  readFileSync(new URL('./fixtures/resample-golden.json', import.meta.url), 'utf8'),
) as Golden;

function source(name: string): RgbImage {
  const s = golden.sources[name];
  assert.ok(s, `fixture source ${name}`);
  assert.equal(s.data.length, s.width * s.height * 3, `fixture source ${name} size`);
  return { data: Uint8Array.from(s.data), width: s.width, height: s.height };
}

const KERNELS: readonly PillowKernel[] = ['nearest', 'linear', 'cubic', 'lanczos3'];

describe(`resizeRgb matches Pillow ${golden.pillow} exactly`, () => {
  for (const c of golden.cases) {
    test(c.name, () => {
      const out = resizeRgb(source(c.source), c.size, c.kernel);
      assert.equal(out.width, c.size.width);
      assert.equal(out.height, c.size.height);
      assert.equal(out.data.length, c.expected.length);
      assert.deepEqual(Array.from(out.data), c.expected);
    });
  }
});

describe('golden fixture coverage', () => {
  const shapes = (kernel: PillowKernel) =>
    golden.cases
      .filter((c) => c.kernel === kernel)
      .map((c) => {
        const s = golden.sources[c.source]!;
        const dx = Math.sign(c.size.width - s.width);
        const dy = Math.sign(c.size.height - s.height);
        return { dx, dy };
      });

  for (const kernel of KERNELS) {
    test(`${kernel}: a downscale, an upscale and one-axis resizes of both axes`, () => {
      const s = shapes(kernel);
      assert.ok(s.some(({ dx, dy }) => dx < 0 && dy < 0), 'downscale on both axes');
      assert.ok(s.some(({ dx, dy }) => dx > 0 && dy > 0), 'upscale on both axes');
      assert.ok(s.some(({ dx, dy }) => dx !== 0 && dy === 0), 'width only');
      assert.ok(s.some(({ dx, dy }) => dx === 0 && dy !== 0), 'height only');
    });
  }

  test('the kernels give different outputs on the same case', () => {
    // Guards against a fixture whose cases were all produced by one filter.
    const downscale = golden.cases.filter((c) => c.source === '7x5' && c.size.width === 3 && c.size.height === 2);
    assert.equal(downscale.length, KERNELS.length);
    const distinct = new Set(downscale.map((c) => c.expected.join(',')));
    assert.equal(distinct.size, KERNELS.length);
  });
});

describe('resizeRgb', () => {
  test('returns the input when the size is unchanged', () => {
    const img = source('7x5');
    for (const kernel of KERNELS) assert.equal(resizeRgb(img, { width: 7, height: 5 }, kernel), img);
  });

  test('does not modify its input', () => {
    const img = source('40x30');
    const before = Array.from(img.data);
    for (const kernel of KERNELS) resizeRgb(img, { width: 17, height: 23 }, kernel);
    assert.deepEqual(Array.from(img.data), before);
  });

  test('a uniform image stays uniform with every kernel', () => {
    // Weights sum to 1 in fixed point up to rounding, so a flat colour survives every kernel.
    const img: RgbImage = { data: new Uint8Array(9 * 7 * 3).fill(0).map((_, i) => [200, 13, 255][i % 3]!), width: 9, height: 7 };
    for (const kernel of KERNELS) {
      for (const size of [{ width: 4, height: 3 }, { width: 20, height: 11 }]) {
        const out = resizeRgb(img, size, kernel);
        for (let i = 0; i < out.data.length; i += 3) {
          assert.deepEqual([out.data[i], out.data[i + 1], out.data[i + 2]], [200, 13, 255], `${kernel} ${size.width}x${size.height} pixel ${i / 3}`);
        }
      }
    }
  });
});

describe("resizeAlignCorners: TF.js's resizeBilinear(alignCorners: true)", () => {
  for (const [from, to] of [
    [{ width: 37, height: 23 }, { width: 8, height: 8 }],
    [{ width: 5, height: 9 }, { width: 12, height: 4 }],
    [{ width: 64, height: 48 }, { width: 1, height: 3 }],
    [{ width: 9, height: 7 }, { width: 9, height: 7 }],
  ] as [Size, Size][]) {
    test(`${from.width}x${from.height} to ${to.width}x${to.height} matches tf.image.resizeBilinear`, async () => {
      const tf = await import('@tensorflow/tfjs');
      await tf.setBackend('cpu');
      const data = new Uint8Array(from.width * from.height * 3);
      for (let i = 0; i < data.length; i++) data[i] = (i * 97 + 13) % 256;
      const ours = resizeAlignCorners({ data, width: from.width, height: from.height }, to);
      const theirs = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(data, [from.height, from.width, 3], 'float32'), [to.height, to.width], true).dataSync());
      assert.equal(ours.data.length, theirs.length);
      let worst = 0;
      for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(ours.data[i]! - theirs[i]!));
      assert.ok(worst < 1e-3, `worst difference ${worst} (0-255 scale)`);
    });
  }
});
