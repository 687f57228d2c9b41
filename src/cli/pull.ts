/**
 * `imgcls pull`: download a model into the store, from the Hugging Face hub
 * (`hf:org/repo[@rev]`, transformers.js layout) or a plain https URL to an
 * .onnx file with `--labels`. `--list` shows well-known ImageNet models.
 */
import { defineCommand } from 'citty';
import { createError } from '../errors.ts';
import { CURATED_MODELS } from '../hub/curated.ts';
import { hubSettings, VARIANTS, type Variant } from '../hub/huggingface.ts';
import { pullHub, pullUrl, type PullOptions } from '../hub/pull.ts';
import { isHubRef, parseDownloadUrl, parseHubRef } from '../hub/ref.ts';
import { modelsDir } from '../store/store.ts';
import type { CliIO, CommandData } from './io.ts';
import { checkKnownFlags, parseChoice, storeArg } from './options.ts';
import { barProgress } from './progress.ts';

const args = {
  source: { type: 'positional', description: 'hf:<org>/<repo>[@revision], or an https URL to an .onnx file', required: false },
  name: { type: 'string', description: 'Store it under this name (default: the repository or file name, lower-cased)', valueHint: 'name' },
  variant: { type: 'string', description: `Hub only: which ONNX file, ${Object.keys(VARIANTS).join(' or ')} (default onnx/model.onnx)` },
  labels: { type: 'string', description: 'URL only: the labels, a URL or a file (labels.txt, index_to_name.json, imagenet_class_index.json)', valueHint: 'url|file' },
  sha256: { type: 'string', description: 'URL only: the model file must have this sha256', valueHint: 'hex' },
  list: { type: 'boolean', description: 'List well-known ImageNet classifiers and how to pull them' },
  ...storeArg,
} as const;

function printList(io: CliIO): void {
  const width = Math.max(...CURATED_MODELS.map((m) => m.network.length));
  io.out('Well-known ImageNet classifiers (* = not checked against the hub when this list was written):');
  for (const m of CURATED_MODELS) {
    const command = `imgcls pull ${m.pull}${m.labels ? ` --labels ${m.labels} --name ${m.network.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` : ''}`;
    io.out(`  ${m.verified ? ' ' : '*'}${m.network.padEnd(width)}  ${m.input.padEnd(8)}  ${command}`);
    const notes = [m.flags ? `predict/serve with ${m.flags}` : '', m.note ?? ''].filter(Boolean);
    if (notes.length > 0) io.out(`   ${' '.repeat(width)}  ${' '.repeat(8)}  ${notes.join('; ')}`);
  }
}

export const pullCommand = defineCommand({
  meta: { name: 'pull', description: 'Download a model into the store: hf:<org>/<repo>[@rev] from the Hugging Face hub, or an .onnx URL with --labels' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const positional: string[] = a._;
    if (a.list) {
      if (positional.length > 0) throw createError('INVALID_OPTION', '--list takes no model');
      printList(io);
      return;
    }
    if (positional.length !== 1) {
      throw createError('INVALID_OPTION', `Expected one model to pull, hf:<org>/<repo>[@revision] or an https URL to an .onnx file, but received ${positional.length === 0 ? 'none' : positional.join(' ')} (imgcls pull --list shows some)`);
    }
    const source = positional[0]!;
    const tty = process.stderr.isTTY === true;
    const options: PullOptions = {
      modelsDir: modelsDir({ store: a.store }),
      name: a.name,
      onMessage: (m) => io.err(m),
      // A terminal gets one redrawn line per file.
      progress: barProgress(io, tty),
    };

    let result;
    if (isHubRef(source)) {
      if (a.labels !== undefined || a.sha256 !== undefined) throw createError('INVALID_OPTION', '--labels and --sha256 are for URLs; a hub model brings its labels and checksums');
      const ref = parseHubRef(source);
      const variant = a.variant === undefined ? undefined : parseChoice<Variant>('variant', a.variant, Object.keys(VARIANTS) as Variant[]);
      result = await pullHub(ref, variant, hubSettings(process.env), options);
    } else if (/^https?:\/\//i.test(source)) {
      if (a.variant !== undefined) throw createError('INVALID_OPTION', '--variant is for hub models (hf:...)');
      if (a.labels === undefined) throw createError('INVALID_OPTION', `A model pulled by URL needs its labels: add --labels <url|file> (one label per line, index_to_name.json or imagenet_class_index.json)`);
      result = await pullUrl(parseDownloadUrl(source, 'model URL'), a.labels, a.sha256, options);
    } else {
      throw createError('INVALID_OPTION', `Expected hf:<org>/<repo>[@revision] or an https URL to an .onnx file but received "${source}" (imgcls pull --list shows some)`);
    }
    io.out(result.upToDate ? `${result.name} is already in the store: ${result.dir}` : `Pulled ${result.source.source} as ${result.name}: ${result.dir}`);
    if (!result.upToDate) io.out(`Use it with: imgcls predict --model ${result.name} photo.jpg`);
  },
});
