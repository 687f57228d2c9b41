/**
 * The head training loop on synthetic features (Gaussian blobs), its
 * determinism under a seed, early stopping with the best checkpoint kept,
 * scikit-learn's balanced class weights, and the stratified validation
 * hold-out.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImgclsError } from '../src/errors.ts';
import { cosineLr } from '../src/train/adamw.ts';
import type { Dataset, LabelledImage } from '../src/train/dataset.ts';
import { balancedWeights, fitHead, predictProbabilities, type FitOptions, type LabelledFeatures } from '../src/train/fit.ts';
import type { Head } from '../src/train/head.ts';
import { Linalg, matrix } from '../src/train/linalg.ts';
import { Random } from '../src/train/random.ts';
import type { EpochRecord } from '../src/train/report-types.ts';
import { chooseSplits } from '../src/train/split.ts';

let la: Linalg;
// One thread: small products, and a machine that may be busy with other work.
before(async () => {
  la = await Linalg.open(1);
});
after(async () => {
  await la.close();
});

const DIM = 20;
const CLASSES = 3;

/**
 * Class centres about 8 apart (√(2·20)·1.3), points with unit noise around
 * them: a few percent of the points lie nearer another centre at first, so a
 * head must train a little to pass 95%.
 */
function centres(rng: Random): Float32Array[] {
  return Array.from({ length: CLASSES }, () => Float32Array.from({ length: DIM }, () => rng.normal() * 1.3));
}

function blobs(n: number, means: Float32Array[], rng: Random): LabelledFeatures {
  const x = matrix(n, DIM);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    for (let d = 0; d < DIM; d++) x.data[i * DIM + d] = means[c]![d]! + rng.normal();
  }
  return { x, y };
}

const rng = new Random(2024);
const MEANS = centres(rng);
const TRAIN = blobs(300, MEANS, rng);
const VAL = blobs(90, MEANS, rng);

const options = (overrides: Partial<FitOptions> = {}): FitOptions => ({
  classes: CLASSES,
  hidden: null,
  epochs: 8,
  batchSize: 32,
  lr: 1e-2,
  weightDecay: 1e-4,
  labelSmoothing: 0.1,
  classWeight: 'none',
  patience: 100,
  seed: 1,
  ...overrides,
});

async function accuracy(head: Head, data: LabelledFeatures): Promise<number> {
  const p = await predictProbabilities(la, head, data.x);
  let right = 0;
  for (let r = 0; r < p.rows; r++) {
    let best = 0;
    for (let c = 1; c < p.cols; c++) if (p.data[r * p.cols + c]! > p.data[r * p.cols + best]!) best = c;
    if (best === data.y[r]) right++;
  }
  return right / p.rows;
}

/** The history without its timings, which differ from run to run. */
const untimed = (history: EpochRecord[]) => history.map(({ seconds: _, ...rest }) => rest);

const weightsOf = (head: Head) => head.layers.map((l) => ({ w: [...l.w.data], b: [...l.b] }));

for (const hidden of [null, 16]) {
  const kind = hidden === null ? 'linear' : 'hidden-layer';

  test(`fitHead (${kind}) separates three Gaussian blobs: ≥ 95% validation accuracy`, async () => {
    const steps: number[] = [];
    const epochs: number[] = [];
    const result = await fitHead(la, TRAIN, VAL, options({ hidden, onStep: (done) => steps.push(done), onEpoch: (r) => epochs.push(r.epoch) }));
    assert.equal(result.head.layers.length, hidden === null ? 1 : 2);
    const best = result.history[result.bestEpoch - 1]!;
    assert.ok(best.val_accuracy >= 0.95, `best val accuracy ${best.val_accuracy}`);
    assert.equal(await accuracy(result.head, VAL), best.val_accuracy);
    // 300 images in batches of 32: 10 steps per epoch, reported one by one.
    assert.equal(steps.length, 10 * result.history.length);
    assert.deepEqual(steps, steps.map((_, i) => i + 1));
    assert.deepEqual(epochs, result.history.map((r) => r.epoch));
    // Learning: the last epoch's training loss is below the first's, and the lr decays.
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    assert.ok(last.train_loss < first.train_loss, `${last.train_loss} < ${first.train_loss}`);
    assert.equal(first.lr, 1e-2);
    assert.ok(last.lr < first.lr);
    // Probabilities sum to 1 per row.
    const p = await predictProbabilities(la, result.head, VAL.x, 7);
    for (let r = 0; r < p.rows; r++) {
      const sum = p.data[r * 3]! + p.data[r * 3 + 1]! + p.data[r * 3 + 2]!;
      assert.ok(Math.abs(sum - 1) < 1e-5);
    }
  });

  test(`fitHead (${kind}): the same seed repeats history and weights exactly, another seed does not`, async () => {
    const opts = options({ hidden, epochs: 3 });
    const a = await fitHead(la, TRAIN, VAL, opts);
    const b = await fitHead(la, TRAIN, VAL, opts);
    assert.deepEqual(untimed(a.history), untimed(b.history));
    assert.equal(a.bestEpoch, b.bestEpoch);
    assert.deepEqual(weightsOf(a.head), weightsOf(b.head));
    const c = await fitHead(la, TRAIN, VAL, { ...opts, seed: 2 });
    assert.notDeepEqual(weightsOf(c.head), weightsOf(a.head));
  });
}

test('predictProbabilities gives the same rows whatever the chunk size', async () => {
  const { head } = await fitHead(la, TRAIN, VAL, options({ hidden: 8, epochs: 1 }));
  const whole = await predictProbabilities(la, head, VAL.x);
  const chunked = await predictProbabilities(la, head, VAL.x, 16);
  assert.equal(chunked.rows, 90);
  for (let i = 0; i < whole.data.length; i++) assert.ok(Math.abs(whole.data[i]! - chunked.data[i]!) < 1e-6);
});

test('early stopping: a validation accuracy that cannot change stops after `patience` epochs, keeping epoch 1', async () => {
  // Every val row is the zero vector, so the head predicts one class for all of
  // them; with 10 rows of each class the accuracy is 1/3 whatever it learns.
  const val: LabelledFeatures = { x: matrix(30, DIM), y: Int32Array.from({ length: 30 }, (_, i) => i % 3) };
  for (const hidden of [null, 8]) {
    const result = await fitHead(la, TRAIN, val, options({ hidden, epochs: 20, patience: 2 }));
    assert.equal(result.history.length, 3, 'epoch 1, then two without improvement');
    assert.equal(result.bestEpoch, 1);
    for (const r of result.history) assert.equal(r.val_accuracy, 1 / 3);
  }
});

test('early stopping: with noise in val the run stops early and returns the best epoch’s head', async () => {
  // Val points that are pure noise with random labels: the accuracy wanders
  // around 1/3 as the head trains, and stops improving within a few epochs.
  const noise = new Random(77);
  const val: LabelledFeatures = {
    x: matrix(60, DIM, Float32Array.from({ length: 60 * DIM }, () => noise.normal() * 2.6)),
    y: Int32Array.from({ length: 60 }, () => noise.int(CLASSES)),
  };
  const epochs = 30;
  const patience = 2;
  const result = await fitHead(la, TRAIN, val, options({ hidden: 8, epochs, patience, lr: 3e-2 }));
  const accuracies = result.history.map((r) => r.val_accuracy);
  assert.ok(result.history.length < epochs, `ran ${result.history.length} of ${epochs} epochs`);
  // The best is the first maximum, and the run stopped `patience` epochs after it.
  const best = accuracies[result.bestEpoch - 1]!;
  assert.equal(result.bestEpoch, accuracies.indexOf(Math.max(...accuracies)) + 1);
  assert.equal(result.history.length, result.bestEpoch + patience);
  for (const a of accuracies.slice(result.bestEpoch)) assert.ok(a <= best);
  // The returned head is the checkpoint of that epoch, not the last one (whose accuracy is lower here).
  assert.ok(accuracies.at(-1)! < best, `the data should make the last epoch worse than the best: ${accuracies.join(', ')}`);
  assert.equal(await accuracy(result.head, val), best);
});

test('`epochs` caps the run, and each record holds the learning rate at its epoch’s start', async () => {
  const result = await fitHead(la, TRAIN, VAL, options({ epochs: 2 }));
  assert.deepEqual(result.history.map((r) => r.epoch), [1, 2]);
  // 10 steps per epoch, 20 in all: epoch 2 starts at step 10 of the cosine schedule.
  assert.equal(result.history[0]!.lr, cosineLr(1e-2, 0, 20));
  assert.equal(result.history[1]!.lr, cosineLr(1e-2, 10, 20));
  for (const r of result.history) {
    assert.ok(Number.isFinite(r.train_loss) && Number.isFinite(r.val_loss) && r.seconds >= 0);
    assert.ok(r.train_accuracy >= 0 && r.train_accuracy <= 1);
  }
});

test("fitHead with classWeight 'balanced' trains on an imbalanced set", async () => {
  // Keep every class-0 row but only a fifth of classes 1 and 2.
  const keep = [...TRAIN.y.keys()].filter((i) => TRAIN.y[i] === 0 || i % 5 === 0);
  const x = matrix(keep.length, DIM);
  keep.forEach((r, i) => x.data.set(TRAIN.x.data.subarray(r * DIM, (r + 1) * DIM), i * DIM));
  const train: LabelledFeatures = { x, y: Int32Array.from(keep, (r) => TRAIN.y[r]!) };
  const result = await fitHead(la, train, VAL, options({ classWeight: 'balanced', epochs: 10 }));
  assert.ok(result.history[result.bestEpoch - 1]!.val_accuracy >= 0.9);
  for (const r of result.history) assert.ok(Number.isFinite(r.val_loss));
});

test("balancedWeights is scikit-learn's n / (classes · count)", () => {
  // 10 samples: 6 of class 0, 3 of class 1, 1 of class 2.
  const y = Int32Array.from([0, 1, 0, 0, 2, 1, 0, 0, 1, 0]);
  const w = balancedWeights(y, 3);
  const expected = [10 / (3 * 6), 10 / (3 * 3), 10 / (3 * 1)];
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(w[c]! - expected[c]!) < 1e-6, `class ${c}: ${w[c]} vs ${expected[c]}`);
  // Every class weighs the same in total: count · weight = n / classes.
  for (const [c, count] of [6, 3, 1].entries()) assert.ok(Math.abs(count * w[c]! - 10 / 3) < 1e-5);
  // A balanced y gives weight 1 everywhere; a class absent from y gets 0 rather than Infinity.
  assert.deepEqual([...balancedWeights(Int32Array.from([0, 1, 2, 2, 1, 0]), 3)], [1, 1, 1]);
  const absent = balancedWeights(Int32Array.from([0, 0, 1, 1]), 3);
  assert.equal(absent[2], 0);
  assert.ok(Math.abs(absent[0]! - 4 / 6) < 1e-6);
});

const images = (label: string, n: number): LabelledImage[] => Array.from({ length: n }, (_, i) => ({ path: `/data/${label}/${String(i).padStart(3, '0')}.png`, label }));

const dataset = (splits: Dataset['splits'], classes = ['a', 'b', 'c']): Dataset => ({ classes, splits, source: 'folder', warnings: [] });

const key = (img: LabelledImage) => img.path;

function assertInvalidOption(fn: () => unknown, pattern?: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ImgclsError, `${String(err)} is an ImgclsError`);
    assert.equal(err.code, 'INVALID_OPTION');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

test('chooseSplits: from `all`, a stratified seeded hold-out with at least one per class; singletons stay in train', () => {
  const all = [...images('a', 20), ...images('b', 5), ...images('c', 1), ...images('d', 2)];
  const ds = dataset({ all }, ['a', 'b', 'c', 'd']);
  const s = chooseSplits(ds, 0.2, 7);
  const count = (list: LabelledImage[], label: string) => list.filter((i) => i.label === label).length;
  // round(20·0.2) = 4, max(1, round(5·0.2)) = 1, c has one image, max(1, round(2·0.2)) = 1.
  assert.deepEqual(['a', 'b', 'c', 'd'].map((l) => count(s.val, l)), [4, 1, 0, 1]);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((l) => count(s.train, l)), [16, 4, 1, 1]);
  // Disjoint and covering.
  const trainPaths = new Set(s.train.map(key));
  assert.equal(trainPaths.size, s.train.length);
  for (const img of s.val) assert.ok(!trainPaths.has(img.path), `${img.path} in both`);
  assert.deepEqual([...s.train, ...s.val].map(key).sort(), all.map(key).sort());
  // Sorted by path, no test split, and described for the report.
  assert.deepEqual(s.train.map(key), s.train.map(key).sort());
  assert.deepEqual(s.val.map(key), s.val.map(key).sort());
  assert.equal(s.test, null);
  assert.match(s.validation, /20% of train held out per class \(6 images, seed 7\)/);
  // The same seed gives the same split; the input is not reordered.
  assert.deepEqual(chooseSplits(ds, 0.2, 7), s);
  assert.deepEqual(ds.splits.all, all);
  // Another seed draws other images (20 choose 4 makes a repeat in class a unlikely; these seeds differ).
  const other = chooseSplits(ds, 0.2, 8);
  assert.notDeepEqual(other.val.map(key), s.val.map(key));
  assert.deepEqual(['a', 'b', 'c', 'd'].map((l) => count(other.val, l)), [4, 1, 0, 1]);
});

test('chooseSplits: train without val is split the same way, and test is passed through', () => {
  const train = [...images('a', 10), ...images('b', 10)];
  const test_ = images('a', 3);
  const s = chooseSplits(dataset({ train, test: test_ }, ['a', 'b']), 0.3, 1);
  assert.equal(s.val.length, 6);
  assert.equal(s.train.length, 14);
  assert.equal(s.test, test_);
});

test("chooseSplits: a dataset's own val split is used as it is, whatever valFraction", () => {
  const train = [...images('a', 4), ...images('b', 4)];
  const val = [...images('a', 2), ...images('b', 1)].map((i) => ({ ...i, path: i.path.replace('/data/', '/val/') }));
  const test_ = images('b', 2);
  const s = chooseSplits(dataset({ train, val, test: test_ }, ['a', 'b']), 0.2, 3);
  assert.equal(s.train, train);
  assert.equal(s.val, val);
  assert.equal(s.test, test_);
  assert.match(s.validation, /val split \(3 images\)/);
  // valFraction is not looked at when the split exists.
  assert.equal(chooseSplits(dataset({ train, val }, ['a', 'b']), 5, 3).val, val);
  // An empty val split counts as none.
  assert.equal(chooseSplits(dataset({ train, val: [] }, ['a', 'b']), 0.25, 3).val.length, 2);
});

test('chooseSplits: valFraction outside (0, 1) is INVALID_OPTION', () => {
  const ds = dataset({ all: [...images('a', 10), ...images('b', 10)] }, ['a', 'b']);
  for (const f of [0, 1, -0.1, 1.5, Number.NaN]) assertInvalidOption(() => chooseSplits(ds, f, 1), /--val-split/);
});

test('chooseSplits: no training images, or only single-image classes, is INVALID_OPTION', () => {
  assertInvalidOption(() => chooseSplits(dataset({}), 0.2, 1), /no training images/);
  assertInvalidOption(() => chooseSplits(dataset({ train: [] }), 0.2, 1), /no training images/);
  assertInvalidOption(() => chooseSplits(dataset({ test: images('a', 3) }), 0.2, 1), /no training images/);
  assertInvalidOption(() => chooseSplits(dataset({ all: [...images('a', 1), ...images('b', 1)] }, ['a', 'b']), 0.2, 1), /single training image/);
});
