/**
 * Parity between imgcls's built-in nsfw models (converted to ONNX from the
 * nsfwjs package) and nsfwjs itself on TF.js, on real photos.
 *
 * For each photo, two comparisons:
 * - Input size (gated): the photo is stretched to the model's input size
 *   with sharp and encoded as PNG (lossless). imgcls classifies those PNG
 *   bytes; nsfwjs gets the same decoded pixels, already at its input size,
 *   so it does not resize. The five probabilities must agree within 1e-3.
 * - Full size (gated on the top class): imgcls on the original file's bytes
 *   against nsfwjs on the full-size decoded pixels. Both resize with TF.js's
 *   align-corners bilinear (the built-ins' interpolation), so the top class
 *   must agree; the largest probability difference is reported. With
 *   `--interpolation bilinear` (sharp's antialiased resize while decoding)
 *   imgcls is faster but its top class can differ on some photos.
 *
 * Usage: npx tsx scripts/nsfw-parity.ts [--model nsfw-mobilenet-v2|nsfw-inception-v3]
 *          [--backend wasm|cpu] [--store DIR] [--tolerance 1e-3] [folder ...]
 * Folders default to skimage's data folder and /usr/share/wallpapers, where
 * present. Exits 1 when an input-size difference exceeds the tolerance or a
 * full-size top class disagrees.
 */
import {
  argmax,
  COMMON_OPTIONS,
  decodeRgb,
  defaultFolders,
  encodePng,
  findPhotos,
  imgclsScores,
  loadImgcls,
  loadNsfwjs,
  markdownTable,
  megapixels,
  NSFW_LABELS,
  nsfwjsScores,
  nsfwModel,
  parseCommandLine,
  usageError,
  progress,
  useTfBackend,
  type TfBackend,
} from './lib-nsfw/common.ts';

const USAGE = `Usage: npx tsx scripts/nsfw-parity.ts [--model nsfw-mobilenet-v2|nsfw-inception-v3] [--backend wasm|cpu] [--store DIR] [--tolerance 1e-3] [folder ...]`;

const { values, positionals } = parseCommandLine(
  {
    ...COMMON_OPTIONS,
    backend: { type: 'string', default: 'wasm' },
    tolerance: { type: 'string', default: '1e-3' },
  },
  USAGE,
);
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const model = nsfwModel(values.model);
const backend = values.backend as TfBackend;
if (backend !== 'wasm' && backend !== 'cpu') usageError(`--backend must be wasm or cpu; got "${values.backend}"`);
const tolerance = Number(values.tolerance);
if (!(tolerance > 0)) usageError(`--tolerance must be a positive number; got "${values.tolerance}"`);
const folders = positionals.length > 0 ? positionals : defaultFolders();
if (folders.length === 0) usageError('No folders given and neither default folder exists');

const { photos, skipped } = await findPhotos(folders);
if (photos.length === 0) usageError(`No colour photos of at least 100x100 under ${folders.join(', ')}`);

const tfInfo = await useTfBackend(backend);
const nsfw = await loadNsfwjs(model);
const { classifier, dir } = await loadImgcls(model, values.store);

console.log(`# nsfwjs vs imgcls parity: ${model.name} (${model.size}x${model.size})`);
console.log('');
console.log(`nsfwjs ${model.nsfwjsName} on ${tfInfo}; imgcls ${dir} on onnxruntime (${classifier.device})`);
console.log(`${photos.length} photos from ${folders.join(', ')} (${skipped.length} files skipped: duplicates, previews, greyscale or under 100x100)`);
console.log('');

const short = (s: number) => s.toFixed(3).replace(/^0\./, '.');
const probs = (scores: readonly number[]) => scores.map(short).join(' ');
const top = (scores: readonly number[]) => {
  const i = argmax(scores);
  return `${NSFW_LABELS[i]} ${scores[i]!.toFixed(3)}`;
};
const maxAbsDiff = (a: readonly number[], b: readonly number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

interface Row {
  name: string;
  size: string;
  inputDiff: number;
  inputTop: string;
  fullImgcls: number[];
  fullNsfwjs: number[];
  fullDiff: number;
  agree: boolean;
}

const rows: Row[] = [];
for (const photo of photos) {
  // Input size: the same pixels to both, no resizing by either engine.
  const small = await decodeRgb(photo.bytes, model.size);
  const png = await encodePng(small);
  const a = await imgclsScores(classifier, png);
  const b = await nsfwjsScores(nsfw, small);
  // Full size: each engine resizes the way it does.
  const full = await decodeRgb(photo.bytes);
  const c = await imgclsScores(classifier, photo.bytes);
  const d = await nsfwjsScores(nsfw, full);
  const row: Row = {
    name: photo.name,
    size: `${photo.width}x${photo.height} ${photo.format}`,
    inputDiff: maxAbsDiff(a, b),
    inputTop: argmax(a) === argmax(b) ? top(a) : `${top(a)} / ${top(b)}`,
    fullImgcls: c,
    fullNsfwjs: d,
    fullDiff: maxAbsDiff(c, d),
    agree: argmax(c) === argmax(d),
  };
  if (a.some(Number.isNaN) || b.some(Number.isNaN)) row.inputDiff = NaN;
  rows.push(row);
  progress(`${rows.length}/${photos.length} ${photo.name}`);
}
progress(null);
await classifier.close();

console.log(`Probabilities are ${NSFW_LABELS.map((l) => l[0]).join('/')} = ${NSFW_LABELS.join(', ')}.`);
console.log('');
console.log(
  markdownTable(
    ['photo', 'size', `${model.size}px max abs diff`, `${model.size}px top`, 'full: imgcls D H N P S', 'full: nsfwjs D H N P S', 'full max diff', 'top agrees'],
    rows.map((r) => [
      r.name,
      r.size,
      r.inputDiff.toExponential(1),
      r.inputTop,
      probs(r.fullImgcls),
      probs(r.fullNsfwjs),
      r.fullDiff.toFixed(3),
      r.agree ? 'yes' : `NO (${NSFW_LABELS[argmax(r.fullImgcls)]} vs ${NSFW_LABELS[argmax(r.fullNsfwjs)]})`,
    ]),
    ['l', 'r', 'r', 'l', 'l', 'l', 'r', 'l'],
  ),
);

const worst = rows.reduce((w, r) => (Number.isNaN(r.inputDiff) || r.inputDiff > w.inputDiff ? r : w), rows[0]!);
const failing = rows.filter((r) => !(r.inputDiff <= tolerance));
const agreeing = rows.filter((r) => r.agree).length;
const medianFullDiff = rows.map((r) => r.fullDiff).sort((x, y) => x - y)[Math.floor(rows.length / 2)]!;
const mp = rows.length ? photos.map(megapixels) : [];
console.log('');
console.log(
  `Summary (${model.name}, ${backend}): ${rows.length} images (${Math.min(...mp).toFixed(2)}-${Math.max(...mp).toFixed(2)} MP); ` +
    `worst ${model.size}x${model.size} diff ${worst.inputDiff.toExponential(2)} (${worst.name}; tolerance ${tolerance}); ` +
    `full-size top-1 agreement ${agreeing}/${rows.length}; median full-size max diff ${medianFullDiff.toFixed(3)}`,
);
if (failing.length > 0) {
  console.log(`FAIL: ${failing.length} image(s) differ by more than ${tolerance} at the input size: ${failing.map((r) => r.name).join(', ')}`);
  process.exit(1);
}
if (agreeing < rows.length) {
  console.log(`FAIL: the full-size top class disagrees on ${rows.length - agreeing} image(s): ${rows.filter((r) => !r.agree).map((r) => r.name).join(', ')}`);
  process.exit(1);
}
