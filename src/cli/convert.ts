/**
 * `imgcls convert`: a Keras/TF.js layers model (a model.json, or one of the
 * nsfwjs models) → an imgcls package (model.onnx + imgcls.json).
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { defineCommand } from 'citty';
import { createError } from '../errors.ts';
import { emitKeras } from '../keras/convert.ts';
import { CROP_SIGNED, NSFWJS_PREPROCESS, parsePooling, STRETCH_UNIT, writeKerasPackage, type FeatureVariant, type KerasPreprocess } from '../keras/package.ts';
import { loadModelJson, loadNsfwBundle, type LoadedKerasModel, type NsfwBundle } from '../keras/source.ts';
import type { KerasShape } from '../keras/topology.ts';
import { parseLabelsFile } from '../model/labels.ts';
import { INTERPOLATION_NAMES } from '../model/manifest.ts';
import { NSFW_LABELS, nsfwSource } from '../store/builtin.ts';
import type { CommandData } from './io.ts';
import { checkKnownFlags, INTERPOLATION_HELP, parseChoice, parseNumber, parseTriple } from './options.ts';

const args = {
  source: { type: 'positional', description: 'path/to/model.json (or its directory), nsfw:mobilenet_v2 or nsfw:inception_v3', required: true },
  out: { type: 'string', description: 'Package directory to write (an earlier package there is replaced; any other non-empty folder is refused)', valueHint: 'dir' },
  name: { type: 'string', description: 'Model name in the manifest (default: the output directory name)' },
  labels: { type: 'string', description: 'Labels: a file (labels.txt, index_to_name.json) or a comma-separated list', valueHint: 'file|a,b,c' },
  'resize-mode': { type: 'string', description: 'How images reach the input size: stretch (nsfwjs, Keras) or shorter (resize, then centre crop)' },
  interpolation: { type: 'string', description: INTERPOLATION_HELP },
  scale: { type: 'string', description: 'Multiply pixel values (0-255) by this first (default 1/255)', valueHint: 'x' },
  mean: { type: 'string', description: 'Per-channel mean to subtract after scaling, R,G,B', valueHint: 'r,g,b' },
  std: { type: 'string', description: 'Per-channel std to divide by, R,G,B', valueHint: 'r,g,b' },
  features: { type: 'boolean', description: 'Also write a feature extractor (the graph cut at --layer, pooled by --pool)' },
  layer: { type: 'string', description: 'Layer to cut the feature extractor at (default: the last spatial layer before the head)' },
  pool: { type: 'string', description: 'Feature pooling: avg, max, none or grid:N (default avg)' },
  'list-layers': { type: 'boolean', description: 'Print the layers with their output shapes, and stop' },
} as const;

/** `[1, 224, 224, 3]`, with `?` for an unknown size. */
const formatShape = (shape: KerasShape) => `[${shape.map((d) => d ?? '?').join(', ')}]`;

async function loadSource(source: string, bundle: NsfwBundle | null): Promise<LoadedKerasModel> {
  if (bundle) return loadNsfwBundle(bundle);
  if (source.startsWith('nsfw:')) throw createError('INVALID_OPTION', `Unknown nsfwjs model ${source}; expected nsfw:mobilenet_v2 or nsfw:inception_v3`);
  return loadModelJson(source);
}

async function readLabels(value: string): Promise<string[]> {
  let text: string | null = null;
  try {
    text = await readFile(value, 'utf8');
  } catch {
    // Not a file: a comma-separated list.
  }
  if (text !== null) return parseLabelsFile(text, basename(value));
  const list = value.split(',').map((l) => l.trim());
  if (list.some((l) => l === '')) throw createError('INVALID_OPTION', `Expected a labels file or a comma-separated list for --labels but received "${value}"`);
  return list;
}

export const convertCommand = defineCommand({
  meta: { name: 'convert', description: 'Convert a Keras/TF.js layers model (or an nsfwjs model) to an ONNX model package' },
  args,
  async run({ args: a, rawArgs, data }) {
    const { io } = data as CommandData;
    checkKnownFlags(rawArgs, args);
    const pooling = parsePooling(a.pool ?? 'avg');
    const bundle = nsfwSource(a.source);
    const loaded = await loadSource(a.source, bundle);

    if (a['list-layers']) {
      // Only the layers and their shapes: no graph to finish or encode.
      const { layers, input } = emitKeras(loaded.model);
      io.out(`input  ${formatShape(input.shape)}`);
      for (const l of layers) io.out(`${l.name}  ${l.className}  ${formatShape(l.shape)}`);
      return;
    }
    if (!a.out) throw createError('INVALID_OPTION', 'Expected --out <dir>: where to write the model package');

    const nsfw = bundle !== null;
    const tm = loaded.metadata.teachableMachine;
    let labels: readonly string[];
    if (a.labels) labels = await readLabels(a.labels);
    else if (nsfw) labels = NSFW_LABELS;
    else if (loaded.metadata.labels) labels = loaded.metadata.labels;
    else throw createError('INVALID_OPTION', `${a.source} comes with no labels (no metadata.json); give them with --labels <file|a,b,c>`);

    const base: KerasPreprocess = nsfw ? NSFWJS_PREPROCESS : tm ? CROP_SIGNED : STRETCH_UNIT;
    const preprocess: KerasPreprocess = {
      resize: a['resize-mode'] ? parseChoice('resize-mode', a['resize-mode'], ['stretch', 'shorter'] as const) : base.resize,
      interpolation: a.interpolation ? parseChoice('interpolation', a.interpolation, INTERPOLATION_NAMES) : base.interpolation,
      scale: a.scale ? parseNumber('scale', a.scale, true) : base.scale,
      mean: a.mean ? parseTriple('mean', a.mean, false) : base.mean,
      std: a.std ? parseTriple('std', a.std, true) : base.std,
    };
    const features: FeatureVariant[] = a.features || a.layer ? [{ layer: a.layer ?? 'auto', pool: pooling }] : [];
    const out = resolve(a.out);
    const converted = await writeKerasPackage(loaded, out, {
      name: a.name ?? basename(out),
      labels,
      preprocess,
      features,
      metadata: nsfw ? { license: 'MIT (nsfwjs, Infinite Red)' } : {},
    });
    io.out(`Wrote ${out}/model.onnx (${converted.layers.length} layers, input ${formatShape(converted.input.shape)}, output ${formatShape(converted.output.shape)}) and imgcls.json (${labels.length} labels)`);
    const explicit = a['resize-mode'] || a.scale || a.mean || a.std;
    if (!nsfw && !tm && !explicit) {
      io.err('note: the model says nothing about its preprocessing; imgcls.json says stretch to the input size and scale 1/255 (convert again with --resize-mode, --scale, --mean and --std to match its training)');
    }
    if (features.length > 0) io.out(`Wrote a feature extractor into ${out} (see metadata.features in imgcls.json)`);
  },
});
