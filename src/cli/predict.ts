/**
 * `imgcls predict`: classify images and folders. Each file gets its own
 * line; a file that fails gets an error line and the rest still run.
 */
import { defineCommand } from 'citty';
import { Classifier, type ClassifyResult } from '../engine/classifier.ts';
import { DEFAULT_TOP_K } from '../engine/postprocess.ts';
import { createError } from '../errors.ts';
import { predictionTable } from './format.ts';
import { classifyFiles, collectInputs } from './inputs.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, classifierOptions, modelArgs, modelDir, parseTopK } from './options.ts';

const args = {
  images: { type: 'positional', description: 'Image files or folders (walked recursively)', required: true },
  ...modelArgs,
  'top-k': { type: 'string', description: 'How many classes to show per image, or "all"', default: String(DEFAULT_TOP_K) },
  json: { type: 'boolean', description: 'Print one JSON object per image per line' },
} as const;

export const predictCommand = defineCommand({
  meta: { name: 'predict', description: 'Classify images with a model' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const topK = parseTopK(a['top-k']);
    const options = classifierOptions(a, (m) => io.err(`warning: ${m}`));
    // citty puts every positional in `_`, the first one included; a file named twice is classified twice.
    const paths = a._.length > 0 ? a._ : [a.images];
    const files = await collectInputs(paths);
    if (files.length === 0) throw createError('INVALID_OPTION', `No images found in ${paths.join(', ')}`);

    const classifier = await Classifier.load(await modelDir(a, io), options);
    let failed = 0;
    const report = (file: string, result: ClassifyResult) => {
      if (result.ok) {
        io.out(a.json ? JSON.stringify({ file, predictions: result.predictions }) : predictionTable(file, result.predictions));
        return;
      }
      failed++;
      if (a.json) io.out(JSON.stringify({ file, error: result.error.code, message: result.error.message }));
      else io.err(`${file}: ${result.error.code}: ${result.error.message}`);
    };
    try {
      // Read and classify a few batches at a time, so output streams and memory stays flat on big folders,
      // while every worker has a batch to run.
      const chunk = classifier.batching.maxBatch * Math.max(1, classifier.workers);
      for (let i = 0; i < files.length; i += chunk) {
        const names = files.slice(i, i + chunk);
        const results = await classifyFiles(classifier, names, { topK });
        names.forEach((file, j) => report(file, results[j]!));
      }
    } finally {
      await classifier.close();
    }
    if (failed > 0) {
      (data as CommandData).exitCode = 1;
      if (!a.json) io.err(`${failed} of ${files.length} images failed`);
    }
  },
});
