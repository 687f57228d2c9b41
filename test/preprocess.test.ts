/**
 * preprocess(), fitToInput(), cropRgb() and writeTensor() against tensors
 * computed by hand on tiny images. Resizes use the nearest kernel (Pillow's
 * nearest picks source pixel floor((i + 0.5) * in / out)) except one bilinear
 * case small enough to average by hand.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cropRgb, fitToInput, preprocess, writeTensor } from '../src/image/preprocess.ts';
import type { RgbImage } from '../src/image/pixels.ts';
import { IMAGENET_MEAN, IMAGENET_STD, type PreprocessSpec, type ResizeSpec } from '../src/model/spec.ts';

const TOLERANCE = 1e-6;

/** An image from its pixels, row by row. */
function image(width: number, height: number, pixels: readonly (readonly [number, number, number])[]): RgbImage {
  assert.equal(pixels.length, width * height, 'test image pixel count');
  return { data: Uint8Array.from(pixels.flat()), width, height };
}

/** A grid whose pixel (x, y) is (10y + x, 100 + 10y + x, 200 + 10y + x): every pixel and channel distinct. */
function grid(width: number, height: number): RgbImage {
  const pixels: [number, number, number][] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels.push([10 * y + x, 100 + 10 * y + x, 200 + 10 * y + x]);
  }
  return image(width, height, pixels);
}

/** A spec that changes nothing: no resize, no crop, values passed through, RGB, NCHW. */
function spec(overrides: Partial<PreprocessSpec> = {}): PreprocessSpec {
  return {
    resize: { mode: 'none' },
    crop: null,
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    channelOrder: 'RGB',
    layout: 'NCHW',
    ...overrides,
  };
}

function assertClose(actual: Float32Array, expected: readonly number[], message = ''): void {
  assert.equal(actual.length, expected.length, `${message} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= TOLERANCE, `${message} element ${i}: expected ${e} but received ${a}`);
  }
}

/** The three NCHW planes of grid() values 10y + x for the listed (x, y) pixels, in order. */
function gridPlanes(points: readonly (readonly [number, number])[]): number[] {
  const r = points.map(([x, y]) => 10 * y + x);
  return [...r, ...r.map((v) => v + 100), ...r.map((v) => v + 200)];
}

// 2x2: (1,2,3) (4,5,6) / (7,8,9) (10,11,12)
const TWO_BY_TWO = image(2, 2, [
  [1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
  [10, 11, 12],
]);

describe('resize mode none', () => {
  test('leaves the pixels as they are (NCHW planes R, G, B)', () => {
    const t = preprocess(TWO_BY_TWO, spec());
    assert.deepEqual(t.dims, [3, 2, 2]);
    assertClose(t.data, [1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12]);
  });

  test('keeps a non-square size', () => {
    const t = preprocess(grid(3, 2), spec());
    assert.deepEqual(t.dims, [3, 2, 3]);
    assertClose(t.data, gridPlanes([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]));
  });
});

describe('resize mode stretch', () => {
  test('nearest upscale 2x2 -> 4x4 repeats every pixel in a 2x2 block', () => {
    const t = preprocess(TWO_BY_TWO, spec({ resize: { mode: 'stretch', size: { width: 4, height: 4 }, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 4, 4]);
    // Source columns for x = 0..3: floor(0.25), floor(0.75), floor(1.25), floor(1.75) = 0, 0, 1, 1; rows alike.
    const r = [1, 1, 4, 4, 1, 1, 4, 4, 7, 7, 10, 10, 7, 7, 10, 10];
    assertClose(t.data, [...r, ...r.map((v) => v + 1), ...r.map((v) => v + 2)]);
  });

  test('nearest downscale 4x4 -> 2x2 picks pixels (1,1), (3,1), (1,3), (3,3)', () => {
    const t = preprocess(grid(4, 4), spec({ resize: { mode: 'stretch', size: { width: 2, height: 2 }, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 2, 2]);
    // Source index floor((i + 0.5) * 2) = 1, 3.
    assertClose(t.data, [11, 13, 31, 33, 111, 113, 131, 133, 211, 213, 231, 233]);
  });

  test('ignores the aspect ratio: 3x2 -> 6x1', () => {
    const t = preprocess(grid(3, 2), spec({ resize: { mode: 'stretch', size: { width: 6, height: 1 }, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 1, 6]);
    // Columns floor((i + 0.5) / 2) = 0, 0, 1, 1, 2, 2; row floor(0.5 * 2) = 1.
    assertClose(t.data, gridPlanes([[0, 1], [0, 1], [1, 1], [1, 1], [2, 1], [2, 1]]));
  });

  test('linear 2x1 -> 1x1 gives the mean, rounded half up', () => {
    // Shrinking 2 px to 1 px, Pillow's antialiased triangle filter weighs both pixels 1/2.
    const src = image(2, 1, [
      [10, 20, 30],
      [21, 41, 60],
    ]);
    const t = preprocess(src, spec({ resize: { mode: 'stretch', size: { width: 1, height: 1 }, kernel: 'linear' } }));
    assert.deepEqual(t.dims, [3, 1, 1]);
    // (10 + 21) / 2 = 15.5 -> 16, (20 + 41) / 2 = 30.5 -> 31, (30 + 60) / 2 = 45.
    assertClose(t.data, [16, 31, 45]);
  });
});

describe('resize mode shorter', () => {
  test('landscape 4x2, shortest edge 1 -> 2x1', () => {
    const t = preprocess(grid(4, 2), spec({ resize: { mode: 'shorter', shortestEdge: 1, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 1, 2]);
    // Columns floor((i + 0.5) * 2) = 1, 3; row floor(0.5 * 2) = 1.
    assertClose(t.data, gridPlanes([[1, 1], [3, 1]]));
  });

  test('portrait 2x4, shortest edge 1 -> 1x2', () => {
    const t = preprocess(grid(2, 4), spec({ resize: { mode: 'shorter', shortestEdge: 1, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 2, 1]);
    assertClose(t.data, gridPlanes([[1, 1], [1, 3]]));
  });

  test('floors the longer side: 5x2, shortest edge 1 -> 2x1 (not 3x1)', () => {
    const t = preprocess(grid(5, 2), spec({ resize: { mode: 'shorter', shortestEdge: 1, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 1, 2]);
    // Columns floor((i + 0.5) * 2.5) = floor(1.25), floor(3.75) = 1, 3.
    assertClose(t.data, gridPlanes([[1, 1], [3, 1]]));
  });

  test('upscales too: 2x1, shortest edge 2 -> 4x2', () => {
    const src = image(2, 1, [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const t = preprocess(src, spec({ resize: { mode: 'shorter', shortestEdge: 2, kernel: 'nearest' } }));
    assert.deepEqual(t.dims, [3, 2, 4]);
    const r = [1, 1, 4, 4, 1, 1, 4, 4];
    assertClose(t.data, [...r, ...r.map((v) => v + 1), ...r.map((v) => v + 2)]);
  });
});

describe('centre crop', () => {
  test('3x3 crop 2x2 floors the offset to left 0, top 0', () => {
    const t = preprocess(grid(3, 3), spec({ crop: { width: 2, height: 2 } }));
    assert.deepEqual(t.dims, [3, 2, 2]);
    assertClose(t.data, gridPlanes([[0, 0], [1, 0], [0, 1], [1, 1]]));
  });

  test('4x4 crop 2x2 takes left 1, top 1', () => {
    const t = preprocess(grid(4, 4), spec({ crop: { width: 2, height: 2 } }));
    assertClose(t.data, gridPlanes([[1, 1], [2, 1], [1, 2], [2, 2]]));
  });

  test('5x4 crop 2x1 takes left 1, top 1 (non-square)', () => {
    const t = preprocess(grid(5, 4), spec({ crop: { width: 2, height: 1 } }));
    assert.deepEqual(t.dims, [3, 1, 2]);
    // left = floor(3 / 2) = 1, top = floor(3 / 2) = 1.
    assertClose(t.data, gridPlanes([[1, 1], [2, 1]]));
  });

  test('a crop larger than the image pads with zeros; the offset floors to -1', () => {
    // 2x2 into 3x3: left = top = floor(-1 / 2) = -1, so the image sits at the bottom right.
    const t = preprocess(TWO_BY_TWO, spec({ crop: { width: 3, height: 3 } }));
    assert.deepEqual(t.dims, [3, 3, 3]);
    assertClose(t.data, [
      ...[0, 0, 0, 0, 1, 4, 0, 7, 10],
      ...[0, 0, 0, 0, 2, 5, 0, 8, 11],
      ...[0, 0, 0, 0, 3, 6, 0, 9, 12],
    ]);
  });

  test('padding is zero before normalisation: it becomes (0 * scale - mean) / std', () => {
    // 1x1 into 3x1: left = floor(-2 / 2) = -1, so the pixel is in the middle.
    const src = image(1, 1, [[30, 60, 90]]);
    const t = preprocess(
      src,
      spec({ crop: { width: 3, height: 1 }, scale: 0.5, mean: [5, 10, -3], std: [2, 4, 0.5] }),
    );
    // R: pad (0 - 5) / 2 = -2.5, pixel (15 - 5) / 2 = 5
    // G: pad (0 - 10) / 4 = -2.5, pixel (30 - 10) / 4 = 5
    // B: pad (0 + 3) / 0.5 = 6, pixel (45 + 3) / 0.5 = 96
    assertClose(t.data, [-2.5, 5, -2.5, -2.5, 5, -2.5, 6, 96, 6]);
  });

  test('a crop wider but shorter than the image pads only the sides', () => {
    // 2x2 into 4x1: left = floor(-2 / 2) = -1, top = floor(1 / 2) = 0.
    const t = preprocess(TWO_BY_TWO, spec({ crop: { width: 4, height: 1 } }));
    assert.deepEqual(t.dims, [3, 1, 4]);
    assertClose(t.data, [0, 1, 4, 0, 0, 2, 5, 0, 0, 3, 6, 0]);
  });

  test('a crop taller but narrower than the image pads top and bottom and cuts the sides', () => {
    // 3x1 into 1x3: left = floor(2 / 2) = 1, top = floor(-2 / 2) = -1.
    const t = preprocess(grid(3, 1), spec({ crop: { width: 1, height: 3 } }));
    assert.deepEqual(t.dims, [3, 3, 1]);
    assertClose(t.data, [0, 1, 0, 0, 101, 0, 0, 201, 0]);
  });

  test('cropRgb copies a rectangle partly outside the image', () => {
    const out = cropRgb(grid(3, 2), { left: 1, top: -1, width: 3, height: 2 });
    assert.equal(out.width, 3);
    assert.equal(out.height, 2);
    // Row -1 is outside; row 0 reads columns 1, 2 and then 3, which is outside.
    assert.deepEqual(Array.from(out.data), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 101, 201, 2, 102, 202, 0, 0, 0]);
  });

  test('cropRgb leaves rows above the image empty when the rectangle ends inside a row', () => {
    const out = cropRgb(grid(3, 2), { left: 0, top: -1, width: 2, height: 3 });
    // Row -1 and row 2 are outside; rows 0 and 1 read columns 0 and 1.
    assert.deepEqual(Array.from(out.data), [0, 0, 0, 0, 0, 0, 0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211]);
  });
});

describe('normalisation', () => {
  // Two pixels, each channel different, so a per-channel mix-up shows.
  const src = image(2, 1, [
    [10, 20, 30],
    [40, 50, 60],
  ]);

  test('scale multiplies every value', () => {
    assertClose(preprocess(src, spec({ scale: 0.1 })).data, [1, 4, 2, 5, 3, 6]);
  });

  test('mean is subtracted per channel', () => {
    assertClose(preprocess(src, spec({ mean: [1, 2, 3] })).data, [9, 39, 18, 48, 27, 57]);
  });

  test('std divides per channel', () => {
    assertClose(preprocess(src, spec({ std: [10, 4, 0.5] })).data, [1, 4, 5, 12.5, 60, 120]);
  });

  test('the combination is ((p * scale) - mean) / std', () => {
    const t = preprocess(src, spec({ scale: 0.5, mean: [1, 2, 3], std: [2, 4, 8] }));
    // R: (5 - 1) / 2 = 2, (20 - 1) / 2 = 9.5
    // G: (10 - 2) / 4 = 2, (25 - 2) / 4 = 5.75
    // B: (15 - 3) / 8 = 1.5, (30 - 3) / 8 = 3.375
    assertClose(t.data, [2, 9.5, 2, 5.75, 1.5, 3.375]);
  });

  test('ImageNet statistics with scale 1/255', () => {
    const t = preprocess(image(1, 1, [[255, 0, 128]]), spec({ scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD }));
    // R: (1 - 0.485) / 0.229, G: (0 - 0.456) / 0.224, B: (128 / 255 - 0.406) / 0.225
    assertClose(t.data, [2.2489082969, -2.0357142857, 0.4264923747]);
  });
});

describe('channel order', () => {
  test('BGR puts blue in channel 0 (NCHW)', () => {
    const t = preprocess(TWO_BY_TWO, spec({ channelOrder: 'BGR' }));
    assertClose(t.data, [3, 6, 9, 12, 2, 5, 8, 11, 1, 4, 7, 10]);
  });

  test('BGR puts blue first in every pixel (NHWC)', () => {
    const t = preprocess(TWO_BY_TWO, spec({ channelOrder: 'BGR', layout: 'NHWC' }));
    assertClose(t.data, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
  });

  test('BGR keeps mean and std attached to their colour (given in RGB order)', () => {
    const t = preprocess(image(1, 1, [[9, 10, 11]]), spec({ channelOrder: 'BGR', mean: [1, 2, 3], std: [1, 2, 4] }));
    // B: (11 - 3) / 4 = 2, G: (10 - 2) / 2 = 4, R: (9 - 1) / 1 = 8.
    assertClose(t.data, [2, 4, 8]);
  });
});

describe('layout', () => {
  const src = grid(3, 2);

  test('NCHW: dims [3, H, W], plane by plane', () => {
    const t = preprocess(src, spec({ layout: 'NCHW' }));
    assert.deepEqual(t.dims, [3, 2, 3]);
    assertClose(t.data, [0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112, 200, 201, 202, 210, 211, 212]);
  });

  test('NHWC: dims [H, W, 3], pixel by pixel', () => {
    const t = preprocess(src, spec({ layout: 'NHWC' }));
    assert.deepEqual(t.dims, [2, 3, 3]);
    assertClose(t.data, [0, 100, 200, 1, 101, 201, 2, 102, 202, 10, 110, 210, 11, 111, 211, 12, 112, 212]);
  });
});

describe('writeTensor', () => {
  const a = image(2, 1, [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = image(2, 1, [
    [7, 8, 9],
    [10, 11, 12],
  ]);

  test('writes each image of a batch at its offset, NCHW planes relative to the offset', () => {
    const out = new Float32Array(15).fill(-1);
    const s = spec({ mean: [0, 0, 0.5] });
    writeTensor(a, s, out, 1);
    writeTensor(b, s, out, 7);
    assertClose(out, [-1, 1, 4, 2, 5, 2.5, 5.5, 7, 10, 8, 11, 8.5, 11.5, -1, -1]);
  });

  test('writes each image of a batch at its offset (NHWC)', () => {
    const out = new Float32Array(14).fill(-1);
    const s = spec({ layout: 'NHWC' });
    writeTensor(b, s, out, 0);
    writeTensor(a, s, out, 6);
    assertClose(out, [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, -1, -1]);
  });

  test('the default offset is 0 and it matches preprocess()', () => {
    const out = new Float32Array(6).fill(-1);
    const s = spec({ scale: 2, channelOrder: 'BGR' });
    writeTensor(a, s, out);
    assertClose(out, [6, 12, 4, 10, 2, 8]);
    assertClose(preprocess(a, s).data, Array.from(out));
  });

  test('throws a RangeError when the buffer is too small', () => {
    assert.throws(() => writeTensor(a, spec(), new Float32Array(5)), RangeError);
    assert.throws(() => writeTensor(a, spec(), new Float32Array(12), 7), RangeError);
  });

  test('an exact fit at an offset does not throw and fills the tail', () => {
    const out = new Float32Array(12).fill(-1);
    writeTensor(a, spec(), out, 6);
    assertClose(out, [-1, -1, -1, -1, -1, -1, 1, 4, 2, 5, 3, 6]);
  });
});

describe('fitToInput always applies the plan', () => {
  // The small-scale analogue of a 224x224 image under "shorter 256, crop 224":
  // a 4x4 image under "shorter 8, crop 4" is upscaled to 8x8, then cropped at
  // left = top = floor((8 - 4) / 2) = 2, i.e. resized columns and rows 2..5,
  // which come from source columns and rows 1, 1, 2, 2. Not the identity.
  const resize: ResizeSpec = { mode: 'shorter', shortestEdge: 8, kernel: 'nearest' };
  const fitSpec = spec({ resize, crop: { width: 4, height: 4 } });
  const expectedR = [11, 11, 12, 12, 11, 11, 12, 12, 21, 21, 22, 22, 21, 21, 22, 22];

  test('fitToInput resizes and crops an image already at the output size', () => {
    const out = fitToInput(grid(4, 4), fitSpec);
    assert.equal(out.width, 4);
    assert.equal(out.height, 4);
    assert.deepEqual(
      Array.from(out.data),
      expectedR.flatMap((r) => [r, r + 100, r + 200]),
    );
  });

  test('preprocess gives the resized and cropped tensor', () => {
    const t = preprocess(grid(4, 4), fitSpec);
    assert.deepEqual(t.dims, [3, 4, 4]);
    assertClose(t.data, [...expectedR, ...expectedR.map((v) => v + 100), ...expectedR.map((v) => v + 200)]);
  });

  test('resize none with a crop equal to the size leaves the image unchanged', () => {
    const src = grid(4, 4);
    const out = fitToInput(src, spec({ crop: { width: 4, height: 4 } }));
    assert.equal(out.width, 4);
    assert.equal(out.height, 4);
    assert.deepEqual(Array.from(out.data), Array.from(src.data));
  });
});
