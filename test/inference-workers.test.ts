/**
 * Inference in worker threads: the same answers as on the calling thread,
 * an event loop that keeps running while a model computes, a worker that
 * dies replaced, and bounded admission (503 with Retry-After over HTTP).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Classifier, type ClassifyResult } from '../src/engine/classifier.ts';
import { WorkerPool } from '../src/engine/worker-pool.ts';
import { encodeModel, GraphBuilder } from '../src/onnx/model.ts';
import { fixture, FIXTURES, multipart, testApp, type TestApp } from './helpers/server.ts';
import { tempDir } from './helpers/models.ts';

const HF_COLOUR = path.join(FIXTURES, 'models', 'hf-colour');
const IMAGES = ['red.jpg', 'green.png', 'blue.webp', 'blue-then-red.tiff'];

/** X · X · … (`n` products) of a square matrix: enough work to take a while on one thread. */
function matrixPower(size: number, n: number): Uint8Array {
  const g = new GraphBuilder('power');
  g.input('x', 'FLOAT', [size, size]);
  let y = 'x';
  for (let i = 0; i < n; i++) y = g.op('MatMul', [y, 'x']);
  g.op('Identity', [y], undefined, 'y');
  g.output('y', 'FLOAT', [size, size]);
  return encodeModel({ graph: g.build(), opset: 17 });
}

const SPEC = { inputName: 'x', outputName: 'y', preprocess: { resize: { mode: 'none' }, crop: null, scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB', layout: 'NCHW' } } as const;

describe('inference workers', () => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  let heavy: string;
  before(async () => {
    dir = await tempDir('imgcls-workers-');
    heavy = path.join(dir.dir, 'power.onnx');
    await writeFile(heavy, matrixPower(384, 24));
  });
  after(() => dir.cleanup());

  test('workers give the scores the calling thread gives', async () => {
    const inputs = await Promise.all(IMAGES.map(fixture));
    const inThread = await Classifier.load(HF_COLOUR, { workers: 0 });
    const pooled = await Classifier.load(HF_COLOUR, { workers: 2, maxBatch: 3 });
    try {
      assert.equal(pooled.workers, 2);
      assert.equal(inThread.workers, 0);
      const a = await inThread.classify(inputs, { topK: 'all' });
      const b = await pooled.classify(inputs, { topK: 'all' });
      a.forEach((r, i) => {
        const w = b[i]!;
        assert.ok(r.ok && w.ok);
        assert.deepEqual(w.predictions.map((p) => p.label), r.predictions.map((p) => p.label));
        r.predictions.forEach((p, j) => assert.ok(Math.abs(p.score - w.predictions[j]!.score) < 1e-6));
      });
    } finally {
      await inThread.close();
      await pooled.close();
    }
  });

  test('handOver moves bytes that fill their buffer to the worker, and copies views and bytes not handed over', async () => {
    const photo = await fixture('photo-chelsea.jpg');
    const c = await Classifier.load(HF_COLOUR, { workers: 1 });
    try {
      const [kept] = await c.classify([photo], { topK: 'all' });
      // Bytes alone in their buffer, as an upload's are after it is read.
      const whole = new Uint8Array(photo);
      const [moved] = await c.classify([whole], { topK: 'all', handOver: true });
      assert.equal(whole.byteLength, 0, 'the handed-over bytes left this thread');
      // A view on a larger buffer (a pooled chunk, a request body) is copied even when handed over.
      const body = new Uint8Array(photo.length + 10);
      body.set(photo, 5);
      const view = body.subarray(5, 5 + photo.length);
      const [copied] = await c.classify([view], { topK: 'all', handOver: true });
      assert.equal(view.byteLength, photo.length);
      assert.deepEqual(view, new Uint8Array(photo));
      assert.equal(photo.byteLength, 34_288, 'bytes not handed over stay');
      for (const r of [moved, copied]) {
        assert.ok(kept?.ok && r?.ok);
        assert.deepEqual(r.predictions, kept.predictions);
      }
    } finally {
      await c.close();
    }
  });

  test('one worker holding two batches at once (the next decoding while one runs) gives each image its own scores', async () => {
    const inputs = await Promise.all(IMAGES.map(fixture));
    const c = await Classifier.load(HF_COLOUR, { workers: 1, maxBatch: 1 });
    try {
      const alone: ClassifyResult[] = [];
      for (const input of inputs) alone.push((await c.classify([input], { topK: 'all' }))[0]!);
      const together = await c.classify([...inputs, ...inputs], { topK: 'all' });
      together.forEach((r, i) => {
        const a = alone[i % inputs.length]!;
        assert.ok(r.ok && a.ok);
        assert.deepEqual(r.predictions.map((p) => p.label), a.predictions.map((p) => p.label), `image ${i}`);
        r.predictions.forEach((p, j) => assert.ok(Math.abs(p.score - a.predictions[j]!.score) < 1e-6));
      });
    } finally {
      await c.close();
    }
  });

  test('the calling thread keeps running timers while a worker computes', async () => {
    const pool = await WorkerPool.open(heavy, { workers: 1, threads: 1 });
    try {
      pool.configure(SPEC as never);
      const x = new Float32Array(384 * 384).fill(1 / 384);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const began = performance.now();
      const out = await pool.runTensor(x, [384, 384]);
      const ms = performance.now() - began;
      clearInterval(timer);
      assert.ok(Math.abs(out.data[0]! - 1 / 384) < 1e-6, 'the product of averaging matrices averages');
      // A blocked thread would fire at most once; a free one fires about every millisecond.
      assert.ok(ticks >= Math.min(20, ms / 5), `${ticks} timer ticks during a ${ms.toFixed(0)} ms run`);
    } finally {
      await pool.close();
    }
  });

  test('a worker that dies is replaced, and the pool keeps serving', async () => {
    const pool = await WorkerPool.open(heavy, { workers: 1, threads: 1 });
    try {
      pool.configure(SPEC as never);
      const x = new Float32Array(384 * 384).fill(1 / 384);
      await pool.runTensor(x, [384, 384]);
      // Kill the idle worker, as an out-of-memory kill would. (Terminating a worker in the middle of
      // an onnxruntime run can abort the whole process natively, so the test does not do that.)
      await (pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots[0]!.worker.terminate();
      const again = await pool.runTensor(x, [384, 384]);
      assert.equal(again.dims[0], 384, 'the replacement runs the next batch');
      assert.equal(pool.workers, 1);
    } finally {
      await pool.close();
    }
  });

  test('a model that cannot open fails load with the catalogue error, and no worker is left behind', async () => {
    const bad = path.join(dir.dir, 'bad.onnx');
    await writeFile(bad, 'not a model');
    await assert.rejects(WorkerPool.open(bad, { workers: 2 }), { code: 'MODEL_INVALID' });
  });

  test('classify refuses images past the queue limit with OVERLOADED and counts them out again', async () => {
    const c = await Classifier.load(HF_COLOUR, { workers: 1, maxQueue: 3 });
    try {
      const inputs = await Promise.all(IMAGES.map(fixture));
      await assert.rejects(c.classify(inputs), { code: 'OVERLOADED', status: 503 });
      const first = c.classify(inputs.slice(0, 2));
      assert.equal(c.pending, 2, 'counted while in progress');
      const second = c.classify(inputs.slice(2, 4));
      await assert.rejects(second, { code: 'OVERLOADED' });
      assert.equal((await first).length, 2);
      assert.equal(c.pending, 0);
      assert.equal(c.saturated, false);
    } finally {
      await c.close();
    }
  });
});

describe('bounded admission over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await testApp({ classifier: { workers: 1, maxQueue: 2 } });
  });
  after(() => t.cleanup());

  test('past the queue, requests get 503 OVERLOADED with Retry-After; the others 200; /healthz answers', async () => {
    const image = await fixture('red.jpg');
    const send = async () => {
      const m = await multipart([['file', image, 'a.jpg', 'image/jpeg']]);
      return t.app.inject({ method: 'POST', url: '/predict', payload: m.payload, headers: m.headers });
    };
    const replies = await Promise.all(Array.from({ length: 24 }, send));
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    const statuses = replies.map((r) => r.statusCode);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `only 200 and 503: ${statuses.join(',')}`);
    assert.ok(statuses.includes(200), 'some are served');
    const refused = replies.filter((r) => r.statusCode === 503);
    assert.ok(refused.length > 0, 'some are refused');
    for (const r of refused) {
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.json().error, 'OVERLOADED');
      assert.match(r.json().message, /capacity/);
    }
    // Once the queue drains, the server takes requests again.
    assert.equal((await send()).statusCode, 200);
  });
});
