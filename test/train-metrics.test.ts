/** Evaluation metrics against hand-computed values (the same as scikit-learn's classification_report). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateScores } from '../src/train/metrics.ts';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} vs ${expected}`);

test('accuracy, per-class precision/recall/F1, averages and the confusion matrix', () => {
  // truth → predicted: a→a, a→b, b→b, b→b, c→a, c→c
  const pairs: [number, number][] = [[0, 0], [0, 1], [1, 1], [1, 1], [2, 0], [2, 2]];
  const m = evaluateScores(['a', 'b', 'c'], pairs.map(([truth, p]) => ({ truth, ranked: [p, ...[0, 1, 2].filter((i) => i !== p)] })));
  assert.equal(m.images, 6);
  close(m.accuracy, 4 / 6);
  close(m.top5_accuracy, 1);
  assert.deepEqual(m.confusion, { labels: ['a', 'b', 'c'], matrix: [[1, 1, 0], [0, 2, 0], [1, 0, 1]] });
  const [a, b, c] = m.per_class;
  close(a!.precision, 0.5); close(a!.recall, 0.5); close(a!.f1, 0.5);
  close(b!.precision, 2 / 3); close(b!.recall, 1); close(b!.f1, 0.8);
  close(c!.precision, 1); close(c!.recall, 0.5); close(c!.f1, 2 / 3);
  assert.deepEqual(m.per_class.map((x) => x.support), [2, 2, 2]);
  close(m.macro.precision, (0.5 + 2 / 3 + 1) / 3);
  close(m.macro.f1, (0.5 + 0.8 + 2 / 3) / 3);
  close(m.weighted.recall, (0.5 * 2 + 1 * 2 + 0.5 * 2) / 6);
});

test('top-5 counts the truth anywhere in the first five', () => {
  const labels = ['0', '1', '2', '3', '4', '5', '6'];
  const m = evaluateScores(labels, [
    { truth: 3, ranked: [0, 1, 2, 4, 3, 5, 6] },
    { truth: 6, ranked: [0, 1, 2, 3, 4, 6, 5] },
  ]);
  close(m.accuracy, 0);
  close(m.top5_accuracy, 0.5);
});

test('a class never predicted has precision 0, not NaN; absent classes stay out of the averages', () => {
  const m = evaluateScores(['x', 'y', 'z'], [{ truth: 0, ranked: [0] }, { truth: 1, ranked: [0] }]);
  assert.equal(m.per_class[1]!.precision, 0);
  assert.equal(m.per_class[1]!.f1, 0);
  assert.equal(m.per_class[2]!.support, 0);
  close(m.macro.recall, (1 + 0) / 2);
});

test('an empty set gives zeros, and a bad index throws', () => {
  assert.equal(evaluateScores(['a', 'b'], []).accuracy, 0);
  assert.throws(() => evaluateScores(['a', 'b'], [{ truth: 2, ranked: [0] }]), RangeError);
});
