/**
 * The training loop for a head on cached features: shuffled mini-batches,
 * AdamW with a per-step cosine learning rate, label smoothing and class
 * weights, one validation pass per epoch, and early stopping that keeps the
 * checkpoint with the best validation accuracy (the earliest among equals).
 */
import { AdamW, cosineLr } from './adamw.ts';
import { backward, cloneHead, crossEntropy, forward, initHead, softmaxRows, type Head } from './head.ts';
import { gatherRows, matrix, rowsOf, type Linalg, type Matrix } from './linalg.ts';
import { Random } from './random.ts';
import type { EpochRecord } from './report-types.ts';

/** Features (one row per image) and their class indices. */
export interface LabelledFeatures {
  x: Matrix;
  y: Int32Array;
}

/** What a head is and how it is trained: the choices `imgcls train` exposes. */
export interface HeadOptions {
  /** Hidden units, or null for a linear head. */
  hidden: number | null;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  labelSmoothing: number;
  classWeight: 'none' | 'balanced';
  /** Stop after this many epochs without a better validation accuracy. */
  patience: number;
  seed: number;
}

export interface FitOptions extends HeadOptions {
  classes: number;
  /** Called after each mini-batch with the steps done and the steps planned. */
  onStep?: (done: number, total: number) => void;
  onEpoch?: (record: EpochRecord) => void;
}

export interface FitResult {
  head: Head;
  history: EpochRecord[];
  bestEpoch: number;
}

/** scikit-learn's "balanced": n / (classes · count), so every class weighs the same in total. */
export function balancedWeights(y: Int32Array, classes: number): Float32Array {
  const counts = new Float64Array(classes);
  for (const c of y) counts[c]!++;
  return Float32Array.from(counts, (n) => (n === 0 ? 0 : y.length / (classes * n)));
}

/** Class probabilities for every row of `x`, computed in chunks. */
export async function predictProbabilities(la: Linalg, head: Head, x: Matrix, chunk = 2048): Promise<Matrix> {
  const out = matrix(x.rows, head.shape.classes);
  for (let from = 0; from < x.rows; from += chunk) {
    const to = Math.min(x.rows, from + chunk);
    const { logits } = await forward(la, head, rowsOf(x, from, to));
    softmaxRows(logits);
    out.data.set(logits.data, from * out.cols);
  }
  return out;
}

/** Loss and accuracy of `head` on a labelled set, with the training criterion. */
async function measure(la: Linalg, head: Head, data: LabelledFeatures, lossOptions: Parameters<typeof crossEntropy>[2]) {
  let loss = 0;
  let weight = 0;
  let correct = 0;
  const chunk = 2048;
  for (let from = 0; from < data.x.rows; from += chunk) {
    const to = Math.min(data.x.rows, from + chunk);
    const { logits } = await forward(la, head, rowsOf(data.x, from, to));
    const r = crossEntropy(logits, data.y.subarray(from, to), lossOptions);
    // Each chunk's loss is its weighted mean; the set's is the mean over all the weight.
    loss += r.loss * r.weight;
    weight += r.weight;
    correct += r.correct;
  }
  return { loss: weight > 0 ? loss / weight : 0, accuracy: correct / Math.max(1, data.x.rows) };
}

export async function fitHead(la: Linalg, train: LabelledFeatures, val: LabelledFeatures, options: FitOptions): Promise<FitResult> {
  const rng = new Random(options.seed);
  const head = initHead({ input: train.x.cols, hidden: options.hidden, classes: options.classes }, rng.fork(1));
  const shuffler = rng.fork(2);
  const optimizer = new AdamW(head.layers, { weightDecay: options.weightDecay });
  const lossOptions = {
    labelSmoothing: options.labelSmoothing,
    classWeights: options.classWeight === 'balanced' ? balancedWeights(train.y, options.classes) : undefined,
  };
  const n = train.x.rows;
  const batch = Math.min(options.batchSize, n);
  const stepsPerEpoch = Math.ceil(n / batch);
  const totalSteps = stepsPerEpoch * options.epochs;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // One batch buffer for the whole run: the hot loop allocates no feature rows.
  const buffer = new Float32Array(batch * train.x.cols);
  const labels = new Int32Array(batch);
  const history: EpochRecord[] = [];
  let best = { accuracy: -1, epoch: 0, head: cloneHead(head) };
  let step = 0;

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const began = performance.now();
    const lrAtStart = cosineLr(options.lr, step, totalSteps);
    shuffler.shuffle(order);
    let lossSum = 0;
    let weightSum = 0;
    let correct = 0;
    for (let from = 0; from < n; from += batch) {
      const to = Math.min(n, from + batch);
      const x = gatherRows(train.x, order, from, to, buffer);
      for (let i = from; i < to; i++) labels[i - from] = train.y[order[i]!]!;
      const y = labels.subarray(0, to - from);
      const pass = await forward(la, head, x);
      const { loss, correct: right, grad, weight } = crossEntropy(pass.logits, y, lossOptions);
      const grads = await backward(la, head, x, pass, grad);
      optimizer.update(grads, cosineLr(options.lr, step, totalSteps));
      step++;
      lossSum += loss * weight;
      weightSum += weight;
      correct += right;
      options.onStep?.(step, totalSteps);
    }
    const v = await measure(la, head, val, lossOptions);
    const record: EpochRecord = {
      epoch,
      lr: lrAtStart,
      train_loss: weightSum > 0 ? lossSum / weightSum : 0,
      train_accuracy: correct / n,
      val_loss: v.loss,
      val_accuracy: v.accuracy,
      seconds: (performance.now() - began) / 1000,
    };
    history.push(record);
    options.onEpoch?.(record);
    if (v.accuracy > best.accuracy) best = { accuracy: v.accuracy, epoch, head: cloneHead(head) };
    else if (epoch - best.epoch >= options.patience) break;
  }
  return { head: best.head, history, bestEpoch: best.epoch };
}
