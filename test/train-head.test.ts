/**
 * The head trainer's arithmetic: onnxruntime's Gemm products against naive
 * loops, the loss and its gradient against hand computation and finite
 * differences, backward against finite differences of forward + loss, AdamW
 * against torch.optim.AdamW's formulas, the cosine schedule, and folding the
 * standardisation into the first layer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdamW, cosineLr } from '../src/train/adamw.ts';
import { backward, crossEntropy, forward, initHead, type Dense, type Head, type LossOptions } from '../src/train/head.ts';
import { Linalg, matrix, type Matrix } from '../src/train/linalg.ts';
import { Random } from '../src/train/random.ts';
import { fitStandardization, foldStandardization, standardize } from '../src/train/standardize.ts';

let la: Linalg;
// One thread: small products, and a machine that may be busy with other work.
before(async () => {
  la = await Linalg.open(1);
});
after(async () => {
  await la.close();
});

const close = (actual: number, expected: number, tol: number, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected} (tolerance ${tol})`);

function randomMatrix(rows: number, cols: number, rng: Random, scale = 1): Matrix {
  return matrix(rows, cols, Float32Array.from({ length: rows * cols }, () => rng.normal() * scale));
}

const at = (m: Matrix, r: number, c: number) => m.data[r * m.cols + c]!;

/** op(A)·op(B) by the textbook triple loop, in float64. */
function naive(a: Matrix, b: Matrix, ta: boolean, tb: boolean): Matrix {
  const rows = ta ? a.cols : a.rows;
  const inner = ta ? a.rows : a.cols;
  const cols = tb ? b.rows : b.cols;
  const out = matrix(rows, cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < inner; k++) s += (ta ? at(a, k, i) : at(a, i, k)) * (tb ? at(b, j, k) : at(b, k, j));
      out.data[i * cols + j] = s;
    }
  }
  return out;
}

function assertMatrixClose(actual: Matrix, expected: Matrix, tol: number) {
  assert.equal(actual.rows, expected.rows);
  assert.equal(actual.cols, expected.cols);
  assert.equal(actual.data.length, expected.data.length);
  for (let i = 0; i < expected.data.length; i++) close(actual.data[i]!, expected.data[i]!, tol, `[${i}]`);
}

test('Linalg: mul, mulTA and mulTB agree with triple loops on non-square matrices', async () => {
  const rng = new Random(11);
  const a = randomMatrix(7, 5, rng);
  const b = randomMatrix(5, 3, rng);
  assertMatrixClose(await la.mul(a, b), naive(a, b, false, false), 1e-5);
  // (7x5)ᵀ · 7x4 → 5x4
  const c = randomMatrix(7, 4, rng);
  assertMatrixClose(await la.mulTA(a, c), naive(a, c, true, false), 1e-5);
  // 7x5 · (6x5)ᵀ → 7x6
  const d = randomMatrix(6, 5, rng);
  assertMatrixClose(await la.mulTB(a, d), naive(a, d, false, true), 1e-5);
  // A single row and a single column.
  const row = randomMatrix(1, 5, rng);
  assertMatrixClose(await la.mul(row, b), naive(row, b, false, false), 1e-5);
  const col = randomMatrix(5, 1, rng);
  assertMatrixClose(await la.mulTA(col, b), naive(col, b, true, false), 1e-5);
  // The inputs are left alone.
  const untouched = a.data.slice();
  await la.mul(a, b);
  assert.deepEqual(a.data, untouched);
});

test('Linalg: mismatched shapes throw RangeError, as does a matrix with the wrong number of values', async () => {
  const rng = new Random(12);
  const a = randomMatrix(7, 5, rng);
  const b = randomMatrix(4, 3, rng);
  assert.throws(() => la.mul(a, b), RangeError);
  assert.throws(() => la.mulTA(a, b), RangeError); // 7 rows vs 4 rows
  assert.throws(() => la.mulTB(a, b), RangeError); // 5 cols vs 3 cols
  assert.throws(() => matrix(2, 3, new Float32Array(5)), RangeError);
});

/** Logits and labels for 4 rows of 3 classes, with an exact tie-free arg max. */
const LOGITS = [
  [2.0, -1.0, 0.5],
  [0.1, 0.3, -0.2],
  [-1.5, 0.0, 3.0],
  [1.0, 1.2, 0.9],
];
const LABELS = [0, 2, 2, 1];

const logitsMatrix = () => matrix(LOGITS.length, 3, Float32Array.from(LOGITS.flat()));

/** log softmax of one row, in float64. */
function logSoftmax(row: number[]): number[] {
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

/** The loss by hand: Σ_i w_{y_i} Σ_c t_ic (-log p_ic) / Σ_i w_{y_i}, with t = (1-ε)·onehot + ε/C. */
function handLoss(logits: number[][], labels: number[], eps: number, weights?: number[]) {
  const classes = logits[0]!.length;
  let num = 0;
  let den = 0;
  const grad: number[][] = [];
  logits.forEach((row, i) => {
    const y = labels[i]!;
    const w = weights?.[y] ?? 1;
    const lp = logSoftmax(row);
    const target = row.map((_, c) => (c === y ? 1 - eps : 0) + eps / classes);
    num += w * target.reduce((s, t, c) => s - t * lp[c]!, 0);
    den += w;
    grad.push(lp.map((l, c) => w * (Math.exp(l) - target[c]!)));
  });
  return { loss: num / den, grad: grad.map((g) => g.map((v) => v / den)) };
}

test('crossEntropy without smoothing or weights: -mean(log softmax) and (p - onehot)/B', () => {
  const logits = logitsMatrix();
  const r = crossEntropy(logits, LABELS, { labelSmoothing: 0 });
  const expected = -LOGITS.reduce((s, row, i) => s + logSoftmax(row)[LABELS[i]!]!, 0) / LOGITS.length;
  close(r.loss, expected, 1e-6, 'loss');
  // Arg maxes are 0, 1, 2, 1 against labels 0, 2, 2, 1.
  assert.equal(r.correct, 3);
  LOGITS.forEach((row, i) => {
    const p = logSoftmax(row).map(Math.exp);
    // The logits are turned into probabilities in place.
    for (let c = 0; c < 3; c++) close(at(logits, i, c), p[c]!, 1e-6, `p[${i}][${c}]`);
    for (let c = 0; c < 3; c++) close(at(r.grad, i, c), (p[c]! - (c === LABELS[i] ? 1 : 0)) / LOGITS.length, 1e-7, `grad[${i}][${c}]`);
  });
});

test('crossEntropy with label smoothing ε targets (1-ε)·onehot + ε/C', () => {
  const eps = 0.1;
  const r = crossEntropy(logitsMatrix(), LABELS, { labelSmoothing: eps });
  const hand = handLoss(LOGITS, LABELS, eps);
  close(r.loss, hand.loss, 1e-6, 'loss');
  // Spelled out for row 0: t = [0.9 + 0.1/3, 0.1/3, 0.1/3].
  const lp0 = logSoftmax(LOGITS[0]!);
  const row0 = -((0.9 + 0.1 / 3) * lp0[0]! + (0.1 / 3) * lp0[1]! + (0.1 / 3) * lp0[2]!);
  const others = handLoss(LOGITS.slice(1), LABELS.slice(1), eps).loss * 3;
  close(r.loss, (row0 + others) / 4, 1e-6, 'loss, row 0 by hand');
  for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) close(at(r.grad, i, c), hand.grad[i]![c]!, 1e-7, `grad[${i}][${c}]`);
  // Each row's gradient sums to 0 (the target sums to 1 like p).
  for (let i = 0; i < 4; i++) close(hand.grad[i]!.reduce((s, v) => s + v, 0), 0, 1e-12);
});

test("crossEntropy with class weights is Σ w_y·CE / Σ w_y (PyTorch's weighted mean)", () => {
  const weights = [0.5, 2, 1.25];
  const r = crossEntropy(logitsMatrix(), LABELS, { labelSmoothing: 0, classWeights: Float32Array.from(weights) });
  const ce = LOGITS.map((row, i) => -logSoftmax(row)[LABELS[i]!]!);
  const w = LABELS.map((y) => weights[y]!);
  const expected = ce.reduce((s, v, i) => s + w[i]! * v, 0) / w.reduce((s, v) => s + v, 0);
  close(r.loss, expected, 1e-6, 'loss');
  const hand = handLoss(LOGITS, LABELS, 0, weights);
  close(hand.loss, expected, 1e-12);
  for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) close(at(r.grad, i, c), hand.grad[i]![c]!, 1e-7, `grad[${i}][${c}]`);
  // Equal weights change nothing.
  const same = crossEntropy(logitsMatrix(), LABELS, { labelSmoothing: 0, classWeights: Float32Array.from([3, 3, 3]) });
  close(same.loss, crossEntropy(logitsMatrix(), LABELS, { labelSmoothing: 0 }).loss, 1e-7);
});

test('crossEntropy: the gradient matches central differences for a smoothed, weighted loss', () => {
  const options: LossOptions = { labelSmoothing: 0.2, classWeights: Float32Array.from([0.5, 2, 1.25]) };
  const analytic = crossEntropy(logitsMatrix(), LABELS, options).grad;
  // crossEntropy overwrites its logits with probabilities: give it a copy.
  const lossAt = (data: Float32Array) => crossEntropy(matrix(4, 3, data.slice()), LABELS, options).loss;
  const base = Float32Array.from(LOGITS.flat());
  const h = 1e-2;
  for (let i = 0; i < base.length; i++) {
    const plus = base.slice();
    const minus = base.slice();
    plus[i]! += h;
    minus[i]! -= h;
    const numeric = (lossAt(plus) - lossAt(minus)) / (plus[i]! - minus[i]!);
    close(analytic.data[i]!, numeric, 1e-3, `d loss / d logit[${i}]`);
  }
  // Also the hand formula, smoothed and weighted together.
  const hand = handLoss(LOGITS, LABELS, 0.2, [0.5, 2, 1.25]);
  close(crossEntropy(logitsMatrix(), LABELS, options).loss, hand.loss, 1e-6, 'loss');
});

/** Every parameter of `head`, perturbed in place, against the analytic gradient of forward + crossEntropy. */
async function checkGradients(head: Head, x: Matrix, labels: number[], options: LossOptions) {
  const lossOf = async () => {
    const pass = await forward(la, head, x);
    return crossEntropy(pass.logits, labels, options).loss;
  };
  const pass = await forward(la, head, x);
  const { grad } = crossEntropy(pass.logits, labels, options);
  const grads = await backward(la, head, x, pass, grad);
  assert.equal(grads.length, head.layers.length);
  const h = 1e-2;
  let worst = 0;
  const check = async (params: Float32Array, analytic: Float32Array, name: string) => {
    assert.equal(analytic.length, params.length, `${name} gradient size`);
    for (let i = 0; i < params.length; i++) {
      const saved = params[i]!;
      params[i] = saved + h;
      const up = params[i]!;
      const lossUp = await lossOf();
      params[i] = saved - h;
      const down = params[i]!;
      const lossDown = await lossOf();
      params[i] = saved;
      const numeric = (lossUp - lossDown) / (up - down);
      const err = Math.abs(numeric - analytic[i]!);
      worst = Math.max(worst, err);
      assert.ok(err <= 2e-3 + 2e-2 * Math.abs(numeric), `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`);
    }
  };
  for (let l = 0; l < head.layers.length; l++) {
    await check(head.layers[l]!.w.data, grads[l]!.w.data, `layer ${l} w`);
    await check(head.layers[l]!.b, grads[l]!.b, `layer ${l} b`);
  }
  return worst;
}

test('backward: a hidden-layer head’s gradients match central finite differences', async () => {
  const rng = new Random(21);
  const head = initHead({ input: 4, hidden: 5, classes: 3 }, rng.fork(1));
  const x = randomMatrix(6, 4, rng);
  const labels = [0, 1, 2, 2, 1, 0];
  // With smoothing and weights, and without.
  await checkGradients(head, x, labels, { labelSmoothing: 0.1, classWeights: Float32Array.from([1, 2, 0.5]) });
  await checkGradients(head, x, labels, { labelSmoothing: 0 });
});

test('backward: a linear head’s gradients match central finite differences', async () => {
  const rng = new Random(22);
  const head = initHead({ input: 4, hidden: null, classes: 3 }, rng.fork(1));
  assert.equal(head.layers.length, 1);
  const x = randomMatrix(6, 4, rng);
  const labels = [2, 1, 0, 0, 1, 2];
  await checkGradients(head, x, labels, { labelSmoothing: 0.1, classWeights: Float32Array.from([1, 2, 0.5]) });
  await checkGradients(head, x, labels, { labelSmoothing: 0 });
});

test('initHead: PyTorch nn.Linear bounds (±1/√fan_in) and the layer shapes', () => {
  const head = initHead({ input: 16, hidden: 8, classes: 3 }, new Random(5));
  const [first, second] = head.layers;
  assert.deepEqual([first!.w.rows, first!.w.cols, first!.b.length], [16, 8, 8]);
  assert.deepEqual([second!.w.rows, second!.w.cols, second!.b.length], [8, 3, 3]);
  for (const v of [...first!.w.data, ...first!.b]) assert.ok(Math.abs(v) <= 1 / 4);
  for (const v of [...second!.w.data, ...second!.b]) assert.ok(Math.abs(v) <= 1 / Math.sqrt(8));
});

/** torch.optim.AdamW, one parameter tensor, in float64. */
class TorchAdamW {
  private m: number[];
  private v: number[];
  private t = 0;
  constructor(
    readonly p: number[],
    private readonly wd: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }

  step(g: number[], lr: number) {
    this.t++;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] = this.p[i]! * (1 - lr * this.wd);
      this.m[i] = this.beta1 * this.m[i]! + (1 - this.beta1) * g[i]!;
      this.v[i] = this.beta2 * this.v[i]! + (1 - this.beta2) * g[i]! * g[i]!;
      const bc1 = 1 - this.beta1 ** this.t;
      const bc2 = 1 - this.beta2 ** this.t;
      const denom = Math.sqrt(this.v[i]!) / Math.sqrt(bc2) + this.eps;
      this.p[i] = this.p[i]! - (lr / bc1) * (this.m[i]! / denom);
    }
  }
}

test("AdamW: one and two steps match torch.optim.AdamW's formulas; biases are not decayed", () => {
  const w0 = [0.5, -0.25, 1.5, 0.0, -2.0, 0.75];
  const b0 = [0.3, -0.6];
  const layer: Dense = { w: matrix(3, 2, Float32Array.from(w0)), b: Float32Array.from(b0) };
  const wd = 0.1;
  const opt = new AdamW([layer], { weightDecay: wd });
  const refW = new TorchAdamW([...w0], wd);
  const refB = new TorchAdamW([...b0], 0);
  const g1 = { w: [0.2, -0.1, 0.05, 0.3, -0.4, 0.0], b: [0.01, -0.02] };
  const g2 = { w: [-0.1, -0.3, 0.2, 0.1, 0.4, -0.2], b: [0.5, 0.03] };
  const grads = (g: typeof g1): Dense[] => [{ w: matrix(3, 2, Float32Array.from(g.w)), b: Float32Array.from(g.b) }];

  opt.update(grads(g1), 0.01);
  refW.step(g1.w, 0.01);
  refB.step(g1.b, 0.01);
  // After one step, m̂ = g and v̂ = g², so each weight moves by about lr·sign(g) after shrinking by 1 - lr·wd.
  close(layer.w.data[0]!, 0.5 * (1 - 0.01 * 0.1) - 0.01, 1e-6, 'w[0] after one step');
  close(layer.w.data[5]!, 0.75 * (1 - 0.01 * 0.1), 1e-6, 'w[5] (zero gradient) after one step');
  close(layer.b[0]!, 0.3 - 0.01, 1e-6, 'b[0] after one step, no decay');
  for (let i = 0; i < w0.length; i++) close(layer.w.data[i]!, refW.p[i]!, 1e-6, `w[${i}] after one step`);
  for (let i = 0; i < b0.length; i++) close(layer.b[i]!, refB.p[i]!, 1e-6, `b[${i}] after one step`);

  // A second step with another learning rate, as the cosine schedule gives.
  opt.update(grads(g2), 0.005);
  refW.step(g2.w, 0.005);
  refB.step(g2.b, 0.005);
  for (let i = 0; i < w0.length; i++) close(layer.w.data[i]!, refW.p[i]!, 1e-6, `w[${i}] after two steps`);
  for (let i = 0; i < b0.length; i++) close(layer.b[i]!, refB.p[i]!, 1e-6, `b[${i}] after two steps`);
});

test('AdamW: with zero gradients only the weight decay acts', () => {
  const layer: Dense = { w: matrix(1, 2, Float32Array.from([2, -4])), b: Float32Array.from([1]) };
  const opt = new AdamW([layer], { weightDecay: 0.5 });
  opt.update([{ w: matrix(1, 2), b: new Float32Array(1) }], 0.1);
  close(layer.w.data[0]!, 2 * 0.95, 1e-6);
  close(layer.w.data[1]!, -4 * 0.95, 1e-6);
  assert.equal(layer.b[0], 1);
});

test('cosineLr: lr at the start, lr·floor at the end, the mean of the two halfway', () => {
  const lr = 0.02;
  for (const floor of [0.01, 0, 0.5]) {
    close(cosineLr(lr, 0, 100, floor), lr, 1e-12, 'start');
    close(cosineLr(lr, 100, 100, floor), lr * floor, 1e-12, 'end');
    close(cosineLr(lr, 50, 100, floor), (lr + lr * floor) / 2, 1e-12, 'halfway');
    // Past the end it stays at the floor.
    close(cosineLr(lr, 150, 100, floor), lr * floor, 1e-12, 'past the end');
  }
  // The default floor is 0.01, and the schedule decreases.
  close(cosineLr(1, 10, 10), 0.01, 1e-12);
  let prev = Infinity;
  for (let s = 0; s <= 20; s++) {
    const v = cosineLr(1, s, 20);
    assert.ok(v <= prev);
    prev = v;
  }
});

test('standardize and foldStandardization: the folded head on raw x equals the head on standardised x', async () => {
  const rng = new Random(31);
  const rows = 12;
  const cols = 6;
  const raw = matrix(rows, cols);
  const means = [5, -3, 0, 100, 0.5, 7];
  const scales = [2, 0.1, 1, 30, 5, 0];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) raw.data[r * cols + c] = means[c]! + scales[c]! * rng.normal();
  const s = fitStandardization(raw);
  // The last column is constant: its std is 1, so it is only shifted.
  assert.equal(s.std[5], 1);
  close(s.mean[5]!, 7, 1e-6);
  for (let c = 0; c < 5; c++) assert.ok(s.std[c]! > 0 && s.std[c] !== 1);

  const z = matrix(rows, cols, raw.data.slice());
  standardize(z, s);
  for (let c = 0; c < cols; c++) {
    let sum = 0;
    let sq = 0;
    for (let r = 0; r < rows; r++) {
      sum += at(z, r, c);
      sq += at(z, r, c) ** 2;
    }
    close(sum / rows, 0, 1e-5, `mean of column ${c}`);
    close(sq / rows, c === 5 ? 0 : 1, 1e-4, `variance of column ${c}`);
  }

  for (const hidden of [null, 4]) {
    const head = initHead({ input: cols, hidden, classes: 3 }, rng.fork(hidden ?? 0));
    const saved = head.layers.map((l) => [l.w.data.slice(), l.b.slice()]);
    const folded = foldStandardization(head, s);
    // The head itself is left unchanged, and later layers are shared as they are.
    head.layers.forEach((l, i) => {
      assert.deepEqual(l.w.data, saved[i]![0]);
      assert.deepEqual(l.b, saved[i]![1]);
    });
    assert.equal(folded.layers.length, head.layers.length);
    const expected = (await forward(la, head, z)).logits;
    const actual = (await forward(la, folded, raw)).logits;
    assertMatrixClose(actual, expected, 1e-4);
  }
});

test('fitStandardization: a constant column, including zero, gets std 1', () => {
  const x = matrix(3, 2, Float32Array.from([0, 0.3, 0, 0.3, 0, 0.3]));
  const s = fitStandardization(x);
  assert.deepEqual([...s.std], [1, 1]);
  close(s.mean[1]!, 0.3, 1e-7);
});
