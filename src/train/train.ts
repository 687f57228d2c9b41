/**
 * `imgcls train`, as a function: features from the frozen backbone (cached),
 * a head fitted on them, the kept checkpoint measured on validation and test,
 * and one ONNX graph (backbone + head + softmax) written as a package with
 * its report.
 */
import { createHash } from 'node:crypto';
import { topK } from '../engine/postprocess.ts';
import { ModelSession } from '../engine/session.ts';
import { createError } from '../errors.ts';
import { checkReplaceable, poolName, writeKerasPackage } from '../keras/package.ts';
import { VERSION } from '../version.ts';
import { DEFAULT_AUGMENT } from './augment.ts';
import { loadBackbone, type Backbone, type BackboneOptions } from './backbone.ts';
import type { Dataset, LabelledImage } from './dataset.ts';
import { extractFeatures, type AugmentView } from './extract.ts';
import { FeatureCache } from './feature-cache.ts';
import { fitHead, predictProbabilities, type HeadOptions, type LabelledFeatures } from './fit.ts';
import type { Head } from './head.ts';
import { gatherRows, Linalg, matrix, rowsOf, type Matrix } from './linalg.ts';
import { evaluateScores, type EvaluationMetrics } from './metrics.ts';
import { renderReportHtml } from './report-html.ts';
import type { TrainReport } from './report-types.ts';
import { chooseSplits } from './split.ts';
import { fitStandardization, foldStandardization, standardize } from './standardize.ts';

export const DEFAULT_HEAD: HeadOptions = {
  hidden: null,
  epochs: 30,
  batchSize: 256,
  lr: 1e-3,
  weightDecay: 1e-4,
  labelSmoothing: 0.1,
  classWeight: 'none',
  patience: 5,
  seed: 0,
};

/** A progress line for one long step; the CLI draws bars, tests pass nothing. */
export interface StepProgress {
  tick(done: number, extra?: string): void;
  done(extra?: string): void;
}

export interface TrainOptions {
  dataset: Dataset;
  /** As the user named the dataset, for the report. */
  location: string;
  out: string;
  name: string;
  backbone?: BackboneOptions;
  head?: Partial<HeadOptions>;
  /** Extra augmented views of each training image. */
  augment?: number;
  valFraction?: number;
  /** The feature cache directory, or null for none. */
  cacheDir: string | null;
  threads?: number;
  maxPixels?: number;
  progress?: (label: string, total: number, unit: string) => StepProgress;
  log?: (message: string) => void;
}

const quiet: StepProgress = { tick: () => {}, done: () => {} };

interface Part {
  images: LabelledImage[];
  features: LabelledFeatures;
}

/**
 * The images of one split that were read, with their features (rows of `x`)
 * and class indices. `failed` holds row numbers counted from `offset`.
 */
function keep(images: LabelledImage[], x: Matrix, failed: ReadonlySet<number>, offset: number, classIndex: Map<string, number>): Part {
  const rows = images.map((_, i) => i).filter((i) => !failed.has(offset + i));
  // Without failures the rows are `x` itself (a view): 60,000 × 2,304 features are 550 MB not to copy.
  const out = rows.length === images.length ? x : gatherRows(x, rows);
  return {
    images: rows.map((r) => images[r]!),
    features: { x: out, y: Int32Array.from(rows, (r) => classIndex.get(images[r]!.label)!) },
  };
}

function concatRows(parts: Matrix[]): Matrix {
  const total = parts.reduce((n, m) => n + m.rows, 0);
  const out = matrix(total, parts[0]!.cols);
  let at = 0;
  for (const m of parts) {
    out.data.set(m.data, at);
    at += m.data.length;
  }
  return out;
}

async function evaluate(la: Linalg, head: Head, part: LabelledFeatures, classes: string[]): Promise<EvaluationMetrics> {
  const p = await predictProbabilities(la, head, part.x);
  const k = Math.min(5, classes.length);
  const scored = Array.from({ length: p.rows }, (_, r) => ({
    truth: part.y[r]!,
    ranked: topK(rowsOf(p, r, r + 1).data, classes, k).map((prediction) => prediction.index),
  }));
  return evaluateScores(classes, scored);
}

const cacheKey = (backbone: Backbone, view?: AugmentView) =>
  backbone.id.slice(0, 32) + (view ? `-aug${view.view}-${createHash('sha256').update(JSON.stringify([view.seed, view.options])).digest('hex').slice(0, 12)}` : '');

export async function train(options: TrainOptions): Promise<TrainReport> {
  const began = performance.now();
  const log = options.log ?? (() => {});
  const progress = options.progress ?? (() => quiet);
  const head: HeadOptions = { ...DEFAULT_HEAD, ...options.head };
  const augmentViews = options.augment ?? 0;
  const { dataset } = options;
  // Checked now, not after an hour of features; writeKerasPackage checks again before it replaces anything.
  await checkReplaceable(options.out);
  const splits = chooseSplits(dataset, options.valFraction ?? 0.1, head.seed);
  const classIndex = new Map(dataset.classes.map((c, i) => [c, i]));

  const backbone = await loadBackbone(options.backbone);
  log(`Backbone ${backbone.name}: ${backbone.layer} pooled ${poolName(backbone.pool)} → ${backbone.dim} features per image`);
  const session = await ModelSession.open(backbone.onnx, { threads: options.threads });
  const featuresBegan = performance.now();
  const all = [...splits.train, ...splits.val, ...(splits.test ?? [])];
  const skipped: string[] = [];
  let computed = 0;
  let cached = 0;
  const extractWith = async (images: readonly LabelledImage[], label: string, view?: AugmentView) => {
    const cache = options.cacheDir === null ? null : await FeatureCache.open(options.cacheDir, cacheKey(backbone, view), backbone.dim);
    const bar = progress(label, images.length, 'img');
    try {
      const r = await extractFeatures(session, backbone, images.map((i) => i.path), { cache, augment: view, maxPixels: options.maxPixels, onProgress: (n) => bar.tick(n) });
      bar.done(`${r.computed} computed, ${r.cached} from the cache`);
      computed += r.computed;
      cached += r.cached;
      return r;
    } finally {
      await cache?.close();
    }
  };
  let trainPart: Part;
  let valPart: Part;
  let testPart: Part | null = null;
  const augmented: Matrix[] = [];
  try {
    const plain = await extractWith(all, 'Features');
    const failed = new Set(plain.failed.map((f) => f.index));
    for (const f of plain.failed) skipped.push(`${f.path}: ${f.message}`);
    // `all` is train, then val, then test: each split's rows follow the previous split's.
    let at = 0;
    const part = (images: LabelledImage[]): Part => {
      const from = at;
      at += images.length;
      return keep(images, rowsOf(plain.x, from, at), failed, from, classIndex);
    };
    trainPart = part(splits.train);
    valPart = part(splits.val);
    if (splits.test) testPart = part(splits.test);
    for (let v = 1; v <= augmentViews; v++) {
      const view: AugmentView = { view: v, seed: head.seed, options: DEFAULT_AUGMENT };
      const r = await extractWith(trainPart.images, `Augmented view ${v}/${augmentViews}`, view);
      // An image that decoded once decodes again; a failure here would be a bug worth hearing about.
      if (r.failed.length > 0) throw createError('INTERNAL_ERROR', `Augmenting ${r.failed[0]!.path} failed: ${r.failed[0]!.message}`);
      augmented.push(r.x);
    }
  } finally {
    await session.close();
  }
  const featuresSeconds = (performance.now() - featuresBegan) / 1000;
  if (trainPart.images.length === 0) throw createError('INVALID_OPTION', 'No training image could be read');
  if (valPart.images.length === 0) throw createError('INVALID_OPTION', 'No validation image could be read');

  const trainSet: LabelledFeatures = {
    x: augmented.length > 0 ? concatRows([trainPart.features.x, ...augmented]) : trainPart.features.x,
    y: augmented.length > 0 ? Int32Array.from({ length: (augmented.length + 1) * trainPart.features.y.length }, (_, i) => trainPart.features.y[i % trainPart.features.y.length]!) : trainPart.features.y,
  };
  const stats = fitStandardization(trainSet.x);
  for (const m of [trainSet.x, valPart.features.x, testPart?.features.x]) if (m) standardize(m, stats);

  const trainBegan = performance.now();
  const la = await Linalg.open(options.threads ?? 0);
  let report: TrainReport;
  try {
    const stepsPerEpoch = Math.ceil(trainSet.x.rows / Math.min(head.batchSize, trainSet.x.rows));
    const bar = progress('Training', stepsPerEpoch * head.epochs, 'step');
    let last = '';
    const fit = await fitHead(la, trainSet, valPart.features, {
      ...head,
      classes: dataset.classes.length,
      onStep: (done) => bar.tick(done, last),
      onEpoch: (r) => {
        last = `epoch ${r.epoch} loss ${r.train_loss.toFixed(3)} val acc ${(r.val_accuracy * 100).toFixed(2)}%`;
      },
    });
    const stoppedEarly = fit.history.length < head.epochs;
    bar.done(`${fit.history.length} epochs${stoppedEarly ? ' (stopped early)' : ''}, best val acc ${(fit.history[fit.bestEpoch - 1]!.val_accuracy * 100).toFixed(2)}% at epoch ${fit.bestEpoch}`);
    const trainSeconds = (performance.now() - trainBegan) / 1000;
    const validation = await evaluate(la, fit.head, valPart.features, dataset.classes);
    const test = testPart ? await evaluate(la, fit.head, testPart.features, dataset.classes) : null;

    const raw = foldStandardization(fit.head, stats);
    const counts: TrainReport['dataset']['counts'] = {};
    for (const [split, part] of [['train', trainPart], ['val', valPart], ['test', testPart]] as const) {
      if (!part) continue;
      counts[split] = Object.fromEntries(dataset.classes.map((c) => [c, 0]));
      for (const img of part.images) counts[split][img.label]!++;
    }
    report = {
      imgcls: VERSION,
      created: new Date().toISOString(),
      dataset: { location: options.location, source: dataset.source, classes: dataset.classes, counts, validation: splits.validation, warnings: dataset.warnings, skipped },
      backbone: { name: backbone.name, layer: backbone.layer, pool: poolName(backbone.pool), dim: backbone.dim, input: backbone.input },
      head: {
        hidden: head.hidden,
        epochs: head.epochs,
        epochs_run: fit.history.length,
        best_epoch: fit.bestEpoch,
        batch_size: head.batchSize,
        lr: head.lr,
        weight_decay: head.weightDecay,
        label_smoothing: head.labelSmoothing,
        class_weight: head.classWeight,
        patience: head.patience,
        augment: augmentViews,
        seed: head.seed,
      },
      timing: { features_seconds: featuresSeconds, features_computed: computed, features_cached: cached, train_seconds: trainSeconds, total_seconds: 0 },
      history: fit.history,
      validation,
      test,
      model: { dir: options.out, file: 'model.onnx', bytes: 0 },
    };
    const final = report;
    await writeKerasPackage(backbone.loaded, options.out, {
      name: options.name,
      labels: dataset.classes,
      preprocess: backbone.preprocess,
      description: `Trained by imgcls on ${options.location}: ${backbone.name} features (${backbone.layer}, ${poolName(backbone.pool)}) and a ${head.hidden === null ? 'linear' : `${head.hidden}-unit hidden-layer`} head`,
      emitted: backbone.emitted,
      head: {
        cut: backbone.layer,
        pool: backbone.pool,
        layers: raw.layers.map((l, i) => ({ weights: l.w.data, bias: l.b, inputs: l.w.rows, outputs: l.w.cols, relu: i < raw.layers.length - 1 })),
      },
      metadata: { trained: { backbone: backbone.name, layer: backbone.layer, pool: poolName(backbone.pool), report: 'report.json' } },
      files: (converted) => {
        final.model.bytes = converted.onnx.length;
        final.timing.total_seconds = (performance.now() - began) / 1000;
        return { 'report.json': JSON.stringify(final, null, 2) + '\n', 'report.html': renderReportHtml(final) };
      },
    });
  } finally {
    await la.close();
  }
  return report;
}
