/**
 * Training speed: feature extraction with the default backbone (images per
 * second, computed and from the cache), and head training on 60,000 feature
 * vectors (seconds), with onnxruntime's Gemm against a plain JavaScript
 * matrix product for the same epoch.
 *
 * Usage: npm run bench:train -- [--images 2000] [--rows 60000] [--epochs 10] [folder]
 * The folder (class folders of images) defaults to the Fashion-MNIST example's
 * test split, else skimage's photos.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelSession } from '../src/engine/session.ts';
import { loadBackbone } from '../src/train/backbone.ts';
import { loadDataset } from '../src/train/dataset.ts';
import { extractFeatures } from '../src/train/extract.ts';
import { FeatureCache } from '../src/train/feature-cache.ts';
import { fitHead, type LabelledFeatures } from '../src/train/fit.ts';
import { Linalg, matrix } from '../src/train/linalg.ts';
import { Random } from '../src/train/random.ts';

const { values, positionals } = parseArgs({
  options: { images: { type: 'string', default: '2000' }, rows: { type: 'string', default: '60000' }, epochs: { type: 'string', default: '10' } },
  allowPositionals: true,
});
const IMAGES = Number(values.images);
const ROWS = Number(values.rows);
const EPOCHS = Number(values.epochs);
const FASHION = 'examples/fashion-mnist/data/test';
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const folder = positionals[0] ?? (existsSync(FASHION) ? FASHION : SKIMAGE);

console.log(`# imgcls training benchmark, ${new Date().toISOString().slice(0, 10)}`);
console.log(`Machine: ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);

// 1. Feature extraction.
const backbone = await loadBackbone();
const dataset = await loadDataset(folder);
const paths = (dataset.splits.all ?? dataset.splits.test ?? dataset.splits.train ?? []).map((i) => i.path).slice(0, IMAGES);
const session = await ModelSession.open(backbone.onnx);
const dir = await mkdtemp(join(tmpdir(), 'imgcls-bench-'));
try {
  await extractFeatures(session, backbone, paths.slice(0, 32), { cache: null });
  let cache = await FeatureCache.open(dir, 'bench', backbone.dim);
  let t = performance.now();
  const fresh = await extractFeatures(session, backbone, paths, { cache });
  const computeS = (performance.now() - t) / 1000;
  await cache.close();
  cache = await FeatureCache.open(dir, 'bench', backbone.dim);
  t = performance.now();
  const again = await extractFeatures(session, backbone, paths, { cache });
  const cachedS = (performance.now() - t) / 1000;
  await cache.close();
  console.log(`\n## Feature extraction: ${backbone.name}, ${backbone.layer} pooled ${JSON.stringify(backbone.pool)} (${backbone.dim} values), ${paths.length} images from ${folder}`);
  console.log('| | images | seconds | images/s |\n|---|---:|---:|---:|');
  console.log(`| computed (decode + preprocess + backbone, batch 32) | ${fresh.computed} | ${computeS.toFixed(1)} | ${(fresh.computed / computeS).toFixed(0)} |`);
  console.log(`| from the cache | ${again.cached} | ${cachedS.toFixed(2)} | ${(again.cached / cachedS).toFixed(0)} |`);
} finally {
  await session.close();
  await rm(dir, { recursive: true, force: true });
}

// 2. Head training on ROWS vectors of the backbone's size: ten Gaussian classes, overlapping enough that the head has work to do.
const rng = new Random(1);
const D = backbone.dim;
const C = 10;
const centres = Array.from({ length: C }, () => Float32Array.from({ length: D }, () => rng.normal() * 0.03));
const make = (n: number): LabelledFeatures => {
  const x = matrix(n, D);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const c = (y[r] = rng.int(C));
    for (let d = 0; d < D; d++) x.data[r * D + d] = centres[c]![d]! + rng.normal();
  }
  return { x, y };
};
const train = make(ROWS);
const val = make(Math.round(ROWS / 6));
const la = await Linalg.open();
console.log(`\n## Head training: ${ROWS} training and ${val.x.rows} validation vectors of ${D} values, 10 classes, ${EPOCHS} epochs, batch 256`);
console.log('| head | seconds | seconds/epoch | final val accuracy |\n|---|---:|---:|---:|');
for (const hidden of [null, 256]) {
  const t = performance.now();
  const fit = await fitHead(la, train, val, { classes: C, hidden, epochs: EPOCHS, batchSize: 256, lr: 1e-3, weightDecay: 1e-4, labelSmoothing: 0.1, classWeight: 'none', patience: EPOCHS, seed: 0 });
  const s = (performance.now() - t) / 1000;
  console.log(`| ${hidden === null ? 'linear' : `hidden ${hidden}`} | ${s.toFixed(1)} | ${(s / fit.history.length).toFixed(2)} | ${(fit.history.at(-1)!.val_accuracy * 100).toFixed(1)}% |`);
}

// 3. Why onnxruntime does the products: one linear epoch's forward and weight-gradient products, both ways.
const w = matrix(D, C, Float32Array.from({ length: D * C }, () => rng.normal() * 0.01));
const g = matrix(256, C, Float32Array.from({ length: 256 * C }, () => rng.normal()));
const steps = Math.ceil(ROWS / 256);
const batch = matrix(256, D, train.x.data.subarray(0, 256 * D));
let t = performance.now();
for (let s = 0; s < steps; s++) {
  await la.mul(batch, w);
  await la.mulTA(batch, g);
}
const ortS = (performance.now() - t) / 1000;
t = performance.now();
const z = new Float32Array(256 * C);
const dw = new Float32Array(D * C);
for (let s = 0; s < steps; s++) {
  for (let r = 0; r < 256; r++) for (let c = 0; c < C; c++) {
    let acc = 0;
    for (let d = 0; d < D; d++) acc += batch.data[r * D + d]! * w.data[d * C + c]!;
    z[r * C + c] = acc;
  }
  dw.fill(0);
  for (let r = 0; r < 256; r++) for (let d = 0; d < D; d++) {
    const xv = batch.data[r * D + d]!;
    for (let c = 0; c < C; c++) dw[d * C + c]! += xv * g.data[r * C + c]!;
  }
}
const jsS = (performance.now() - t) / 1000;
await la.close();
console.log(`\n## Matrix products of one linear-head epoch (${steps} batches of 256 × ${D} → ${C})`);
console.log(`| onnxruntime Gemm | plain JavaScript | ratio |\n|---:|---:|---:|\n| ${ortS.toFixed(2)} s | ${jsS.toFixed(2)} s | ${(jsS / ortS).toFixed(0)}× |`);
