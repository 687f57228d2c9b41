/**
 * The classifier head trained on frozen features: a linear layer, or one
 * hidden ReLU layer then a linear layer. Its forward and backward passes use
 * onnxruntime for the matrix products (linalg.ts) and plain loops for the
 * rest; the loss is softmax cross-entropy with label smoothing and
 * per-class weights, each row weighted by its true class's weight and the sum
 * divided by the total weight (PyTorch's weighted CrossEntropyLoss; with
 * smoothing, PyTorch weighs the smoothing term per class instead, a small
 * difference we do not copy).
 */
import { matrix, type Linalg, type Matrix } from './linalg.ts';
import type { Random } from './random.ts';

/** One fully connected layer: y = x · w + b, with w stored input-major (in × out). */
export interface Dense {
  w: Matrix;
  b: Float32Array;
}

export interface HeadShape {
  input: number;
  /** Hidden units, or null for a linear head. */
  hidden: number | null;
  classes: number;
}

export interface Head {
  shape: HeadShape;
  /** [linear] or [hidden, linear]; ReLU between them. */
  layers: Dense[];
}

/** PyTorch's nn.Linear initialisation: uniform in ±1/√fan_in, for weights and biases. */
function dense(inputs: number, outputs: number, rng: Random): Dense {
  const bound = 1 / Math.sqrt(inputs);
  const w = matrix(inputs, outputs);
  for (let i = 0; i < w.data.length; i++) w.data[i] = rng.uniform(-bound, bound);
  const b = new Float32Array(outputs);
  for (let i = 0; i < outputs; i++) b[i] = rng.uniform(-bound, bound);
  return { w, b };
}

export function initHead(shape: HeadShape, rng: Random): Head {
  const layers = shape.hidden === null ? [dense(shape.input, shape.classes, rng)] : [dense(shape.input, shape.hidden, rng), dense(shape.hidden, shape.classes, rng)];
  return { shape, layers };
}

export function cloneHead(head: Head): Head {
  return {
    shape: head.shape,
    layers: head.layers.map((l) => ({ w: matrix(l.w.rows, l.w.cols, l.w.data.slice()), b: l.b.slice() })),
  };
}

function addBias(y: Matrix, b: Float32Array): void {
  for (let r = 0, o = 0; r < y.rows; r++) for (let c = 0; c < y.cols; c++, o++) y.data[o]! += b[c]!;
}

function relu(y: Matrix): void {
  for (let i = 0; i < y.data.length; i++) if (y.data[i]! < 0) y.data[i] = 0;
}

export interface Forward {
  logits: Matrix;
  /** The hidden activations (after ReLU), for the backward pass. */
  hidden: Matrix | null;
}

export async function forward(la: Linalg, head: Head, x: Matrix): Promise<Forward> {
  let hidden: Matrix | null = null;
  let a = x;
  const last = head.layers.length - 1;
  for (let i = 0; i <= last; i++) {
    const l = head.layers[i]!;
    const y = await la.mul(a, l.w);
    addBias(y, l.b);
    if (i < last) {
      relu(y);
      hidden = y;
    }
    a = y;
  }
  return { logits: a, hidden };
}

/** Softmax of each row, in place, computed stably. */
export function softmaxRows(m: Matrix): void {
  const { rows, cols, data } = m;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, data[o + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[o + c] = Math.exp(data[o + c]! - max);
    for (let c = 0; c < cols; c++) data[o + c]! /= sum;
  }
}

export interface LossOptions {
  /** ε: the target is 1-ε on the true class plus ε/classes everywhere. */
  labelSmoothing: number;
  /** A weight per class (1 for all when absent). */
  classWeights?: Float32Array;
}

export interface LossResult {
  /** Weighted mean loss over the batch. */
  loss: number;
  /** The batch's total weight (its row count without class weights), to average over several batches. */
  weight: number;
  /** How many rows the model got right (arg max = label). */
  correct: number;
  /** d loss / d logits. */
  grad: Matrix;
}

/**
 * Cross-entropy of softmax(logits) against smoothed one-hot targets, each
 * row weighted by its class's weight and the sum divided by the total weight.
 * `logits` is turned into probabilities in place.
 */
export function crossEntropy(logits: Matrix, labels: ArrayLike<number>, options: LossOptions): LossResult {
  const { rows, cols } = logits;
  const eps = options.labelSmoothing;
  const p = logits.data;
  const rowMax = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (p[r * cols + c]! > p[r * cols + best]!) best = c;
    rowMax[r] = best;
  }
  softmaxRows(logits);
  let totalWeight = 0;
  for (let r = 0; r < rows; r++) totalWeight += options.classWeights?.[labels[r]!] ?? 1;
  const grad = matrix(rows, cols);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const y = labels[r]!;
    const w = (options.classWeights?.[y] ?? 1) / totalWeight;
    if (rowMax[r] === y) correct++;
    for (let c = 0, o = r * cols; c < cols; c++, o++) {
      const target = (c === y ? 1 - eps : 0) + eps / cols;
      // Clamped so a probability that underflows to 0 gives a large, finite loss.
      loss -= w * target * Math.log(Math.max(p[o]!, 1e-30));
      grad.data[o] = w * (p[o]! - target);
    }
  }
  return { loss, correct, grad, weight: totalWeight };
}

/** Column sums: a bias's gradient. */
function columnSums(m: Matrix): Float32Array {
  const out = new Float32Array(m.cols);
  for (let r = 0, o = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++, o++) out[c]! += m.data[o]!;
  return out;
}

/** Gradients of the loss for each layer, in the head's layer order. */
export async function backward(la: Linalg, head: Head, x: Matrix, pass: Forward, dLogits: Matrix): Promise<Dense[]> {
  if (head.layers.length === 1) return [{ w: await la.mulTA(x, dLogits), b: columnSums(dLogits) }];
  const hidden = pass.hidden!;
  const out = head.layers[1]!;
  const dOut: Dense = { w: await la.mulTA(hidden, dLogits), b: columnSums(dLogits) };
  const dHidden = await la.mulTB(dLogits, out.w);
  // Through the ReLU: no gradient where the unit was off.
  for (let i = 0; i < dHidden.data.length; i++) if (hidden.data[i]! <= 0) dHidden.data[i] = 0;
  return [{ w: await la.mulTA(x, dHidden), b: columnSums(dHidden) }, dOut];
}
