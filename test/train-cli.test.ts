/**
 * `imgcls train` end to end on a small generated dataset (stripes and
 * checkerboards, which any image backbone separates): the default backbone,
 * the feature cache, reproducibility, the exported model served and
 * evaluated without the training code, and the errors a user can provoke.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeGreyPng } from '../examples/fashion-mnist/png.ts';
import { Classifier } from '../src/engine/classifier.ts';
import { buildApp } from '../src/server/app.ts';
import { serverConfig } from '../src/server/config.ts';
import { ModelRegistry } from '../src/server/registry.ts';
import { Random } from '../src/train/random.ts';
import type { TrainReport } from '../src/train/report-types.ts';
import { cli } from './helpers/cli.ts';
import { writeKerasColourModel } from './helpers/keras-colour.ts';
import { tempDir } from './helpers/models.ts';
import { multipart } from './helpers/server.ts';

const CLASSES = ['checker', 'horizontal', 'vertical'] as const;
const SIZE = 48;

/** A 48×48 grey pattern with a random period and phase, plus noise. */
function pattern(kind: (typeof CLASSES)[number], rng: Random): Buffer {
  const period = 6 + rng.int(6);
  const phase = rng.int(period);
  const px = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const h = Math.floor((y + phase) / (period / 2)) % 2;
      const v = Math.floor((x + phase) / (period / 2)) % 2;
      const on = kind === 'horizontal' ? h : kind === 'vertical' ? v : h ^ v;
      px[y * SIZE + x] = Math.max(0, Math.min(255, (on ? 200 : 50) + Math.round(rng.normal() * 12)));
    }
  }
  return encodeGreyPng(px, SIZE, SIZE);
}

let root: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let cache: string;
const TRAIN_PER_CLASS = 16;
const TEST_PER_CLASS = 4;

async function readReport(dir: string): Promise<TrainReport> {
  return JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')) as TrainReport;
}

async function trainCli(out: string, ...flags: string[]) {
  return cli('train', data, '--out', out, '--cache', cache, '--threads', '1', '--epochs', '20', ...flags);
}

before(async () => {
  root = await tempDir('imgcls-train-');
  data = path.join(root.dir, 'patterns');
  cache = path.join(root.dir, 'cache');
  const rng = new Random(7);
  for (const [split, n] of [['train', TRAIN_PER_CLASS], ['test', TEST_PER_CLASS]] as const) {
    for (const kind of CLASSES) {
      await mkdir(path.join(data, split, kind), { recursive: true });
      for (let i = 0; i < n; i++) await writeFile(path.join(data, split, kind, `${i}.png`), pattern(kind, rng));
    }
  }
});
after(async () => root.cleanup());

describe('imgcls train', () => {
  let model: string;
  let first: TrainReport;

  before(async () => {
    model = path.join(root.dir, 'model');
    const r = await trainCli(model, '--seed', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    first = await readReport(model);
    assert.match(r.out.join('\n'), /Test accuracy \d+\.\d+%/);
  });

  test('writes a package with the report, and learns the patterns', async () => {
    assert.deepEqual((await readdir(model)).sort(), ['imgcls.json', 'model.onnx', 'report.html', 'report.json']);
    assert.deepEqual(first.dataset.classes, [...CLASSES]);
    assert.equal(first.backbone.name, 'nsfw-mobilenet-v2');
    assert.equal(first.backbone.layer, 'block_13_expand_relu');
    assert.equal(first.backbone.pool, 'grid2');
    // Two val images held out per class (10% of 16, rounded), the rest trained on.
    assert.equal(first.dataset.counts.train!.checker, TRAIN_PER_CLASS - 2);
    assert.equal(first.dataset.counts.val!.checker, 2);
    assert.equal(first.timing.features_computed, CLASSES.length * (TRAIN_PER_CLASS + TEST_PER_CLASS));
    assert.ok(first.test, 'the test split is evaluated');
    assert.ok(first.test.accuracy >= 0.9, `test accuracy ${first.test.accuracy}`);
    assert.equal(first.test.images, CLASSES.length * TEST_PER_CLASS);
    assert.ok(first.history.length >= 1 && first.history.length <= 20);
    assert.equal(first.head.best_epoch, first.history.reduce((b, h) => (h.val_accuracy > first.history[b - 1]!.val_accuracy ? h.epoch : b), 1));
    const html = await readFile(path.join(model, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    const manifest = JSON.parse(await readFile(path.join(model, 'imgcls.json'), 'utf8'));
    assert.deepEqual(manifest.labels, [...CLASSES]);
    assert.equal(manifest.output.activation, 'none', 'the graph ends in its own softmax');
  });

  test('evaluate on the exported model gives the report\'s test figures (one graph, no training code)', async () => {
    const r = await cli('evaluate', '--model', model, data, '--json');
    assert.equal(r.code, 0, r.err.join('\n'));
    const m = JSON.parse(r.out.join(''));
    assert.equal(m.accuracy, first.test!.accuracy);
    assert.deepEqual(m.confusion.matrix, first.test!.confusion.matrix);
  });

  test('the served model answers /predict with a class and its probability', async () => {
    const registry = new ModelRegistry();
    registry.add({ name: 'patterns', dir: model, classifier: await Classifier.load(model) }, { default: true });
    registry.markReady();
    const app = await buildApp(serverConfig({ logLevel: false }), registry, { processMetrics: false });
    try {
      const { payload, headers } = await multipart([['file', await readFile(path.join(data, 'test', 'vertical', '0.png')), 'v.png', 'image/png']]);
      const res = await app.inject({ method: 'POST', url: '/predict', payload, headers });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      const predictions = body.predictions as { label: string; score: number }[];
      assert.equal(predictions.length, 3);
      assert.ok(CLASSES.includes(predictions[0]!.label as never));
      const total = predictions.reduce((a, p) => a + p.score, 0);
      assert.ok(Math.abs(total - 1) < 1e-4, `probabilities sum to ${total}`);
    } finally {
      await app.close();
    }
  });

  test('a second run with another head reads every feature from the cache', async () => {
    const out = path.join(root.dir, 'model-hidden');
    const r = await trainCli(out, '--hidden', '16', '--seed', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = await readReport(out);
    assert.equal(report.timing.features_computed, 0);
    assert.equal(report.timing.features_cached, first.timing.features_computed);
    assert.equal(report.head.hidden, 16);
  });

  test('the same seed gives the same model, byte for byte', async () => {
    const out = path.join(root.dir, 'model-again');
    const r = await trainCli(out, '--seed', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(await readFile(path.join(out, 'model.onnx')), await readFile(path.join(model, 'model.onnx')));
    assert.deepEqual((await readReport(out)).history.map((h) => h.val_loss), first.history.map((h) => h.val_loss));
  });

  test('--augment adds views of the training images, cached per view', async () => {
    const out = path.join(root.dir, 'model-augment');
    const r = await trainCli(out, '--augment', '1', '--seed', '1');
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = await readReport(out);
    const trained = CLASSES.length * (TRAIN_PER_CLASS - 2);
    assert.equal(report.timing.features_computed, trained, 'only the augmented view is new');
    assert.equal(report.head.augment, 1);
    const again = await trainCli(out, '--augment', '1', '--seed', '1');
    assert.equal(again.code, 0, again.err.join('\n'));
    assert.equal((await readReport(out)).timing.features_computed, 0);
  });

  test('--backbone takes a TF.js model.json, cut at --features', async () => {
    const keras = await writeKerasColourModel(path.join(root.dir, 'keras'));
    const out = path.join(root.dir, 'model-keras');
    const r = await trainCli(out, '--backbone', keras, '--features', 'mix', '--pool', 'avg', '--no-cache');
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = await readReport(out);
    assert.equal(report.backbone.layer, 'mix');
    assert.equal(report.backbone.dim, 3);
    assert.deepEqual(report.backbone.input, { width: 16, height: 16 });
    const classifier = await Classifier.load(out);
    try {
      const [result] = await classifier.classify([await readFile(path.join(data, 'test', 'checker', '0.png'))]);
      assert.ok(result && result.ok);
      assert.equal(result.predictions.length, 3);
    } finally {
      await classifier.close();
    }
  });
});

describe('imgcls train: errors', () => {
  test('an unreadable image is skipped and listed, and the run goes on', async () => {
    const copy = path.join(root.dir, 'with-broken');
    for (const kind of CLASSES) {
      await mkdir(path.join(copy, kind), { recursive: true });
      for (let i = 0; i < 4; i++) await writeFile(path.join(copy, kind, `${i}.png`), await readFile(path.join(data, 'train', kind, `${i}.png`)));
    }
    await writeFile(path.join(copy, 'checker', 'broken.png'), 'not a png at all');
    const out = path.join(root.dir, 'model-broken');
    const r = await cli('train', copy, '--out', out, '--cache', cache, '--epochs', '2');
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = await readReport(out);
    assert.equal(report.dataset.skipped.length, 1);
    assert.match(report.dataset.skipped[0]!, /broken\.png/);
    assert.equal(report.test, null, 'no test split: only validation is reported');
  });

  test('--out never replaces a folder that is not a model', async () => {
    const mine = path.join(root.dir, 'my-photos');
    await mkdir(mine);
    await writeFile(path.join(mine, 'keep.txt'), 'precious');
    const r = await cli('train', data, '--out', mine, '--cache', cache);
    assert.equal(r.code, 2);
    assert.match(r.err.join('\n'), /non-empty folder that holds no model/);
    assert.deepEqual(await readdir(mine), ['keep.txt']);
  });

  test('bad options fail before any work, naming the flag', async () => {
    for (const [flags, pattern] of [
      [[], /--out/],
      [['--out', 'x', '--lr', 'fast'], /--lr/],
      [['--out', 'x', '--class-weight', 'heavy'], /class-weight/],
      [['--out', 'x', '--val-split', '1.5'], /--val-split/],
      [['--out', 'x', '--pool', 'median'], /grid:N/],
      [['--out', 'x', '--features', 'no_such_layer'], /no layer named no_such_layer/],
      [['--out', 'x', '--backbone', path.join(root.dir, 'nowhere')], /--backbone takes/],
      [['--out', 'x', '--epochs', '0'], /--epochs/],
    ] as const) {
      const r = await cli('train', data, '--cache', cache, ...flags);
      // Usage errors exit 2; a backbone that is not there is an ordinary failure (1).
      assert.equal(r.code, (flags as readonly string[]).includes('--backbone') ? 1 : 2, `${flags.join(' ')}: ${r.err.join('\n')}`);
      assert.match(r.err.join('\n'), pattern, flags.join(' '));
    }
  });
});
