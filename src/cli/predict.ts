/**
 * `imgcls predict`: classify images and folders. Each file gets its own
 * result; a file that fails gets an error result and the rest still run.
 * `--shard i/n` classifies a fixed 1/n of the files, for batch jobs split
 * over processes; `--output` writes the results to a file that appears only
 * when the run is done.
 */
import { defineCommand } from 'citty';
import { Classifier } from '../engine/classifier.ts';
import { DEFAULT_TOP_K } from '../engine/postprocess.ts';
import { createError } from '../errors.ts';
import { classifyFiles, collectInputs } from './inputs.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, classifierOptions, modelArgs, modelDir, parseShard, parseTopK } from './options.ts';
import { OutputFile } from './output-file.ts';
import { formatResult, outputFormat, outputHeader, stdoutOutput, type ResultOutput } from './predict-output.ts';
import { selectShard } from './shard.ts';

const args = {
  images: { type: 'positional', description: 'Image files or folders (walked recursively)', required: true },
  ...modelArgs,
  'top-k': { type: 'string', description: 'How many classes to show per image, or "all"', default: String(DEFAULT_TOP_K) },
  format: { type: 'string', description: 'Output format: table (default), jsonl (one JSON object per image per line) or csv (one row per prediction)', valueHint: 'table|jsonl|csv' },
  json: { type: 'boolean', description: 'Print one JSON object per image per line (same as --format jsonl)' },
  shard: { type: 'string', description: 'Classify only shard i of n (0-based): the files whose path string hashes (FNV-1a) to i mod n', valueHint: 'i/n' },
  output: { type: 'string', description: 'Write the results to this file instead of stdout (as FILE.partial, renamed when the run ends)', valueHint: 'file' },
} as const;

export const predictCommand = defineCommand({
  meta: { name: 'predict', description: 'Classify images with a model' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const shard = a.shard === undefined ? undefined : parseShard('shard', a.shard);
    const format = outputFormat(a.format, a.json);
    if (a.output === '') throw createError('INVALID_OPTION', 'Expected a file path for --output but received ""');
    const topK = parseTopK(a['top-k']);
    const options = classifierOptions(a, (m) => io.err(`warning: ${m}`));
    // citty puts every positional in `_`, the first one included; a file named twice is classified twice.
    const paths = a._.length > 0 ? a._ : [a.images];
    const inputs = await collectInputs(paths);
    if (inputs.length === 0) throw createError('INVALID_OPTION', `No images found in ${paths.join(', ')}`);
    // With many shards and few files some shards are empty; such a shard still writes its (empty) output and succeeds.
    const files = shard === undefined ? inputs : selectShard(inputs, shard);
    if (shard !== undefined) io.err(`shard ${shard.index}/${shard.count}: ${files.length} of ${inputs.length} files`);

    // Opened before the model loads, so an unwritable --output fails at once rather than after a long load.
    const out: ResultOutput = a.output === undefined ? stdoutOutput(io) : await OutputFile.open(a.output);
    let failed = 0;
    try {
      await out.writeLines(outputHeader(format));
      const classifier = await Classifier.load(await modelDir(a, io), options);
      try {
        // Read and classify a few batches per worker at a time, so output streams and memory stays flat on big
        // folders, while a slow image (a large photo) does not leave the other workers idle until it is done.
        const chunk = 4 * classifier.batching.maxBatch * Math.max(1, classifier.workers);
        for (let i = 0; i < files.length; i += chunk) {
          const names = files.slice(i, i + chunk);
          const results = await classifyFiles(classifier, names, { topK });
          const texts: string[] = [];
          names.forEach((file, j) => {
            const result = results[j]!;
            const text = formatResult(format, file, result);
            if (!result.ok) failed++;
            // The table is for people: its error lines go to stderr, as before --output existed.
            if (!result.ok && format === 'table') io.err(text);
            else texts.push(text);
          });
          await out.writeLines(texts);
        }
      } finally {
        await classifier.close();
      }
      // Failed images are recorded in the output, so the run counts as finished and the file is kept.
      await out.commit();
    } catch (err) {
      await out.discard();
      throw err;
    }
    if (failed > 0) {
      (data as CommandData).exitCode = 1;
      if (format === 'table') io.err(`${failed} of ${files.length} images failed`);
    }
    if (out instanceof OutputFile) io.err(`wrote ${files.length} results (${failed} failed) to ${out.file}`);
  },
});
