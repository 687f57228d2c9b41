/** planGeometry: resize target, centre-crop rectangle and output size. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planGeometry } from '../src/image/geometry.ts';
import { imagenetPreprocess, outputSize, type PreprocessSpec, type ResizeSpec, type Size } from '../src/model/spec.ts';

function spec(resize: ResizeSpec, crop: Size | null = null): PreprocessSpec {
  return {
    resize,
    crop,
    scale: 1 / 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    channelOrder: 'RGB',
    layout: 'NCHW',
  };
}

const shorter = (shortestEdge: number): ResizeSpec => ({ mode: 'shorter', shortestEdge, kernel: 'linear' });
const stretch = (width: number, height: number): ResizeSpec => ({ mode: 'stretch', size: { width, height }, kernel: 'linear' });
const none: ResizeSpec = { mode: 'none' };

describe('shorter side', () => {
  test('landscape: the height becomes the edge, the width is floored (640x480, 256 -> 341x256)', () => {
    // 256 * 640 / 480 = 341.33
    const plan = planGeometry({ width: 640, height: 480 }, spec(shorter(256)));
    assert.deepEqual(plan, { resized: { width: 341, height: 256 }, crop: null, output: { width: 341, height: 256 } });
  });

  test('portrait: the width becomes the edge, the height is floored (480x640, 256 -> 256x341)', () => {
    const plan = planGeometry({ width: 480, height: 640 }, spec(shorter(256)));
    assert.deepEqual(plan.resized, { width: 256, height: 341 });
    assert.deepEqual(plan.output, { width: 256, height: 341 });
  });

  test('floors where rounding would go up (7x4, 10 -> 17x10, not 18x10)', () => {
    // 10 * 7 / 4 = 17.5
    assert.deepEqual(planGeometry({ width: 7, height: 4 }, spec(shorter(10))).resized, { width: 17, height: 10 });
    assert.deepEqual(planGeometry({ width: 4, height: 7 }, spec(shorter(10))).resized, { width: 10, height: 17 });
  });

  test('floors a long side just above an integer (1001x1000, 256 -> 256x256)', () => {
    // 256 * 1001 / 1000 = 256.256
    assert.deepEqual(planGeometry({ width: 1001, height: 1000 }, spec(shorter(256))).resized, { width: 256, height: 256 });
  });

  test('square: both sides become the edge', () => {
    assert.deepEqual(planGeometry({ width: 500, height: 500 }, spec(shorter(224))).resized, { width: 224, height: 224 });
  });

  test('upscales a small image', () => {
    assert.deepEqual(planGeometry({ width: 40, height: 30 }, spec(shorter(60))).resized, { width: 80, height: 60 });
  });

  test('keeps the size when the shorter side already has it', () => {
    const plan = planGeometry({ width: 300, height: 256 }, spec(shorter(256)));
    assert.deepEqual(plan.resized, { width: 300, height: 256 });
  });
});

describe('stretch and none', () => {
  test('stretch goes to exactly the given size, ignoring the aspect ratio', () => {
    const plan = planGeometry({ width: 640, height: 480 }, spec(stretch(224, 200)));
    assert.deepEqual(plan, { resized: { width: 224, height: 200 }, crop: null, output: { width: 224, height: 200 } });
  });

  test('none keeps the source size', () => {
    const plan = planGeometry({ width: 300, height: 200 }, spec(none));
    assert.deepEqual(plan, { resized: { width: 300, height: 200 }, crop: null, output: { width: 300, height: 200 } });
  });
});

describe('centre crop', () => {
  test('shorter 256 + crop 224 on 640x480: offset floor(117 / 2) = 58, top 16', () => {
    const plan = planGeometry({ width: 640, height: 480 }, spec(shorter(256), { width: 224, height: 224 }));
    assert.deepEqual(plan, {
      resized: { width: 341, height: 256 },
      crop: { left: 58, top: 16, width: 224, height: 224 },
      output: { width: 224, height: 224 },
    });
  });

  test('portrait offsets swap', () => {
    const plan = planGeometry({ width: 480, height: 640 }, spec(shorter(256), { width: 224, height: 224 }));
    assert.deepEqual(plan.crop, { left: 16, top: 58, width: 224, height: 224 });
  });

  test('odd margins floor: 5x4 crop 2x1 -> left 1, top 1', () => {
    const plan = planGeometry({ width: 5, height: 4 }, spec(none, { width: 2, height: 1 }));
    assert.deepEqual(plan.crop, { left: 1, top: 1, width: 2, height: 1 });
    assert.deepEqual(plan.output, { width: 2, height: 1 });
  });

  test('3x3 crop 2x2 -> left 0, top 0 (not the identity, so still a crop)', () => {
    const plan = planGeometry({ width: 3, height: 3 }, spec(none, { width: 2, height: 2 }));
    assert.deepEqual(plan.crop, { left: 0, top: 0, width: 2, height: 2 });
  });

  test('a crop larger than the image gets a negative, floored offset', () => {
    // floor(-1 / 2) = -1 (truncation would give 0), floor(-4 / 2) = -2.
    const plan = planGeometry({ width: 2, height: 2 }, spec(none, { width: 3, height: 6 }));
    assert.deepEqual(plan.crop, { left: -1, top: -2, width: 3, height: 6 });
    assert.deepEqual(plan.output, { width: 3, height: 6 });
  });

  test('a crop equal to the resized size is the identity: crop is null', () => {
    const plan = planGeometry({ width: 640, height: 480 }, spec(stretch(224, 224), { width: 224, height: 224 }));
    assert.deepEqual(plan, { resized: { width: 224, height: 224 }, crop: null, output: { width: 224, height: 224 } });
    assert.equal(planGeometry({ width: 7, height: 5 }, spec(none, { width: 7, height: 5 })).crop, null);
  });

  test('a crop matching only one side is not the identity', () => {
    const plan = planGeometry({ width: 7, height: 5 }, spec(none, { width: 7, height: 3 }));
    assert.deepEqual(plan.crop, { left: 0, top: 1, width: 7, height: 3 });
  });

  test('ImageNet preprocessing on a 224x224 image still upscales to 256 and crops', () => {
    const plan = planGeometry({ width: 224, height: 224 }, imagenetPreprocess());
    assert.deepEqual(plan, {
      resized: { width: 256, height: 256 },
      crop: { left: 16, top: 16, width: 224, height: 224 },
      output: { width: 224, height: 224 },
    });
  });
});

describe('output size', () => {
  test('the plan output is the crop size, else the resized size', () => {
    assert.deepEqual(planGeometry({ width: 100, height: 50 }, spec(shorter(10), { width: 8, height: 6 })).output, { width: 8, height: 6 });
    assert.deepEqual(planGeometry({ width: 100, height: 50 }, spec(shorter(10))).output, { width: 20, height: 10 });
  });

  test('outputSize(spec) is fixed by a crop or a stretch, not by shorter or none alone', () => {
    assert.deepEqual(outputSize(spec(shorter(256), { width: 224, height: 200 })), { width: 224, height: 200 });
    assert.deepEqual(outputSize(spec(stretch(64, 32))), { width: 64, height: 32 });
    assert.equal(outputSize(spec(shorter(256))), null);
    assert.equal(outputSize(spec(none)), null);
  });

  test('outputSize agrees with the plan whenever it is fixed', () => {
    const sources: Size[] = [{ width: 640, height: 480 }, { width: 3, height: 900 }, { width: 1, height: 1 }];
    const specs = [spec(shorter(256), { width: 224, height: 224 }), spec(stretch(64, 32)), spec(none, { width: 5, height: 7 })];
    for (const s of specs) {
      for (const source of sources) assert.deepEqual(planGeometry(source, s).output, outputSize(s));
    }
  });
});
