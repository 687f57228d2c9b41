/**
 * Sanity check of the Hugging Face layout of nsfw-mobilenet-v2: write it into
 * a temporary directory, classify a few photos with imgcls
 * (Classifier.load(dir)) and with transformers.js (its own decoding and
 * resizing), print both top-1s, then rough images/second for transformers.js
 * (and imgcls, for reference) on one large JPEG and on one 224x224 PNG.
 *
 * Usage: npx tsx scripts/bench/check-hf-layout.ts [--store DIR]
 * (the store holds imgcls's built-in, which the layout is checked against).
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Classifier } from '../../src/engine/classifier.ts';
import { writeHuggingFaceLayout } from './hf-layout.ts';
import { openTransformersJs, type TransformersJsClassifier } from './transformers-js.ts';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png'];
const WALLPAPERS = '/usr/share/wallpapers';
const CALLS = 20;

const { values } = parseArgs({ options: { store: { type: 'string' } } });

async function imgclsTop(classifier: Classifier, bytes: Uint8Array): Promise<{ label: string; score: number }[]> {
  const [result] = await classifier.classify([bytes], { topK: 'all' });
  if (!result?.ok) throw result?.error ?? new Error('no result');
  return result.predictions.map((p) => ({ label: p.label, score: p.score }));
}

/** Images per second over `CALLS` sequential calls, after one untimed call. */
async function rate(run: () => Promise<unknown>): Promise<number> {
  await run();
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) await run();
  return CALLS / ((performance.now() - start) / 1000);
}

const fmt = (p: { label: string; score: number } | undefined) => (p ? `${p.label.padEnd(7)} ${p.score.toFixed(4)}` : '-');

const temp = await mkdtemp(join(tmpdir(), 'imgcls-hf-layout-'));
let tjs: TransformersJsClassifier | undefined;
let imgcls: Classifier | undefined;
try {
  let t = performance.now();
  const dir = await writeHuggingFaceLayout(join(temp, 'nsfw-mobilenet-v2-hf'), { store: values.store });
  console.log(`layout written to ${dir} in ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  await writeHuggingFaceLayout(dir, { store: values.store });
  console.log(`second call (reused) took ${(performance.now() - t).toFixed(0)} ms`);

  imgcls = await Classifier.load(dir);
  const pre = imgcls.spec.preprocess;
  console.log(`imgcls reads it as: format ${imgcls.spec.format}, input ${imgcls.spec.inputName} (${pre.layout}), output ${imgcls.spec.outputName} + ${imgcls.spec.activation}, resize ${JSON.stringify(pre.resize)}, crop ${JSON.stringify(pre.crop)}, scale ${pre.scale}, mean ${JSON.stringify(pre.mean)}, std ${JSON.stringify(pre.std)}`);
  t = performance.now();
  tjs = await openTransformersJs(dir);
  console.log(`transformers.js pipeline built in ${(performance.now() - t).toFixed(0)} ms\n`);

  console.log(`${'photo'.padEnd(22)} ${'imgcls top-1'.padEnd(14)}  ${'transformers.js top-1'.padEnd(14)}  agree  max |score diff|`);
  let disagreements = 0;
  for (const name of PHOTOS) {
    const file = join(SKIMAGE, name);
    if (!existsSync(file)) {
      console.log(`${name.padEnd(22)} (missing)`);
      continue;
    }
    const bytes = await readFile(file);
    const a = await imgclsTop(imgcls, bytes);
    const b = await tjs.classify(bytes);
    const byLabel = new Map(b.map((p) => [p.label, p.score]));
    const diff = Math.max(...a.map((p) => Math.abs(p.score - (byLabel.get(p.label) ?? NaN))));
    const agree = a[0]?.label === b[0]?.label;
    if (!agree) disagreements++;
    console.log(`${name.padEnd(22)} ${fmt(a[0])}  ${fmt(b[0])}           ${agree ? 'yes' : 'NO '}    ${diff.toFixed(4)}`);
  }
  console.log(disagreements === 0 ? '\ntop-1 agrees on every photo' : `\ntop-1 differs on ${disagreements} photo(s)`);

  // Already 224x224: neither side resizes, so only decoding (both sharp), the 1/255 scale and the graph remain.
  const small = existsSync(join(SKIMAGE, 'chelsea.png')) ? await sharp(join(SKIMAGE, 'chelsea.png')).resize(224, 224, { fit: 'fill' }).png().toBuffer() : null;
  if (small) {
    const a = await imgclsTop(imgcls, small);
    const b = new Map((await tjs.classify(small)).map((p) => [p.label, p.score]));
    const diff = Math.max(...a.map((p) => Math.abs(p.score - (b.get(p.label) ?? NaN))));
    console.log(`on a 224x224 PNG (no resizing on either side) max |score diff| = ${diff.toExponential(2)}`);
  }

  // The first /usr/share/wallpapers/*/contents/images/2560x1600.jpg (Node 20 has no fs.globSync).
  const jpeg = (existsSync(WALLPAPERS) ? readdirSync(WALLPAPERS).sort() : []).map((w) => join(WALLPAPERS, w, 'contents/images/2560x1600.jpg')).find((f) => existsSync(f));
  const targets: Array<{ what: string; bytes: Uint8Array }> = [];
  if (jpeg) targets.push({ what: `${basename(join(jpeg, '../../..'))} 2560x1600 JPEG`, bytes: await readFile(jpeg) });
  if (small) targets.push({ what: '224x224 PNG', bytes: small });
  console.log(`\nimages/second, ${CALLS} sequential calls from bytes in memory (rough, one run):`);
  for (const { what, bytes } of targets) {
    const tjsRate = await rate(() => tjs!.classify(bytes));
    const imgclsRate = await rate(() => imgclsTop(imgcls!, bytes));
    console.log(`  ${what.padEnd(28)} transformers.js ${tjsRate.toFixed(1).padStart(6)}/s   imgcls ${imgclsRate.toFixed(1).padStart(6)}/s`);
  }
} finally {
  await tjs?.close();
  await imgcls?.close();
  await rm(temp, { recursive: true, force: true });
}
