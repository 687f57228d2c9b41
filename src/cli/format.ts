/** Human-readable output: a table of predictions per file, and evaluate's metrics report. */
import type { Prediction } from '../engine/postprocess.ts';
import type { EvaluationMetrics } from '../train/metrics.ts';

export function formatScore(score: number): string {
  return `${(score * 100).toFixed(2)}%`;
}

/** One block per file: the file name, then one row per prediction. */
export function predictionTable(file: string, predictions: readonly Prediction[]): string {
  const width = Math.max(5, ...predictions.map((p) => p.label.length));
  const rows = predictions.map((p, i) => `  ${String(i + 1).padStart(2)}. ${p.label.padEnd(width)}  ${formatScore(p.score).padStart(7)}  (class ${p.index})`);
  return [file, ...rows].join('\n');
}

/** `evaluate`'s report: the headline metrics, the per-class table and the confusion matrix. */
export function metricsReport(m: EvaluationMetrics): string {
  const width = Math.max(5, ...m.per_class.map((c) => c.label.length));
  const lines = [
    `images       ${m.images}`,
    `accuracy     ${formatScore(m.accuracy)}`,
    `top-5        ${formatScore(m.top5_accuracy)}`,
    `macro F1     ${formatScore(m.macro.f1)}`,
    '',
    `${'class'.padEnd(width)}  precision  recall      F1  support`,
    ...m.per_class.map((c) => `${c.label.padEnd(width)}  ${formatScore(c.precision).padStart(9)}  ${formatScore(c.recall).padStart(7)}  ${formatScore(c.f1).padStart(7)}  ${String(c.support).padStart(7)}`),
    '',
    'confusion (rows: true class, columns: predicted, in the order above)',
    ...m.confusion.matrix.map((row, i) => `${m.confusion.labels[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(5)).join(' ')}`),
  ];
  return lines.join('\n');
}
