/** Human-readable output: a table of predictions per file. */
import type { Prediction } from '../engine/postprocess.ts';

export function formatScore(score: number): string {
  return `${(score * 100).toFixed(2)}%`;
}

/** One block per file: the file name, then one row per prediction. */
export function predictionTable(file: string, predictions: readonly Prediction[]): string {
  const width = Math.max(5, ...predictions.map((p) => p.label.length));
  const rows = predictions.map((p, i) => `  ${String(i + 1).padStart(2)}. ${p.label.padEnd(width)}  ${formatScore(p.score).padStart(7)}  (class ${p.index})`);
  return [file, ...rows].join('\n');
}
