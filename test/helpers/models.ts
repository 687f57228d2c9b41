/**
 * Tiny real ONNX classifiers with known behaviour, and writers for every
 * package layout. The colour model's logits are 10 × the mean of each input
 * channel, so a red image is "red", a green one "green", a blue one "blue".
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GraphBuilder, encodeModel, floatTensor, int, ints, type Dim } from '../../src/onnx/model.ts';

export const COLOURS = ['red', 'green', 'blue'] as const;

/** test/fixtures (helpers/server.ts re-exports it; this file has no fastify import). */
export const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures');
/** A fixture's path. */
export const fx = (name: string): string => path.join(FIXTURES, name);
/** The colour classifier as a Hugging Face package on disk. */
export const HF_COLOUR = path.join(FIXTURES, 'models', 'hf-colour');

export interface ColourModelOptions {
  layout?: 'NCHW' | 'NHWC';
  inputName?: string;
  outputName?: string;
  /** Fixed spatial size, or symbolic when omitted. */
  size?: number;
  /** Fixed batch dimension (1) or symbolic. */
  batch?: number;
  /** End the graph in Softmax, so the package must say activation "none". */
  softmax?: boolean;
  /** Number of classes in the output; >3 pads with constant logits. */
  classes?: number;
}

/** ONNX bytes of the channel-mean classifier. */
export function colourModel(o: ColourModelOptions = {}): Uint8Array {
  const layout = o.layout ?? 'NCHW';
  const inputName = o.inputName ?? 'pixel_values';
  const outputName = o.outputName ?? 'logits';
  const s: Dim = o.size ?? 'size';
  const shape: Dim[] = layout === 'NCHW' ? [o.batch ?? 'batch', 3, s, s] : [o.batch ?? 'batch', s, s, 3];
  const g = new GraphBuilder('colour');
  g.input(inputName, 'FLOAT', shape);
  const mean = g.op('ReduceMean', [inputName], { axes: ints(layout === 'NCHW' ? [2, 3] : [1, 2]), keepdims: int(0) });
  let logits = g.op('Mul', [mean, g.constant(floatTensor('ten', [], [10]))]);
  const classes = o.classes ?? 3;
  if (classes > 3) {
    // Extra classes get a constant logit of -100: never predicted.
    const pad = g.constant(floatTensor('pad', [1, classes - 3], new Array(classes - 3).fill(-100)));
    const batchOnes = g.op('ReduceMean', [logits], { axes: ints([1]), keepdims: int(1) });
    const zeros = g.op('Mul', [batchOnes, g.constant(floatTensor('zero', [], [0]))]);
    const padded = g.op('Add', [zeros, pad]);
    logits = g.op('Concat', [logits, padded], { axis: int(1) });
  }
  if (o.softmax) logits = g.op('Softmax', [logits], { axis: int(1) });
  g.op('Identity', [logits], undefined, outputName);
  g.output(outputName, 'FLOAT', [o.batch ?? 'batch', classes]);
  return encodeModel({ graph: g.build(), opset: 17 });
}

/** A model whose output is its (flattened) input: lets tests read back the exact tensor imgcls fed. */
export function identityModel(size: number, layout: 'NCHW' | 'NHWC' = 'NCHW'): Uint8Array {
  const g = new GraphBuilder('identity');
  const shape: Dim[] = layout === 'NCHW' ? ['batch', 3, size, size] : ['batch', size, size, 3];
  g.input('pixel_values', 'FLOAT', shape);
  g.op('Flatten', ['pixel_values'], { axis: int(1) }, 'values');
  g.output('values', 'FLOAT', ['batch', 3 * size * size]);
  return encodeModel({ graph: g.build(), opset: 17 });
}

export async function tempDir(prefix = 'imgcls-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function put(dir: string, name: string, content: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
  await writeFile(path.join(dir, name), content);
}

const id2label = (labels: readonly string[]) => Object.fromEntries(labels.map((l, i) => [String(i), l]));

/** Hugging Face layout: config.json, preprocessor_config.json, onnx/model.onnx. */
export async function writeHfPackage(dir: string, model: Uint8Array, preprocessor: Record<string, unknown>, labels: readonly string[] = COLOURS, config: Record<string, unknown> = {}): Promise<string> {
  await put(dir, 'config.json', JSON.stringify({ id2label: id2label(labels), ...config }));
  await put(dir, 'preprocessor_config.json', JSON.stringify(preprocessor));
  await put(dir, 'onnx/model.onnx', model);
  return dir;
}

export type LabelsFormat = 'labels.txt' | 'index_to_name.json' | 'imagenet_class_index.json';

/** Bare layout: model.onnx plus one labels file. */
export async function writeBarePackage(dir: string, model: Uint8Array, format: LabelsFormat, labels: readonly string[] = COLOURS): Promise<string> {
  await put(dir, 'model.onnx', model);
  if (format === 'labels.txt') await put(dir, format, labels.join('\n') + '\n');
  else if (format === 'index_to_name.json') await put(dir, format, JSON.stringify(id2label(labels)));
  else await put(dir, format, JSON.stringify(Object.fromEntries(labels.map((l, i) => [String(i), [`n${String(i).padStart(8, '0')}`, l]]))));
  return dir;
}

/** imgcls.json layout. */
export async function writeManifestPackage(dir: string, model: Uint8Array, manifest: Record<string, unknown>, extra: Record<string, string> = {}): Promise<string> {
  await put(dir, 'model.onnx', model);
  await put(dir, 'imgcls.json', JSON.stringify(manifest));
  for (const [name, content] of Object.entries(extra)) await put(dir, name, content);
  return dir;
}
