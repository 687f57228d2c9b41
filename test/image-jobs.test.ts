/**
 * prepareImage's memory contract: the decode slot covers the JS resize too,
 * so full-size pixels never outlive it, and the runner hears of every
 * full-size buffer that became garbage (test/collector.test.ts has the
 * collector those reports feed).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { prepareImage, type PrepareSpec } from '../src/engine/image-jobs.ts';
import { Slots } from '../src/engine/slots.ts';
import { imagenetPreprocess, type ResampleKernel } from '../src/model/spec.ts';

const fixture = (name: string) => readFile(path.join(import.meta.dirname, 'fixtures', name));

/** Stretch to 224x224 with `kernel`, resized by sharp where it can. */
const stretch = (kernel: ResampleKernel): PrepareSpec => ({
  preprocess: { ...imagenetPreprocess(), resize: { mode: 'stretch', size: { width: 224, height: 224 }, kernel }, crop: null },
  resampler: 'sharp',
});

/** Slots that log when a holder gets in and leaves. */
class LoggedSlots extends Slots {
  constructor(private readonly log: string[]) {
    super(1);
  }
  override async acquire(): Promise<void> {
    await super.acquire();
    this.log.push('in');
  }
  override release(): void {
    this.log.push('out');
    super.release();
  }
}

describe('prepareImage', () => {
  test('holds its slot until the JS resize has dropped the full-size pixels, and reports their size', async () => {
    const bytes = await fixture('photo-chelsea.jpg'); // 451x300, resized in JS (align-corners)
    const log: string[] = [];
    const slots = new LoggedSlots(log);
    const results = await Promise.all(
      [bytes, bytes].map((b) => prepareImage({ bytes: b }, stretch('align-corners'), slots, (n) => log.push(`dropped ${n}`))),
    );
    for (const r of results) {
      assert.ok(r.ok);
      assert.deepEqual([r.pixels.width, r.pixels.height], [224, 224]);
    }
    const dropped = `dropped ${451 * 300 * 3}`;
    assert.deepEqual(log, ['in', dropped, 'out', 'in', dropped, 'out']);
  });

  test('reports nothing when no full-size pixels were dropped: sharp resized, or the image was already at the input size', async () => {
    const reports: number[] = [];
    const slots = new Slots(1);
    const sharpResized = await prepareImage({ bytes: await fixture('photo-chelsea.jpg') }, stretch('linear'), slots, (n) => reports.push(n));
    const atSize = await prepareImage({ bytes: await fixture('photo-astronaut-224.png') }, stretch('align-corners'), slots, (n) => reports.push(n));
    assert.ok(sharpResized.ok && atSize.ok);
    assert.equal(atSize.pixels.width, 224);
    assert.deepEqual(reports, []);
  });

  test('a bad image gives its slot back', async () => {
    const slots = new Slots(1);
    const bad = await prepareImage({ bytes: await fixture('truncated.jpg') }, stretch('align-corners'), slots);
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.error.code, 'CORRUPT_IMAGE');
    const good = await prepareImage({ bytes: await fixture('photo-chelsea.jpg') }, stretch('align-corners'), slots);
    assert.ok(good.ok);
  });
});
