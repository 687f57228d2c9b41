/**
 * `imgcls evaluate --model m <dataset>`: accuracy, top-5 accuracy,
 * per-class precision/recall/F1 and the confusion matrix of any model on any
 * labelled set (a folder per class, or a CSV). Dataset classes are matched
 * to the model's labels by name.
 */
import { defineCommand } from 'citty';
import type { Classifier } from '../engine/classifier.ts';
import { createError } from '../errors.ts';
import { loadDataset, type Dataset, type LabelledImage, type Split } from '../train/dataset.ts';
import { evaluateScores, type Scored } from '../train/metrics.ts';
import { metricsReport } from './format.ts';
import { classifyFiles } from './inputs.ts';
import type { CliIO, CommandData } from './io.ts';
import { checkKnownFlags, loadClassifier, modelArgs, parsePositiveInt } from './options.ts';

export const datasetArgs = {
  'image-column': { type: 'string', description: 'CSV: the column holding the image path or id', valueHint: 'name' },
  'label-column': { type: 'string', description: 'CSV: the column holding the label', valueHint: 'name' },
  'image-dir': { type: 'string', description: 'CSV: where image paths are relative to (default: the CSV folder, then its images/)', valueHint: 'dir' },
  extension: { type: 'string', description: 'CSV: append this extension to the image column (ids, as in styles.csv)', valueHint: 'ext' },
  'min-count': { type: 'string', description: 'Drop labels with fewer images than this', valueHint: 'n' },
} as const;

const args = {
  dataset: { type: 'positional', description: 'A folder of class folders (optionally in train/ val/ test/), or a CSV/TSV file', required: true },
  ...modelArgs,
  ...datasetArgs,
  split: { type: 'string', description: 'Which split to evaluate: test, val, train or all (default: test, else val, else all)' },
  json: { type: 'boolean', description: 'Print one JSON object' },
} as const;

type DatasetArgValues = { [K in keyof typeof datasetArgs]?: string } & { 'split-column'?: string };

export async function datasetFrom(location: string, a: DatasetArgValues, io: CliIO): Promise<Dataset> {
  const dataset = await loadDataset(location, {
    imageColumn: a['image-column'],
    labelColumn: a['label-column'],
    imageDir: a['image-dir'],
    extension: a.extension,
    splitColumn: a['split-column'],
    minCount: a['min-count'] === undefined ? undefined : parsePositiveInt('min-count', a['min-count']),
  });
  for (const w of dataset.warnings) io.err(`warning: ${w}`);
  return dataset;
}

function chooseSplit(dataset: Dataset, wanted: string | undefined): Split {
  const have = Object.keys(dataset.splits) as Split[];
  if (wanted !== undefined) {
    if (!have.includes(wanted as Split)) throw createError('INVALID_OPTION', `The dataset has no "${wanted}" split; it has ${have.join(', ')}`);
    return wanted as Split;
  }
  return (['test', 'val', 'all'] as const).find((s) => have.includes(s)) ?? have[0]!;
}

/** Classify every image and keep its true index and ranked predictions; unreadable images are returned apart. */
async function score(classifier: Classifier, images: readonly LabelledImage[], labelIndex: Map<string, number>, io: CliIO, progress: boolean) {
  const scored: Scored[] = [];
  const failed: string[] = [];
  const chunk = 64;
  for (let i = 0; i < images.length; i += chunk) {
    const part = images.slice(i, i + chunk);
    const results = await classifyFiles(classifier, part.map((img) => img.path), { topK: 5 });
    results.forEach((r, j) => {
      const img = part[j]!;
      if (r.ok) scored.push({ truth: labelIndex.get(img.label)!, ranked: r.predictions.map((p) => p.index) });
      else failed.push(`${img.path}: ${r.error.code}: ${r.error.message}`);
    });
    if (progress) io.err(`evaluated ${Math.min(i + chunk, images.length)}/${images.length}`);
  }
  return { scored, failed };
}

export const evaluateCommand = defineCommand({
  meta: { name: 'evaluate', description: 'Measure a model on a labelled dataset: accuracy, top-5, per-class precision/recall/F1, confusion matrix' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const dataset = await datasetFrom(a.dataset, a, io);
    const split = chooseSplit(dataset, a.split);
    const images = dataset.splits[split] ?? [];
    const classifier = await loadClassifier(a, io);
    try {
      const labels = classifier.spec.labels;
      const labelIndex = new Map(labels.map((l, i) => [l, i]));
      const unknown = dataset.classes.filter((c) => !labelIndex.has(c));
      if (unknown.length > 0) {
        throw createError('INVALID_OPTION', `Dataset classes ${unknown.map((c) => `"${c}"`).join(', ')} are not labels of the model (its labels: ${labels.join(', ')}); class folder names must match the model's labels`);
      }
      const { scored, failed } = await score(classifier, images, labelIndex, io, !a.json && process.stderr.isTTY === true);
      if (failed.length > 0) {
        const shown = failed.slice(0, 20).map((f) => `  ${f}`);
        io.err(`warning: ${failed.length} image(s) could not be read and were left out:\n${shown.join('\n')}${failed.length > 20 ? `\n  and ${failed.length - 20} more` : ''}`);
      }
      if (scored.length === 0) throw createError('INVALID_OPTION', `No image of the ${split} split could be classified`);
      const metrics = evaluateScores(labels, scored);
      if (a.json) io.out(JSON.stringify({ model: a.model ?? null, dataset: a.dataset, split, skipped: failed.length, ...metrics }));
      else io.out(`${a.dataset} (${split})\n${metricsReport(metrics)}`);
    } finally {
      await classifier.close();
    }
  },
});
