/**
 * Feature standardisation: each feature dimension scaled to mean 0 and
 * variance 1 over the training set, which lets one learning rate suit every
 * backbone and tap point. At export it is folded into the head's first layer,
 * so the served graph takes raw features.
 */
import type { Head } from './head.ts';
import type { Matrix } from './linalg.ts';

export interface Standardization {
  mean: Float32Array;
  /** Never 0: a constant feature keeps scale 1. */
  std: Float32Array;
}

export function fitStandardization(x: Matrix): Standardization {
  const { rows, cols, data } = x;
  const sum = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let r = 0, o = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++, o++) {
      const v = data[o]!;
      sum[c]! += v;
      sq[c]! += v * v;
    }
  }
  const mean = new Float32Array(cols);
  const std = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    const m = sum[c]! / Math.max(1, rows);
    const variance = Math.max(0, sq[c]! / Math.max(1, rows) - m * m);
    mean[c] = m;
    std[c] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  return { mean, std };
}

/** Standardise `x` in place. */
export function standardize(x: Matrix, s: Standardization): void {
  for (let r = 0, o = 0; r < x.rows; r++) for (let c = 0; c < x.cols; c++, o++) x.data[o] = (x.data[o]! - s.mean[c]!) / s.std[c]!;
}

/**
 * The first layer rewritten to take raw features: with z = (x - μ) / σ,
 * z·W + b = x·(W/σ) + (b - (μ/σ)·W). Returns new weights; `head` is unchanged.
 */
export function foldStandardization(head: Head, s: Standardization): Head {
  const [first, ...rest] = head.layers;
  const { rows, cols, data } = first!.w;
  const w = new Float32Array(data.length);
  const b = Float32Array.from(first!.b);
  for (let r = 0; r < rows; r++) {
    const inv = 1 / s.std[r]!;
    const shift = s.mean[r]! * inv;
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c]!;
      w[r * cols + c] = v * inv;
      b[c]! -= shift * v;
    }
  }
  return { shape: head.shape, layers: [{ w: { rows, cols, data: w }, b }, ...rest] };
}
