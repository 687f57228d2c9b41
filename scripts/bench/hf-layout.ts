/**
 * imgcls's default model (nsfwjs's MobileNetV2) in the Hugging Face /
 * transformers.js layout, so a benchmark can run transformers.js's
 * `pipeline('image-classification')` on the very weights imgcls serves:
 *
 *   config.json               model_type mobilenet_v2 (transformers.js's
 *                             MobileNetV2ForImageClassification), id2label
 *   preprocessor_config.json  stretch to 224x224, bilinear, x 1/255, no
 *                             normalisation, no centre crop: the built-in's
 *                             preprocessing, but with plain bilinear instead of
 *                             TF.js's align-corners (Hugging Face has no code
 *                             for that)
 *   onnx/model.onnx           NCHW `pixel_values` in, `logits` out (no
 *                             softmax: transformers.js and imgcls apply it)
 *
 * imgcls reads the same directory (Classifier.load(dir)) as a Hugging Face
 * package. The graph is converted from the nsfwjs bundle, as the built-in is,
 * and checked against the built-in in the model store before it is written.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelSession } from '../../src/engine/session.ts';
import { convertKeras } from '../../src/keras/convert.ts';
import { loadNsfwBundle } from '../../src/keras/source.ts';
import { MANIFEST_FILE } from '../../src/model/manifest.ts';
import { BUILTIN_MODELS, DEFAULT_MODEL, NSFW_LABELS } from '../../src/store/builtin.ts';
import { ensureBuiltin } from '../../src/store/store.ts';
import { writeDirectory } from '../../src/store/write-directory.ts';

/** The built-in this layout holds. */
const MODEL = BUILTIN_MODELS[DEFAULT_MODEL]!;
const SIZE = 224;
/** Bumped when what this file writes changes, so existing directories are rewritten. */
const LAYOUT_REVISION = 1;
/** config.json field (ignored by transformers.js and imgcls) saying what wrote the directory, from what. */
const MARKER = 'imgcls_hf_layout';
/** Largest |softmax(logits) − built-in probability| accepted on a random batch. */
const PARITY_TOL = 1e-5;

export interface HuggingFaceLayoutOptions {
  /** imgcls's model store holding the built-in (else IMGCLS_HOME, else ~/.cache/imgcls); converted there if missing. */
  store?: string;
}

/**
 * Write (or keep, when it is up to date) the Hugging Face layout of
 * nsfw-mobilenet-v2 in `outDir`; returns its absolute path. Up to date means
 * written by this revision of this file from the same built-in (same nsfwjs
 * and imgcls versions). Only an earlier directory of this kind, or an empty
 * one, is replaced.
 */
export async function writeHuggingFaceLayout(outDir: string, options: HuggingFaceLayoutOptions = {}): Promise<string> {
  const dir = resolve(outDir);
  const builtinDir = await ensureBuiltin(MODEL.name, { store: options.store });
  const stamp = { revision: LAYOUT_REVISION, builtin: await builtinStamp(builtinDir) };
  const existing = await readMarker(dir);
  if (existing !== undefined && JSON.stringify(existing) === JSON.stringify(stamp) && (await isFile(join(dir, 'onnx', 'model.onnx')))) return dir;
  await checkReplaceable(dir, existing !== undefined);

  const converted = convertKeras(loadNsfwBundle(MODEL.bundle).model, { inputName: 'pixel_values', outputName: 'logits', inputLayout: 'NCHW', logits: true });
  if (converted.output.shape[1] !== NSFW_LABELS.length) throw new Error(`The converted model has ${converted.output.shape[1]} classes; expected ${NSFW_LABELS.length}`);
  await checkParity(converted.onnx, join(builtinDir, 'model.onnx'));

  const id2label = Object.fromEntries(NSFW_LABELS.map((label, i) => [String(i), label]));
  const label2id = Object.fromEntries(NSFW_LABELS.map((label, i) => [label, i]));
  const config = {
    architectures: ['MobileNetV2ForImageClassification'],
    model_type: 'mobilenet_v2',
    num_channels: 3,
    image_size: SIZE,
    problem_type: 'single_label_classification',
    id2label,
    label2id,
    // transformers.js picks model.onnx (not a quantised file) on every device with this.
    'transformers.js_config': { dtype: 'fp32' },
    [MARKER]: stamp,
  };
  const preprocessor = {
    image_processor_type: 'MobileNetV2ImageProcessor',
    // {height, width} rather than 224: for MobileNet processors an integer
    // size means the shortest edge (Python transformers, and imgcls with it).
    do_resize: true,
    size: { height: SIZE, width: SIZE },
    resample: 2, // PIL bilinear
    do_center_crop: false,
    do_rescale: true,
    rescale_factor: 1 / 255,
    // transformers.js leaves normalisation off when unset, imgcls (like Python transformers) turns it on: say it.
    do_normalize: false,
    image_mean: [0, 0, 0],
    image_std: [1, 1, 1],
    do_convert_rgb: true,
  };

  // Written as one step; config.json last, since its marker is what says the directory is complete.
  await writeDirectory(dir, [
    ['onnx/model.onnx', converted.onnx],
    ['preprocessor_config.json', JSON.stringify(preprocessor, null, 2) + '\n'],
    ['config.json', JSON.stringify(config, null, 2) + '\n'],
  ]);
  return dir;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => null))?.isFile() ?? false;
}

/** The built-in package's identity (nsfwjs and imgcls versions), from its manifest. */
async function builtinStamp(builtinDir: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(builtinDir, MANIFEST_FILE), 'utf8')) as { metadata?: { builtin?: unknown } };
  const stamp = manifest.metadata?.builtin;
  if (typeof stamp !== 'string') throw new Error(`${builtinDir}/${MANIFEST_FILE} does not say which built-in it is (metadata.builtin)`);
  return stamp;
}

/** The marker of an earlier directory written here, or undefined. */
async function readMarker(dir: string): Promise<unknown> {
  try {
    return (JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>)[MARKER];
  } catch {
    return undefined;
  }
}

/** Never delete someone's files: only an earlier layout of ours, an empty folder or nothing may be at `dir`. */
async function checkReplaceable(dir: string, ours: boolean): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info || ours) return;
  if (!info.isDirectory() || (await readdir(dir)).length > 0) {
    throw new Error(`${dir} exists and is not a Hugging Face layout written by writeHuggingFaceLayout; choose a new or empty folder`);
  }
}

/**
 * The same weights as the built-in, checked: a seeded random batch through
 * both graphs (NCHW for this one, NHWC for the built-in), softmax of the
 * logits against the built-in's probabilities.
 */
async function checkParity(onnx: Uint8Array, builtinModel: string): Promise<void> {
  const batch = 2;
  const n = batch * SIZE * SIZE * 3;
  const nhwc = new Float32Array(n);
  let seed = 20240607;
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    nhwc[i] = seed / 4294967296;
  }
  const nchw = new Float32Array(n);
  for (let b = 0; b < batch; b++)
    for (let p = 0; p < SIZE * SIZE; p++) for (let c = 0; c < 3; c++) nchw[(b * 3 + c) * SIZE * SIZE + p] = nhwc[(b * SIZE * SIZE + p) * 3 + c]!;

  const [hf, builtin] = await Promise.all([ModelSession.open(onnx), ModelSession.open(builtinModel)]);
  try {
    const logits = await hf.run('pixel_values', nchw, [batch, 3, SIZE, SIZE], 'logits');
    const input = builtin.signature.inputs[0]!.name;
    const output = builtin.signature.outputs[0]!.name;
    const probs = await builtin.run(input, nhwc, [batch, SIZE, SIZE, 3], output);
    const classes = NSFW_LABELS.length;
    let worst = 0;
    for (let b = 0; b < batch; b++) {
      const row = Array.from(logits.data.subarray(b * classes, (b + 1) * classes));
      const max = Math.max(...row);
      const exps = row.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, v) => a + v, 0);
      exps.forEach((e, i) => (worst = Math.max(worst, Math.abs(e / sum - probs.data[b * classes + i]!))));
    }
    if (!(worst <= PARITY_TOL)) throw new Error(`The Hugging Face graph disagrees with the built-in ${builtinModel}: max |softmax(logits) - probability| = ${worst}`);
  } finally {
    await Promise.all([hf.close(), builtin.close()]);
  }
}
