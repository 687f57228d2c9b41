/**
 * The sets a run trains, validates and tests on. A dataset without a val
 * split gives up a stratified, seeded fraction of its training images, as
 * scikit-learn's train_test_split(stratify=y) does.
 */
import { createError } from '../errors.ts';
import type { Dataset, LabelledImage } from './dataset.ts';
import { groupBy } from './dataset-util.ts';
import { Random } from './random.ts';

export interface RunSplits {
  train: LabelledImage[];
  val: LabelledImage[];
  test: LabelledImage[] | null;
  /** How the validation set was made, for the report. */
  validation: string;
}

export function chooseSplits(dataset: Dataset, valFraction: number, seed: number): RunSplits {
  const train = dataset.splits.train ?? dataset.splits.all;
  if (!train || train.length === 0) {
    throw createError('INVALID_OPTION', `The dataset has no training images (it has ${Object.keys(dataset.splits).join(', ')}); put class folders at its top level or under train/`);
  }
  const test = dataset.splits.test ?? null;
  if (dataset.splits.val && dataset.splits.val.length > 0) {
    return { train, val: dataset.splits.val, test, validation: `the dataset's val split (${dataset.splits.val.length} images)` };
  }
  if (!(valFraction > 0 && valFraction < 1)) throw createError('INVALID_OPTION', `--val-split must be between 0 and 1 (exclusive) but is ${valFraction}`);
  const rng = new Random(seed ^ 0x5eed);
  const byClass = groupBy(train, (img) => img.label);
  const kept: LabelledImage[] = [];
  const held: LabelledImage[] = [];
  for (const label of [...byClass.keys()].sort()) {
    const images = rng.shuffle(byClass.get(label)!);
    // At least one image per class goes to validation and at least one stays in train, unless the class has only one.
    const n = images.length < 2 ? 0 : Math.min(images.length - 1, Math.max(1, Math.round(images.length * valFraction)));
    held.push(...images.slice(0, n));
    kept.push(...images.slice(n));
  }
  if (held.length === 0) throw createError('INVALID_OPTION', 'Every class has a single training image, so none can be held out for validation; add images or a val/ split');
  const order = (a: LabelledImage, b: LabelledImage) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return {
    train: kept.sort(order),
    val: held.sort(order),
    test,
    validation: `${Math.round(valFraction * 100)}% of train held out per class (${held.length} images, seed ${seed})`,
  };
}
