/**
 * Classification metrics, computed the way scikit-learn's
 * classification_report and confusion_matrix do: precision, recall and F1
 * per class (0 where undefined), macro and weighted averages, and a
 * confusion matrix with true classes as rows and predictions as columns.
 */

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** How many images truly have this label. */
  support: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
}

export interface EvaluationMetrics {
  images: number;
  accuracy: number;
  /** Top-k accuracy with k = min(5, classes). */
  top5_accuracy: number;
  per_class: ClassMetrics[];
  macro: Averages;
  weighted: Averages;
  confusion: { labels: string[]; matrix: number[][] };
}

/** One scored image: its true class index and the model's class indices, best first (at least the top 5). */
export interface Scored {
  truth: number;
  ranked: readonly number[];
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/**
 * @param labels the class names; indices in `scored` refer to them.
 * @throws RangeError when an index is outside the labels.
 */
export function evaluateScores(labels: readonly string[], scored: readonly Scored[]): EvaluationMetrics {
  const n = labels.length;
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const k = Math.min(5, n);
  let top1 = 0;
  let topK = 0;
  for (const { truth, ranked } of scored) {
    const predicted = ranked[0];
    if (predicted === undefined || truth < 0 || truth >= n || predicted < 0 || predicted >= n) {
      throw new RangeError(`class index out of range: truth ${truth}, predicted ${predicted}, ${n} labels`);
    }
    matrix[truth]![predicted]!++;
    if (predicted === truth) top1++;
    if (ranked.slice(0, k).includes(truth)) topK++;
  }
  const per_class = labels.map((label, c): ClassMetrics => {
    const tp = matrix[c]![c]!;
    const support = matrix[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = matrix.reduce((a, row) => a + row[c]!, 0);
    const precision = ratio(tp, predictedAs);
    const recall = ratio(tp, support);
    return { label, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  // Averages over the classes that occur in the data, as scikit-learn does for labels present in y_true.
  const present = per_class.filter((c) => c.support > 0);
  const total = present.reduce((a, c) => a + c.support, 0);
  const mean = (key: keyof Averages) => ratio(present.reduce((a, c) => a + c[key], 0), present.length);
  const weighted = (key: keyof Averages) => ratio(present.reduce((a, c) => a + c[key] * c.support, 0), total);
  return {
    images: scored.length,
    accuracy: ratio(top1, scored.length),
    top5_accuracy: ratio(topK, scored.length),
    per_class,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    weighted: { precision: weighted('precision'), recall: weighted('recall'), f1: weighted('f1') },
    confusion: { labels: [...labels], matrix },
  };
}
