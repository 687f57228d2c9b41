/**
 * The dynamic batcher against a runner the test controls: when batches
 * leave, how big they are, and that every image gets its own row back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Batcher } from '../src/engine/batcher.ts';
import type { ImageJob, ImageOutcome } from '../src/engine/image-jobs.ts';
import type { InferenceRunner, RunOutput } from '../src/engine/runner.ts';
import { createError } from '../src/errors.ts';
import type { RgbImage } from '../src/image/pixels.ts';

/** Runs a batch when the test says so; each image's row holds its first pixel value and its width. An image whose first pixel is 0 fails alone, as a corrupt upload does. */
class HeldRunner implements InferenceRunner {
  readonly signature = { inputs: [], outputs: [] };
  readonly device = 'cpu' as const;
  readonly batches: number[] = [];
  private readonly held: (() => void)[] = [];
  failNext = false;

  constructor(readonly capacity: number) {}

  configure(): void {}

  runImages(images: readonly ImageJob[]): Promise<ImageOutcome[]> {
    this.batches.push(images.length);
    const timing = { decodeMs: 1, resizeMs: 0, preprocessMs: 0, inferMs: 1, batchSize: images.length };
    const outcomes = images.map((job): ImageOutcome => {
      const { data, width } = (job as { pixels: RgbImage }).pixels;
      if (data[0] === 0) return { ok: false, error: createError('CORRUPT_IMAGE', 'bad image') };
      return { ok: true, row: Float32Array.of(data[0]!, width), timing };
    });
    const fail = this.failNext;
    this.failNext = false;
    return new Promise((resolve, reject) => {
      this.held.push(() => (fail ? reject(createError('INFERENCE_FAILED', 'boom')) : resolve(outcomes)));
    });
  }

  runTensor(): Promise<RunOutput> {
    throw new Error('not used');
  }

  /** Finish the oldest running batch. */
  release(): void {
    this.held.shift()?.();
  }

  get running(): number {
    return this.held.length;
  }

  async close(): Promise<void> {}
}

const image = (value: number, size = 2): ImageJob => ({ pixels: { data: new Uint8Array(size * size * 3).fill(value), width: size, height: size }, fitted: true });
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Batcher', () => {
  test('an idle runner takes an image at once; images that arrive while it is busy go together, up to max batch', async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 3, maxDelayMs: 0 });
    const results = [1, 2, 3, 4, 5, 6].map((v) => batcher.submit(image(v)));
    await tick();
    assert.deepEqual(runner.batches, [1], 'the first image left alone: nothing waits on purpose');
    assert.equal(batcher.queued, 5);
    runner.release();
    await tick();
    assert.deepEqual(runner.batches, [1, 3], 'the next batch is full');
    runner.release();
    await tick();
    runner.release();
    await tick();
    assert.deepEqual(runner.batches, [1, 3, 2]);
    const rows = await Promise.all(results);
    assert.deepEqual(rows.map((r) => r.row[0]), [1, 2, 3, 4, 5, 6], 'each image gets its own row');
    assert.deepEqual(rows.map((r) => r.batchSize), [1, 3, 3, 3, 2, 2]);
  });

  test('several workers each get a batch', async () => {
    const runner = new HeldRunner(2);
    const batcher = new Batcher(runner, { maxBatch: 2, maxDelayMs: 0 });
    const results = [1, 2, 3, 4, 5].map((v) => batcher.submit(image(v)));
    await tick();
    assert.deepEqual(runner.batches, [1, 1], 'two idle workers, one image each');
    assert.equal(runner.running, 2);
    runner.release();
    runner.release();
    await tick();
    assert.deepEqual(runner.batches, [1, 1, 2, 1]);
    runner.release();
    runner.release();
    assert.deepEqual((await Promise.all(results)).map((r) => r.row[0]), [1, 2, 3, 4, 5]);
  });

  test('with a max delay, an idle runner waits for more images, but no longer than the delay', async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 4, maxDelayMs: 30 });
    const first = batcher.submit(image(1));
    await sleep(5);
    const second = batcher.submit(image(2));
    await tick();
    assert.deepEqual(runner.batches, [], 'still waiting for the batch to fill');
    await sleep(60);
    assert.deepEqual(runner.batches, [2], 'sent once the oldest image waited the delay');
    runner.release();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.queueMs >= 25, `the first image waited about the delay (${a.queueMs} ms)`);
    assert.ok(b.queueMs < a.queueMs);
  });

  test('a full batch does not wait for the delay', async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 2, maxDelayMs: 10_000 });
    const both = [batcher.submit(image(1)), batcher.submit(image(2))];
    await tick();
    assert.deepEqual(runner.batches, [2]);
    runner.release();
    await Promise.all(both);
  });

  test('images go to the runner in arrival order, whatever their size (the runner groups sizes), and one that fails fails alone', async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 8, maxDelayMs: 0 });
    const held = batcher.submit(image(9));
    await tick();
    const rest = [batcher.submit(image(1, 2)), batcher.submit(image(0, 3)), batcher.submit(image(3, 2)), batcher.submit(image(4, 3))];
    runner.release();
    await tick();
    runner.release();
    await held;
    const settled = await Promise.allSettled(rest);
    assert.deepEqual(runner.batches, [1, 4]);
    assert.deepEqual(settled.map((r) => (r.status === 'fulfilled' ? [r.value.row[0], r.value.row[1]] : (r.reason as { code: string }).code)), [[1, 2], 'CORRUPT_IMAGE', [3, 2], [4, 3]]);
  });

  test("an image's queue time is its wait, not its runner's work", async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 1, maxDelayMs: 0 });
    const first = batcher.submit(image(1));
    const second = batcher.submit(image(2));
    await tick();
    await sleep(40);
    runner.release();
    await tick();
    runner.release();
    const [a, b] = await Promise.all([first, second]);
    assert.ok(a.queueMs >= 30, `the first image's run was held for 40 ms and its runner reported 2 ms of work (${a.queueMs} ms)`);
    assert.ok(b.queueMs >= 30, `the second waited for the first (${b.queueMs} ms)`);
    assert.equal(a.decodeMs, 1);
  });

  test('a failed batch fails its images only; the next batch runs', async () => {
    const runner = new HeldRunner(1);
    const batcher = new Batcher(runner, { maxBatch: 2, maxDelayMs: 0 });
    runner.failNext = true;
    const failed = batcher.submit(image(1));
    await tick();
    const later = batcher.submit(image(2));
    runner.release();
    await assert.rejects(failed, { code: 'INFERENCE_FAILED' });
    await tick();
    runner.release();
    assert.equal((await later).row[0], 2);
  });
});
