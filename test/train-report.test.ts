/**
 * report.html from a realistic TrainReport: one well-formed document with no
 * outside resources, escaped class names, and charts whose marks match the
 * report (a point per epoch, a cell per class pair, the numbers it shows).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateScores, type Scored } from '../src/train/metrics.ts';
import { Random } from '../src/train/random.ts';
import { renderReportHtml } from '../src/train/report-html.ts';
import type { EpochRecord, TrainReport } from '../src/train/report-types.ts';

const EVIL = '<script>alert(1)</script>';
const CLASSES = ['cat', 'dog', 'bird', 'fish & chips', EVIL, 'horse', `frog "quoted" 'too'`];

/** Scores where each image is right with probability `skill`, otherwise a random other class ranks first. */
function scored(classes: number, images: number, skill: number, rng: Random): Scored[] {
  return Array.from({ length: images }, (_, i) => {
    const truth = i % classes;
    const first = rng.next() < skill ? truth : (truth + 1 + Math.floor(rng.next() * (classes - 1))) % classes;
    const rest = Array.from({ length: classes }, (_, k) => k).filter((k) => k !== first);
    return { truth, ranked: [first, ...rest] };
  });
}

function history(epochs: number): EpochRecord[] {
  return Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    lr: 0.001,
    train_loss: 2 / (i + 1.5),
    train_accuracy: Math.min(0.99, 0.5 + 0.05 * i),
    val_loss: 2.2 / (i + 1.4) + 0.01 * i,
    val_accuracy: Math.min(0.95, 0.45 + 0.045 * i),
    seconds: 0.4,
  }));
}

function makeReport(classes: readonly string[], epochs: number, withTest = true): TrainReport {
  const rng = new Random(7);
  const per = (n: number) => Object.fromEntries(classes.map((c) => [c, n]));
  return {
    imgcls: '0.1.0',
    created: '2025-01-02T03:04:05.000Z',
    dataset: {
      location: 'data/pets',
      source: 'folder',
      classes: [...classes],
      counts: withTest ? { train: per(40), val: per(10), test: per(12) } : { train: per(40), val: per(10) },
      validation: 'the dataset\'s "val" folder',
      warnings: [`class "${EVIL}" has few images`],
      skipped: Array.from({ length: 60 }, (_, i) => `train/cat/broken-${i}.jpg`),
    },
    backbone: { name: 'mobilenet-v3', layer: 'pool', pool: 'avg', dim: 1024, input: { width: 224, height: 224 } },
    head: {
      hidden: 256, epochs: 20, epochs_run: epochs, best_epoch: Math.max(1, epochs - 2), batch_size: 32, lr: 0.001,
      weight_decay: 0.0001, label_smoothing: 0.1, class_weight: 'balanced', patience: 5, augment: 2, seed: 7,
    },
    timing: { features_seconds: 42.5, features_computed: 300, features_cached: 134, train_seconds: 6.2, total_seconds: 49.1 },
    history: history(epochs),
    validation: evaluateScores(classes, scored(classes.length, classes.length * 10, 0.8, rng)),
    test: withTest ? evaluateScores(classes, scored(classes.length, classes.length * 12, 0.75, rng)) : null,
    model: { dir: 'models/pets', file: 'model.onnx', bytes: 4_400_000 },
  };
}

const VOID = new Set(['meta', 'link', 'br', 'hr', 'img', 'input']);

/** Checks the page nests as one document: every tag closed in order, one html/head/body, no stray `<` in text. */
function assertWellFormed(html: string): void {
  const body = html.replace(/^<!doctype html>\s*/i, '');
  const stack: string[] = [];
  const seen = new Map<string, number>();
  let text = '';
  let last = 0;
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*(\/?)>/g)) {
    text += body.slice(last, m.index);
    last = m.index + m[0].length;
    const [, closing, name, , selfClosing] = m;
    const tag = name!.toLowerCase();
    if (closing) assert.equal(stack.pop(), tag, `</${tag}> closes the wrong element`);
    else {
      seen.set(tag, (seen.get(tag) ?? 0) + 1);
      if (!selfClosing && !VOID.has(tag)) stack.push(tag);
      // Raw-text elements: skip to their end so CSS is not read as markup.
      if (tag === 'style') {
        const end = body.indexOf('</style>', last);
        last = end;
      }
    }
  }
  text += body.slice(last);
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(seen.get('html'), 1);
  assert.equal(seen.get('head'), 1);
  assert.equal(seen.get('body'), 1);
  assert.ok(!text.includes('<'), 'a "<" outside any tag: something was not escaped');
  assert.ok(!seen.has('script'), 'the page runs no script');
}

const count = (html: string, re: RegExp) => html.match(re)?.length ?? 0;

test('the page is one self-contained, well-formed document', () => {
  const html = renderReportHtml(makeReport(CLASSES, 12));
  assertWellFormed(html);
  assert.doesNotMatch(html, /https?:\/\//, 'no absolute URL anywhere');
  assert.doesNotMatch(html, /\s(src|href)\s*=/i, 'no src= or href= at all');
  assert.doesNotMatch(html, /@import|url\((?!#)/, 'CSS loads nothing');
  assert.match(html, /prefers-color-scheme:\s*dark/);
  assert.match(html, /<meta name="viewport"/);
});

test('class names from folders appear only escaped', () => {
  const html = renderReportHtml(makeReport(CLASSES, 12));
  assert.ok(!html.includes(EVIL));
  assert.ok(!html.includes('fish & chips'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('fish &amp; chips'));
  assert.ok(html.includes('frog &quot;quoted&quot; &#39;too&#39;'));
});

test('charts: a loss and an accuracy line per split with a point per epoch, and a cell per class pair', () => {
  const epochs = 12;
  const report = makeReport(CLASSES, epochs);
  const html = renderReportHtml(report);
  assert.equal(count(html, /<svg\b/g), 3, 'loss, accuracy and confusion charts');
  const lines = [...html.matchAll(/<polyline class="line s\d" points="([^"]*)"/g)].map((m) => m[1]!.trim().split(/\s+/).length);
  assert.deepEqual(lines, [epochs, epochs, epochs, epochs]);
  assert.equal(count(html, /<rect class="cell/g), CLASSES.length ** 2);
  assert.equal(count(html, /class="ring /g), 1, 'the best epoch is marked');
  assert.ok(html.includes(`best: epoch ${report.head.best_epoch}`));
  // Legends name both splits in both line charts.
  assert.equal(count(html, /<text class="legend"[^>]*>train</g), 2);
  assert.equal(count(html, /<text class="legend"[^>]*>validation</g), 2);
});

test('the numbers shown are the report\'s', () => {
  const report = makeReport(CLASSES, 12);
  const html = renderReportHtml(report);
  const test = report.test!;
  assert.ok(html.includes('Test accuracy'));
  assert.ok(html.includes(`${(test.accuracy * 100).toFixed(1)}%`));
  assert.ok(html.includes(`${(test.top5_accuracy * 100).toFixed(1)}%`));
  assert.ok(html.includes(test.macro.f1.toFixed(3)));
  // Confusion counts appear in the cells, in row order.
  const cells = [...html.matchAll(/<text class="count [^"]*"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));
  assert.deepEqual(cells, test.confusion.matrix.flat());
  // Every class gets a table row with its support.
  for (const c of test.per_class) assert.match(html, new RegExp(`<td class="num">${c.support}</td>`));
  assert.match(html, /train 280 · val 70 · test 84/);
  assert.ok(html.includes('and 10 more'), 'skipped images are capped at 50');
  assert.equal(count(html, /<li>train\/cat\/broken-/g), 50);
});

test('without a test split the summary is the validation set\'s', () => {
  const report = makeReport(CLASSES, 5, false);
  const html = renderReportHtml(report);
  assert.ok(html.includes('Validation accuracy'));
  assert.ok(html.includes(`${(report.validation.accuracy * 100).toFixed(1)}%`));
  assert.ok(!html.includes('Test accuracy'));
});

test('edge cases: one epoch, NaN and zero losses, two classes, a hundred classes, no warnings', () => {
  const one = renderReportHtml(makeReport(['yes', 'no'], 1));
  assertWellFormed(one);
  assert.equal(count(one, /<rect class="cell/g), 4);
  assert.ok(!one.includes('top-2 accuracy'), 'top-k over all classes says nothing');
  assert.doesNotMatch(one, /NaN|Infinity/);

  const broken = makeReport(['a', 'b'], 4);
  broken.history[1]!.val_loss = NaN;
  broken.history.forEach((h) => (h.train_loss = 0));
  broken.dataset.warnings = [];
  broken.dataset.skipped = [];
  const html = renderReportHtml(broken);
  assertWellFormed(html);
  assert.doesNotMatch(html, /NaN/);
  assert.ok(html.includes('No warnings.'));
  // The NaN splits validation loss into two pieces: 1 point and 2 points.
  const pieces = [...html.matchAll(/<polyline class="line s1" points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
  assert.deepEqual(pieces, [1, 2, 4]);

  const many = Array.from({ length: 100 }, (_, i) => `class-${String(i).padStart(3, '0')}`);
  const big = renderReportHtml(makeReport(many, 30));
  assertWellFormed(big);
  assert.equal(count(big, /<rect class="cell/g), 100 * 100);
  assert.equal(count(big, /<text class="count/g), 0, 'too many classes for numbers in cells');
  assert.match(big, /<title>true class-003 → predicted class-003: \d+ \(\d+%/);
});
