/**
 * Postprocessing: output activation, then top-k, then labels.
 */
import { createError } from '../errors.ts';
import type { Activation } from '../model/spec.ts';

export interface Prediction {
  label: string;
  index: number;
  score: number;
}

/** `all`, or a positive integer; larger than the class count means all classes. */
export type TopK = number | 'all';

export const DEFAULT_TOP_K = 5;

/** Apply the activation to one row of scores, in float64 for a stable softmax. */
export function activate(row: ArrayLike<number>, activation: Activation): Float64Array {
  const out = Float64Array.from(row as ArrayLike<number>);
  if (activation === 'sigmoid') {
    for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(-out[i]!));
  } else if (activation === 'softmax') {
    let max = -Infinity;
    for (const v of out) if (v > max) max = v;
    let sum = 0;
    for (let i = 0; i < out.length; i++) sum += out[i] = Math.exp(out[i]! - max);
    for (let i = 0; i < out.length; i++) out[i]! /= sum;
  }
  return out;
}

/** The k best classes, highest score first; ties keep the lower index first. */
export function topK(scores: ArrayLike<number>, labels: readonly string[], k: TopK): Prediction[] {
  const n = k === 'all' ? scores.length : Math.min(k, scores.length);
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, n).map((index) => ({ label: labels[index]!, index, score: scores[index]! }));
}

/**
 * One row of class-ordered scores per image, after the activation.
 * @throws ImgclsError MODEL_MISMATCH when the output does not hold one score per label per image.
 */
export function scoreRows(output: Float32Array, batch: number, labels: readonly string[], activation: Activation): Float64Array[] {
  const perImage = output.length / batch;
  if (perImage !== labels.length) {
    throw createError('MODEL_MISMATCH', `The model returned ${perImage} scores per image but the package has ${labels.length} labels`);
  }
  return Array.from({ length: batch }, (_, b) => activate(output.subarray(b * perImage, (b + 1) * perImage), activation));
}

/**
 * Turn a batch of raw outputs into ranked predictions per image.
 * @throws ImgclsError MODEL_MISMATCH when the output does not hold one score per label per image.
 */
export function postprocess(output: Float32Array, batch: number, labels: readonly string[], activation: Activation, k: TopK): Prediction[][] {
  return scoreRows(output, batch, labels, activation).map((row) => topK(row, labels, k));
}

/** What a top-k value may be, for error messages. */
export const TOP_K_RULE = 'a positive integer or "all"';

/** `all` or a positive integer, from text; null when it is neither. Callers raise their own catalogued error. */
export function parseTopKText(text: string): TopK | null {
  const v = text.trim();
  if (v === 'all') return 'all';
  return /^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : null;
}
