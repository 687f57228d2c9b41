/**
 * `imgcls train <dataset> --out <dir>`: transfer learning on a labelled
 * folder or CSV. Features come from a frozen backbone (cached on disk), a
 * linear or one-hidden-layer head is trained on them, and the result is one
 * ONNX model package that serve and predict load, with report.json and
 * report.html beside it.
 */
import { basename, join, resolve } from 'node:path';
import { defineCommand } from 'citty';
import { createError } from '../errors.ts';
import { storeDir } from '../store/store.ts';
import { DEFAULT_BACKBONE } from '../train/backbone.ts';
import { DEFAULT_HEAD, train, type StepProgress } from '../train/train.ts';
import { datasetArgs, datasetFrom } from './evaluate.ts';
import type { CommandData } from './io.ts';
import { formatScore } from './format.ts';
import { checkKnownFlags, parseChoice, parseFraction, parseNonNegativeInt, parseNumber, parsePositiveInt, storeArg } from './options.ts';
import { Progress, progressWriter } from './progress.ts';

const d = DEFAULT_HEAD;
const args = {
  dataset: { type: 'positional', description: 'A folder of class folders (optionally in train/ val/ test/), or a CSV/TSV file', required: true },
  out: { type: 'string', description: 'Where to write the model package and its report (a new or empty folder, or a model to replace)', valueHint: 'dir' },
  name: { type: 'string', description: 'Model name (default: the --out folder name)' },
  ...datasetArgs,
  'split-column': { type: 'string', description: 'CSV: a column saying train, val or test for each row', valueHint: 'name' },
  backbone: { type: 'string', description: `Feature extractor: a built-in (${DEFAULT_BACKBONE} is the default) or a TF.js layers model.json`, valueHint: 'name|path' },
  features: { type: 'string', description: 'Backbone layer to take features from (default: measured per built-in; `imgcls convert <src> --list-layers` lists them)', valueHint: 'layer' },
  pool: { type: 'string', description: 'Feature pooling: avg, max or grid:N (default: grid:2 at the default backbone\'s measured tap, else avg)' },
  hidden: { type: 'string', description: 'Units in one hidden ReLU layer; 0 for a linear head', default: '0', valueHint: 'n' },
  epochs: { type: 'string', description: 'Most epochs', default: String(d.epochs), valueHint: 'n' },
  'batch-size': { type: 'string', description: 'Mini-batch size', default: String(d.batchSize), valueHint: 'n' },
  lr: { type: 'string', description: 'Peak learning rate (AdamW, cosine decay)', default: String(d.lr), valueHint: 'x' },
  'weight-decay': { type: 'string', description: 'AdamW weight decay', default: String(d.weightDecay), valueHint: 'x' },
  'label-smoothing': { type: 'string', description: 'Label smoothing', default: String(d.labelSmoothing), valueHint: 'x' },
  'class-weight': { type: 'string', description: 'none, or balanced (weigh classes inversely to their frequency)', default: d.classWeight },
  patience: { type: 'string', description: 'Stop after this many epochs without a better validation accuracy', default: String(d.patience), valueHint: 'n' },
  'val-split': { type: 'string', description: 'Without a val split: the fraction of train held out per class', default: '0.1', valueHint: 'x' },
  augment: { type: 'string', description: 'Extra augmented views of each training image (random resized crop, flip, colour jitter)', default: '0', valueHint: 'n' },
  seed: { type: 'string', description: 'Random seed: the same seed and data give the same model', default: String(d.seed), valueHint: 'n' },
  cache: { type: 'string', description: 'Feature cache folder (default: features/ in the model store)', valueHint: 'dir' },
  'no-cache': { type: 'boolean', description: 'Do not read or write the feature cache' },
  ...storeArg,
  threads: { type: 'string', description: 'Threads for the backbone and the head (default: one per core)', valueHint: 'n' },
  json: { type: 'boolean', description: 'Print the report as JSON instead of a summary' },
} as const;

export const trainCommand = defineCommand({
  meta: { name: 'train', description: 'Train a classifier on labelled images (transfer learning): a servable model plus report.html' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    if (!a.out) throw createError('INVALID_OPTION', 'Expected --out <dir>: where to write the trained model');
    const hidden = parseNonNegativeInt('hidden', a.hidden);
    const head = {
      hidden: hidden === 0 ? null : hidden,
      epochs: parsePositiveInt('epochs', a.epochs),
      batchSize: parsePositiveInt('batch-size', a['batch-size']),
      lr: parseNumber('lr', a.lr, true),
      weightDecay: parseFraction('weight-decay', a['weight-decay'], 0, 1),
      labelSmoothing: parseFraction('label-smoothing', a['label-smoothing'], 0, 1),
      classWeight: parseChoice('class-weight', a['class-weight'], ['none', 'balanced'] as const),
      patience: parsePositiveInt('patience', a.patience),
      seed: parseNonNegativeInt('seed', a.seed),
    };
    const valFraction = parseFraction('val-split', a['val-split'], 0, 1);
    const augment = parseNonNegativeInt('augment', a.augment);
    const threads = a.threads === undefined ? undefined : parsePositiveInt('threads', a.threads);
    const out = resolve(a.out);
    // Options are all checked before the dataset is read: a typo fails in a second, not after an hour of features.
    const dataset = await datasetFrom(a.dataset, a, io);
    const tty = process.stderr.isTTY === true && !a.json;
    const report = await train({
      dataset,
      location: a.dataset,
      out,
      name: a.name ?? basename(out),
      backbone: { backbone: a.backbone, layer: a.features, pool: a.pool },
      head,
      augment,
      valFraction,
      // citty reads --no-cache as cache = false.
      cacheDir: a['no-cache'] || (a.cache as unknown) === false ? null : resolve(a.cache ?? join(storeDir(a.store), 'features')),
      threads,
      log: (m) => io.err(m),
      progress: (label, total, unit): StepProgress => {
        const bar = new Progress(label, total, progressWriter(io, tty), { tty, unit });
        // The trainer reports how many are done; the bar counts increments.
        let reported = 0;
        const tick = (done: number, extra?: string) => {
          bar.tick(done - reported, extra);
          reported = done;
        };
        return { tick, done: (extra) => bar.done(extra) };
      },
    });
    if (a.json) {
      io.out(JSON.stringify(report));
      return;
    }
    const final = report.test ?? report.validation;
    io.out(`Wrote ${out}/model.onnx (${(report.model.bytes / 1e6).toFixed(1)} MB), imgcls.json, report.json and report.html`);
    io.out(`${report.test ? 'Test' : 'Validation'} accuracy ${formatScore(final.accuracy)}, top-5 ${formatScore(final.top5_accuracy)}, macro F1 ${formatScore(final.macro.f1)} (validation ${formatScore(report.validation.accuracy)}, best epoch ${report.head.best_epoch} of ${report.head.epochs_run})`);
    io.out(`Features ${report.timing.features_seconds.toFixed(1)} s (${report.timing.features_computed} computed, ${report.timing.features_cached} cached), head ${report.timing.train_seconds.toFixed(1)} s`);
    io.out(`Open ${join(out, 'report.html')} in a browser; serve the model with: imgcls serve --model ${out}`);
  },
});
